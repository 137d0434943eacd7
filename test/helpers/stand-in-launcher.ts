// A Launcher that starts no process: the jobs it "launches" live in memory and end when the test
// says (an exit code, a stop, a launch refused or failed). Their output is appended to the job's
// output files as the supervisor writes them (the log, then the index record of each chunk, then
// a hint), so the registry's real output readers read it. Like the host, it outlives a registry:
// a job a closing registry detached from runs on here, and a new registry over the same store
// re-attaches to it. Nothing here needs root, jobshim or jobspawner.
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { InputClosedError, InputNotOpenError } from '../../src/errors.ts';
import type {
  JobHandle,
  JobInput,
  JobOutcome,
  LaunchRequest,
  LaunchResult,
  Launcher,
  Protections,
  ReattachResult,
} from '../../src/launcher/launcher.ts';
import type { TerminalSize } from '../../src/jobs/job.ts';
import { OUTPUT_INDEX, OUTPUT_LOG, type StreamName } from '../../src/worker/output-stream.ts';

const STDERR_BIT = 0x8000_0000;

/** A job the stand-in launched, as the test drives it. */
export class StandInJob {
  readonly request: LaunchRequest;
  readonly startedAt = new Date();
  /** The bytes written to its input, in order. */
  readonly input: Buffer[] = [];
  /** Terminal sizes it was given, in order. */
  readonly resizes: TerminalSize[] = [];
  /** How many times it was asked to stop. */
  stopRequests = 0;
  /** Whether a stop ends it at once (as a job that obeys SIGTERM); false to end it by `exit`. */
  obeysStop = true;
  #outcome: JobOutcome | undefined;
  #outputBytes = 0;
  #inputEnded = false;
  readonly #listeners = new Set<() => void>();
  readonly #ended: Promise<JobOutcome>;
  #resolveEnded: (outcome: JobOutcome) => void = () => undefined;

  constructor(request: LaunchRequest) {
    this.request = request;
    this.#ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  get id(): string {
    return this.request.jobId;
  }

  /** Its outcome once it has ended; undefined while it runs. */
  get outcome(): JobOutcome | undefined {
    return this.#outcome;
  }

  get ended(): Promise<JobOutcome> {
    return this.#ended;
  }

  /** Appends one chunk of output, then tells the registry's readers there is more. */
  async write(stream: StreamName, text: string | Buffer): Promise<void> {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    const record = Buffer.alloc(4);
    record.writeUInt32LE((bytes.length | (stream === 'stderr' ? STDERR_BIT : 0)) >>> 0);
    // The order the supervisor keeps: a reader that finds an index record finds its bytes.
    await appendFile(join(this.request.dir, OUTPUT_LOG), bytes);
    await appendFile(join(this.request.dir, OUTPUT_INDEX), record);
    this.#outputBytes += bytes.length;
    for (const listener of [...this.#listeners]) listener();
  }

  /** Ends the job as a process that exited with `code`, now or at `endedAt`. */
  exit(code: number, endedAt = new Date()): void {
    this.#end({ reason: 'exited', exitCode: code, signal: null }, endedAt);
  }

  /** Ends the job as one killed by `signal`, as a stop ends it. */
  kill(signal = 'SIGTERM'): void {
    this.#end({ reason: 'stopped', exitCode: null, signal });
  }

  handle(): JobHandle {
    return {
      startedAt: this.startedAt,
      ended: this.#ended,
      onOutput: (listener) => {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
      stop: () => {
        this.stopRequests += 1;
        if (this.obeysStop) this.kill();
        return Promise.resolve();
      },
      detach: () => this.#listeners.clear(),
      openInput: (jobId) => this.#openInput(jobId),
      liveUsage: () => undefined,
      resize: (size) => {
        this.resizes.push(size);
        return Promise.resolve();
      },
    };
  }

  #openInput(jobId: string): Promise<JobInput> {
    if (!this.request.spec.stdin) return Promise.reject(new InputNotOpenError(jobId));
    if (this.#inputEnded || this.#outcome !== undefined) {
      return Promise.reject(new InputClosedError(jobId, 'the job no longer reads it'));
    }
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.input.push(chunk);
        done();
      },
    });
    return Promise.resolve({
      stream,
      end: async () => {
        if (!stream.writableFinished) {
          await new Promise<void>((resolve) => stream.end(resolve));
        }
        this.#inputEnded = true;
      },
    });
  }

  #end(how: Pick<JobOutcome, 'reason' | 'exitCode' | 'signal'>, endedAt = new Date()): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = {
      ...how,
      error: null,
      startedAt: this.startedAt,
      endedAt,
      outputBytes: this.#outputBytes,
      outputTruncated: false,
      usage: null,
      oomKilled: false,
    };
    this.#resolveEnded(this.#outcome);
  }
}

