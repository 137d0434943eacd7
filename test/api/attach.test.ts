// Terminals and the attach WebSocket (GET /v1/jobs/{id}/attach): a terminal job runs on a
// pseudo-terminal inside its sandbox as the session leader, its size follows the client, Ctrl-C
// typed into it interrupts, the end of input is its EOF, and a client that goes away (or a
// restart of the server) leaves it running to attach again. Only the owner may attach with the
// job's input; whoever may read the job may watch it, from its start, from now, or from near the
// end of its output. stdout and stderr arrive in the order the job wrote them. Never from another
// site's page, and refusals are ordinary problems.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ATTACH_PROTOCOL, CHANNEL } from '../../src/contract/attach-channels.ts';
import { WebSocket } from 'ws';
import { attach, type AttachedSession } from '../helpers/attach.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';

async function attached(server: TestServer, client: string, id: string): Promise<AttachedSession> {
  const result = await attach(server, client, id);
  assert.equal(result.kind, 'open', result.kind === 'refused' ? result.body : '');
  return result.session;
}

async function refusal(
  server: TestServer,
  client: string,
  id: string,
  options: Parameters<typeof attach>[3] = {},
): Promise<{ status: number; code: string }> {
  const result = await attach(server, client, id, options);
  assert.equal(result.kind, 'refused');
  return { status: result.status, code: (JSON.parse(result.body) as { code: string }).code };
}

