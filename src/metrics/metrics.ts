// What operators graph and alert on, in Prometheus terms. The worker and the API know nothing of
// Prometheus: they call the plain hooks below (a request finished, a job changed status, bytes
// were served, a TLS client was refused), and what is a state rather than an event (job counts
// by status, the oldest queued job, the data disk's free space, credential expiries) is read when
// scraped. Node's own process metrics come unprefixed, under the names every dashboard knows.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Transition } from '../jobs/job-events.ts';
import type { ResourceUsage } from '../jobs/job.ts';
import { ENDED_STATUSES, hasEnded, JOB_STATUSES, type JobStatus } from '../jobs/job-status.ts';
import { buildInfo } from './build-info.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface RequestObservation {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
}

/** When a credential stops working; `crl` is the CRL's nextUpdate, the rest certificates. */
export interface CredentialExpiry {
  readonly kind: 'ca' | 'server' | 'client' | 'crl';
  readonly name: string;
  readonly expiresAt: Date;
}

/** The data disk as its gauges read it: the worker's DiskFloor is one. */
export interface DataDisk {
  /** Free bytes the server keeps on it (--min-free-disk); 0 for no floor. */
  readonly bytes: number;
  freeBytes(): number;
}

/** What the server's state gauges read at each scrape. */
export interface MetricsSources {
  readonly jobsByStatus: () => ReadonlyMap<JobStatus, number>;
  /** When the job longest in the queue was queued; undefined while none is. */
  readonly oldestQueuedAt: () => Date | undefined;
  /** The data disk and the free space the server keeps on it (--min-free-disk). */
  readonly dataDisk: DataDisk;
  /** The credentials in force and the clients the CA issued to. */
  readonly credentialExpiries: () => Promise<readonly CredentialExpiry[]>;
  /** Every client's volumes together: how many, their sizes (reserved) and what they hold. */
  readonly volumes?: () => VolumeTotals;
}

/** The volumes' gauges: the volume manager's totals. */
export interface VolumeTotals {
  readonly count: number;
  readonly sizeBytes: number;
  readonly usedBytes: number;
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
  readonly #networkBytes = new Counter({
    name: 'jobworker_job_network_bytes_total',
    help: 'Bytes egress jobs sent and received through their network interface, counted when each job ends.',
    labelNames: ['direction'] as const,
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

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.#registry });
    // A counter with no series yet makes `increase()` miss its first event after a restart: the
    // first lost supervisor is the one an alert must not miss.
    for (const status of ENDED_STATUSES) this.#jobsEnded.inc({ status }, 0);
    for (const direction of ['sent', 'received']) this.#networkBytes.inc({ direction }, 0);
    this.#stateGauges(sources);
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
        // Every status has its series, 0 when no job has it: a missing series is not a zero to
        // Prometheus, and a panel or alert on one would show nothing.
        const counts = sources.jobsByStatus();
        for (const status of JOB_STATUSES) this.set({ status }, counts.get(status) ?? 0);
      },
    });
  }

  #countNetworkBytes(usage: ResourceUsage | null): void {
    if (usage?.networkSentBytes !== undefined) {
      this.#networkBytes.inc({ direction: 'sent' }, usage.networkSentBytes);
    }
    if (usage?.networkReceivedBytes !== undefined) {
      this.#networkBytes.inc({ direction: 'received' }, usage.networkReceivedBytes);
    }
  }

  #stateGauges(sources: MetricsSources): void {
    const registers = [this.#registry];
    const { version, node } = buildInfo();
    new Gauge({
      name: 'jobworker_build_info',
      help: 'The running version of the job worker and of Node.js, as labels; always 1.',
      labelNames: ['version', 'node'] as const,
      registers,
    }).set({ version, node }, 1);
    new Gauge({
      name: 'jobworker_queue_oldest_age_seconds',
      help: 'How long the job longest in the queue has waited so far; 0 when none waits.',
      registers,
      collect() {
        const queuedAt = sources.oldestQueuedAt();
        this.set(
          queuedAt === undefined ? 0 : Math.max(0, (Date.now() - queuedAt.getTime()) / 1000),
        );
      },
    });
    new Gauge({
      name: 'jobworker_data_disk_free_bytes',
      help: "Bytes free for unprivileged writers on the data directory's disk, read at each scrape.",
      registers,
      collect() {
        this.set(sources.dataDisk.freeBytes());
      },
    });
    this.#volumeGauges(sources.volumes);
    new Gauge({
      name: 'jobworker_data_disk_floor_bytes',
      help: 'The free space the server keeps on the data disk (--min-free-disk): below it no job starts and output stops being recorded; 0 for none.',
      registers,
    }).set(sources.dataDisk.bytes);
    new Gauge({
      name: 'jobworker_certificate_expiry_timestamp_seconds',
      help: "When each certificate stops being valid (Unix time): the CA, the server certificate in force, and each client's current certificate in the CA's inventory.",
      labelNames: ['kind', 'name'] as const,
      registers,
      async collect() {
        const expiries = await sources.credentialExpiries();
        this.reset();
        for (const { kind, name, expiresAt } of expiries)
          if (kind !== 'crl') this.set({ kind, name }, expiresAt.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'jobworker_crl_next_update_timestamp_seconds',
      help: 'The nextUpdate of the CRL in force (Unix time): past it every client is refused. Absent while there is no CRL.',
      registers,
      async collect() {
        const crl = (await sources.credentialExpiries()).find(({ kind }) => kind === 'crl');
        this.reset();
        if (crl !== undefined) this.set(crl.expiresAt.getTime() / 1000);
      },
    });
  }

  /** Each read at a scrape: a query of the store and a statfs of each volume. */
  #volumeGauges(totals: MetricsSources['volumes']): void {
    if (totals === undefined) return;
    const registers = [this.#registry];
    const gauge = (name: string, help: string, field: keyof VolumeTotals): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(totals()[field]);
        },
      });
    };
    gauge('jobworker_volumes', "Clients' volumes.", 'count');
    gauge(
      'jobworker_volume_size_bytes',
      "The volumes' sizes together: what they reserve on the data disk.",
      'sizeBytes',
    );
    gauge('jobworker_volume_used_bytes', "What the volumes' files take together.", 'usedBytes');
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
      this.#countNetworkBytes(transition.job.usage);
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
