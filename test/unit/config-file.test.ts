// The config file (--config, CONFIG_FILE): a flat YAML mapping keyed by the settings' flags,
// below flags and the environment; a wrong key or value is an error naming it, its file and its
// line; and what the flat reader accepts reads the same with a full YAML parser (js-yaml, here
// as a development dependency), so a file means what any YAML tool says it means.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ConfigError,
  describeSettings,
  effectiveSettings,
  loadConfig,
  SETTINGS,
} from '../../src/config.ts';
import { FlatYamlError, parseFlatYaml } from '../../src/util/flat-yaml.ts';

const yaml = createRequire(import.meta.url)('js-yaml') as { load(text: string): unknown };

const dir = mkdtempSync(join(tmpdir(), 'jobworker-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A config file holding `text`; its path. */
function configFile(text: string): string {
  files += 1;
  const path = join(dir, `config-${files}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** The ConfigError loadConfig throws for these arguments and environment: its message. */
function failure(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('loadConfig accepted it');
}

describe('the config file', () => {
  it('sets settings by their flags, below the environment and flags', () => {
    const path = configFile(
      '# jobworker\nport: 9443\nclient-rate: 50\nlog-level: warn\ndata-dir: /var/lib/jobworker/data\n',
    );
    const fromFile = loadConfig(['--config', path], {});
    assert.equal(fromFile.port, 9443);
    assert.equal(fromFile.perClient.requestsPerSecond, 50);
    assert.equal(fromFile.logLevel, 'warn');
    assert.equal(fromFile.dataDir, '/var/lib/jobworker/data');
    const overridden = loadConfig(['--config', path, '--port', '7443'], {
      PORT: '8000',
      CLIENT_RATE_LIMIT: '20',
    });
    assert.equal(overridden.port, 7443, 'the flag over the environment and the file');
    assert.equal(overridden.perClient.requestsPerSecond, 20, 'the environment over the file');
    assert.equal(loadConfig([], { CONFIG_FILE: path }).port, 9443, 'CONFIG_FILE names it too');
  });

  it('says where each setting came from: flag, environment, file and line, default', () => {
    const path = configFile('port: 9443\n\nclient-rate: 50\n');
    const settings = effectiveSettings(['--config', path, '--log-level', 'debug'], {
      RETENTION: '1d',
    });
    const report = describeSettings(settings);
    assert.match(report, new RegExp(`^port: 9443 +# file ${path}:1$`, 'm'));
    assert.match(report, new RegExp(`^client-rate: 50 +# file ${path}:3$`, 'm'));
    assert.match(report, /^log-level: debug +# flag --log-level$/m);
    assert.match(report, /^retention: 1d +# environment RETENTION$/m);
    assert.match(report, /^stop-grace: 5s +# default$/m);
    assert.match(report, /^policy: "" +# default$/m);
    assert.equal(report.trimEnd().split('\n').length, Object.keys(SETTINGS).length);
  });

  it('refuses an unknown key, naming it, the file and the line, with the near miss', () => {
    const path = configFile('port: 9443\nclient-rat: 50\n');
    assert.equal(
      failure(['--config', path]),
      `${path}:2: unknown setting 'client-rat' (did you mean 'client-rate'?)`,
    );
    // A variable's name, or the flag in snake case, points at the flag.
    assert.match(
      failure(['--config', configFile('CLIENT_RATE_LIMIT: 5\n')]),
      /:1: unknown setting 'CLIENT_RATE_LIMIT' \(did you mean 'client-rate'\?\)$/,
    );
    assert.match(
      failure(['--config', configFile('max_output: 5MiB\n')]),
      /did you mean 'max-output'\?\)$/,
    );
    assert.match(failure(['--config', configFile('colour: blue\n')]), /unknown setting 'colour'$/);
    // A mistyped flag too.
    assert.equal(
      failure(['--client-rat', '5']),
      "unknown flag --client-rat (did you mean '--client-rate'?)",
    );
  });

  it('refuses a value of the wrong kind, naming the key, the file and the line', () => {
    const path = configFile('# comment\nport: 8443x\n');
    assert.equal(
      failure(['--config', path]),
      `${path}:2: port must be an integer from 0 to 65535, got '8443x'`,
    );
    assert.match(
      failure(['--config', configFile('stop-grace: soon\n')]),
      /:1: stop-grace must be a duration such as 5s or 7d, got 'soon'$/,
    );
    assert.match(
      failure(['--config', configFile('host-network: yes\n')]),
      /:1: host-network must be one of true, false, got 'yes'$/,
    );
    assert.match(failure(['--config', configFile('port:\n  - 1\n')]), /:1: 'port' has no value/);
    assert.match(failure(['--config', configFile('port: [1]\n')]), /:1: '\[1\]' is not a plain/);
    assert.match(
      failure(['--config', configFile('port: 1\nport: 2\n')]),
      /:2: 'port' is set twice, here and on line 1$/,
    );
    assert.match(failure(['--config', join(dir, 'missing.yaml')]), /cannot read the config file/);
    // From the environment, the flag and its variable are named as before.
    assert.match(failure([], { PORT: 'x' }), /^--port \(PORT\) must be an integer/);
  });

  it('reads quoted values, comments and booleans as YAML does', () => {
    const text = [
      '---',
      '# the unit',
      "job-user: 'nob''ody'   # quoted",
      'sandbox-binds: "/bin,/usr:rw,/srv/\\x61"',
      'host-network: True',
      'port: 08443',
      'syslog-queue: 16MiB#not a comment',
      'policy: ""',
      '',
    ].join('\n');
    const entries = parseFlatYaml(text);
    assert.deepEqual(
      entries.map(({ key, text: value, line }) => [key, value, line]),
      [
        ['job-user', "nob'ody", 3],
        ['sandbox-binds', '/bin,/usr:rw,/srv/a', 4],
        ['host-network', 'true', 5],
        ['port', '08443', 6],
        ['syslog-queue', '16MiB#not a comment', 7],
        ['policy', '', 8],
      ],
    );
    const parsed = yaml.load(text) as Record<string, unknown>;
    for (const { key, text: value } of entries) {
      assert.equal(Number(value) || value, Number(String(parsed[key])) || String(parsed[key]));
    }
  });

  it('refuses what is not one flat mapping, with the line', () => {
    for (const [text, line, message] of [
      ['port: 1\n  nested: 2\n', 2, /an indented line/],
      ['- port\n', 1, /a list item/],
      ['port 8443\n', 1, /expected a `key: value` line/],
      ['port: "8443\n', 1, /without its closing quote/],
      ['port: "8443" x\n', 1, /unexpected 'x' after a quoted value/],
      ['syslog: tls://a: b\n', 1, /holds ': ': quote it/],
      ['port: &anchor 1\n', 1, /is not a plain value/],
      ['a: 1\n---\nb: 2\n', 2, /expected a `key: value` line/],
    ] as const) {
      assert.throws(
        () => parseFlatYaml(text),
        (error: unknown) => {
          assert.ok(error instanceof FlatYamlError, text);
          assert.equal(error.line, line, text);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});
