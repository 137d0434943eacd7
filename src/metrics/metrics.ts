// What operators graph and alert on, in Prometheus terms. The worker and the API know nothing of
// Prometheus: they call the plain hooks below (a request finished, a job changed status, bytes
// were served, a TLS client was refused), and job counts by status are read when scraped.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Transition } from '../worker/registry.ts';
import { hasEnded, type JobStatus } from '../jobs/job-status.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface RequestObservation {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
}

export class Metrics {
  readonly contentType = METRICS_CONTENT_TYPE;
  readonly #registry = new Registry();
  readonly #requests = new Histogram({
    name: 'jobworker_http_request_duration_seconds',
    help: 'Time from request to the end of its response (streams included), by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.#registry],
  });
  readonly #jobsStarted = new Counter({
    name: 'jobworker_jobs_started_total',
    help: 'Jobs whose command started running.',
    registers: [this.#registry],
  });
  readonly #jobsEnded = new Counter({
    name: 'jobworker_jobs_ended_total',
    help: 'Jobs that ended, by final status (failed: could not start; lost: supervisor died).',
    labelNames: ['status'] as const,
    registers: [this.#registry],
  });
  readonly #waits = new Histogram({
    name: 'jobworker_job_wait_seconds',
    help: 'Time from a job being accepted to its start: the time queued jobs waited.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.#registry],
  });
  readonly #outputWritten = new Counter({
    name: 'jobworker_output_bytes_written_total',
    help: 'Output bytes recorded by jobs, counted when each job ends.',
    registers: [this.#registry],
  });
  readonly #outputServed = new Counter({
    name: 'jobworker_output_bytes_served_total',
    help: 'Output bytes sent to readers and followers.',
    registers: [this.#registry],
  });
  readonly #followers = new Gauge({
    name: 'jobworker_output_readers',
    help: 'Output responses being streamed right now (followers included).',
    registers: [this.#registry],
  });
  readonly #tlsRefused = new Counter({
    name: 'jobworker_tls_refused_total',
    help: 'TLS clients refused, by reason (certificate revoked, expired, handshake failure...).',
    labelNames: ['reason'] as const,
    registers: [this.#registry],
  });

  readonly #syslogDropped = new Counter({
    name: 'jobworker_syslog_dropped_total',
    help: 'Log lines and audit records not shipped to the syslog collector: it was unreachable or slow for longer than the queue holds (the local log and audit file have them).',
    registers: [this.#registry],
  });

  readonly #eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });

  constructor(jobsByStatus: () => ReadonlyMap<JobStatus, number>) {
    const delay = this.#eventLoopDelay;
    delay.enable();
    new Gauge({
      name: 'jobworker_event_loop_delay_max_seconds',
      help: 'The longest the event loop was blocked since the previous scrape: every request waited as long.',
      registers: [this.#registry],
      collect() {
        this.set(delay.max / 1e9);
        delay.reset();
      },
    });
    new Gauge({
      name: 'jobworker_jobs',
      help: 'Jobs known to the server, by status.',
      labelNames: ['status'] as const,
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const [status, count] of jobsByStatus()) this.set({ status }, count);
      },
    });
  }

  readonly requestFinished = (request: RequestObservation): void => {
    this.#requests.observe(
      { method: request.method, route: request.route, status: String(request.status) },
      request.durationMs / 1000,
    );
  };

  readonly jobTransition = (transition: Transition): void => {
    if (transition.to === 'running') {
      this.#jobsStarted.inc();
      const { createdAt, startedAt } = transition.job;
      if (startedAt !== null)
        this.#waits.observe((Date.parse(startedAt) - Date.parse(createdAt)) / 1000);
    }
    if (hasEnded(transition.to)) {
      this.#jobsEnded.inc({ status: transition.to });
      this.#outputWritten.inc(transition.job.outputBytes);
    }
  };

  readonly outputServed = (bytes: number): void => this.#outputServed.inc(bytes);

  readonly readerOpened = (): void => this.#followers.inc();

  readonly readerClosed = (): void => this.#followers.dec();

  readonly tlsRefused = (reason: string): void => this.#tlsRefused.inc({ reason });
  readonly syslogDropped = (messages: number): void => this.#syslogDropped.inc(messages);

  exposition(): Promise<string> {
    return this.#registry.metrics();
  }
}
