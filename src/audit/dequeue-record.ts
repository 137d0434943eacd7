// The audit record of a queued job leaving the queue: started when its turn came, or stopped
// unstarted when it waited longer than its queue timeout. No client asked for it, so the record
// names the job's owner and no certificate.
import type { DequeueEvent } from '../jobs/job-events.ts';
import type { AuditEvent } from '../contract/audit.ts';

export function dequeueRecord(event: DequeueEvent): AuditEvent {
  const { job } = event;
  return {
    action: event.outcome === 'started' ? 'job.dequeue' : 'job.queue_timeout',
    outcome: 'allowed',
    status: null,
    client: { name: job.owner, role: null, serial: null, fingerprint256: null },
    jobId: job.id,
    details: {
      waitedMs: event.waitedMs,
      ...(Object.keys(job.labels).length === 0 ? {} : { labels: job.labels }),
    },
  };
}