describe('a job on a terminal, attached over a WebSocket', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('runs the job as session leader on its own pts, sized as asked, and resized live', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'tty; stty size; ps -o pid=,sid=,tty= -p $$; read line; stty size; exit 4'],
      tty: true,
      ttySize: { rows: 33, cols: 101 },
    });
    assert.deepEqual(job.tty, { rows: 33, cols: 101 });
    assert.equal(job.stdin, true);
    const session = await attached(server, 'alice', job.id);
    // ps's line, the last before the read: typed earlier, "go" is echoed among the lines checked.
    await session.waitFor(' pts/0\r\n');
    session.resize(40, 120);
    session.type('go\n');
    const { end, code } = await session.closed;
    const lines = session.output().split('\r\n');
    // Inside its sandbox the job has a devpts of its own: the host's terminals are not there.
    assert.equal(lines[0], '/dev/pts/0');
    assert.equal(lines[1], '33 101');
    const [pid, sid, tty] = (lines[2] ?? '').trim().split(/\s+/);
    assert.equal(pid, sid, 'the job leads its session');
    assert.equal(tty, 'pts/0', 'the terminal is its controlling terminal');
    assert.ok(lines.includes('40 120'), JSON.stringify(lines));
    assert.deepEqual(end, { status: 'exited', exitCode: 4, signal: null });
    assert.equal(code, 1000);
    // One stream: a terminal has no separate stderr.
    assert.equal(session.output(CHANNEL.stderr), '');
  });

  it("does not let a watcher resize another client's terminal (a write: the job gets SIGWINCH)", async () => {
    // Every size the terminal takes is printed: the job's trap runs on each SIGWINCH.
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', "trap 'stty size' WINCH; stty size; read line; echo done"],
      tty: true,
      ttySize: { rows: 33, cols: 101 },
    });
    const owner = await attached(server, 'alice', job.id);
    await owner.waitFor('33 101\r\n');
    const watched = await attach(server, 'admin', job.id, { stdin: false });
    assert.equal(watched.kind, 'open', watched.kind === 'refused' ? watched.body : '');
    watched.session.resize(40, 120);
    // Its close follows the resize on the same socket: the server has taken the resize by then,
    // and resizes reach the job in the order the server takes them.
    watched.session.socket.close(1000);
    await watched.session.closed;
    owner.resize(34, 102);
    await owner.waitFor('34 102\r\n');
    owner.type('go\n');
    await owner.closed;
    const sizes = owner
      .output()
      .split('\r\n')
      .filter((line) => /^\d+ \d+$/.test(line));
    assert.deepEqual(sizes, ['33 101', '34 102']);
  });

  it('delivers Ctrl-C as SIGINT through the terminal, and the end of input as its EOF', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'trap "echo interrupted" INT; echo ready; sleep 30 & wait; cat; echo done'],
      tty: true,
    });
    const session = await attached(server, 'alice', job.id);
    await session.waitFor('ready');
    session.type('\u0003');
    await session.waitFor('interrupted');
    session.type('typed\n');
    session.endInput();
    const { end } = await session.closed;
    assert.match(session.output(), /interrupted\r\ntyped\r\ntyped\r\ndone\r\n$/);
    assert.equal(end?.exitCode, 0);
  });

  it('keeps a job running when its client goes away, and takes it back', async () => {
    const job = await server.startJob('alice', { command: 'sh', tty: true });
    const first = await attached(server, 'alice', job.id);
    first.type('echo first\n');
    await first.waitFor('first\r\n');
    first.socket.terminate();
    await first.closed;
    const state = await server.request('alice', 'GET', `/v1/jobs/${job.id}`);
    assert.equal(state.json<Job>().status, 'running');
    // From now on, or from the first byte.
    const again = await attached(server, 'alice', job.id);
    again.type('echo again; exit 2\n');
    const { end } = await again.closed;
    assert.match(again.output(), /again/);
    assert.equal(end?.exitCode, 2);
    // Once it has ended there is no input to take, but its output and end are still shown:
    // `jobctl run -it -- echo hi` attaches after a short job is already done.
    const afterwards = await attached(server, 'alice', job.id);
    const last = await afterwards.closed;
    assert.match(afterwards.output(), /first[\s\S]*again/);
    assert.equal(last.end?.exitCode, 2);
  });

  it('lets a watcher attach beside the client that holds the input, from now on', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: [
        '-c',
        'echo old-out; echo old-err >&2; while read line; do echo "out $line"; echo "err $line" >&2; done',
      ],
      stdin: true,
    });
    const typist = await attached(server, 'alice', job.id);
    await typist.waitFor('old-err\n', CHANNEL.stderr);
    const result = await attach(server, 'alice', job.id, { from: 'now', stdin: false });
    assert.equal(result.kind, 'open', result.kind === 'refused' ? result.body : '');
    const watcher = result.session;
    typist.type('x\n');
    await watcher.waitFor('err x\n', CHANNEL.stderr);
    await watcher.waitFor('out x\n', CHANNEL.stdout);
    // From now on, on each stream: neither the old stdout nor the old stderr.
    assert.equal(watcher.output(CHANNEL.stdout), 'out x\n');
    assert.equal(watcher.output(CHANNEL.stderr), 'err x\n');
    // What the watcher sends goes nowhere: it does not hold the input.
    watcher.type('ignored\n');
    typist.endInput();
    const { end } = await typist.closed;
    await watcher.closed;
    assert.equal(end?.status, 'exited');
    const all = await server.request('alice', 'GET', `/v1/jobs/${job.id}/output`);
    assert.doesNotMatch(all.text(), /ignored/);
  });

  it("lets admins and auditors watch another client's job, but not take its input", async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'echo hello; while read line; do echo "got $line"; done'],
      stdin: true,
    });
    const typist = await attached(server, 'alice', job.id);
    await typist.waitFor('hello\n');
    const watchers: AttachedSession[] = [];
    for (const client of ['admin', 'auditor']) {
      const result = await attach(server, client, job.id, { stdin: false });
      assert.equal(result.kind, 'open', result.kind === 'refused' ? result.body : '');
      watchers.push(result.session);
    }
    typist.type('x\n');
    for (const watcher of watchers) await watcher.waitFor('hello\ngot x\n');
    for (const client of ['admin', 'auditor']) {
      const taking = await refusal(server, client, job.id, { stdin: true });
      assert.deepEqual(taking, { status: 403, code: 'FORBIDDEN' });
    }
    // A client that cannot see the job does not learn it exists, watching or not.
    for (const stdin of [false, true]) {
      const bob = await refusal(server, 'bob', job.id, { stdin });
      assert.deepEqual(bob, { status: 404, code: 'JOB_NOT_FOUND' });
    }
    typist.endInput();
    for (const watcher of watchers) assert.equal((await watcher.closed).end?.status, 'exited');
    await typist.closed;
    // The trail says who watched, and that they only watched.
    const trail = await server.request('auditor', 'GET', `/v1/audit?job=${job.id}`);
    const watched = trail
      .json<{
        records: {
          action: string;
          status: number;
          client: { name: string };
          details: { query?: { stdin?: string } };
        }[];
      }>()
      .records.filter((record) => record.action === 'job.attach' && record.status === 101);
    assert.deepEqual(
      watched
        .map((record) => `${record.client.name} ${record.details.query?.stdin ?? 'true'}`)
        .sort(),
      ['admin false', 'alice true', 'auditor false'],
    );
  });

  it("takes a terminal's one stream from near its end too, and tailBytes is not with from=now", async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'printf 0123456789; read line; echo "got $line"'],
      tty: true,
    });
    const typist = await attached(server, 'alice', job.id);
    await typist.waitFor('0123456789');
    const tail = await attach(server, 'alice', job.id, { stdin: false, tailBytes: 3 });
    assert.equal(tail.kind, 'open', tail.kind === 'refused' ? tail.body : '');
    const both = await attach(server, 'alice', job.id, { stdin: false, from: 'now', tailBytes: 3 });
    assert.equal(both.kind, 'refused');
    assert.equal(both.status, 400);
    const problem = JSON.parse(both.body) as { code: string; errors: { field: string }[] };
    assert.equal(problem.code, 'INVALID_REQUEST');
    assert.deepEqual(
      problem.errors.map((error) => error.field),
      ['?tailBytes'],
    );
    typist.type('x\n');
    await typist.closed;
    await tail.session.closed;
    // The terminal echoes the line typed, then the job's answer.
    assert.equal(tail.session.output(), '789x\r\ngot x\r\n');
  });

  it('answers a broken handshake with a problem, and lets go of everything it took', async () => {
    const job = await server.startJob('alice', { command: 'cat', tty: true });
    const broken = await server.request('alice', 'GET', `/v1/jobs/${job.id}/attach`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'not a key',
        'Sec-WebSocket-Protocol': ATTACH_PROTOCOL,
      },
    });
    assert.equal(broken.status, 400);
    assert.equal(broken.json<{ code: string }>().code, 'INVALID_REQUEST');
    // Nothing of it was kept: the job's input is free for the next client.
    const session = await attached(server, 'alice', job.id);
    session.type('x');
    session.endInput();
    assert.equal((await session.closed).end?.status, 'exited');
  });

  it('lets go of a queued job whose client left while waiting for it', async () => {
    const queued = await startServer({ env: { CLIENT_MAX_RUNNING: '1' } });
    try {
      const holder = await queued.startJob('alice', { command: 'cat', stdin: true });
      const waiting = await queued.startJob('alice', { command: 'cat', tty: true });
      assert.equal(waiting.status, 'queued');
      // The handshake waits, holding the queued job's input, until the job starts.
      const impatient = new WebSocket(
        `wss://localhost:${queued.port}/v1/jobs/${waiting.id}/attach`,
        [ATTACH_PROTOCOL],
        queued.credentials('alice'),
      );
      impatient.on('error', () => undefined);
      let refusal: { status: number; code: string } | undefined;
      for (let tries = 0; refusal?.code !== 'INPUT_BUSY' && tries < 50; tries += 1) {
        refusal = await attach(queued, 'alice', waiting.id).then((result) =>
          result.kind === 'refused'
            ? { status: result.status, code: (JSON.parse(result.body) as { code: string }).code }
            : undefined,
        );
      }
      assert.equal(refusal?.code, 'INPUT_BUSY', 'the waiting handshake holds the input');
      impatient.terminate();
      // The holder ends; the queued job starts with nobody waiting for it.
      await queued.request('alice', 'PUT', `/v1/jobs/${holder.id}/stdin`, { body: '' });
      const session = await attached(queued, 'alice', waiting.id);
      session.endInput();
      assert.equal((await session.closed).end?.status, 'exited');
    } finally {
      await queued.dispose();
    }
  });

  it('attaches to a job without a terminal: stdout and stderr apart, input as sent', async () => {
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'read line; echo "out $line"; echo "err $line" >&2'],
      stdin: true,
    });
    const session = await attached(server, 'alice', job.id);
    session.type('x\n');
    const { end } = await session.closed;
    assert.equal(session.output(CHANNEL.stdout), 'out x\n');
    assert.equal(session.output(CHANNEL.stderr), 'err x\n');
    assert.equal(end?.status, 'exited');
  });

  it('refuses anyone but the owner, another site, and what is not a WebSocket', async () => {
    const job = await server.startJob('alice', { command: 'cat', tty: true });
    assert.deepEqual(await refusal(server, 'bob', job.id), { status: 404, code: 'JOB_NOT_FOUND' });
    for (const client of ['admin', 'auditor']) {
      assert.deepEqual(await refusal(server, client, job.id), { status: 403, code: 'FORBIDDEN' });
    }
    // Any page may open a WebSocket to any address, and the browser adds its certificate.
    const crossSite = await refusal(server, 'alice', job.id, {
      headers: { Origin: 'https://evil.example' },
    });
    assert.deepEqual(crossSite, { status: 403, code: 'CROSS_SITE_REQUEST' });
    const noProtocol = await refusal(server, 'alice', job.id, { protocols: ['chat'] });
    assert.deepEqual(noProtocol, { status: 400, code: 'INVALID_REQUEST' });
    const plain = await server.request('alice', 'GET', `/v1/jobs/${job.id}/attach`);
    assert.equal(plain.status, 426);
    assert.equal(plain.json<{ code: string }>().code, 'UPGRADE_REQUIRED');
    // One attached client at a time: the second would interleave its keys with the first's.
    const first = await attached(server, 'alice', job.id);
    assert.deepEqual(await refusal(server, 'alice', job.id), { status: 409, code: 'INPUT_BUSY' });
    first.endInput();
    await first.closed;
  });

  it('answers with the subprotocol and records the attach in the audit trail', async () => {
    const job = await server.startJob('alice', { command: 'cat', tty: true });
    const result = await attach(server, 'alice', job.id);
    assert.equal(result.kind, 'open');
    assert.equal(result.handshake.headers['sec-websocket-protocol'], ATTACH_PROTOCOL);
    result.session.endInput();
    await result.session.closed;
    const trail = await server.request('auditor', 'GET', `/v1/audit?job=${job.id}`);
    const actions = trail
      .json<{ records: { action: string; client: { name: string } }[] }>()
      .records.map((record) => `${record.action} ${record.client.name}`);
    assert.ok(actions.includes('job.attach alice'), actions.join(', '));
  });
});

