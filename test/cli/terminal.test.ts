// `jobctl run -it` and `jobctl attach` in a real terminal (a tmux pane): the job gets a pts of
// its own, sized as the pane and resized with it, Ctrl-C interrupts what runs in it, its exit
// status is jobctl's, and the local terminal is back in cooked mode afterwards. Ctrl-P Ctrl-Q
// detaches and `jobctl attach` comes back.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { JOBCTL, jobctlFor, type Jobctl } from './jobctl-process.ts';
import { TmuxPane } from './tmux.ts';

describe('jobctl on a terminal', () => {
  let server: TestServer;
  let jobctl: Jobctl;
  let home: string;
  let dispose: () => Promise<void>;
  const panes: TmuxPane[] = [];
  before(async () => {
    server = await startServer();
    ({ jobctl, home, dispose } = await jobctlFor(server));
  });
  after(async () => {
    for (const pane of panes) await pane.close();
    await dispose();
    await server.dispose();
  });

  /**
   * A pane running `jobctl ARGS`; when jobctl exits, its status and the terminal's settings are
   * written to files of the test's home, then the pane waits.
   */
  async function paneRunning(args: string, name: string, rows = 30, cols = 100): Promise<TmuxPane> {
    const line =
      `"${process.execPath}" "${JOBCTL}" ${args}; echo $? > ${name}.status; ` +
      `stty -a > ${name}.stty; echo JOBCTL-DONE; sleep 600`;
    const pane = await TmuxPane.open(line, { env: jobctl.env, cwd: home, rows, cols });
    panes.push(pane);
    return pane;
  }

  async function afterExit(
    pane: TmuxPane,
    name: string,
  ): Promise<{ status: number; stty: string }> {
    await pane.waitFor(/JOBCTL-DONE/);
    return {
      status: Number((await readFile(join(home, `${name}.status`), 'utf8')).trim()),
      stty: await readFile(join(home, `${name}.stty`), 'utf8'),
    };
  }

  it("gives the job a terminal of the pane's size that follows it, passes Ctrl-C, and exits with its status", async () => {
    const pane = await paneRunning('run -it -- sh', 'shell');
    await pane.waitFor(/\$ $/m);
    await pane.typeLine('tty; stty size');
    await pane.waitFor(/\/dev\/pts\/\d+\n30 100/);
    await pane.resize(40, 120);
    await pane.typeLine('stty size');
    await pane.waitFor(/40 120/);
    // Ctrl-C reaches the job through its terminal: the sleep ends long before its 60 s.
    await pane.typeLine('sleep 60');
    await pane.keys('C-c');
    await pane.typeLine('echo after-interrupt');
    // The line may be typed before the shell's new prompt shows: its output then follows it.
    await pane.waitFor(/(\n|\$ )after-interrupt\n/, 10_000);
    await pane.typeLine('exit 3');
    const { status, stty } = await afterExit(pane, 'shell');
    assert.equal(status, 3);
    // The local terminal is cooked again: line editing and echo, as before jobctl.
    assert.match(stty, /(^|\s)icanon(\s|$)/m);
    assert.match(stty, /(^|\s)echo(\s|$)/m);
  });

  it('detaches on Ctrl-P Ctrl-Q, leaving the job running, and attaches again', async () => {
    const first = await paneRunning('run -it -- sh', 'detach');
    await first.waitFor(/\$ $/m);
    await first.typeLine('kept=yes; echo one');
    await first.waitFor(/\none\n/);
    await first.keys('C-p', 'C-q');
    const { status } = await afterExit(first, 'detach');
    assert.equal(status, 130);
    const said = await first.output();
    const id = /detached from job ([0-9a-f-]{36})/.exec(said)?.[1];
    assert.ok(id !== undefined, said);
    const state = await server.request('alice', 'GET', `/v1/jobs/${id}`);
    assert.equal(state.json<{ status: string }>().status, 'running');

    const second = await paneRunning(`attach ${id.slice(0, 8)}`, 'attach', 25, 90);
    await second.typeLine('echo "kept=$kept"; stty size');
    await second.waitFor(/kept=yes\n25 90/);
    await second.typeLine('exit 5');
    assert.equal((await afterExit(second, 'attach')).status, 5);
  });

  it('shows all of a job that ends before the terminal is attached, with its status', async () => {
    const pane = await paneRunning(`run -it -- sh -c 'echo quick; exit 6'`, 'quick');
    const { status } = await afterExit(pane, 'quick');
    assert.equal(status, 6);
    assert.match(await pane.output(), /quick\n/);
  });

  it('watches a terminal job without taking its keys, and leaves on Ctrl-C', async () => {
    const job = await server.startJob('alice', { command: 'sh', tty: true });
    // From the first byte: the prompt says the typist is attached, before the watcher comes.
    const typist = await paneRunning(`attach --logs ${job.id}`, 'typist');
    await typist.waitFor(/\$ $/m);
    const watcher = await paneRunning(`attach --no-stdin --logs ${job.id}`, 'watcher');
    await watcher.waitFor(/\$ $/m);
    await typist.typeLine('echo from-the-typist');
    await watcher.waitFor(/\nfrom-the-typist\n/);
    await watcher.keys('C-c');
    assert.equal((await afterExit(watcher, 'watcher')).status, 130);
    await typist.typeLine('exit 4');
    assert.equal((await afterExit(typist, 'typist')).status, 4);
  });

  it('refuses -t without a terminal on stdin, pointing to -i', async () => {
    const result = await jobctl.run('run', '-t', '--', 'true');
    // run's own failures are 125, kept apart from the job's statuses.
    assert.equal(result.code, 125);
    assert.match(result.stderr, /-t needs a terminal on stdin/);
  });
});
