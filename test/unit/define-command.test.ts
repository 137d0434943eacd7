// What every jobctl command gets from defineCommand, seen as a user sees it: a command declared
// here runs in a process of its own (no server), and its stdout, stderr and exit status are
// read. --help, a mistyped option with its "did you mean", the arguments a command takes, the
// connection options every command accepts, and each failure as one line and an exit status.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli');
const module = (path: string): string => pathToFileURL(join(CLI, path)).href;

/** A command `demo` declared as DECLARATION (JSON) says, which prints what it was given. */
const DEMO = `
import { defineCommand } from '${module('define-command.ts')}';
import { CliError } from '${module('errors.ts')}';
const declared = JSON.parse(process.env.DECLARATION);
const command = defineCommand({
  name: 'demo',
  help: 'Usage: jobctl demo [options]\\n',
  options: { json: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' } },
  ...declared,
  run({ values, positionals }) {
    if (positionals[0] === 'refused') throw new CliError('API_ERROR', 'the server said no');
    if (positionals[0] === 'bug') throw new Error('boom');
    process.stdout.write(JSON.stringify({ values, positionals }) + '\\n');
    return 7;
  },
});
process.exitCode = await command.run(process.argv.slice(1));
`;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function demo(declaration: object, args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '--eval', DEMO, '--', ...args],
      { env: { ...process.env, DECLARATION: JSON.stringify(declaration), NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** What the command's own code was given, as it printed it. */
function given(outcome: Outcome): { values: object; positionals: string[] } {
  return JSON.parse(outcome.stdout) as { values: object; positionals: string[] };
}

const NOTHING = { arguments: { takes: 'nothing' } };

// Each case is a few processes that share nothing: they run side by side.
describe('a command declared with defineCommand', { concurrency: true }, () => {
  it('prints its help for --help and -h, and runs nothing', async () => {
    const [long, short] = await Promise.all([
      demo(NOTHING, ['--help']),
      demo(NOTHING, ['-h', 'extra']),
    ]);
    assert.deepEqual(long, { code: 0, stdout: 'Usage: jobctl demo [options]\n', stderr: '' });
    assert.deepEqual(short, long);
  });

  it('says which option was meant, and exits 2 pointing at its help', async () => {
    const typo = await demo(NOTHING, ['--jsno']);
    assert.deepEqual(typo, {
      code: 2,
      stdout: '',
      stderr:
        "jobctl: unknown option '--jsno'; did you mean '--json'? (see 'jobctl demo --help')\n",
    });
  });

  it('accepts the connection options, and gets its own and them parsed', async () => {
    const ran = await demo(NOTHING, ['--server', 'https://example.test', '-f', '--json']);
    assert.equal(ran.code, 7);
    assert.deepEqual(given(ran), {
      values: { server: 'https://example.test', follow: true, json: true },
      positionals: [],
    });
  });

  it('takes no connection options when it never connects', async () => {
    const refused = await demo({ ...NOTHING, connection: false }, ['--server', 'x']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^jobctl: unknown option '--server' \(see 'jobctl demo --help'\)/);
  });

  it('refuses arguments it takes none of, in its own words if it has them', async () => {
    const [plain, worded] = await Promise.all([
      demo(NOTHING, ['x']),
      demo({ arguments: { takes: 'nothing', message: 'demo takes no arguments' } }, ['x']),
    ]);
    assert.equal(plain.stderr, "jobctl: unexpected argument 'x' (see 'jobctl demo --help')\n");
    assert.equal(worded.stderr, "jobctl: demo takes no arguments (see 'jobctl demo --help')\n");
    assert.deepEqual([plain.code, worded.code], [2, 2]);
  });

  it('takes one job id, or says what is missing or too much', async () => {
    const job = { arguments: { takes: 'job' } };
    const [none, one, two] = await Promise.all([
      demo(job, []),
      demo(job, ['3f2a']),
      demo(job, ['3f2a', '9c1b']),
    ]);
    assert.equal(none.stderr, "jobctl: missing the job id (see 'jobctl demo --help')\n");
    assert.deepEqual(given(one).positionals, ['3f2a']);
    assert.equal(two.stderr, "jobctl: unexpected argument '9c1b' (see 'jobctl demo --help')\n");
    assert.deepEqual([none.code, one.code, two.code], [2, 7, 2]);
  });

  it('takes job ids, at least one', async () => {
    const jobs = { arguments: { takes: 'jobs', missing: 'missing the id of the job to demo' } };
    const [none, many] = await Promise.all([demo(jobs, []), demo(jobs, ['a', 'b', 'c'])]);
    assert.equal(
      none.stderr,
      "jobctl: missing the id of the job to demo (see 'jobctl demo --help')\n",
    );
    assert.deepEqual(given(many).positionals, ['a', 'b', 'c']);
  });

  it("takes a job's command line from the first word that is not an option on", async () => {
    const command = { arguments: { takes: 'command', missing: 'missing the command' } };
    const [dashes, word, none] = await Promise.all([
      demo(command, ['-f', '--', 'ls', '-l']),
      demo(command, ['--json', 'sh', '-c', 'echo --help']),
      demo(command, ['-f']),
    ]);
    assert.deepEqual(given(dashes), {
      values: { follow: true },
      positionals: ['ls', '-l'],
    });
    assert.deepEqual(given(word), {
      values: { json: true },
      positionals: ['sh', '-c', 'echo --help'],
    });
    assert.equal(none.stderr, "jobctl: missing the command (see 'jobctl demo --help')\n");
  });

  it('reports a failure as one line, with its exit statuses', async () => {
    const own = { usage: 125, failure: 125 };
    const [refused, bug, refusedInRun, usageInRun] = await Promise.all([
      demo({ arguments: { takes: 'words' } }, ['refused']),
      demo({ arguments: { takes: 'words' } }, ['bug']),
      demo({ arguments: { takes: 'words' }, failureStatuses: own }, ['refused']),
      demo({ arguments: { takes: 'words' }, failureStatuses: own }, ['--bogus']),
    ]);
    assert.deepEqual(refused, { code: 1, stdout: '', stderr: 'jobctl: the server said no\n' });
    assert.deepEqual(bug, { code: 1, stdout: '', stderr: 'jobctl: unexpected error: boom\n' });
    assert.deepEqual([refusedInRun.code, usageInRun.code], [125, 125]);
    assert.equal(
      usageInRun.stderr,
      "jobctl: unknown option '--bogus' (see 'jobctl demo --help')\n",
    );
  });
});
