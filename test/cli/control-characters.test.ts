// Another client's control characters never reach an admin's terminal through jobctl: a job of
// alice's whose command and arguments hold line erasing (`\e[2K\e[1A`), an OSC 52 clipboard
// write, a bare `\r`, a C1 CSI (U+009B) and DEL is listed by the admin's `jobctl ps` on a
// terminal (util-linux `script` gives jobctl a pty) and in a pipe with each of them shown as a
// visible escape, and so are the server's errors that quote such text. JSON stays JSON.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { readableJson } from '../../src/cli/printable.ts';
import { startServer, type Job, type TestServer } from '../helpers/server.ts';
import { JOBCTL, jobctlFor, oneLine, type Jobctl } from './jobctl-process.ts';

const ERASE_LINE_AND_GO_UP = '\x1b[2K\x1b[1A';
/** OSC 52: puts "pwned" in the clipboard of a terminal that allows it. */
const CLIPBOARD_WRITE = '\x1b]52;c;cHduZWQ=\x07';
const CARRIAGE_RETURN = '\r';
const C1_CSI = '\x9b';
const DEL = '\x7f';
const HOSTILE = [ERASE_LINE_AND_GO_UP, CLIPBOARD_WRITE, CARRIAGE_RETURN, C1_CSI, DEL];

/** How each hostile word reads once jobctl has made it printable. */
const SHOWN = ['\\x1b[2K\\x1b[1A', '\\x1b]52;c;cHduZWQ=\\x07', '\\r', '\\x9b', '\\x7f'];

/** jobctl's own colors on a terminal: the only escape sequences it may write. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point.
const OWN_COLORS = /\x1b\[[0-9]{1,2}m/g;

/** Every C0 control but tab and newline, DEL, and every C1 control. */
// eslint-disable-next-line no-control-regex -- as above.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** What is left that a terminal would act on, as code points, or [] when nothing is. */
function controlsIn(text: string): string[] {
  return [...text]
    .filter((character) => CONTROL.test(character))
    .map((character) => `U+${character.codePointAt(0)?.toString(16).padStart(4, '0')}`);
}

/** Text for a failure's message, so a failing test does not act on the terminal running it. */
function shown(text: string): string {
  return readableJson(text);
}

describe('control characters in what jobctl prints', () => {
  let server: TestServer;
  let alice: Jobctl;
  let admin: Jobctl;
  let adminHome: string;
  const disposals: (() => Promise<void>)[] = [];
  let listed: Job;

  before(async () => {
    server = await startServer();
    let dispose: () => Promise<void>;
    ({ jobctl: alice, dispose } = await jobctlFor(server, 'alice'));
    disposals.push(dispose);
    ({ jobctl: admin, home: adminHome, dispose } = await jobctlFor(server, 'admin'));
    disposals.push(dispose);
    listed = await server.startJob('alice', { command: 'true', args: HOSTILE });
    // A command named with a control character, as another client's listed job shows it.
    await server.startJob('alice', { command: `/bin/true`, args: [`no-such${CLIPBOARD_WRITE}`] });
    await server.waitForEnd('alice', listed.id);
  });
  after(async () => {
    for (const dispose of disposals) await dispose();
    await server.dispose();
  });

  /** `jobctl ARGS` on a terminal of 400 columns: what the terminal received. */
  async function onTerminal(jobctl: Jobctl, cwd: string, ...args: string[]): Promise<string> {
    const line = `stty cols 400; "${process.execPath}" "${JOBCTL}" ${args.join(' ')}`;
    const child = spawn('script', ['-qec', line, '/dev/null'], {
      env: jobctl.env,
      cwd,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let received = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (received += text));
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0, shown(received));
    // The terminal's own line discipline turns each newline into CR LF.
    return received.replaceAll('\r\n', '\n');
  }

  it("shows alice's control characters to the admin's `ps` on a terminal as visible escapes", async () => {
    const screen = await onTerminal(admin, adminHome, 'ps', '-a');
    assert.deepEqual(controlsIn(screen.replaceAll(OWN_COLORS, '')), [], shown(screen));
    const row = screen.split('\n').find((text) => text.startsWith(listed.id.slice(0, 8)));
    assert.ok(row, shown(screen));
    assert.ok(row.includes(`true ${SHOWN.map((word) => `'${word}'`).join(' ')}`), shown(row));
    assert.ok(screen.includes(`no-such${SHOWN[1] ?? ''}`), shown(screen));
  });

  it("shows them to the admin's `ps` in a pipe as visible escapes, one job a line", async () => {
    const result = await admin.run('ps', '-a');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(controlsIn(result.stdout), [], shown(result.stdout));
    const lines = result.stdout.trimEnd().split('\n');
    // No field broke out of its line or its column.
    for (const line of lines)
      assert.match(line, /^[0-9a-f-]{36}\t([^\t]*\t){4}[^\t]*$/, shown(line));
    const row = lines.find((text) => text.startsWith(listed.id));
    assert.equal(row?.split('\t').at(-1), `true ${SHOWN.map((word) => `'${word}'`).join(' ')}`);
  });

  it('keeps --json and inspect JSON that reads back to the same strings, with C1 and DEL escaped', async () => {
    const listing = await admin.run('ps', '-a', '--json');
    assert.equal(listing.code, 0, listing.stderr);
    assert.deepEqual(controlsIn(listing.stdout), []);
    const jobs = JSON.parse(listing.stdout) as Job[];
    assert.deepEqual(jobs.find((job) => job.id === listed.id)?.args, HOSTILE);
    assert.ok(listing.stdout.includes('"\\u009b"'), 'C1 as a JSON escape');

    const screen = await onTerminal(admin, adminHome, 'inspect', listed.id);
    assert.deepEqual(controlsIn(screen), [], shown(screen));
    assert.deepEqual((JSON.parse(screen) as Job).args, HOSTILE);
  });

  it("escapes the server's errors that quote them, on stderr", async () => {
    const refused = await alice.run('run', '--label', `${ERASE_LINE_AND_GO_UP}=x`, '--', 'true');
    assert.equal(refused.code, 125);
    assert.deepEqual(controlsIn(refused.stderr), [], shown(refused.stderr));
    assert.match(oneLine(refused), /labels\b.*\\x1b\[2K\\x1b\[1A/);

    const notRun = await alice.run('run', '--wait', '--', `no-such${CLIPBOARD_WRITE}`);
    assert.deepEqual(controlsIn(notRun.stderr), [], shown(notRun.stderr));
    // A command that cannot be run: the server's refusal quotes it.
    assert.ok(
      notRun.stderr.includes(`command not found: no-such${SHOWN[1] ?? ''}`),
      shown(notRun.stderr),
    );
  });
});
