// Kernel resources a job can take from the whole host unless something bounds it per job, tried
// as a hostile job would (issue 31): TCP and UDP buffers outside the memory limit, the host's
// pty pool, the host's Linux AIO contexts. Each job is a short python3 program from the host's /usr, which
// the sandbox binds read-only. These need root; where the host gives no sandbox, no memory
// limit or no python3, each test is skipped with the reason.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

const PYTHON = '/usr/bin/python3';
const PAGE_BYTES = 4096;
const MiB = 1024 * 1024;
const READY = 'ready';

interface Protections {
  cgroups: 'v1' | 'v2' | 'none';
  enforceableLimits: string[];
  sandbox: { privateRoot: boolean; seccomp: boolean };
}

/** The pages of a protocol's buffers the whole host holds (`/proc/net/sockstat`'s `mem N`). */
function hostSocketPages(protocol: 'TCP' | 'UDP'): number {
  const line = readFileSync('/proc/net/sockstat', 'utf8')
    .split('\n')
    .find((text) => text.startsWith(`${protocol}:`));
  const pages = / mem (\d+)/.exec(line ?? '')?.[1];
  assert.ok(pages !== undefined, `no ${protocol} mem in /proc/net/sockstat: ${line}`);
  return Number(pages);
}

/** The job's memory cgroup directory: v1's memory hierarchy or v2's single one. */
function memoryCgroupOf(jobId: string, version: 'v1' | 'v2'): string | undefined {
  const walk = (dir: string, depth: number): string | undefined => {
    if (depth > 7) return undefined;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      // Another cgroup, removed while the walk passed by.
      return undefined;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      const found = entry.name === jobId ? path : walk(path, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(version === 'v1' ? '/sys/fs/cgroup/memory' : '/sys/fs/cgroup', 0);
}

/** Linux's AIO system-call numbers on the architectures the project builds for. */
const AIO_CALLS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  x64: {
    io_setup: 206,
    io_destroy: 207,
    io_getevents: 208,
    io_submit: 209,
    io_cancel: 210,
    io_pgetevents: 333,
  },
  arm64: {
    io_setup: 0,
    io_destroy: 1,
    io_submit: 2,
    io_cancel: 3,
    io_getevents: 4,
    io_pgetevents: 292,
  },
};

/**
 * Queues data on loopback TCP connections it never reads: each pair's send buffer and its peer's
 * receive queue, until the kernel refuses more, up to `limit` bytes. Prints what it queued.
 */
const HOLD_TCP_BUFFERS = `
import socket, sys, time
limit, pairs = int(sys.argv[1]), int(sys.argv[2])
server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(pairs)
held, chunk, queued = [], b'x' * 65536, 0
for _ in range(pairs):
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    client.setblocking(False)
    held.append((client, peer))
    while queued < limit:
        try:
            queued += client.send(chunk)
        except BlockingIOError:
            break
    if queued >= limit:
        break
print(queued, len(held), flush=True)
print('${READY}', flush=True)
time.sleep(600)
`;

/**
 * Fills the receive queues of loopback UDP sockets it never reads, each to its buffer (asked for
 * as large as the host allows), until it has sent `limit` bytes or holds `most` sockets.
 */
const HOLD_UDP_BUFFERS = `
import socket, sys, time
limit, most = int(sys.argv[1]), int(sys.argv[2])
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
datagram, sent, held = b'x' * 60000, 0, []
while sent < limit and len(held) < most:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 26)
    receiver.bind(('127.0.0.1', 0))
    held.append(receiver)
    for _ in range(receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 65536):
        sent += sender.sendto(datagram, receiver.getsockname())
print(sent, len(held), flush=True)
print('${READY}', flush=True)
time.sleep(600)
`;

/** Opens terminals (keeping each master) until the kernel refuses or `most` are open. */
const HOLD_PTYS = `
import errno, os, sys, time
most, held, refusal = int(sys.argv[1]), [], 'none'
while len(held) < most:
    try:
        master, terminal = os.openpty()
    except OSError as error:
        refusal = errno.errorcode.get(error.errno, str(error.errno))
        break
    os.close(terminal)
    held.append(master)
print(len(held), refusal, flush=True)
print('${READY}', flush=True)
time.sleep(600)
`;

/**
 * Calls each AIO system call by number (io_setup for real, the rest with a context that does not
 * exist) and prints how each answered: 'ok' or its errno's name.
 */
const TRY_AIO = `
import ctypes, errno, json, sys, time
calls = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def answer(result):
    return 'ok' if result >= 0 else errno.errorcode.get(ctypes.get_errno(), 'unknown')
context = ctypes.c_ulong(0)
answers = {'io_setup': answer(libc.syscall(calls['io_setup'], 128, ctypes.byref(context)))}
for name, number in calls.items():
    if name != 'io_setup':
        answers[name] = answer(libc.syscall(number, ctypes.c_ulong(0), 0, 0, 0, 0, 0))
print(json.dumps(answers), flush=True)
print('${READY}', flush=True)
time.sleep(600)
`;

const python = (program: string, args: readonly string[] = []): Record<string, unknown> => ({
  command: PYTHON,
  args: ['-c', program, ...args],
});

describe("kernel resources a job takes from the host's pools", () => {
  let server: TestServer;
  let protections: Protections;

  before(async () => {
    server = await startServer();
    const health = await server.request('admin', 'GET', '/healthz');
    protections = health.json<{ protections: Protections }>().protections;
  });
  after(async () => {
    await server.dispose();
  });

  /** Skips the test where a job here cannot run the python3 program in its sandbox. */
  function needsSandboxedPython(t: TestContext): boolean {
    if (!protections.sandbox.privateRoot) {
      t.skip('this host gives no private sandbox (the server is not root)');
      return true;
    }
    if (!existsSync(PYTHON)) {
      t.skip(`no ${PYTHON} on this host for the job to run`);
      return true;
    }
    return false;
  }

  /**
   * Starts a job and resolves with its output up to the line `ready` once it has printed it
   * (the rest is drained until the job ends), or with all of it and `ready` false if it ended
   * first.
   */
  async function startUntilReady(
    client: string,
    spec: Record<string, unknown>,
  ): Promise<{ id: string; output: string; ready: boolean }> {
    const job = await server.startJob(client, spec);
    const response = await server.open(client, 'GET', `/v1/jobs/${job.id}/output?follow=true`);
    let output = '';
    const ready = await new Promise<boolean>((resolve) => {
      response.setEncoding('utf8');
      response.on('data', (text: string) => {
        output += text;
        if (output.includes(`${READY}\n`)) resolve(true);
      });
      response.once('end', () => resolve(false));
    });
    const end = ready ? output.indexOf(`${READY}\n`) : output.length;
    return { id: job.id, output: output.slice(0, end).trim(), ready };
  }

  async function stopJob(client: string, id: string): Promise<void> {
    await server.request(client, 'POST', `/v1/jobs/${id}/stop`);
    await server.waitForEnd(client, id);
  }

  it("charges a 64 MiB job's TCP buffers to its memory, not only to the host's pool", async (t) => {
    if (needsSandboxedPython(t)) return;
    const version = protections.cgroups;
    if (version === 'none' || !protections.enforceableLimits.includes('memory'))
      return t.skip('this host enforces no memory limit');
    const before = hostSocketPages('TCP');
    // Up to 400 MiB, twice the bound, over up to 1,000 connections: the old code queued all of
    // it on the first 108. (Past about 2,000 connections v1 lets the job through the bound:
    // see docs/reliability.md, "Kernel resources per job".)
    const { id, output, ready } = await startUntilReady('alice', {
      ...python(HOLD_TCP_BUFFERS, [String(400 * MiB), '1000']),
      limits: { memory: '64M' },
    });
    try {
      if (!ready) {
        // v2 may instead kill the job at its memory limit, its buffers counted there.
        const job = (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<Job>();
        assert.equal(version, 'v2', `the job ended before it held its buffers: ${output}`);
        assert.equal(job.oomKilled, true, `the job ended, not OOM-killed: ${output}`);
        return;
      }
      const grown = (hostSocketPages('TCP') - before) * PAGE_BYTES;
      const [queued, connections] = output.split(/\s+/).map(Number);
      assert.ok(
        grown < 200 * MiB,
        `the host's TCP memory grew by ${(grown / MiB).toFixed(1)} MiB ` +
          `(the job queued ${queued} bytes on ${connections} connections)`,
      );
      const cgroup = memoryCgroupOf(id, version);
      assert.ok(cgroup !== undefined, `no memory cgroup for job ${id}`);
      if (version === 'v1') {
        // v1 counts socket buffers apart from memory.usage, against a limit of their own.
        const limit = readFileSync(join(cgroup, 'memory.kmem.tcp.limit_in_bytes'), 'utf8');
        assert.equal(limit.trim(), String(64 * MiB));
        const usage = Number(readFileSync(join(cgroup, 'memory.kmem.tcp.usage_in_bytes'), 'utf8'));
        assert.ok(usage > 0, 'the job is charged for its TCP buffers');
      } else {
        // v2 charges socket buffers to the job's memory itself (memory.stat's `sock`).
        const stat = readFileSync(join(cgroup, 'memory.stat'), 'utf8');
        const sock = Number(/^sock (\d+)$/m.exec(stat)?.[1] ?? '0');
        assert.ok(sock > 0, `memory.stat shows no sock: ${stat}`);
      }
    } finally {
      await stopJob('alice', id);
    }
  });

  it("charges a 64 MiB job's UDP receive queues the same way", async (t) => {
    if (needsSandboxedPython(t)) return;
    const version = protections.cgroups;
    if (version === 'none' || !protections.enforceableLimits.includes('memory'))
      return t.skip('this host enforces no memory limit');
    const before = hostSocketPages('UDP');
    // The old code let such a job hold 2.2 GiB of the host's udp_mem; this asks for 400 MiB.
    const { id, output, ready } = await startUntilReady('alice', {
      ...python(HOLD_UDP_BUFFERS, [String(400 * MiB), '2000']),
      limits: { memory: '64M' },
    });
    try {
      if (!ready) {
        const job = (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<Job>();
        assert.equal(version, 'v2', `the job ended before it held its buffers: ${output}`);
        assert.equal(job.oomKilled, true, `the job ended, not OOM-killed: ${output}`);
        return;
      }
      const grown = (hostSocketPages('UDP') - before) * PAGE_BYTES;
      const [sent, sockets] = output.split(/\s+/).map(Number);
      assert.ok(
        grown < 200 * MiB,
        `the host's UDP memory grew by ${(grown / MiB).toFixed(1)} MiB ` +
          `(the job sent ${sent} bytes to ${sockets} sockets)`,
      );
    } finally {
      await stopJob('alice', id);
    }
  });

  it('stops a job at 512 terminals with ENOSPC, and another client still gets one', async (t) => {
    if (needsSandboxedPython(t)) return;
    // A little past the bound, not the host's whole pool: the old code let it have all 600.
    const { id, output, ready } = await startUntilReady('alice', python(HOLD_PTYS, ['600']));
    try {
      assert.ok(ready, output);
      assert.equal(output, '512 ENOSPC');
      const bob = await server.request('bob', 'POST', '/v1/jobs?follow=true', {
        json: { command: 'tty', tty: true },
      });
      assert.equal(bob.status, 201, bob.text());
      assert.equal(bob.trailers['job-status'], 'exited', bob.text());
      assert.equal(bob.text().trim(), '/dev/pts/0');
    } finally {
      await stopJob('alice', id);
    }
  });

  it("refuses the AIO calls, so a job cannot take the host's aio-max-nr", async (t) => {
    if (needsSandboxedPython(t)) return;
    if (!protections.sandbox.seccomp) return t.skip('this host gives jobs no seccomp filter');
    const calls = AIO_CALLS[process.arch];
    if (calls === undefined) return t.skip(`no AIO call numbers for ${process.arch}`);
    const aioContexts = (): number => Number(readFileSync('/proc/sys/fs/aio-nr', 'utf8'));
    const before = aioContexts();
    const { id, output, ready } = await startUntilReady(
      'alice',
      python(TRY_AIO, [JSON.stringify(calls)]),
    );
    try {
      assert.ok(ready, output);
      // As io_uring's calls are refused: EPERM, whatever the arguments.
      const refused = Object.fromEntries(Object.keys(calls).map((name) => [name, 'EPERM']));
      assert.deepEqual(JSON.parse(output), refused);
      assert.equal(aioContexts(), before, "the host's aio-nr moved");
    } finally {
      await stopJob('alice', id);
    }
  });
});
