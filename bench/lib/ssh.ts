// The OpenSSH baseline: a private sshd on 127.0.0.1 with its own configuration, host key and one
// authorized key, all in a temporary directory, key authentication only. Debian's openssh-server
// is installed first if it is missing (the bench runs as root; nobody has to do it by hand).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const SSH = '/usr/bin/ssh';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';

/** Installs openssh-server and openssh-client from Debian's packages when they are missing. */
export async function ensureOpenSsh(log: (message: string) => void): Promise<void> {
  if ([SSHD, SSH, SSH_KEYGEN].every((path) => existsSync(path))) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `OpenSSH is missing (${SSHD}) and the bench is not root: install openssh-server`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): Promise<unknown> =>
    run(
      'apt-get',
      ['install', '-y', '--no-install-recommends', 'openssh-server', 'openssh-client'],
      { env, maxBuffer: 64 * 1024 * 1024 },
    );
  log('installing openssh-server from Debian packages');
  try {
    await install();
  } catch {
    // A fresh container has no package lists yet.
    await run('apt-get', ['update'], { env, maxBuffer: 64 * 1024 * 1024 });
    await install();
  }
  if (!existsSync(SSHD)) throw new Error(`apt-get installed openssh-server but ${SSHD} is missing`);
}

export class SshFixture {
  readonly port: number;
  readonly dir: string;
  readonly #daemon: ChildProcess;
  readonly #exited: Promise<unknown>;
  readonly #stderr: string[];
  #masterStarted = false;

  private constructor(port: number, dir: string, daemon: ChildProcess, stderr: string[]) {
    this.port = port;
    this.dir = dir;
    this.#daemon = daemon;
    this.#stderr = stderr;
    this.#exited = once(daemon, 'exit');
  }

  static async start(): Promise<SshFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'jobworker-bench-ssh-'));
    const hostKey = join(dir, 'host_ed25519');
    const clientKey = join(dir, 'id_ed25519');
    await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
    writeFileSync(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`), {
      mode: 0o600,
    });
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        'PidFile none',
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        // The key sits in a directory under /tmp, whose mode StrictModes would refuse.
        'StrictModes no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'X11Forwarding no',
        'MaxStartups 200',
        'MaxSessions 200',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege separation directory.
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const daemon = spawnDaemon(config);
    const stderr: string[] = [];
    const listening = new Promise<void>((resolve, reject) => {
      daemon.stderr?.on('data', (chunk: Buffer) => {
        stderr.push(chunk.toString());
        if (stderr.join('').includes('Server listening')) resolve();
      });
      daemon.once('exit', (code) =>
        reject(new Error(`sshd exited (${code}) before listening: ${stderr.join('')}`)),
      );
    });
    const fixture = new SshFixture(port, dir, daemon, stderr);
    await Promise.race([
      listening,
      sleep(15_000).then(() => {
        throw new Error(`sshd did not listen within 15 s: ${stderr.join('')}`);
      }),
    ]);
    // Keep only a bounded tail: every connection logs a line or two.
    daemon.stderr?.on('data', () => {
      if (stderr.length > 200) stderr.splice(0, stderr.length - 100);
    });
    return fixture;
  }

  /** ssh's options for this server; `multiplexed` adds a ControlMaster connection shared by all. */
  options(multiplexed: boolean): string[] {
    const options = [
      '-F',
      '/dev/null',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'LogLevel=ERROR',
      '-i',
      join(this.dir, 'id_ed25519'),
      '-p',
      String(this.port),
    ];
    if (multiplexed) {
      options.push(
        '-o',
        'ControlMaster=auto',
        '-o',
        `ControlPath=${join(this.dir, 'control')}`,
        '-o',
        'ControlPersist=600',
      );
    }
    return options;
  }

  get destination(): string {
    return `${userInfo().username}@127.0.0.1`;
  }

  /** The argv of `ssh host COMMAND`. */
  command(remote: string, multiplexed: boolean): string[] {
    return [...this.options(multiplexed), this.destination, remote];
  }

  get sshPath(): string {
    return SSH;
  }

  /**
   * Opens the shared master connection in the background (`-f -N`), so that multiplexed commands
   * measure only what they add. Its stdio is not ours: a master holding our pipes open would keep
   * every later command from looking finished.
   */
  async startMaster(): Promise<void> {
    if (this.#masterStarted) return;
    const master = spawn(SSH, ['-f', '-N', ...this.options(true), this.destination], {
      stdio: 'ignore',
    });
    const [code] = (await once(master, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`ssh ControlMaster exited with ${code}`);
    this.#masterStarted = true;
  }

  async stop(): Promise<void> {
    if (this.#masterStarted) {
      await run(SSH, [...this.options(true), '-O', 'exit', this.destination]).catch(
        () => undefined,
      );
    }
    if (this.#daemon.exitCode === null && this.#daemon.signalCode === null) {
      this.#daemon.kill('SIGTERM');
      await this.#exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The daemon's recent log, for error messages. */
  logTail(): string {
    return this.#stderr.join('').slice(-2000);
  }
}

/**
 * The login shell's rc file is hidden from sshd's sessions (bind-mounted over with /dev/null in a
 * mount namespace of sshd's own, which disappears with it): `ssh host true` runs `$SHELL -c true`,
 * and Debian's bash sources ~/.bashrc for commands run by sshd. An rc file that initialises
 * pyenv, nvm or conda adds 100 ms or more that says nothing about ssh. Nothing outside the
 * namespace changes.
 */
function spawnDaemon(config: string): ChildProcess {
  const rcFiles = [join(userInfo().homedir, '.bashrc')].filter((file) => existsSync(file));
  const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
  if (process.getuid?.() !== 0 || rcFiles.length === 0 || !existsSync('/usr/bin/unshare')) {
    return spawn(SSHD, ['-f', config, '-D', '-e'], { stdio });
  }
  // unshare and sh both exec, so the pid we hold is sshd's.
  const script =
    'config="$1"; shift; for f in "$@"; do mount --bind /dev/null "$f" || exit 1; done; ' +
    'exec "$0" -f "$config" -D -e';
  return spawn(
    '/usr/bin/unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      script,
      SSHD,
      config,
      ...rcFiles,
    ],
    { stdio },
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
