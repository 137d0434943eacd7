// A real terminal for jobctl: a tmux pane on a private tmux server, whose output the test reads as
// it comes (tmux pipes it to a file the test watches) and into which it types keys, as a person
// at a terminal would. The command starts only once the pane is being recorded, so nothing it
// prints is missed.
import { execFile } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PaneOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly rows: number;
  readonly cols: number;
}

export class TmuxPane {
  readonly #socket: string;
  readonly #dir: string;
  readonly #log: string;

  private constructor(socket: string, dir: string) {
    this.#socket = socket;
    this.#dir = dir;
    this.#log = join(dir, 'pane.log');
  }

  /** Runs `command` (a shell line) in a new pane of the given size. */
  static async open(command: string, options: PaneOptions): Promise<TmuxPane> {
    const dir = await mkdtemp(join(tmpdir(), 'jobworker-tmux-'));
    const pane = new TmuxPane(`jobworker-test-${process.pid}-${dir.slice(-6)}`, dir);
    const gate = join(dir, 'gate');
    await run('mkfifo', [gate]);
    const environment = Object.entries(options.env).flatMap(([name, value]) => [
      '-e',
      `${name}=${value}`,
    ]);
    await pane.#tmux(
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-s',
      'main',
      '-x',
      String(options.cols),
      '-y',
      String(options.rows),
      '-c',
      options.cwd,
      ...environment,
      `read _ < '${gate}'; ${command}`,
    );
    await pane.#tmux('set-option', '-g', 'status', 'off');
    await pane.#tmux('pipe-pane', '-t', 'main', '-O', `cat >> '${pane.#log}'`);
    await run('sh', ['-c', `echo go > '${gate}'`]);
    return pane;
  }

  /** Everything the pane has shown so far, escape sequences and all; line ends as `\n`. */
  async output(): Promise<string> {
    const shown = await readFile(this.#log, 'utf8').catch(() => '');
    return shown.replace(/\r+\n/g, '\n');
  }

  /** Resolves once the pane has shown `pattern`, with what it showed; fails after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const watcher = watch(this.#dir);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        // One read at a time, in order: a change seen during a read is read again after it.
        let reading = Promise.resolve();
        const check = (): void => {
          reading = reading.then(async () => {
            const shown = await this.output();
            if (pattern.test(shown)) resolve(shown);
          });
        };
        watcher.on('change', check);
        timer = setTimeout(() => {
          void this.output().then((shown) =>
            reject(new Error(`the pane never showed ${pattern}: ${JSON.stringify(shown)}`)),
          );
        }, timeoutMs);
        check();
      });
    } finally {
      watcher.close();
      clearTimeout(timer);
    }
  }

  /** Types keys, in tmux's names (`Enter`, `C-c`) or as text. */
  async keys(...keys: string[]): Promise<void> {
    await this.#tmux('send-keys', '-t', 'main', ...keys);
  }

  async typeLine(text: string): Promise<void> {
    await this.keys('-l', text);
    await this.keys('Enter');
  }

  async resize(rows: number, cols: number): Promise<void> {
    await this.#tmux('resize-window', '-t', 'main', '-x', String(cols), '-y', String(rows));
  }

  async close(): Promise<void> {
    await this.#tmux('kill-server').catch(() => undefined);
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #tmux(...args: string[]): Promise<void> {
    await run('tmux', ['-L', this.#socket, ...args]);
  }
}
