// Connection settings: named contexts switch one user between two servers, each setting comes
// from flags before the environment before the context before the defaults, and with no settings
// at all jobctl finds the development PKI of the server in ./certs.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.ts';
import { jobctlFor, oneLine, type Jobctl } from './jobctl-process.ts';

interface Shown {
  context: string;
  server: { value: string; origin: string };
  cert: { value: string; origin: string };
}

describe('jobctl contexts', () => {
  let first: TestServer;
  let second: TestServer;
  let jobctl: Jobctl;
  let home: string;
  let dispose: () => Promise<void>;

  before(async () => {
    [first, second] = await Promise.all([startServer(), startServer()]);
    ({ jobctl, home, dispose } = await jobctlFor(first));
    // Only the config file speaks: no connection settings in the environment.
    jobctl = jobctl.with({
      JOBCTL_SERVER: undefined,
      JOBCTL_CERTS_DIR: undefined,
      JOBCTL_CLIENT: undefined,
    });
  });
  after(async () => {
    await dispose();
    await Promise.all([first.dispose(), second.dispose()]);
  });

  const addContext = (name: string, server: TestServer, client: string) =>
    jobctl.run(
      'context',
      'add',
      name,
      '--server',
      `https://localhost:${server.port}`,
      '--ca',
      join(server.certsDir, 'ca.pem'),
      '--cert',
      join(server.certsDir, 'clients', client, 'cert.pem'),
      '--key',
      join(server.certsDir, 'clients', client, 'key.pem'),
    );

  it('switches between two servers with context use', async () => {
    const one = await addContext('one', first, 'alice');
    assert.equal(one.stdout, 'Added context "one".\n', one.stderr);
    // --client picks a development PKI client's files from --certs-dir.
    const two = await jobctl.run(
      'context',
      'add',
      'two',
      '--server',
      `localhost:${second.port}`,
      '--ca',
      join(second.certsDir, 'ca.pem'),
      '--certs-dir',
      second.certsDir,
      '--client',
      'bob',
    );
    assert.equal(two.code, 0, two.stderr);

    const onFirst = (await first.startJob('alice', { command: 'true' })).id;
    const onSecond = (await second.startJob('bob', { command: 'true' })).id;

    assert.equal(
      (await jobctl.run('context', 'use', 'one')).stdout,
      'Switched to context "one".\n',
    );
    const psOne = await jobctl.run('ps', '-aq');
    assert.equal(psOne.code, 0, psOne.stderr);
    assert.deepEqual(psOne.stdout.trim().split('\n'), [onFirst]);

    await jobctl.run('context', 'use', 'two');
    const psTwo = await jobctl.run('ps', '-aq');
    assert.equal(psTwo.code, 0, psTwo.stderr);
    assert.deepEqual(psTwo.stdout.trim().split('\n'), [onSecond]);

    // --context and JOBCTL_CONTEXT pick a context for one command without switching.
    const [byFlag, byEnv] = await Promise.all([
      jobctl.run('--context', 'one', 'ps', '-aq'),
      jobctl.with({ JOBCTL_CONTEXT: 'one' }).run('ps', '-aq'),
    ]);
    assert.equal(byFlag.stdout.trim(), onFirst);
    assert.equal(byEnv.stdout.trim(), onFirst);

    const ls = await jobctl.run('context', 'ls');
    const lines = ls.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    assert.deepEqual(
      lines.map(([name, current]) => [name, current]),
      [
        ['default', ''],
        ['one', ''],
        ['two', '*'],
      ],
    );
    assert.equal(lines[2]?.[4], join(second.certsDir, 'clients', 'bob', 'cert.pem'));
  });

  it('keeps the config file private', async () => {
    const { mode } = await stat(join(home, 'config.json'));
    assert.equal(mode & 0o777, 0o600);
  });

  it('takes each setting from flags, then the environment, then the context', async () => {
    await jobctl.run('context', 'use', 'two');
    const show = async (client: Jobctl, ...args: string[]): Promise<Shown> =>
      JSON.parse((await client.run('context', 'show', '--json', ...args)).stdout) as Shown;

    const fromContext = await show(jobctl);
    assert.equal(fromContext.context, 'two');
    assert.equal(fromContext.server.origin, 'context "two"');

    const envServer = `https://localhost:${first.port}`;
    const fromEnv = await show(jobctl.with({ JOBCTL_SERVER: envServer }));
    assert.deepEqual([fromEnv.server.value, fromEnv.server.origin], [envServer, 'JOBCTL_SERVER']);
    assert.equal(fromEnv.cert.origin, 'context "two"');

    const fromFlag = await show(
      jobctl.with({ JOBCTL_SERVER: envServer }),
      '--server',
      'https://flag.example:1',
    );
    assert.deepEqual(
      [fromFlag.server.value, fromFlag.server.origin],
      ['https://flag.example:1', '--server'],
    );

    // The environment's server with the context's certificates: bob of the second PKI is a
    // stranger to the first server, so it says so.
    const mixed = await jobctl.with({ JOBCTL_SERVER: envServer }).run('ps');
    assert.equal(mixed.code, 1);
    assert.match(oneLine(mixed), /not signed by the CA in .* \(CA from context "two"\)/);
  });

  it('refuses unknown contexts; rm and use default go back to the defaults', async () => {
    const unknown = await jobctl.run('context', 'use', 'nowhere');
    assert.equal(unknown.code, 1);
    assert.match(oneLine(unknown), /^jobctl: no context named 'nowhere' in .*config\.json/);

    const removed = await jobctl.run('context', 'rm', 'two');
    assert.equal(removed.stdout, 'Deleted context "two".\n');
    assert.match(removed.stderr, /now using "default"/);
    await jobctl.run('context', 'use', 'one');
    await jobctl.run('context', 'use', 'default');
    assert.equal(
      (JSON.parse((await jobctl.run('context', 'show', '--json')).stdout) as Shown).context,
      'default',
    );
  });

  it('with no settings at all, finds the development PKI in ./certs as alice', async () => {
    const bare = jobctl.with({ JOBCTL_SERVER: `localhost:${first.port}` }, first.baseDir);
    const shown = JSON.parse((await bare.run('context', 'show', '--json')).stdout) as Shown;
    assert.equal(shown.cert.value, join(first.certsDir, 'clients', 'alice', 'cert.pem'));
    const run = await bare.run('run', '-f', '--', 'echo', 'found it');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'found it\n');
  });
});