describe('a terminal job across a restart of the server', () => {
  it('keeps running with its terminal, and is attached to again', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'jobworker-tty-'));
    const first = await startServer({ baseDir, env: { SHUTDOWN_POLICY: 'leave-running' } });
    const job = await first.startJob('alice', { command: 'sh', tty: true });
    const before = await attached(first, 'alice', job.id);
    before.type('x=kept\n');
    before.type('echo set\n');
    await before.waitFor('set\r\n');
    await first.stop();
    await before.closed;
    const second = await startServer({ baseDir });
    try {
      const after = await attached(second, 'alice', job.id);
      after.resize(50, 132);
      after.type('echo "$x"; stty size; exit\n');
      const { end } = await after.closed;
      assert.match(after.output(), /kept\r\n50 132\r\n/);
      assert.equal(end?.exitCode, 0);
    } finally {
      await second.dispose();
    }
  });
});

describe('stdout and stderr over attach, in the order the job wrote them', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.dispose();
  });

  async function watch(id: string, options: Parameters<typeof attach>[3] = {}) {
    const result = await attach(server, 'alice', id, { stdin: false, ...options });
    assert.equal(result.kind, 'open', result.kind === 'refused' ? result.body : '');
    return result.session;
  }

  /** A script echoing each line to its channel's stream, pausing so each is stored as written. */
  function pacedWrites(lines: [number, string][]): string {
    return lines
      .map(
        ([channel, line]) =>
          `echo '${line}'${channel === CHANNEL.stderr ? ' >&2' : ''}; sleep 0.1;`,
      )
      .join(' ');
  }

  /** The transcript of those lines: consecutive lines of a channel joined. */
  function runsOf(lines: [number, string][]): [number, string][] {
    const runs: [number, string][] = [];
    for (const [channel, line] of lines) {
      const last = runs.at(-1);
      if (last?.[0] === channel) last[1] += `${line}\n`;
      else runs.push([channel, `${line}\n`]);
    }
    return runs;
  }

  /** The job's output as stored: both streams as read, and each alone. */
  async function stored(id: string): Promise<{ all: string; stdout: string; stderr: string }> {
    const read = async (stream: string): Promise<string> =>
      (await server.request('alice', 'GET', `/v1/jobs/${id}/output?stream=${stream}`)).text();
    return { all: await read('all'), stdout: await read('stdout'), stderr: await read('stderr') };
  }

  /** Arrived as stored: in the order across channels, and each channel whole. */
  function assertAsStored(
    session: AttachedSession,
    output: { all: string; stdout: string; stderr: string },
  ): void {
    assert.equal(session.interleaved(), output.all);
    assert.equal(session.output(CHANNEL.stdout), output.stdout);
    assert.equal(session.output(CHANNEL.stderr), output.stderr);
  }

  it("sends an ended job's output in the order it was written", async () => {
    // The pauses let the supervisor read each write before the next: stored as written.
    const job = await server.startJob('alice', {
      command: 'sh',
      args: [
        '-c',
        'echo 1; sleep 0.1; echo 2 >&2; sleep 0.1; echo 3; sleep 0.1; echo 4 >&2; sleep 0.1; ' +
          'echo 5; sleep 0.1; echo 6; sleep 0.1; echo 7 >&2; sleep 0.1; echo 8 >&2; sleep 0.1; echo 9',
      ],
    });
    await server.waitForEnd('alice', job.id);
    const session = await watch(job.id);
    const { end } = await session.closed;
    assert.deepEqual(session.transcript(), [
      [CHANNEL.stdout, '1\n'],
      [CHANNEL.stderr, '2\n'],
      [CHANNEL.stdout, '3\n'],
      [CHANNEL.stderr, '4\n'],
      [CHANNEL.stdout, '5\n6\n'],
      [CHANNEL.stderr, '7\n8\n'],
      [CHANNEL.stdout, '9\n'],
    ]);
    assert.equal(end?.exitCode, 0);
  });

  it('sends writes without pauses between them in the order they were stored', async () => {
    for (const script of [
      'echo 1; echo 2 >&2; echo 3; echo 4 >&2',
      'for i in $(seq 1 300); do echo "out $i"; echo "err $i" >&2; done',
    ]) {
      const job = await server.startJob('alice', { command: 'sh', args: ['-c', script] });
      await server.waitForEnd('alice', job.id);
      const session = await watch(job.id);
      await session.closed;
      assertAsStored(session, await stored(job.id));
    }
  });

  it('keeps the order of a running job, its backlog then what it writes while attached', async () => {
    const before: [number, string][] = [
      [CHANNEL.stdout, 'old 1'],
      [CHANNEL.stdout, 'old 2'],
      [CHANNEL.stderr, 'old 3'],
      [CHANNEL.stdout, 'old 4'],
      [CHANNEL.stderr, 'old 5'],
      [CHANNEL.stderr, 'old 6'],
    ];
    const afterwards: [number, string][] = [
      [CHANNEL.stderr, 'new 1'],
      [CHANNEL.stdout, 'new 2'],
      [CHANNEL.stdout, 'new 3'],
      [CHANNEL.stderr, 'new 4'],
    ];
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', `${pacedWrites(before)} read go; ${pacedWrites(afterwards)}`],
      stdin: true,
    });
    const typist = await attached(server, 'alice', job.id);
    await typist.waitFor('old 6\n', CHANNEL.stderr);
    // The watcher comes once the first writes are all done: they are its backlog.
    const watcher = await watch(job.id);
    typist.type('go\n');
    await typist.closed;
    await watcher.closed;
    const expected = runsOf([...before, ...afterwards]);
    assert.deepEqual(watcher.transcript(), expected);
    assert.deepEqual(typist.transcript(), expected);
  });

  it('holds the output back while the client does not read, then sends it all in order', async () => {
    // 19 MB: more than the kernel's socket buffers take, so the server's 1 MiB mark is crossed
    // and its reader paused while the client does not read (once, when this was written).
    const job = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'for i in $(seq 1 30); do seq 1 100000; seq 1 10000 >&2; done'],
    });
    await server.waitForEnd('alice', job.id);
    const session = await watch(job.id);
    session.socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    session.socket.resume();
    await session.closed;
    assertAsStored(session, await stored(job.id));
  });

  it('starts at most tailBytes before the end of the whole output, then follows it', async () => {
    // Each write waits for a line typed after the previous one arrived: stored as written.
    const job = await server.startJob('alice', {
      command: 'sh',
      args: [
        '-c',
        'printf 0123456789; read a; printf abcdefghij >&2; read b; printf ABC; ' +
          'while read line; do echo "err $line" >&2; done',
      ],
      stdin: true,
    });
    const typist = await attached(server, 'alice', job.id);
    await typist.waitFor('0123456789', CHANNEL.stdout);
    typist.type('\n');
    await typist.waitFor('abcdefghij', CHANNEL.stderr);
    typist.type('\n');
    await typist.waitFor('ABC', CHANNEL.stdout);
    // The last 15 bytes of 0123456789abcdefghijABC: the cut falls in the first stdout write.
    const across = await watch(job.id, { tailBytes: 15 });
    // Within the last write.
    const last = await watch(job.id, { tailBytes: 2 });
    // More than the output has is all of it.
    const whole = await watch(job.id, { tailBytes: 1000 });
    typist.type('x\n');
    typist.endInput();
    await typist.closed;
    for (const session of [across, last, whole]) await session.closed;
    assert.deepEqual(across.transcript(), [
      [CHANNEL.stdout, '89'],
      [CHANNEL.stderr, 'abcdefghij'],
      [CHANNEL.stdout, 'ABC'],
      [CHANNEL.stderr, 'err x\n'],
    ]);
    assert.deepEqual(last.transcript(), [
      [CHANNEL.stdout, 'BC'],
      [CHANNEL.stderr, 'err x\n'],
    ]);
    assert.deepEqual(whole.transcript(), [
      [CHANNEL.stdout, '0123456789'],
      [CHANNEL.stderr, 'abcdefghij'],
      [CHANNEL.stdout, 'ABC'],
      [CHANNEL.stderr, 'err x\n'],
    ]);
  });
});
