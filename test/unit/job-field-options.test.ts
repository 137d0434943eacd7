// The options of `jobctl run` that set the job's fields, declared in src/cli/job-field-options.ts:
// each is listed in the help and sets the request's field, so a flag for a new field cannot be
// added to one and forgotten in the other; and the request they make is the one sent today.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  JOB_FIELD_HELP,
  JOB_FIELD_OPTIONS,
  jobRequest,
  type JobFieldValues,
} from '../../src/cli/job-field-options.ts';
import { flagsOf } from '../../src/cli/commands/completion.ts';

/** A valid value for an option, as parseArgs would give it. */
function sampleValue(
  name: string,
  config: { type: string; multiple?: boolean },
): boolean | string | string[] {
  if (name === 'network') return 'egress';
  if (name === 'volume') return ['src:/work/src:ro'];
  if (config.type === 'boolean') return true;
  return config.multiple === true ? ['A=1'] : '1';
}

describe("jobctl run's job-field options", () => {
  it('are each listed in the help, which lists no other', () => {
    assert.deepEqual(
      flagsOf(JOB_FIELD_HELP).sort(),
      Object.keys(JOB_FIELD_OPTIONS)
        .filter((name) => name !== 'cpus') // an alias, named in --cpu's line
        .map((name) => `--${name}`)
        .sort(),
    );
    assert.match(JOB_FIELD_HELP, /\(also --cpus\)/);
  });

  it('each set a field of the request', () => {
    const bare = jobRequest({}, 'true', []);
    for (const [name, config] of Object.entries(JOB_FIELD_OPTIONS)) {
      const values = { [name]: sampleValue(name, config) } as JobFieldValues;
      assert.notDeepEqual(jobRequest(values, 'true', []), bare, `--${name} sets no field`);
    }
  });

  it('make the request jobctl has always sent', () => {
    const values: JobFieldValues = {
      env: ['CI=true'],
      label: ['stage=test'],
      cwd: '/work/src',
      cpu: '0.5',
      memory: '256M',
      pids: '64',
      timeout: '10m',
      'queue-timeout': '1m',
      image: 'busybox',
      'host-fs': true,
      network: 'egress',
      volume: ['src:/work/src', 'cache:/cache:ro'],
      merge: true,
      interactive: true,
    };
    assert.deepEqual(jobRequest(values, 'make', ['-j2', 'test']), {
      command: 'make',
      args: ['-j2', 'test'],
      env: { CI: 'true' },
      labels: { stage: 'test' },
      cwd: '/work/src',
      limits: { cpus: 0.5, memory: '256M', pids: 64 },
      timeout: '10m',
      queueTimeout: '1m',
      image: 'busybox',
      sandbox: 'host',
      network: 'egress',
      volumes: [
        { name: 'src', path: '/work/src', readOnly: false },
        { name: 'cache', path: '/cache', readOnly: true },
      ],
      stdin: true,
      stderr: 'merged',
    });
  });

  it('refuses a network mode the server does not have before sending anything', () => {
    assert.throws(() => jobRequest({ network: 'bridge' }, 'true', []), {
      message: "invalid --network 'bridge': expected none, egress, host",
    });
  });
});
