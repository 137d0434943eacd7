// The helper that starts job supervisors for the server: real processes, spawned by the real
// helper, reporting on their real stdout. The programs here stand in for jobshim, which reports
// one line and then runs on in its own session.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LaunchFailedError } from '../../src/errors.ts';
import { SupervisorSpawner } from '../../src/launcher/supervisor-spawner.ts';

const SH = '/bin/sh';

/** The pids of this process's children running the helper. */
function helperPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [, comm, fields] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      const parent = Number(fields?.split(' ')[1]);
      if (comm === 'jobspawner' && parent === process.pid) pids.push(Number(entry));
    } catch {
      // it ended while we looked
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the supervisor spawner', () => {
  let dir: string;
  let log: string;
  let spawner: SupervisorSpawner;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'spawner-'));
    log = join(dir, 'shim.log');
    await writeFile(log, '', { mode: 0o600 });
    spawner = new SupervisorSpawner();
  });

  afterEach(async () => {
    await spawner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('relays the first line the supervisor writes to its stdout, whatever comes after', async () => {
    const reply = await spawner.spawn(
      [SH, '-c', 'echo started 42 1700; echo more; sleep 0.2'],
      log,
    );
    assert.deepEqual(reply, { kind: 'report', line: 'started 42 1700' });
  });

  it('passes every argument through intact: empty ones, spaces, quotes', async () => {
    const args = ['', 'a b', 'it\'s "quoted"', '--', '$HOME'];
    const reply = await spawner.spawn([SH, '-c', 'printf "|%s" "$@"; echo', 'sh', ...args], log);
    assert.deepEqual(reply, { kind: 'report', line: `|${args.join('|')}` });
  });

  it('says when the supervisor closed its stdout without a report', async () => {
    assert.deepEqual(await spawner.spawn(['/bin/true'], log), { kind: 'silent' });
  });

  it('says why a supervisor could not be spawned, and keeps serving', async () => {
    const missing = await spawner.spawn([join(dir, 'no-such-program')], log);
    assert.equal(missing.kind, 'not-spawned');
    assert.match(missing.kind === 'not-spawned' ? missing.reason : '', /No such file/);
    // The log must exist: a job whose log is missing was never started, and must not start.
    const noLog = await spawner.spawn(['/bin/echo', 'started'], join(dir, 'missing.log'));
    assert.equal(noLog.kind, 'not-spawned');
    assert.deepEqual(await spawner.spawn(['/bin/echo', 'ok'], log), { kind: 'report', line: 'ok' });
  });

  it("appends the supervisor's stderr to its log and gives it no environment of ours", async () => {
    process.env.SPAWNER_TEST_SECRET = 'must-not-leak';
    try {
      await writeFile(log, 'earlier line\n');
      const reply = await spawner.spawn([SH, '-c', '/usr/bin/env >&2; echo done'], log);
      assert.deepEqual(reply, { kind: 'report', line: 'done' });
      const written = await readFile(log, 'utf8');
      assert.ok(written.startsWith('earlier line\n'), written);
      assert.doesNotMatch(written, /SPAWNER_TEST_SECRET|must-not-leak|PATH=/);
    } finally {
      delete process.env.SPAWNER_TEST_SECRET;
    }
  });

  it('starts each supervisor in its own session, with stdin from /dev/null', async () => {
    // Field 6 of /proc/PID/stat is the session id: a session leader's is its own pid.
    const script = 'set -- $(cut -d" " -f6 /proc/$$/stat); echo $$ $1 $(readlink /proc/$$/fd/0)';
    const reply = await spawner.spawn([SH, '-c', script], log);
    assert.equal(reply.kind, 'report');
    const [pid, session, stdin] = reply.kind === 'report' ? reply.line.split(' ') : [];
    assert.equal(session, pid);
    assert.equal(stdin, '/dev/null');
  });

  it('answers many spawns in flight at once, each with its own report', async () => {
    const count = 40;
    const replies = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        // Later ones report sooner, so replies arrive out of order.
        spawner.spawn([SH, '-c', `sleep 0.${(count - index) % 10}; echo ${index}`], log),
      ),
    );
    assert.deepEqual(
      replies,
      Array.from({ length: count }, (_, index) => ({ kind: 'report', line: String(index) })),
    );
  });

  it('fails the spawns in flight when the helper dies, and starts a new one for the next', async () => {
    const waiting = spawner.spawn([SH, '-c', 'exec sleep 3'], log);
    await spawner.spawn(['/bin/true'], log); // the helper is up and has the first request
    const [helper] = helperPids();
    assert.ok(helper !== undefined, 'the helper runs as our child');
    process.kill(helper, 'SIGKILL');
    await assert.rejects(waiting, LaunchFailedError);
    assert.deepEqual(await spawner.spawn(['/bin/echo', 'again'], log), {
      kind: 'report',
      line: 'again',
    });
    assert.equal(helperPids().length, 1);
  });

  it('relays the reports it owes before it exits at close, and ignores a Ctrl-C', async () => {
    // Once it has answered, it has set its signals (a signal sent before its main() would not
    // test the helper but the dynamic loader).
    await spawner.spawn(['/bin/true'], log);
    const [helper] = helperPids();
    assert.ok(helper !== undefined);
    // A Ctrl-C or hang-up at the server's terminal must not drop the starts in flight.
    process.kill(helper, 'SIGINT');
    process.kill(helper, 'SIGHUP');
    const late = spawner.spawn([SH, '-c', 'sleep 0.3; echo started late'], log);
    await spawner.spawn(['/bin/true'], log); // the helper has read the first request
    assert.ok(isAlive(helper));
    await spawner.close();
    assert.deepEqual(await late, { kind: 'report', line: 'started late' });
  });

  it('fails the starts, without crashing, when the helper itself cannot be started', async () => {
    const notExecutable = join(dir, 'jobspawner');
    await writeFile(notExecutable, '', { mode: 0o644 });
    const broken = new SupervisorSpawner(notExecutable);
    await assert.rejects(broken.spawn(['/bin/true'], log), LaunchFailedError);
    await assert.rejects(broken.spawn(['/bin/true'], log), LaunchFailedError);
    await broken.close();
  });

  it('once closed, starts no more; the helper exits and what it started runs on', async () => {
    const reply = await spawner.spawn([SH, '-c', 'echo $$; exec sleep 30'], log);
    const supervisor = Number(reply.kind === 'report' ? reply.line : NaN);
    const [helper] = helperPids();
    assert.ok(helper !== undefined);
    // The helper sees the end of its input and exits.
    await spawner.close();
    assert.deepEqual(helperPids(), []);
    await assert.rejects(spawner.spawn(['/bin/true'], log), LaunchFailedError);
    assert.ok(isAlive(supervisor), 'the supervisor outlives the helper');
    process.kill(supervisor, 'SIGKILL');
  });
});
