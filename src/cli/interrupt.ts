// Ctrl-C while jobctl follows a job. The job runs on the server, not here, so Ctrl-C detaches and
// leaves it running, as detaching from a container does. Only the jobctl that started the job
// (`run -f`) may stop it: its first Ctrl-C says what a second within a second will do (stop the
// job), a second does it, and --stop-on-interrupt does it at once; once a stop is asked for,
// Ctrl-C stops waiting. A watcher (`logs -f`, given no `stop`) never touches the job, however
// many times Ctrl-C is pressed: an admin watching alice's job must not stop it. Ctrl-\ (SIGQUIT)
// always detaches at once.

/** How long after detaching a second Ctrl-C still means "stop it". */
export const SECOND_INTERRUPT_MS = 1000;

export interface InterruptOptions {
  readonly jobId: string;
  readonly stopOnInterrupt: boolean;
  readonly follower: { pause(): void; resume(): void; destroy(): void };
  /** Asks the server to stop the job; undefined for a watcher, whose Ctrl-C only detaches. */
  readonly stop: (() => Promise<void>) | undefined;
  /** Tells the user something, on stderr. */
  readonly say: (line: string) => void;
}

export class InterruptHandler {
  /** Resolves when the user has detached: jobctl stops following and exits. */
  readonly detached: Promise<void>;
  readonly #options: InterruptOptions;
  readonly #listener = (): void => this.#onInterrupt();
  readonly #quitListener = (): void => this.#detachNow();
  #state: 'following' | 'detaching' | 'stopping' | 'detached' = 'following';
  #timer: NodeJS.Timeout | undefined;
  #detach: () => void = () => undefined;

  constructor(options: InterruptOptions) {
    this.#options = options;
    this.detached = new Promise((resolve) => {
      this.#detach = resolve;
    });
    process.on('SIGINT', this.#listener);
    process.on('SIGQUIT', this.#quitListener);
  }

  /** True once Ctrl-C was pressed at all. */
  get interrupted(): boolean {
    return this.#state !== 'following';
  }

  dispose(): void {
    process.off('SIGINT', this.#listener);
    process.off('SIGQUIT', this.#quitListener);
    clearTimeout(this.#timer);
  }

  #onInterrupt(): void {
    const { jobId, follower, say, stop } = this.#options;
    switch (this.#state) {
      case 'following':
        if (stop === undefined) {
          this.#detachNow();
          return;
        }
        if (this.#options.stopOnInterrupt) {
          this.#requestStop(stop);
          return;
        }
        follower.pause();
        this.#state = 'detaching';
        say(
          `press Ctrl-C again within 1s to stop job ${jobId}; Ctrl-\\ or close the terminal to detach`,
        );
        this.#timer = setTimeout(() => this.#detachNow(), SECOND_INTERRUPT_MS);
        return;
      case 'detaching':
        clearTimeout(this.#timer);
        follower.resume();
        if (stop !== undefined) this.#requestStop(stop);
        return;
      case 'stopping':
        say(`no longer waiting for job ${jobId} to stop`);
        this.#finish();
        return;
      case 'detached':
        return;
    }
  }

  /** Leaves the job running and says how to find it again. */
  #detachNow(): void {
    if (this.#state === 'detached') return;
    clearTimeout(this.#timer);
    const { jobId, say } = this.#options;
    const short = jobId.slice(0, 8);
    say(
      this.#options.stop === undefined
        ? `stopped watching job ${jobId}; it keeps running ('jobctl logs -f ${short}' to watch again)`
        : `detached from job ${jobId}; it keeps running ('jobctl stop ${short}' to stop it)`,
    );
    this.#finish();
  }

  #requestStop(stop: () => Promise<void>): void {
    const { jobId, say } = this.#options;
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
