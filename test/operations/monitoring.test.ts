// What an operator monitors the job worker with: the alert rules and the scrape configuration in
// ops/ pass Debian's promtool, and every metric they and the Grafana dashboard name is one a
// running server exports; /metrics has Node's process metrics, the data disk's free space and
// floor, the build, a series for every job status, the oldest queued job's age and the expiry
// of every credential, the last updated when the credentials reload; the CRL timer's command
// re-signs the CRL, which the server takes up; and a real Prometheus scrapes the server with the
// shipped configuration and a client certificate of its own.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { statfsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { JOB_STATUSES } from '../../src/jobs/job-status.ts';
import { parseCrl } from '../../src/pki/crl.ts';
import { inheritedEnv, ROOT, startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const OPS = join(ROOT, 'ops');
const FLOOR_BYTES = 64 * 1024 * 1024;
/** Series Prometheus makes itself for each target, not the server. */
const PROMETHEUS_OWN = new Set(['up']);

/** The names a scrape exposes: each TYPE line's, and a histogram's or summary's series. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_count', '_sum']) names.add(name! + suffix);
    if (type === 'summary') for (const suffix of ['_count', '_sum']) names.add(name! + suffix);
  }
  return names;
}

/** The metric names a PromQL expression reads (the server's prefixes, and Prometheus's `up`). */
function metricNamesIn(expr: string): string[] {
  const names = expr.match(/\b(?:jobworker|process|nodejs)_[a-z0-9_]+\b|\bup(?=\{)/g) ?? [];
  assert.ok(names.length > 0, `no metric in ${expr}`);
  return names;
}

/** The value of the one sample whose line starts with `series` (name and labels as printed). */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function notAfterSeconds(pem: string): number {
  return Date.parse(new X509Certificate(pem).validTo) / 1000;
}

/** A port nobody listens on now, for a program that cannot be told to pick its own. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function promtool(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run('promtool', args);
  return `${stdout}${stderr}`;
}

/**
 * The rule expressions of ops/*.yml: each `expr:` inline or folded (`>-`). The project has no YAML
 * parser; the count is checked against promtool's, so a rule this misses fails the test.
 */
async function ruleExpressions(): Promise<string[]> {
  const files = (await readdir(OPS)).filter((name) => name.endsWith('.yml'));
  const exprs: string[] = [];
  for (const file of files) {
    const text = await readFile(join(OPS, file), 'utf8');
    for (const [, folded, inline] of text.matchAll(/^\s+expr: (?:>-\n((?:\s{10}.*\n)+)|(.*)\n)/gm))
      exprs.push((folded ?? inline ?? '').trim());
  }
  return exprs;
}

describe('monitoring', () => {
  let server: TestServer;
  let metrics: string;
  const scrape = async (): Promise<string> => {
    const response = await server.request('auditor', 'GET', '/metrics');
    assert.equal(response.status, 200);
    return response.text();
  };

  before(async () => {
    // One running job per client, so a second waits in the queue.
    server = await startServer({
      env: { CLIENT_MAX_RUNNING: '1', MIN_FREE_DISK: String(FLOOR_BYTES) },
    });
    metrics = await scrape();
  });
  after(async () => {
    await server.dispose();
  });

  it('ops/*.yml pass promtool check rules', async () => {
    const files = (await readdir(OPS)).filter((name) => name.endsWith('.yml'));
    assert.ok(files.includes('alerts.yml'));
    const output = await promtool('check', 'rules', ...files.map((name) => join(OPS, name)));
    assert.match(output, /SUCCESS: \d+ rules found/);
  });

  it('each alert fires on the series it is for and not on its near misses', async () => {
    // test/operations/alerts.promtool.yml: CRL, certificates, disk, lost supervisor, 5xx, queue.
    const output = await promtool(
      'test',
      'rules',
      join(ROOT, 'test', 'operations', 'alerts.promtool.yml'),
    );
    assert.match(output, /SUCCESS/);
  });

  it('the scrape configuration passes promtool check config with a real client', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobworker-prometheus-'));
    try {
      const config = await readFile(join(OPS, 'prometheus', 'prometheus.yml'), 'utf8');
      assert.match(config, /scheme: https/);
      await writeFile(
        join(dir, 'prometheus.yml'),
        config.replaceAll('/etc/prometheus/jobworker', dir),
      );
      await copyFile(join(OPS, 'alerts.yml'), join(dir, 'jobworker-alerts.yml'));
      // The auditor's role is the one the file tells operators to give Prometheus.
      await copyFile(join(server.certsDir, 'ca.pem'), join(dir, 'ca.pem'));
      for (const file of ['cert.pem', 'key.pem'])
        await copyFile(join(server.certsDir, 'clients', 'auditor', file), join(dir, file));
      const output = await promtool('check', 'config', join(dir, 'prometheus.yml'));
      assert.match(output, /SUCCESS: 1 rule files found/);
      assert.match(output, /SUCCESS: \d+ rules found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every metric the alert rules read is exported', async () => {
    const exported = exportedNames(metrics);
    const exprs = await ruleExpressions();
    const files = (await readdir(OPS)).filter((name) => name.endsWith('.yml'));
    const counted = await promtool('check', 'rules', ...files.map((name) => join(OPS, name)));
    const rules = [...counted.matchAll(/SUCCESS: (\d+) rules found/g)];
    assert.equal(
      exprs.length,
      rules.reduce((sum, [, count]) => sum + Number(count), 0),
    );
    for (const expr of exprs)
      for (const name of metricNamesIn(expr))
        assert.ok(exported.has(name) || PROMETHEUS_OWN.has(name), `${name} in ${expr}`);
  });

  it('the Grafana dashboard is JSON whose every panel reads exported metrics', async () => {
    const dashboard = JSON.parse(await readFile(join(OPS, 'grafana-dashboard.json'), 'utf8')) as {
      uid: string;
      panels: { id: number; title: string; targets: { expr: string }[] }[];
    };
    const exported = exportedNames(metrics);
    assert.equal(dashboard.uid, 'jobworker');
    assert.equal(new Set(dashboard.panels.map((panel) => panel.id)).size, dashboard.panels.length);
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, panel.title);
      for (const { expr } of panel.targets)
        for (const name of metricNamesIn(expr))
          assert.ok(exported.has(name), `${name} in panel ${panel.title}`);
    }
  });

  it("exports Node's process metrics, the build, the data disk and a series for every status", async () => {
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok(sample(metrics, name) !== undefined || metrics.includes(`# TYPE ${name} `), name);
    assert.ok((sample(metrics, 'process_resident_memory_bytes') ?? 0) > 10_000_000);
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(
      sample(metrics, `jobworker_build_info{version="${version}",node="${process.versions.node}"}`),
      1,
    );
    for (const status of JOB_STATUSES)
      assert.equal(sample(metrics, `jobworker_jobs{status="${status}"}`), 0, status);
    assert.equal(sample(metrics, 'jobworker_jobs_ended_total{status="lost"}'), 0);
    assert.equal(sample(metrics, 'jobworker_data_disk_floor_bytes'), FLOOR_BYTES);
    const disk = statfsSync(server.dataDir);
    const free = sample(metrics, 'jobworker_data_disk_free_bytes') ?? 0;
    assert.ok(Math.abs(free - disk.bavail * disk.bsize) < 256 * 1024 * 1024, `${free} free`);
  });

  it("gives the oldest queued job's age while one waits", async () => {
    assert.equal(sample(metrics, 'jobworker_queue_oldest_age_seconds'), 0);
    const running = await server.startJob('alice', { command: 'sleep', args: ['60'] });
    const queued = await server.startJob('alice', { command: 'true' });
    try {
      assert.equal(queued.status, 'queued');
      const later = await scrape();
      const age = sample(later, 'jobworker_queue_oldest_age_seconds') ?? -1;
      const waited = (Date.now() - Date.parse(queued.createdAt)) / 1000;
      assert.ok(age > 0 && age <= waited + 1, `age ${age}, waited ${waited}`);
      assert.equal(sample(later, 'jobworker_jobs{status="queued"}'), 1);
    } finally {
      await server.request('alice', 'POST', `/v1/jobs/${running.id}/stop`);
      await server.waitForEnd('alice', queued.id);
    }
    assert.equal(sample(await scrape(), 'jobworker_queue_oldest_age_seconds'), 0);
  });

  it('gives the expiry of the CA, the server, each client and the CRL in force', async () => {
    const pem = (path: string): Promise<string> => readFile(join(server.certsDir, path), 'utf8');
    const ca = new X509Certificate(await pem('ca.pem'));
    const caName = /^CN=(.*)$/m.exec(ca.subject)?.[1];
    assert.equal(
      sample(metrics, `jobworker_certificate_expiry_timestamp_seconds{kind="ca",name="${caName}"}`),
      notAfterSeconds(await pem('ca.pem')),
    );
    assert.equal(
      sample(
        metrics,
        'jobworker_certificate_expiry_timestamp_seconds{kind="server",name="localhost"}',
      ),
      notAfterSeconds(await pem('server.pem')),
    );
    for (const name of ['admin', 'alice', 'bob', 'auditor'])
      assert.equal(
        sample(
          metrics,
          `jobworker_certificate_expiry_timestamp_seconds{kind="client",name="${name}"}`,
        ),
        notAfterSeconds(await pem(`clients/${name}/cert.pem`)),
        name,
      );
    assert.equal(
      sample(metrics, 'jobworker_crl_next_update_timestamp_seconds'),
      parseCrl(await pem('crl.pem')).nextUpdate.getTime() / 1000,
    );
  });

  it("the CRL timer's command re-signs the CRL; the gauges follow the reload, new clients too", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobworker-crl-unit-'));
    try {
      const units = ['jobworker-crl.service', 'jobworker-crl.timer'];
      for (const unit of units) {
        const text = await readFile(join(ROOT, 'systemd', unit), 'utf8');
        await writeFile(join(dir, unit), text.replaceAll('/opt/jobworker', ROOT));
      }
      const verified = await run('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))]);
      assert.equal(`${verified.stdout}${verified.stderr}`.trim(), '');
      const timer = await readFile(join(dir, 'jobworker-crl.timer'), 'utf8');
      assert.match(timer, /^OnCalendar=daily$/m);
      assert.match(timer, /^Persistent=true$/m);
      const service = await readFile(join(dir, 'jobworker-crl.service'), 'utf8');
      const execStart = /^ExecStart=(.*)$/m.exec(service)?.[1]?.split(' ') ?? [];
      assert.deepEqual(execStart.slice(1), ['scripts/certs.ts', 'crl']);

      const before = sample(metrics, 'jobworker_crl_next_update_timestamp_seconds') ?? 0;
      const issued = await run(
        process.execPath,
        [join(ROOT, 'scripts', 'certs.ts'), 'client', 'carol', '--role', 'user'],
        {
          cwd: ROOT,
          env: {
            ...inheritedEnv(),
            CERTS_DIR: server.certsDir,
            CERTS_P12_PASSWORD: 'a-long-password',
          },
        },
      );
      assert.match(issued.stdout, /client carol \(role user\)/);
      // The unit's command as systemd runs it: from the install's directory, on its node.
      const since = server.logs.length;
      await run(execStart[0]!, execStart.slice(1), {
        cwd: ROOT,
        env: { ...inheritedEnv(), CERTS_DIR: server.certsDir },
      });
      const crl = parseCrl(await readFile(join(server.certsDir, 'crl.pem'), 'utf8'));
      await server.waitForLog(
        (entry) =>
          entry.msg === 'TLS credentials reloaded' &&
          entry.crlNextUpdate === crl.nextUpdate.toISOString(),
        since,
      );
      const later = await scrape();
      const after = sample(later, 'jobworker_crl_next_update_timestamp_seconds') ?? 0;
      assert.equal(after, crl.nextUpdate.getTime() / 1000);
      assert.ok(after > before, `${after} > ${before}`);
      assert.equal(
        sample(later, 'jobworker_certificate_expiry_timestamp_seconds{kind="client",name="carol"}'),
        notAfterSeconds(
          await readFile(join(server.certsDir, 'clients', 'carol', 'cert.pem'), 'utf8'),
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('Prometheus scrapes the server over mutual TLS with the configuration as shipped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobworker-prometheus-'));
    let prometheus: ChildProcess | undefined;
    try {
      // As docs/operations.md says: a client of its own with the auditor role.
      await run(
        process.execPath,
        [join(ROOT, 'scripts', 'certs.ts'), 'client', 'prometheus', '--role', 'auditor'],
        {
          cwd: ROOT,
          env: {
            ...inheritedEnv(),
            CERTS_DIR: server.certsDir,
            CERTS_P12_PASSWORD: 'a-long-password',
          },
        },
      );
      await copyFile(join(server.certsDir, 'ca.pem'), join(dir, 'ca.pem'));
      for (const file of ['cert.pem', 'key.pem'])
        await copyFile(join(server.certsDir, 'clients', 'prometheus', file), join(dir, file));
      await copyFile(join(OPS, 'alerts.yml'), join(dir, 'jobworker-alerts.yml'));
      // Only the target, the files' folder and the interval differ from the file shipped.
      const config = (await readFile(join(OPS, 'prometheus', 'prometheus.yml'), 'utf8'))
        .replaceAll('/etc/prometheus/jobworker', dir)
        .replace('jobs.example.com:8443', `127.0.0.1:${server.port}`)
        .replaceAll('30s', '1s');
      await writeFile(join(dir, 'prometheus.yml'), config);
      const webPort = await freePort();
      const since = server.logs.length;
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${webPort}`,
          '--log.level=error',
        ],
        { stdio: 'ignore' },
      );
      // Two scrapes answered: the first one's samples are stored by the time the second comes.
      let scrapes = 0;
      await server.waitForLog(
        (entry) =>
          entry.msg === 'request' &&
          entry.client === 'prometheus' &&
          entry.route === '/metrics' &&
          entry.status === 200 &&
          ++scrapes === 2,
        since,
      );
      const query = async (
        promql: string,
      ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
        const response = await fetch(
          `http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(promql)}`,
        );
        const body = (await response.json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.data.result;
      };
      assert.deepEqual(
        (await query('up{job="jobworker"}')).map((series) => series.value[1]),
        ['1'],
      );
      const [build] = await query('jobworker_build_info');
      assert.equal(build?.metric.node, process.versions.node);
      const rules = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/rules`)).json()) as {
        data: { groups: { rules: unknown[] }[] };
      };
      assert.equal(rules.data.groups.flatMap((group) => group.rules).length, 12);
    } finally {
      if (prometheus !== undefined && prometheus.exitCode === null) {
        const exited = once(prometheus, 'exit');
        prometheus.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
