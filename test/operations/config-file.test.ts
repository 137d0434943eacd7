// The config file as an operator meets it: `node src/server.ts --check --config FILE` prints
// every setting with where it came from and exits 0, or names the bad setting with its file and
// line and exits 2, starting nothing and creating no data directory; systemd/config.yaml is what
// SETTINGS make (every setting, its help and its default) and passes --check; and a server run
// with NOTIFY_SOCKET (as Type=notify runs it) says READY=1 as its own pid once it listens, and
// STOPPING=1 when it stops, received here on a unix datagram socket as systemd would.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { EXAMPLE_CONFIG, regenerated } from '../../scripts/config-example.ts';
import { SETTINGS } from '../../src/config.ts';
import { inheritedEnv, ROOT, startServer } from '../helpers/server.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'jobworker-config-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `node src/server.ts --check ARGS`: its exit code, stdout and stderr. */
async function check(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(ROOT, 'src', 'server.ts'), '--check', ...args],
      { cwd: dir, env: inheritedEnv() },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('--check and the config file', () => {
  it('prints each setting and where it came from, and starts nothing', async () => {
    const file = join(dir, 'good.yaml');
    const dataDir = join(dir, 'data');
    writeFileSync(file, `port: 9443\nclient-rate: 50\ndata-dir: ${dataDir}\n`);
    const { code, stdout } = await check(['--config', file, '--log-level', 'warn']);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^port: 9443 +# file ${file}:1$`, 'm'));
    assert.match(stdout, new RegExp(`^client-rate: 50 +# file ${file}:2$`, 'm'));
    assert.match(stdout, /^log-level: warn +# flag --log-level$/m);
    assert.match(stdout, /^retention: 7d +# default$/m);
    assert.ok(!existsSync(dataDir), 'no data directory made');
  });

  it('exits 2 naming the bad setting, its file and its line', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'port: 9443\nstop-grace: soon\n');
    const bad = await check(['--config', file]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.equal(
      bad.stderr,
      `jobworker: ${file}:2: stop-grace must be a duration such as 5s or 7d, got 'soon'\n`,
    );
    writeFileSync(file, 'port: 9443\nclient-rat: 50\n');
    const typo = await check(['--config', file]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /:2: unknown setting 'client-rat' \(did you mean 'client-rate'\?\)/);
  });

  it('ships systemd/config.yaml as SETTINGS make it, and it passes --check', async () => {
    const text = readFileSync(EXAMPLE_CONFIG, 'utf8');
    assert.equal(text, regenerated(text), 'run `node scripts/config-example.ts`');
    for (const setting of Object.values(SETTINGS)) {
      assert.match(text, new RegExp(`^#${setting.flag}: `, 'm'), setting.flag);
    }
    const { code, stdout } = await check(['--config', EXAMPLE_CONFIG]);
    assert.equal(code, 0);
    assert.match(stdout, /^data-dir: \/var\/lib\/jobworker\/data +# file .*config\.yaml:\d+$/m);
  });
});

/**
 * A unix datagram socket receiving as systemd does, with each sender's pid (SO_PASSCRED): Node
 * has none, so Python holds it; each message is one JSON line on its stdout.
 */
const RECEIVER = `
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    message, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = [struct.unpack("iii", data)[0] for _, kind, data in ancillary if kind == socket.SCM_CREDENTIALS]
    print(json.dumps({"message": message.decode(), "pid": pid[0] if pid else None}), flush=True)
`;

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((path) => existsSync(path));

describe(
  'readiness',
  { skip: PYTHON === undefined && 'needs python3 to hold a unix datagram socket' },
  () => {
    it('says READY=1 once it listens and STOPPING=1 when it stops, as its own pid', async () => {
      const socket = join(dir, 'notify.sock');
      const receiver = spawn(PYTHON ?? 'python3', ['-c', RECEIVER, socket], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const messages = createInterface({ input: receiver.stdout })[Symbol.asyncIterator]();
        // systemd-notify follows each message with a barrier (BARRIER=1 and a pipe that systemd
        // closes once it has read what came before), sent as itself: not the service's news.
        const next = async (): Promise<{ message?: string; pid?: number }> => {
          for (;;) {
            const line = String((await messages.next()).value);
            const received = JSON.parse(line) as { message?: string; pid?: number };
            if (received.message !== 'BARRIER=1') return received;
          }
        };
        assert.deepEqual(await next(), { bound: true });
        const server = await startServer({ env: { NOTIFY_SOCKET: socket } });
        try {
          const ready = await next();
          assert.equal(ready.pid, server.child.pid, 'sent as the main process');
          assert.match(ready.message ?? '', /^READY=1$/m);
          const listening = server.logs.findIndex((entry) => entry.msg === 'listening');
          assert.ok(listening >= 0, 'it listened first');
          await server.stop();
          const stopping = await next();
          assert.equal(stopping.pid, server.child.pid);
          assert.match(stopping.message ?? '', /^STOPPING=1$/m);
        } finally {
          await server.dispose();
        }
      } finally {
        receiver.kill();
      }
    });
  },
);
