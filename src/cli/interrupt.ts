// Ctrl-C while jobctl follows a job. The job runs on the server, not here, so the first Ctrl-C
// detaches and leaves it running (saying so), as detaching from a container does; a second one
// within a second, or the first with --stop-on-interrupt, asks the server to stop the job and
// keeps showing its output until it ends. Once a stop is asked for, Ctrl-C stops waiting.

/** How long after detaching a second Ctrl-C still means "stop it". */
export const SECOND_INTERRUPT_MS = 1000;

export interface InterruptOptions {
  readonly jobId: string;
  readonly stopOnInterrupt: boolean;
  readonly follower: { pause(): void; resume(): void; destroy(): void };
  /** Asks the server to stop the job. */
  readonly stop: () => Promise<void>;
  /** Tells the user something, on stderr. */
  readonly say: (line: string) => void;
}

export class InterruptHandler {
  /** Resolves when the user has detached: jobctl stops following and exits. */
  readonly detached: Promise<void>;
  readonly #options: InterruptOptions;
  readonly #listener = (): void => this.#onInterrupt();
  #state: 'following' | 'detaching' | 'stopping' | 'detached' = 'following';
  #timer: NodeJS.Timeout | undefined;
  #detach: () => void = () => undefined;

  constructor(options: InterruptOptions) {
    this.#options = options;
    this.detached = new Promise((resolve) => {
      this.#detach = resolve;
    });
    process.on('SIGINT', this.#listener);
  }

  /** True once Ctrl-C was pressed at all. */
  get interrupted(): boolean {
    return this.#state !== 'following';
  }

  dispose(): void {
    process.off('SIGINT', this.#listener);
    clearTimeout(this.#timer);
  }

  #onInterrupt(): void {
    const { jobId, follower, say } = this.#options;
    switch (this.#state) {
      case 'following':
        if (this.#options.stopOnInterrupt) {
          this.#requestStop();
          return;
        }
        follower.pause();
        this.#state = 'detaching';
        say(
          `detached from job ${jobId}; it keeps running (Ctrl-C again within 1s stops it, 'jobctl stop ${jobId.slice(0, 8)}' later)`,
        );
        this.#timer = setTimeout(() => this.#finish(), SECOND_INTERRUPT_MS);
        return;
      case 'detaching':
        clearTimeout(this.#timer);
        follower.resume();
        this.#requestStop();
        return;
      case 'stopping':
        say(`no longer waiting for job ${jobId} to stop`);
        this.#finish();
        return;
      case 'detached':
        return;
    }
  }

  #requestStop(): void {
    const { jobId, say, stop } = this.#options;
    this.#state = 'stopping';
    say(`stopping job ${jobId} (Ctrl-C again to stop waiting)`);
    stop().catch((error: unknown) => {
      if ((error as { problemCode?: string }).problemCode === 'JOB_ALREADY_ENDED') return;
      say(`could not stop job ${jobId}: ${(error as Error).message}`);
      this.#finish();
    });
  }

  #finish(): void {
    this.#state = 'detached';
    this.#options.follower.destroy();
    this.#detach();
  }
}
