// The server's settings without starting it: --help lists every one, and a bad value is one line
// naming the flag and the variable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, usage } from '../../src/config.ts';

describe('configuration', () => {
  it('documents every setting in --help, with its variable and default', () => {
    const text = usage();
    for (const [flag, env] of [
      ['--port', 'PORT'],
      ['--client-max-queued', 'CLIENT_MAX_QUEUED'],
      ['--retention', 'RETENTION'],
      ['--log-level', 'LOG_LEVEL'],
      ['--cgroup-parent', 'CGROUP_PARENT'],
    ] as const) {
      assert.match(text, new RegExp(`${flag} VALUE, ${env}=VALUE`));
    }
  });

  it('takes flags over the environment, and refuses a log level pino does not have', () => {
    const config = loadConfig(['--port', '9000'], { PORT: '8000', LOG_LEVEL: 'debug' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'debug');
    assert.throws(
      () => loadConfig([], { LOG_LEVEL: 'verbose' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /--log-level \(LOG_LEVEL\) must be one of .*got 'verbose'/);
        return true;
      },
    );
    assert.throws(() => loadConfig(['--port', 'x'], {}), ConfigError);
  });

  it("bounds a client's records and job rate, and keeps a floor of free disk, by default", () => {
    const config = loadConfig([], {});
    assert.equal(config.minFreeDiskBytes, 1024 ** 3);
    assert.equal(config.perClient.recordBytes, 256 * 1024 ** 2);
    // A minute of the request rate, and at least 6,000 a minute whatever that rate is.
    assert.equal(config.perClient.jobsPerMinute, 6000);
    assert.equal(loadConfig([], { CLIENT_RATE_LIMIT: '500' }).perClient.jobsPerMinute, 30_000);
    assert.equal(loadConfig([], { CLIENT_RATE_LIMIT: '10' }).perClient.jobsPerMinute, 6000);
    assert.equal(loadConfig(['--client-job-rate', '8'], {}).perClient.jobsPerMinute, 8);
    // 0 turns each off.
    const off = loadConfig([], {
      CLIENT_JOB_RATE: '0',
      CLIENT_RECORD_BYTES: '0',
      MIN_FREE_DISK: '0',
    });
    assert.equal(off.perClient.jobsPerMinute, undefined);
    assert.equal(off.perClient.recordBytes, undefined);
    assert.equal(off.minFreeDiskBytes, 0);
  });

  it('takes a cgroup parent below the root as /proc/self/cgroup names it, and nothing else', () => {
    assert.equal(loadConfig([], {}).cgroupParent, undefined);
    const parent = '/system.slice/jobworker-jobs.service';
    assert.equal(loadConfig([], { CGROUP_PARENT: parent }).cgroupParent, parent);
    // Joined to the mount point: it must not climb out of it, nor name the root itself.
    for (const text of ['/', 'system.slice/x.service', '/system.slice/../etc', '/a//b', '/a/']) {
      assert.throws(
        () => loadConfig(['--cgroup-parent', text], {}),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, /^--cgroup-parent \(CGROUP_PARENT\) must be a cgroup below/);
          return true;
        },
        text,
      );
    }
  });
});
