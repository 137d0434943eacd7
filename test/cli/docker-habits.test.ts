// jobctl as people who know docker, kubectl and ssh expect it (issue 36): watching never stops a
// job, however often Ctrl-C is pressed; a terminal job gets the local TERM; `wait`, `whoami`,
// `limits`, `audit`, `top`, `completion` and `logs --tail`; `stop` of an ended job is no failure;
// "did you mean"; messages in jobctl's words; `run --merge` and `logs --since/--timestamps`
// against the server's side of the contract. Each runs the real jobctl against a real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../helpers/server.ts';
import { JOBCTL, jobctlFor, shellGrouped, type Jobctl } from './jobctl-process.ts';
import { TmuxPane } from './tmux.ts';

const execFileAsync = promisify(execFile);
const TICKING = { command: 'sh', args: ['-c', 'while :; do echo tick; sleep 0.1; done'] };

describe('jobctl as docker users expect it', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let admin: Jobctl;
  let home: string;
  const disposals: (() => Promise<void>)[] = [];
  const panes: TmuxPane[] = [];
  before(async () => {
    server = await startServer();
    const alice = await jobctlFor(server);
    ({ jobctl, home } = alice);
    disposals.push(alice.dispose);
    const forAdmin = await jobctlFor(server, 'admin');
    admin = forAdmin.jobctl;
    disposals.push(forAdmin.dispose);
  });
  after(async () => {
    for (const pane of panes) await pane.close();
    for (const dispose of disposals) await dispose();
    await server.dispose();
  });

  const statusOf = async (id: string): Promise<string> =>
    (await server.request('alice', 'GET', `/v1/jobs/${id}`)).json<{ status: string }>().status;

  /** A pane running a shell line; the line's status goes to NAME.status, then JOBCTL-DONE. */
  async function pane(line: string, name: string): Promise<TmuxPane> {
    const opened = await TmuxPane.open(
      `${line}; echo $? > ${name}.status; echo JOBCTL-DONE; sleep 600`,
      { env: jobctl.env, cwd: home, rows: 30, cols: 120 },
    );
    panes.push(opened);
    return opened;
  }
  const statusFile = async (name: string): Promise<number> =>
    Number((await readFile(join(home, `${name}.status`), 'utf8')).trim());

  it("logs -f on a terminal: a double Ctrl-C stops watching, exits 130, and the admin's watch leaves alice's job running", async () => {
    const { id } = await server.startJob('alice', TICKING);
    const watching = await TmuxPane.open(
      // The pane's shell survives a Ctrl-C that comes once jobctl has already left.
      `trap : INT; "${process.execPath}" "${JOBCTL}" logs -f ${id}; echo $? > logs.status; echo JOBCTL-DONE; sleep 600`,
      { env: admin.env, cwd: home, rows: 30, cols: 120 },
    );
    panes.push(watching);
    await watching.waitFor(/tick\n/);
    await watching.keys('C-c');
    await watching.keys('C-c');
    const shown = await watching.waitFor(/JOBCTL-DONE/);
    assert.equal(await statusFile('logs'), 130);
    assert.match(shown, new RegExp(`stopped watching job ${id}; it keeps running`));
    assert.doesNotMatch(shown, /stopping job/);
    assert.equal(await statusOf(id), 'running');
    await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
  });

  it('run -f: the first Ctrl-C says what a second will do', async () => {
    const run = jobctl.spawn('run', '-f', '--', TICKING.command, ...TICKING.args);
    await run.waitForStdout(/tick\n/);
    run.child.kill('SIGINT');
    await run.waitForStderr(
      /press Ctrl-C again within 1s to stop job [0-9a-f-]{36}; Ctrl-\\ or close the terminal to detach/,
    );
    const result = await run.exited;
    assert.equal(result.code, 130);
    const id = /detached from job ([0-9a-f-]{36})/.exec(result.stderr)?.[1];
    assert.ok(id !== undefined, result.stderr);
    assert.equal(await statusOf(id), 'running');
    await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
  });

  it("run -it passes the terminal's TERM to the job, as ssh does", async () => {
    const shown = await (
      await pane(
        `echo "LOCAL=$TERM"; "${process.execPath}" "${JOBCTL}" run -it -- sh -c 'echo "JOB=$TERM"'`,
        'term',
      )
    ).waitFor(/JOBCTL-DONE/);
    const local = /LOCAL=(\S+)/.exec(shown)?.[1];
    assert.ok(local !== undefined && local !== '', shown);
    assert.match(shown, new RegExp(`JOB=${local}\\n`));
    assert.equal(await statusFile('term'), 0);
  });

  it('wait prints and exits with the status of the job', async () => {
    const { id } = await server.startJob('alice', {
      command: 'sh',
      args: ['-c', 'sleep 0.3; exit 3'],
    });
    const result = await jobctl.run('wait', id.slice(0, 8));
    assert.equal(result.stdout, '3\n');
    assert.equal(result.code, 3);
  });

  it('stop of an ended job exits 0 and says it had already ended', async () => {
    const { id } = await server.startJob('alice', { command: 'true', args: [] });
    await server.waitForEnd('alice', id);
    const result = await jobctl.run('stop', id);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, `jobctl: job ${id} had already ended (exited 0)\n`);
  });

  it('suggests the command or flag meant', async () => {
    const command = await jobctl.run('rnu', 'true');
    assert.equal(command.code, 2);
    assert.match(command.stderr, /^jobctl: unknown command 'rnu'; did you mean 'run'\?/);
    const flag = await jobctl.run('ps', '--al');
    assert.match(flag.stderr, /unknown option '--al'; did you mean '--all'\?/);
  });

  it('says what is wrong in the words of its own flags', async () => {
    const env = await jobctl.run('run', '-e', 'BAD NAME=1', '--', 'true');
    assert.match(env.stderr, /^jobctl: -e 'BAD NAME=1': variable names are letters, digits and _/);
    assert.doesNotMatch(env.stderr, /Invalid key/);
  });

  it('whoami, limits and audit answer from the server', async () => {
    const whoami = await jobctl.run('whoami');
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /^Name: +alice\nRole: +user\n/);
    assert.match(whoami.stdout, /\nSerial: +[0-9a-f]+\nExpires: +\d{4}-/);
    const limits = await jobctl.run('limits');
    assert.equal(limits.code, 0, limits.stderr);
    assert.match(limits.stdout, /^Role: user\n +CEILING +DEFAULT +YOUR TOTAL\nCPUs /);
    assert.match(limits.stdout, /\nNetworks: none, egress \(--network; default none\)\n/);
    const records = await admin.run('audit', '--limit', '5');
    assert.equal(records.code, 0, records.stderr);
    assert.match(
      records.stdout,
      /^\d+\t\d{4}-[^\t]+\t[^\t]+\t[a-z_.]+\t(allowed|denied|failed)\t/m,
    );
    const verify = await admin.run('audit', 'verify');
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^the audit trail verifies: \d+ records\n$/);
    const refused = await jobctl.run('audit');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /FORBIDDEN/);
  });

  it('top --no-stream lists running jobs with their live usage', async () => {
    const { id } = await server.startJob('alice', TICKING);
    const result = await jobctl.run('top', '--no-stream');
    assert.equal(result.code, 0, result.stderr);
    const line = result.stdout.split('\n').find((row) => row.startsWith(id));
    assert.ok(line !== undefined, result.stdout);
    assert.match(line, /^[0-9a-f-]{36}\talice\t\d+\t(\d+|-)\t(\d+|-)\t\d+\tsh -c /);
    await server.request('alice', 'POST', `/v1/jobs/${id}/stop`);
  });

  it('logs --tail N prints the last N lines', async () => {
    const { id } = await server.startJob('alice', { command: 'seq', args: ['1', '100000'] });
    await server.waitForEnd('alice', id);
    const result = await jobctl.run('logs', '--tail', '3', id);
    assert.equal(result.stdout, '99998\n99999\n100000\n');
  });

  it('completion scripts complete commands and flags, and bash accepts them', async () => {
    const bash = await jobctl.run('completion', 'bash');
    assert.equal(bash.code, 0, bash.stderr);
    assert.match(bash.stdout, /run\) words="[^"]*--follow[^"]*--merge/);
    const file = join(home, 'jobctl.bash');
    await writeFile(file, bash.stdout);
    await execFileAsync('bash', ['-n', file]);
    const { stdout } = await execFileAsync('bash', [
      '-c',
      `source ${file}; COMP_WORDS=(jobctl lo); COMP_CWORD=1; _jobctl; echo "\${COMPREPLY[@]}"`,
    ]);
    assert.equal(stdout.trim(), 'logs');
    // zsh and fish read their scripts without running them (-n), as bash did.
    for (const shell of ['zsh', 'fish']) {
      const script = await jobctl.run('completion', shell);
      assert.equal(script.code, 0, script.stderr);
      const path = join(home, `jobctl.${shell}`);
      await writeFile(path, script.stdout);
      await execFileAsync(shell, ['-n', path]);
    }
    const fish = await execFileAsync('fish', [
      '-c',
      `source ${join(home, 'jobctl.fish')}; complete -C 'jobctl logs --ta'`,
    ]);
    assert.equal(fish.stdout.trim(), '--tail');
  });

  it('run --merge keeps the order of stdout and stderr (server contract)', async () => {
    const script = 'i=0; while [ $i -lt 1000 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done';
    const result = await jobctl.run('run', '-f', '--merge', '--', 'sh', '-c', script);
    assert.equal(result.code, 0, result.stderr);
    const expected = Array.from({ length: 1000 }, (_, i) => `o${i}\ne${i}\n`).join('');
    assert.equal(result.stdout, expected);
  });

  it('logs --timestamps and --since (server contract)', async () => {
    const { id } = await server.startJob('alice', { command: 'echo', args: ['hello'] });
    await server.waitForEnd('alice', id);
    const stamped = await jobctl.run('logs', '--timestamps', id);
    assert.equal(stamped.code, 0, stamped.stderr);
    assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello\n$/);
    const later = await jobctl.run('logs', '--since', '2999-01-01T00:00:00Z', id);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(later.stdout, '');
  });

  it('ps and inspect: -o name|wide|json and --format with escaped fields; OOMKilled named', async () => {
    const oom = await server.startJob('alice', {
      command: 'python3',
      args: ['-c', 'b = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1'],
      limits: { memory: '64M' },
    });
    const labelled = await server.startJob('alice', {
      command: 'true',
      labels: { stage: 'test' },
    });
    await server.waitForEnd('alice', oom.id);
    await server.waitForEnd('alice', labelled.id);
    const piped = await jobctl.run('ps', '-a');
    const row = piped.stdout.split('\n').find((line) => line.startsWith(oom.id));
    assert.equal(row?.split('\t')[2], 'OOMKilled', piped.stdout);
    const formatted = await jobctl.run('ps', '-a', '--format', '{{.ID}} {{.Status}} {{.Labels}}');
    assert.equal(formatted.code, 0, formatted.stderr);
    assert.ok(formatted.stdout.includes(`${oom.id} OOMKilled (SIGKILL) \n`), formatted.stdout);
    assert.ok(
      formatted.stdout.includes(`${labelled.id} exited (0) stage=test\n`),
      formatted.stdout,
    );
    const names = await jobctl.run('ps', '-a', '-o', 'name');
    assert.ok(names.stdout.split('\n').includes(oom.id), names.stdout);
    const wide = await jobctl.run('ps', '-a', '-o', 'wide');
    assert.match(wide.stdout, /^ID +OWNER +STATUS +CREATED +LABELS +ERROR +COMMAND\n/);
    const json = await jobctl.run('ps', '-a', '-o', 'json');
    assert.ok((JSON.parse(json.stdout) as { id: string }[]).some((job) => job.id === oom.id));
    const inspected = await jobctl.run('inspect', '--format', '{{.State}}\t{{.OOMKilled}}', oom.id);
    assert.equal(inspected.stdout, 'exited\ttrue\n');
    const unknown = await jobctl.run('ps', '--format', '{{.Nope}}');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown field '\{\{\.Nope\}\}'/);
    // Another client's control characters stay escapes inside a template too.
    const hostile = await server.startJob('alice', { command: 'true', args: ['\u001b[2K'] });
    await server.waitForEnd('alice', hostile.id);
    const escaped = await jobctl.run('inspect', '--format', '{{.Command}}', hostile.id);
    assert.equal(escaped.stdout, "true '\\x1b[2K'\n");
  });

  it('logs into a reader that stops: ends quietly, as SIGPIPE ends others', async () => {
    const { id } = await server.startJob('alice', { command: 'seq', args: ['1', '2000000'] });
    await server.waitForEnd('alice', id);
    const { stdout, stderr } = await shellGrouped(
      `"${process.execPath}" "${JOBCTL}" logs ${id} | (sleep 1; head -c1)`,
      { env: jobctl.env, cwd: home },
    );
    assert.equal(stdout, '1');
    assert.equal(stderr, '');
  });

  it('logs -f ends with an error within seconds when the server is killed mid-stream', async () => {
    const own = await startServer();
    const { jobctl: watcher, dispose } = await jobctlFor(own);
    disposals.push(dispose);
    try {
      // It ends by itself: the server that would stop it is killed.
      const { id } = await own.startJob('alice', { ...TICKING, timeout: '5s' });
      const logs = watcher.spawn('logs', '-f', id);
      await logs.waitForStdout(/tick\n/);
      const killedAt = Date.now();
      own.child.kill('SIGKILL');
      const result = await logs.exited;
      assert.ok(Date.now() - killedAt < 5000, `${Date.now() - killedAt} ms`);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^jobctl: lost the connection to localhost:\d+ while reading the job's output\n$/,
      );
    } finally {
      await own.dispose();
    }
  });
});
