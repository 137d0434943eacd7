// The sandbox per job, tried as a hostile client would: each test is one way a job of one client
// reached another client's files or the host before the sandbox existed. These need root; where
// the host gives no sandbox, each test is skipped with the reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  statfs,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, startServer, type Job, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);

interface Sandbox {
  privateRoot: boolean;
  uidPerClient: boolean;
  uidRange: { first: number; last: number } | null;
  seccomp: boolean;
  binds: string[];
  hostFilesystemRoles: string[];
}

describe('a sandbox per job', () => {
  let server: TestServer;
  let sandbox: Sandbox;
  const token = randomUUID().slice(0, 8);

  before(async () => {
    server = await startServer();
    const health = await server.request('admin', 'GET', '/healthz');
    sandbox = health.json<{ protections: { sandbox: Sandbox } }>().protections.sandbox;
  });
  after(async () => {
    await server.dispose();
  });

  /** Skips the test where the host gives no private sandbox (the server is not root). */
  function needsSandbox(t: TestContext): boolean {
    if (sandbox.privateRoot) return false;
    t.skip('this host gives no private sandbox (the server is not root)');
    return true;
  }

  async function runJob(
    client: string,
    spec: Record<string, unknown>,
  ): Promise<{ job: Job; output: string }> {
    const response = await server.request(client, 'POST', '/v1/jobs?follow=true', { json: spec });
    assert.equal(response.status, 201, response.text());
    const job = (await server.request(client, 'GET', response.headers.location!)).json<Job>();
    return { job, output: response.text() };
  }

  const sh = (script: string): Record<string, unknown> => ({ command: 'sh', args: ['-c', script] });

  /**
   * Imports an image as an operator does (`npm run images -- import`), from a tarball of a root
   * holding a static busybox as /bin/busybox and /bin/sh and whatever `populate` adds.
   */
  async function importImage(
    name: string,
    populate: (rootfs: string) => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    const work = await mkdtemp(join(tmpdir(), 'jobworker-image-'));
    try {
      const rootfs = join(work, 'rootfs');
      await mkdir(join(rootfs, 'bin'), { recursive: true });
      await mkdir(join(rootfs, 'etc'));
      await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
      await symlink('busybox', join(rootfs, 'bin', 'sh'));
      await populate(rootfs);
      await run('tar', ['-C', rootfs, '-cf', join(work, `${name}.tar`), '.']);
      await run(process.execPath, [
        join(ROOT, 'scripts', 'images.ts'),
        'import',
        name,
        join(work, `${name}.tar`),
        '--data-dir',
        server.dataDir,
      ]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  it('reports which sandbox features are active in /healthz', (t) => {
    if (needsSandbox(t)) return;
    assert.equal(sandbox.uidPerClient, true);
    assert.equal(sandbox.seccomp, true);
    assert.deepEqual(sandbox.uidRange, { first: 200000, last: 265535 });
    assert.deepEqual(sandbox.binds, ['/bin', '/etc', '/lib', '/lib32', '/lib64', '/sbin', '/usr']);
    assert.deepEqual(sandbox.hostFilesystemRoles, ['admin']);
  });

  it("keeps one client's files in /tmp, /var/tmp, /dev/shm and /work from another's jobs", async (t) => {
    if (needsSandbox(t)) return;
    const places = ['/tmp', '/var/tmp', '/dev/shm', '/work'];
    const file = (dir: string): string => `${dir}/secret-${token}.txt`;
    // alice writes her secret everywhere, and on stop reads back what is there.
    const readBack = places.map((dir) => `cat ${file(dir)}`).join('; ');
    const alice = await server.startJob(
      'alice',
      sh(
        `${places.map((dir) => `echo alice > ${file(dir)}`).join('; ')}; ` +
          `trap 'trap "" TERM; ${readBack}; exit 0' TERM; echo ready; while :; do sleep 1; done`,
      ),
    );
    await server.waitForOutput('alice', alice.id);

    // bob looks for it, then writes his own text in the same places.
    const bob = await runJob(
      'bob',
      sh(
        places
          .map((dir) => `cat ${file(dir)} 2>/dev/null || echo missing; echo bob > ${file(dir)}`)
          .join('; '),
      ),
    );
    assert.equal(bob.job.exitCode, 0, bob.output);
    assert.deepEqual(bob.output.trim().split('\n'), ['missing', 'missing', 'missing', 'missing']);

    await server.request('alice', 'POST', `/v1/jobs/${alice.id}/stop`);
    await server.waitForEnd('alice', alice.id);
    const output = (await server.request('alice', 'GET', `/v1/jobs/${alice.id}/output`)).text();
    // (The shell also reports its `sleep` terminated by the same stop.)
    const texts = output.split('\n').filter((line) => line === 'alice' || line === 'bob');
    assert.deepEqual(texts, ['alice', 'alice', 'alice', 'alice'], output);
    // Nothing either wrote is on the host once their jobs are gone.
    for (const dir of ['/tmp', '/var/tmp', '/dev/shm'])
      assert.equal(existsSync(file(dir)), false, `${file(dir)} is on the host`);
  });

  it('shows a job none of the host outside the bind list', async (t) => {
    if (needsSandbox(t)) return;
    const { output } = await runJob(
      'alice',
      sh(
        `for p in ${ROOT}/package.json /root /home /srv /opt /var/lib /etc/hostname; do ` +
          `if test -e "$p"; then echo "present $p"; else echo "absent $p"; fi; done; ls /`,
      ),
    );
    const lines = output.trim().split('\n');
    for (const path of [`${ROOT}/package.json`, '/root', '/home', '/srv', '/opt', '/var/lib'])
      assert.ok(lines.includes(`absent ${path}`), `${path}: ${output}`);
    // /etc is in the default bind list, read-only.
    assert.ok(lines.includes('absent /etc/hostname') || lines.includes('present /etc/hostname'));
    const root = lines.filter((line) => !line.includes(' '));
    for (const entry of ['dev', 'etc', 'proc', 'tmp', 'usr', 'work'])
      assert.ok(root.includes(entry));
    assert.ok(!root.includes('root') && !root.includes('home'), `ls /: ${root.join(' ')}`);
  });

  it("hides the host's interfaces, hostname, mounts and cgroups", async (t) => {
    if (needsSandbox(t)) return;
    const { stdout: hostHostname } = await run('hostname');
    const { output, job } = await runJob(
      'alice',
      sh(
        'ls /sys/class/net; echo "host=$(hostname)"; ' +
          'find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d | wc -l; ' +
          'grep -c jobworker /proc/self/mountinfo /proc/self/cgroup || true; ' +
          'touch /sys/x 2>&1 || true; cat /proc/keys | wc -c; echo 1 > /proc/sys/kernel/domainname || true',
      ),
    );
    assert.equal(job.exitCode, 0, output);
    const lines = output.trim().split('\n');
    assert.equal(lines[0], 'lo');
    assert.equal(lines[1], `host=job-${job.id.slice(0, 8)}`);
    assert.notEqual(lines[1], `host=${hostHostname.trim()}`);
    // None (v1), or on v2 its own cgroup alone, a leaf: no other job's cgroup in either case.
    assert.equal(lines[2], '0', 'no cgroup directory is visible');
    assert.match(output, /\/proc\/self\/mountinfo:0/);
    assert.match(output, /Read-only file system/);
    assert.ok(lines.includes('0'), '/proc/keys is masked');
  });

  it('cannot reach a unix socket the host listens on in /tmp', async (t) => {
    if (needsSandbox(t)) return;
    const path = join('/tmp', `jobworker-${token}.sock`);
    let connections = 0;
    const listener: Server = createServer((socket) => {
      connections += 1;
      socket.end('hello from the host\n');
    });
    await new Promise<void>((resolve) => listener.listen(path, resolve));
    await run('chmod', ['0777', path]);
    try {
      const { output } = await runJob('alice', {
        command: 'python3',
        args: [
          '-c',
          `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n s.connect(${JSON.stringify(path)})\n print("connected", s.recv(100))\nexcept OSError as e:\n print("refused", e.errno)`,
        ],
      });
      assert.match(output, /^refused 2$/m, output); // ENOENT: the path does not exist for it
      assert.equal(connections, 0);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
  });

  it("cannot fill the host's disk: a 2 GiB write fails inside the job and leaves the host's space", async (t) => {
    if (needsSandbox(t)) return;
    const freeBytes = async (): Promise<number> => {
      const stats = await statfs(server.dataDir);
      return stats.bavail * stats.bsize;
    };
    const before = await freeBytes();
    const { output, job } = await runJob('alice', {
      ...sh(
        'for f in /var/tmp/fill /tmp/fill /work/fill; do ' +
          'fallocate -l 2G $f 2>&1 && echo "wrote $f"; done; echo done',
      ),
      limits: { memory: '64M', ioWriteBps: '1M' },
    });
    assert.equal(job.status, 'exited', output);
    assert.doesNotMatch(output, /wrote/);
    assert.match(output, /No space left on device/);
    const after = await freeBytes();
    assert.ok(
      before - after < 256 * 1024 ** 2,
      `the host lost ${(before - after) / 1024 ** 2} MiB`,
    );
  });

  it('refuses new user namespaces, mounts and the rest of the filter with EPERM; clone3 with ENOSYS', async (t) => {
    if (needsSandbox(t)) return;
    const { output: unshare } = await runJob(
      'alice',
      sh("unshare -Urm sh -c 'mount -t tmpfs x /mnt' 2>&1; echo exit=$?"),
    );
    assert.match(unshare, /Operation not permitted/);
    assert.match(unshare, /exit=1/);
    const probe = [
      'import ctypes, errno, os, threading',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'def call(name, *args):',
      '    rc = getattr(libc, "syscall")(*args)',
      '    print(name, errno.errorcode.get(ctypes.get_errno(), "OK") if rc < 0 else "OK")',
      'call("unshare", 272, 0x10000000)', // CLONE_NEWUSER
      'call("mount", 165, b"x", b"/tmp", b"tmpfs", 0, 0)',
      'call("keyctl", 250, 0, 0, 0, 0, 0)',
      'call("bpf", 321, 0, 0, 0)',
      'call("perf_event_open", 298, 0, 0, -1, -1, 0)',
      'call("userfaultfd", 323, 0)',
      'call("clone3", 435, 0, 0)',
      'call("vsock", 41, 40, 1, 0)', // socket(AF_VSOCK): the hypervisor's side of the VM
      't = threading.Thread(target=lambda: print("thread", "OK")); t.start(); t.join()',
      'pid = os.fork()',
      'os._exit(0) if pid == 0 else print("fork", "OK" if os.waitpid(pid, 0)[1] == 0 else "FAIL")',
    ].join('\n');
    const { output } = await runJob('alice', { command: 'python3', args: ['-c', probe] });
    assert.deepEqual(
      Object.fromEntries(
        output
          .trim()
          .split('\n')
          .map((line) => line.split(' ')),
      ),
      {
        unshare: 'EPERM',
        mount: 'EPERM',
        keyctl: 'EPERM',
        bpf: 'EPERM',
        perf_event_open: 'EPERM',
        userfaultfd: 'EPERM',
        clone3: 'ENOSYS',
        vsock: 'EAFNOSUPPORT',
        thread: 'OK',
        fork: 'OK',
      },
    );
  });

  it("runs each client's jobs as its own stable uid, never a host account's", async (t) => {
    if (needsSandbox(t)) return;
    const ids = async (client: string): Promise<string> =>
      (await runJob(client, { command: 'id' })).output.trim();
    const [alice1, alice2, bob] = [await ids('alice'), await ids('alice'), await ids('bob')];
    assert.equal(alice1, alice2, 'the same client gets the same uid each time');
    const uid = (text: string): number => Number(/uid=(\d+)\(job\)/.exec(text)?.[1]);
    assert.ok(uid(alice1) >= 200000 && uid(bob) >= 200000, `${alice1} / ${bob}`);
    assert.notEqual(uid(alice1), uid(bob));
    const { stdout: passwd } = await run('getent', ['passwd', String(uid(alice1))]).catch(() => ({
      stdout: '',
    }));
    assert.equal(passwd, '', 'no host account has the uid');
  });

  it('lets only roles the operator allows run on the host filesystem', async () => {
    const refused = await server.request('bob', 'POST', '/v1/jobs', {
      json: { command: 'true', sandbox: 'host' },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.json().code, 'SANDBOX_NOT_ALLOWED');
    const allowed = await runJob('admin', {
      command: 'sh',
      args: ['-c', 'test -d /root && echo host'],
      sandbox: 'host',
    });
    assert.equal(allowed.output.trim(), 'host');
    assert.equal(allowed.job.sandbox, 'host');
  });

  it('runs a job in an imported busybox image, which has no /usr of the host', async (t) => {
    if (needsSandbox(t)) return;
    await importImage('busybox');
    const { stdout: listed } = await run(process.execPath, [
      join(ROOT, 'scripts', 'images.ts'),
      'list',
      '--data-dir',
      server.dataDir,
    ]);
    assert.match(listed, /^busybox\t/m);
    const { job, output } = await runJob('bob', {
      command: '/bin/sh',
      args: [
        '-c',
        'ls /; ls /bin; test -e /usr/bin/python3 && echo host-usr; echo x > /work/f && cat /work/f',
      ],
      image: 'busybox',
    });
    assert.equal(job.exitCode, 0, output);
    assert.equal(job.image, 'busybox');
    const lines = output.trim().split('\n');
    assert.ok(lines.includes('busybox'), output);
    assert.ok(!lines.includes('usr') && !lines.includes('host-usr'), output);
    assert.equal(lines.at(-1), 'x');

    const missing = await server.request('bob', 'POST', '/v1/jobs', {
      json: { command: 'true', image: 'nosuchimage' },
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.json().code, 'IMAGE_NOT_FOUND');
  });

  it('keeps a hostile image from reaching the host: its links, device nodes and set-uid files', async (t) => {
    if (needsSandbox(t)) return;
    const work = await mkdtemp(join(tmpdir(), 'jobworker-image-'));
    const victim = join(work, 'victim');
    const victimDir = join(work, 'victim-dir');
    try {
      await writeFile(victim, 'untouched\n', { mode: 0o600 });
      await mkdir(victimDir);
      await importImage('evil', async (rootfs) => {
        await chmod(join(rootfs, 'bin', 'busybox'), 0o4755);
        // Links a careless sandbox would follow on the host while building the job's root.
        await symlink(victim, join(rootfs, '.account'));
        await symlink(victim, join(rootfs, 'etc', 'passwd'));
        await symlink(victimDir, join(rootfs, 'var'));
        await run('mknod', [join(rootfs, 'disk'), 'b', '254', '0']);
      });
      const imported = join(server.dataDir, 'images', 'evil', 'rootfs');
      assert.equal(existsSync(join(imported, 'disk')), false, 'device nodes are not imported');
      assert.equal((await stat(join(imported, 'bin', 'busybox'))).mode & 0o6000, 0);

      const { job, output } = await runJob('bob', {
        command: '/bin/busybox',
        args: ['sh', '-c', 'ls -a /; cat /etc/passwd; echo done'],
        image: 'evil',
      });
      assert.equal(job.status, 'exited', `${job.error ?? ''} ${output}`);
      assert.match(output, /done/);
      assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
      assert.deepEqual(await readdir(victimDir), [], 'nothing was created through the link');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('still runs ordinary jobs: sh, a pipeline, python3, a job writing a gigabyte of output', async (t) => {
    if (needsSandbox(t)) return;
    const pipeline = await runJob(
      'alice',
      sh('seq 1 1000 | grep 7 | wc -l; pwd; echo $HOME; whoami'),
    );
    assert.deepEqual(pipeline.output.trim().split('\n'), ['271', '/work', '/work', 'job']);
    const python = await runJob('alice', {
      command: 'python3',
      args: [
        '-c',
        'import sys, tempfile; tempfile.TemporaryFile().write(b"x"); print(sys.version_info[0])',
      ],
    });
    assert.equal(python.output.trim(), '3');
    // A gigabyte, not a GiB: the default cap (1 GiB) counts the output's index with it.
    const big = await server.startJob('alice', sh('head -c 1000000000 /dev/zero'));
    const ended = await server.waitForEnd('alice', big.id);
    assert.equal(ended.exitCode, 0);
    assert.equal(ended.outputBytes, 1_000_000_000);
    assert.equal(ended.outputTruncated, false);
  });
});

describe('a sandbox with an operator bind list', () => {
  it('keeps a read-only bind read-only all the way down, submounts included', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount');
    // Not under /tmp: the sandbox makes its own /tmp, so no bind may be there.
    await mkdir('/opt', { recursive: true });
    const shared = await mkdtemp('/opt/jobworker-shared-');
    // World-writable, so that only the read-only mount can stop the job's writes.
    await chmod(shared, 0o777);
    await mkdir(join(shared, 'sub'));
    await run('mount', ['-t', 'tmpfs', 'jobworker-test', join(shared, 'sub')]);
    const server = await startServer({
      env: { SANDBOX_BINDS: `/bin,/etc,/lib,/lib64,/sbin,/usr,${shared}` },
    });
    try {
      const response = await server.request('alice', 'POST', '/v1/jobs?follow=true', {
        json: {
          command: 'sh',
          args: [
            '-c',
            `touch ${shared}/top 2>&1; touch ${shared}/sub/below 2>&1; ls ${shared}; echo done`,
          ],
        },
      });
      const output = response.text();
      assert.match(output, /done/);
      assert.equal((output.match(/Read-only file system/g) ?? []).length, 2, output);
      assert.equal(existsSync(join(shared, 'sub', 'below')), false);
    } finally {
      await server.dispose();
      await run('umount', [join(shared, 'sub')]);
      await rm(shared, { recursive: true, force: true });
    }
  });
});