/** What the next launch does instead of starting a job: refused (thrown) or failed. */
type NextLaunch =
  | { readonly kind: 'refuse'; readonly error: Error }
  | { readonly kind: 'fail'; readonly outcome: JobOutcome };

export class StandInLauncher implements Launcher {
  readonly protections: Protections = {
    cgroups: 'none',
    enforceableLimits: [],
    pidNamespace: false,
    networkNamespace: false,
    egress: false,
    mountNamespace: false,
    jobUser: 'stand-in',
    sandbox: { privateRoot: false, uidPerClient: false, uidRange: null, seccomp: false, binds: [] },
  };
  /** Every job launched, by id, running or ended: the host as the next registry finds it. */
  readonly jobs = new Map<string, StandInJob>();
  /** The ids of launched jobs, in the order they were launched. */
  readonly launchOrder: string[] = [];
  /** Set, each job launched from now on exits with this code at once, as `true` would. */
  exitCodeOnLaunch: number | undefined;
  /**
   * Set, a launch never returns (as a server killed while it spawned the supervisor): the job
   * stays `starting`, and the stand-in does not know it.
   */
  holdLaunches = false;
  readonly #waiters = new Map<string, (job: StandInJob) => void>();
  readonly #heldWaiters: ((request: LaunchRequest) => void)[] = [];
  readonly #next: NextLaunch[] = [];

  launch(request: LaunchRequest): Promise<LaunchResult> {
    if (this.holdLaunches) {
      for (const waiter of this.#heldWaiters.splice(0)) waiter(request);
      return new Promise(() => undefined);
    }
    const next = this.#next.shift();
    if (next?.kind === 'refuse') return Promise.reject(next.error);
    if (next?.kind === 'fail') return Promise.resolve({ kind: 'failed', outcome: next.outcome });
    const job = new StandInJob(request);
    this.jobs.set(job.id, job);
    this.launchOrder.push(job.id);
    this.#waiters.get(job.id)?.(job);
    this.#waiters.delete(job.id);
    const handle = job.handle();
    if (this.exitCodeOnLaunch !== undefined) job.exit(this.exitCodeOnLaunch);
    return Promise.resolve({ kind: 'started', handle });
  }

  reattach(jobId: string): Promise<ReattachResult> {
    const job = this.jobs.get(jobId);
    if (job === undefined) return Promise.resolve({ kind: 'never-launched' });
    if (job.outcome !== undefined) {
      return Promise.resolve({ kind: 'ended', outcome: job.outcome });
    }
    return Promise.resolve({ kind: 'running', handle: job.handle() });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves with the job once it has been launched (at once if it has). */
  launched(jobId: string): Promise<StandInJob> {
    const job = this.jobs.get(jobId);
    if (job !== undefined) return Promise.resolve(job);
    return new Promise((resolve) => this.#waiters.set(jobId, resolve));
  }

  /** Resolves with the request of the next launch held (`holdLaunches`). */
  nextHeldLaunch(): Promise<LaunchRequest> {
    return new Promise((resolve) => this.#heldWaiters.push(resolve));
  }

  /** The job launched with this id; throws if there is none. */
  job(jobId: string): StandInJob {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new Error(`the stand-in launched no job ${jobId}`);
    return job;
  }

  /** The next launch throws `error`, as a launcher refuses a spec it cannot honour. */
  refuseNext(error: Error): void {
    this.#next.push({ kind: 'refuse', error });
  }

  /** The next launch fails with `outcome`, as a supervisor that could not start the command. */
  failNext(outcome: JobOutcome): void {
    this.#next.push({ kind: 'fail', outcome });
  }
}
