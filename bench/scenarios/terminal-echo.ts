// Keystroke echo through an attached terminal, as a person at a shell feels it: a key typed into
// the local terminal, the remote terminal's echo back on the local screen. Ours: `jobctl run -it
// -- cat` and the attach WebSocket alone (no jobctl, the floor under it); baseline: `ssh -tt
// host cat` on the same machine, in the same run. jobctl and ssh each get a local terminal of
// their own from `script`, and set it raw, so the only echo is the remote one.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { ATTACH_PROTOCOL, CHANNEL } from '../../src/contract/attach-channels.ts';
import { ROOT } from '../../test/helpers/server.ts';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { apiClient, listAllJobs, requestJson, startJob } from '../lib/http.ts';
import { compare, latency } from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';

/** Keys typed in each session: letters, so that no key means anything to the terminal. */
const KEYS = 'abcdefghijklmnopqrstuvwxyz';

/** What a session has shown so far, and waits for a key to show up in it. */
class Screen {
  #seen = '';
  #waiter: (() => void) | undefined;

  show(text: string): void {
    this.#seen += text;
    this.#waiter?.();
  }

  /** What it showed last, for the report. */
  get tail(): string {
    return this.#seen.slice(-120);
  }

  /** Resolves when `text` is shown after `from`; fails after 10 s rather than hang the bench. */
  waitFor(text: string, from = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no echo of '${text}' in 10 s: ${JSON.stringify(this.tail)}`));
      }, 10_000);
      const check = (): void => {
        if (this.#seen.indexOf(text, from) === -1) return;
        this.#waiter = undefined;
        clearTimeout(timer);
        resolve();
      };
      this.#waiter = check;
      // It may have been shown already (READY, before anyone waited for it).
      check();
    });
  }

  /** Types `key` with `type` and resolves with the milliseconds until it is shown. */
  async timeEcho(key: string, type: (key: string) => void): Promise<number> {
    const shown = this.waitFor(key, this.#seen.length);
    const started = process.hrtime.bigint();
    type(key);
    await shown;
    return Number(process.hrtime.bigint() - started) / 1e6;
  }
}

/** A program in a local terminal of its own (`script`), driven through its pipes. */
class ScriptedTerminal {
  readonly screen = new Screen();
  readonly #child: ChildProcess;

  constructor(command: string, env: NodeJS.ProcessEnv) {
    this.#child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...env, TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#child.stdout?.on('data', (chunk: Buffer) => this.screen.show(chunk.toString('latin1')));
  }

  /**
   * Resolves once the remote side has printed READY: only then is the local terminal raw (so
   * a key is never echoed here) and a key sure to reach the remote one.
   */
  ready(): Promise<void> {
    return this.screen.waitFor('READY');
  }

  echo(key: string): Promise<number> {
    return this.screen.timeEcho(key, (typed) => this.#child.stdin?.write(typed));
  }

  async close(): Promise<void> {
    this.#child.kill('SIGKILL');
    if (this.#child.exitCode === null)
      await new Promise((resolve) => this.#child.once('exit', resolve));
  }
}

/** The attach WebSocket with nothing in front: a key on channel 0, its echo on channel 1. */
class AttachedSocket {
  readonly #socket: WebSocket;
  readonly #screen = new Screen();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data: Buffer) => {
      if (data[0] === CHANNEL.stdout) this.#screen.show(data.subarray(1).toString('latin1'));
    });
  }

  static async open(url: string, credentials: { ca: Buffer; cert: Buffer; key: Buffer }) {
    const socket = new WebSocket(url, [ATTACH_PROTOCOL], {
      ...credentials,
      perMessageDeflate: false,
    });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new AttachedSocket(socket);
  }

  echo(key: string): Promise<number> {
    return this.#screen.timeEcho(key, (typed) =>
      this.#socket.send(Buffer.concat([Buffer.of(CHANNEL.stdin), Buffer.from(typed)])),
    );
  }

  close(): void {
    this.#socket.terminate();
  }
}

interface Echoer {
  echo(key: string): Promise<number>;
}

/** What the remote side runs: a line only it can print, then `cat` on its terminal. */
const REMOTE = ['sh', '-c', 'echo READY; exec cat'];

/** A word for a shell line (`script -c` takes one). */
function quote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Types every key into a session that is up, and records each echo's time. */
async function typeInto(session: Echoer, name: string, rounds: number, samples: Samples) {
  for (let round = 0; round < rounds; round += 1) {
    for (const key of KEYS) samples.add(name, await session.echo(key));
  }
}

export const terminalEcho: Scenario = {
  name: 'terminal-echo',
  title: 'keystroke echo through an attached terminal, vs ssh -t',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const ssh = await context.ssh();
    await ssh.startMaster();
    const rounds = sized(context, 8, 1);
    const samples = new Samples();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: context.scratch,
      TMPDIR: context.scratch,
      JOBCTL_CONFIG: join(context.scratch, 'no-jobctl-config.json'),
    };
    const jobctl = [
      process.execPath,
      join(ROOT, 'bin', 'jobctl.js'),
      '--server',
      `https://localhost:${server.port}`,
      '--certs-dir',
      server.certsDir,
      '--client',
      'alice',
      'run',
      '-it',
      '--',
      ...REMOTE,
    ]
      .map(quote)
      .join(' ');
    const sshCat = [ssh.sshPath, '-tt', ...ssh.command(REMOTE.map(quote).join(' '), true)]
      .map(quote)
      .join(' ');
    // Each session in turn, typed into one after the other, so that noise hits all alike.
    const jobctlTerminal = new ScriptedTerminal(jobctl, env);
    const sshTerminal = new ScriptedTerminal(sshCat, env);
    const client = apiClient(server);
    const job = await startJob(client, 'cat', [], { tty: true });
    await Promise.all([jobctlTerminal.ready(), sshTerminal.ready()]);
    const socket = await AttachedSocket.open(
      `wss://localhost:${server.port}/v1/jobs/${job.id}/attach`,
      server.api.credentials('alice'),
    );
    try {
      for (let round = 0; round < rounds; round += 1) {
        await typeInto(jobctlTerminal, 'jobctl run -it', 1, samples);
        await typeInto(socket, 'attach WebSocket alone', 1, samples);
        await typeInto(sshTerminal, 'ssh -tt, ControlMaster', 1, samples);
      }
    } finally {
      await jobctlTerminal.close();
      await sshTerminal.close();
      socket.close();
      // Their clients are gone, but terminal jobs outlive their clients: they are stopped here.
      for (const running of await listAllJobs(client, 'status=running')) {
        await requestJson(client, 'POST', `/v1/jobs/${running.id}/stop`);
      }
      client.agent.destroy();
    }
    const sshEcho = latency(samples.summary('ssh -tt, ControlMaster'));
    return {
      figures: [
        compare('jobctl run -it', latency(samples.summary('jobctl run -it')), 'ssh -tt', sshEcho),
        compare(
          'attach WebSocket alone',
          latency(samples.summary('attach WebSocket alone')),
          'ssh -tt',
          sshEcho,
        ),
      ],
      details: {
        samples: samples.all(),
        keysPerRound: KEYS.length,
        rounds,
        jobctlShowed: jobctlTerminal.screen.tail,
        sshShowed: sshTerminal.screen.tail,
      },
    };
  },
};
