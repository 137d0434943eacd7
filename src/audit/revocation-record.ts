// The audit record of a job its client certificate's revocation reached: a queued job that will
// never start, a running one stopped, or one left running (`--on-revoke leave`). No request
// caused it, so the record names the job's owner and the revoked serial, and no role.
import type { RevokedJobEvent } from '../jobs/job-events.ts';
import type { AuditEvent } from '../contract/audit.ts';

export function revocationRecord(event: RevokedJobEvent): AuditEvent {
  const { job } = event;
  return {
    action: 'job.revoked',
    outcome: 'allowed',
    status: null,
    client: { name: job.owner, role: null, serial: event.serial, fingerprint256: null },
    jobId: job.id,
    details: {
      outcome: event.outcome,
      ...(Object.keys(job.labels).length === 0 ? {} : { labels: job.labels }),
    },
  };
}
