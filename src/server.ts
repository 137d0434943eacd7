// The entry point: reads the configuration, makes sure a PKI exists, opens the store, detects
// what protections the host offers, re-attaches jobs that survived a restart, and serves the API
// over mutual TLS until SIGTERM or SIGINT.
import './util/require-node.ts';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join, relative } from 'node:path';
import type { Logger } from 'pino';
import { createApp } from './api/app.ts';
import type { AppState } from './api/state.ts';
import { consolePages } from './console/console-routes.ts';
import {
  checkSettings,
  describeSettings,
  effectiveSettings,
  PROJECT_ROOT,
  usage,
  type Config,
} from './config.ts';
import { deprecationAdvice, resolverAdvice } from './config/network-settings.ts';
import { detectCgroups } from './launcher/cgroups/detect.ts';
import { favourFastMoves } from './launcher/cgroups/fast-moves.ts';
import { hostAccountIds, resolveJobUser } from './launcher/job-user.ts';
import { ImageStore } from './launcher/images.ts';
import type { SandboxSettings } from './launcher/sandbox.ts';
import { ClientAccounts } from './store/client-accounts.ts';
import type { DatabaseSync } from 'node:sqlite';
import { ShimLauncher, type HostSteps } from './launcher/shim-launcher.ts';
import { CgroupStep } from './launcher/steps/cgroup-step.ts';
import { NamespacesStep } from './launcher/steps/namespaces-step.ts';
import { NetworkStep } from './launcher/steps/network-step.ts';
import { EgressNetwork } from './launcher/network/egress-network.ts';
import { SandboxStep } from './launcher/steps/sandbox-step.ts';
import { VolumesStep } from './launcher/steps/volumes-step.ts';
import { createLogging, type Logging } from './logger.ts';
import { syslogLogDestination, shipAuditRecord } from './logging/syslog-destination.ts';
import { SyslogShipper } from './logging/syslog-shipper.ts';
import { ensureDevelopmentPki } from './pki/development-pki.ts';
import { pkiLayout } from './pki/layout.ts';
import { dequeueRecord } from './audit/dequeue-record.ts';
import { revocationRecord } from './audit/revocation-record.ts';
import { openDatabase } from './store/database.ts';
import { serverSecret } from './store/server-secrets.ts';
import { JobStore } from './store/job-store.ts';
import { AuditLog } from './audit/audit-log.ts';
import { ensureAuditKey } from './audit/audit-key.ts';
import { tlsRefusalRecord } from './audit/tls-refusal.ts';
import { Metrics } from './metrics/metrics.ts';
import { DiskFloor } from './worker/disk-floor.ts';
import { credentialExpiries } from './tls/credential-expiries.ts';
import { PolicyWatcher } from './policy/policy-watcher.ts';
import { guardClientCertificates } from './tls/client-certificate-guard.ts';
import { ClientConnections } from './tls/client-connections.ts';
import { loadTlsCredentials, type TlsCredentials } from './tls/credentials.ts';
import { CredentialsReloader } from './tls/credentials-reloader.ts';
import { serverTlsOptions } from './tls/server-options.ts';
import {
  CONNECTION_LIMITS,
  connectionServerOptions,
  limitConnections,
} from './tls/connection-limits.ts';
import { budgetHandshakes } from './tls/handshake-budget.ts';
import { RefusalSummaries } from './tls/refusal-summaries.ts';
import type { TlsRefusal } from './pki/tls-refusal.ts';
import { CLIENT_AUTH_OID } from './pki/key-usage.ts';
import { routeUpgrades } from './api/http/upgrades.ts';
import { budgetConnections } from './tls/connection-budget.ts';
import { answerMalformedRequests } from './api/http/malformed-requests.ts';
import { JobRegistry } from './worker/registry.ts';
import { Volumes } from './volumes/volume-manager.ts';
import { SystemdNotifier, type ServiceState } from './util/systemd-notify.ts';
import { VERSION } from './version.ts';

/** How long in-flight requests and followers may take to finish once shutdown begins. */
const SHUTDOWN_DRAIN_MS = 3000;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`jobworker ${VERSION} (Node.js ${process.version})\n`);
    return;
  }
  // --check is what to do, not a setting: the rest of the line is the settings.
  const check = argv.includes('--check');
  let config: Config;
  let deprecated: string | undefined;
  try {
    const settings = effectiveSettings(
      argv.filter((arg) => arg !== '--check'),
      process.env,
    );
    config = checkSettings(settings);
    deprecated = deprecationAdvice(settings);
    if (check) {
      process.stdout.write(
        `# valid: the settings a start would use\n${describeSettings(settings)}`,
      );
      return;
    }
  } catch (error) {
    console.error(`jobworker: ${(error as Error).message}`);
    process.exit(2);
  }
  // Before any child is started, so that none inherits the socket.
  const systemd = SystemdNotifier.fromEnvironment();
  const logging = await createLogging(config.logLevel);
  const { logger } = logging;
  if (deprecated !== undefined) logger.warn(deprecated);
  try {
    await serve(config, logging, systemd);
  } catch (error) {
    // Start-up errors are the operator's to fix (a bad policy file, mismatched certificates, a
    // newer database): the message says what, the err field has the rest.
    logger.fatal(
      { err: error },
      error instanceof Error
        ? `server failed to start: ${error.message}`
        : 'server failed to start',
    );
    process.exit(1);
  }
}

async function serve(config: Config, logging: Logging, systemd: SystemdNotifier): Promise<void> {
  const { logger } = logging;
  const pki = await ensureDevelopmentPki(config.certsDir);
  if (pki.created)
    logger.warn({ certsDir: config.certsDir, clients: pki.clients }, 'created a development PKI');
  const dnsAdvice = resolverAdvice(config, config.networkEgressRoles.size > 0);
  if (dnsAdvice !== undefined) logger.warn(dnsAdvice);

  // Everything an operator can get wrong is checked before any job state is touched.
  const policy = await PolicyWatcher.open(config.policyFile, logger);
  const layout = pkiLayout(config.certsDir);
  const credentials = await loadTlsCredentials(layout);

  // Job counts and the queue are read from the registry when scraped, long after it exists;
  // expiries from the credentials in force, the reloader's once it exists.
  const metrics = new Metrics({
    jobsByStatus: () => registry.countByStatus(),
    oldestQueuedAt: () => registry.oldestQueuedAt(),
    dataDisk: new DiskFloor(config.dataDir, config.minFreeDiskBytes),
    credentialExpiries: credentialExpiries(() => credentialsInForce(), layout),
    volumes: () => volumes.totals(),
  });
  const shipper = await shipLogs(config, credentials, logging, metrics);
  const db = openDatabase(join(config.dataDir, 'jobworker.db'));
  const audit = await AuditLog.open(
    join(config.dataDir, 'audit.log'),
    await ensureAuditKey(config.certsDir),
    logger,
    shipper === undefined ? undefined : (record) => shipAuditRecord(shipper, record),
    { rotateBytes: config.auditRotateBytes },
  );
  // The clients' volumes: the registry says whether a job names one (it exists by the time a
  // removal asks); a crash's half-made volumes are undone and every volume mounted before jobs
  // that name one are recovered.
  const accounts = clientAccounts(config, db);
  const volumes = new Volumes({
    dataDir: config.dataDir,
    db,
    uidOf: (client) => accounts.uidOf(client),
    inUse: (client, name) => registry.volumeInUse(client, name),
    minFreeDiskBytes: config.minFreeDiskBytes,
    log: logger,
  });
  await volumes.open();
  const launcher = new ShimLauncher(await hostSteps(config, db, logger, volumes), {
    required: config.isolation === 'required',
  });
  const store = new JobStore(db);
  // The CRL in force, asked by the registry before a job is recorded or leaves the queue: the
  // one loaded now, then the reloader's once it exists.
  let credentialsInForce = (): TlsCredentials => credentials;
  const registry: JobRegistry = new JobRegistry({
    store,
    launcher,
    dataDir: config.dataDir,
    logger,
    stopGraceMs: config.stopGraceMs,
    maxOutputBytes: config.maxOutputBytes,
    retentionMs: config.retentionMs,
    onTransition: metrics.jobTransition,
    onDequeue: (event) => audit.record(dequeueRecord(event)),
    revokedSerials: () => credentialsInForce().revokedSerials,
    onRevoke: config.revocationPolicy,
    onRevokedJob: (event) => audit.record(revocationRecord(event)),
    maxUnfinishedPerOwner: config.perClient.maxRunningJobs,
    maxQueuedPerOwner: config.perClient.maxQueuedJobs,
    minFreeDiskBytes: config.minFreeDiskBytes,
    ...(config.perClient.recordBytes === undefined
      ? {}
      : { recordBytesPerClient: config.perClient.recordBytes }),
    ...(config.perClient.jobsPerMinute === undefined
      ? {}
      : { jobsPerMinutePerClient: config.perClient.jobsPerMinute }),
    // Every running job reserves its memory limit against what the host leaves to jobs.
    ...(config.hostJobLimits.memoryBytes === undefined
      ? {}
      : { capacityBytes: config.hostJobLimits.memoryBytes }),
    ...(config.limits.defaults.memoryBytes === undefined
      ? {}
      : { defaultReservationBytes: config.limits.defaults.memoryBytes }),
  });
  await registry.recover();
  // A certificate revoked while the server was down: what it started ends as at a revocation.
  await endJobsOfRevoked(registry, credentials.revokedSerials, logger);

  const app = createApp({
    registry,
    logger,
    protections: launcher.protections,
    limits: {
      ...config.limits,
      enforceable: new Set(launcher.protections.enforceableLimits),
      sandbox: {
        available: launcher.protections.sandbox.privateRoot,
        hostRoles: config.sandbox.hostRoles,
      },
      network: {
        defaultMode: config.networkDefault,
        egressRoles: config.networkEgressRoles,
        hostRoles: config.networkHostRoles,
      },
    },
    identityPolicy: policy.resolve,
    // The same directory the sandbox reads: the store keeps nothing in memory.
    images: new ImageStore(join(config.dataDir, 'images')),
    rateLimit: {
      perSecond: config.perClient.requestsPerSecond,
      burst: 2 * config.perClient.requestsPerSecond,
    },
    followersPerClient: config.perClient.followers,
    unreadAnswerMs: config.unreadAnswerMs,
    audit,
    volumes: { volumes, budgets: config.volumeBudgets },
    listCursorKey: serverSecret(db, 'list-cursor'),
    metrics,
    // The console is a client of the API, served beside it on the same port and middleware.
    pages: consolePages<AppState>(),
  });
  const handle = app.callback();
  const server = createServer(
    { ...serverTlsOptions(credentials), ...connectionServerOptions },
    (req, res) => void handle(req, res),
  );
  const servers = [server];
  // Refusals are summarised per source in the log and the audit; metrics count each one.
  const refusals = new RefusalSummaries({
    logger,
    onSummary: (summary) => audit.record(tlsRefusalRecord(summary)),
  });
  const refused = (refusal: TlsRefusal): void => {
    metrics.tlsRefused(refusal.code);
    refusals.add(refusal);
  };
  // First, before anything else listens to its connections: it decides when TLS starts.
  const handshakes = budgetHandshakes({
    servers,
    logger,
    total: config.handshakes.total,
    perAddress: config.handshakes.perAddress,
    deadlineMs: CONNECTION_LIMITS.handshakeMs,
    onRefused: refused,
  });
  limitConnections(server, {
    logger,
    budgeted: config.maxConnections + config.handshakes.total,
  });
  const closeUpgraded = routeUpgrades(server, (req, res) => void handle(req, res));
  answerMalformedRequests(server);
  const connections = new ClientConnections();
  const reloader = new CredentialsReloader({
    server,
    files: layout,
    connections,
    logger,
    initial: credentials,
    onRevoked: (serials) => void endJobsOfRevoked(registry, serials, logger),
  });
  credentialsInForce = () => reloader.current;
  budgetConnections({
    servers,
    logger,
    perClient: config.perClient.connections,
    total: config.maxConnections,
    onRefused: () => metrics.tlsRefused('CONNECTION_BUDGET'),
  });
  guardClientCertificates({
    server,
    connections,
    logger,
    revokedSerials: () => reloader.current.revokedSerials,
    onRefused: refused,
  });
  reloader.start();
  policy.start();
  const reloadAll = (): void => {
    logger.info('SIGHUP: reloading TLS credentials and the identity policy');
    void reloader.reload('SIGHUP');
    void policy.reload('SIGHUP');
  };
  process.on('SIGHUP', reloadAll);
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  logger.info({ host: config.host, port, protections: launcher.protections }, 'listening');
  tellSystemd(systemd, 'READY=1', logger);
  registry.startRetention();
  if (pki.created) printTryIt(config, port);

  const shutdown = (signal: string): void => {
    logger.info({ signal, policy: config.shutdownPolicy }, 'shutting down');
    tellSystemd(systemd, 'STOPPING=1', logger);
    process.off('SIGHUP', reloadAll);
    reloader.close();
    policy.close();
    stop(server, registry, config, closeUpgraded)
      .then(() => handshakes.close())
      .then(() => launcher.close())
      // The refusals counted since their last summary, recorded before the audit log closes.
      .then(() => refusals.close())
      .then(() => audit.close())
      .then(() => shipper?.close())
      .then(() => store.close())
      .then(() => {
        db.close();
        logger.info('stopped');
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'unclean shutdown');
        process.exitCode = 1;
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

/**
 * Tells systemd (Type=notify) the service is ready or stopping, without waiting: a message that
 * cannot be sent is logged, and the server goes on (systemd times the start out if never told).
 */
function tellSystemd(systemd: SystemdNotifier, state: ServiceState, logger: Logger): void {
  if (!systemd.listening) return;
  systemd
    .notify(state)
    .then(() => logger.info({ state }, 'told systemd'))
    .catch((error: unknown) => logger.error({ err: error }, 'could not tell systemd'));
}

/** Never rejects: a job it could not end is logged, and the queue still starts none of them. */
async function endJobsOfRevoked(
  registry: JobRegistry,
  serials: ReadonlySet<string>,
  logger: Logger,
): Promise<void> {
  try {
    await registry.endJobsOfRevoked(serials);
  } catch (error) {
    logger.error({ err: error }, 'could not end the jobs of revoked client certificates');
  }
}

async function stop(
  server: Server,
  registry: JobRegistry,
  config: Config,
  closeUpgraded: () => void,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const drain = setTimeout(() => {
    server.closeAllConnections();
    closeUpgraded();
  }, SHUTDOWN_DRAIN_MS);
  await registry.close(config.shutdownPolicy);
  await closed;
  clearTimeout(drain);
}

/**
 * With --syslog, every log line and audit record from now on also goes to the collector, over
 * mutual TLS with the server's own certificate (it is valid for client authentication too).
 */
async function shipLogs(
  config: Config,
  credentials: { cert: string; key: string },
  logging: Logging,
  metrics: Metrics,
): Promise<SyslogShipper | undefined> {
  if (config.syslog === undefined) return undefined;
  const { logger } = logging;
  const ca = await readFile(config.syslog.caFile, 'utf8');
  const shipper = new SyslogShipper({
    url: config.syslog.url,
    tls: { ca, cert: credentials.cert, key: credentials.key },
    maxQueuedBytes: config.syslog.queueBytes,
    onDropped: (messages) => metrics.syslogDropped(messages),
    onRecovered: (dropped) =>
      logger.warn({ dropped }, 'syslog collector reachable again; lines were lost meanwhile'),
    // Once per outage; it reaches the collector too, once the collector is back.
    onUnreachable: (error) =>
      logger.warn({ err: error, url: config.syslog?.url.href }, 'syslog collector unreachable'),
  });
  logging.addDestination(syslogLogDestination(shipper));
  logger.info({ url: config.syslog.url.href }, 'shipping logs and audit records to syslog');
  // A server certificate from before clientAuth was added would be refused by the collector.
  if (!new X509Certificate(credentials.cert).keyUsage?.includes(CLIENT_AUTH_OID)) {
    logger.warn(
      'the server certificate is not valid for client authentication, which a syslog collector ' +
        "checks: renew it with 'npm run certs -- server'",
    );
  }
  return shipper;
}

/** The launch steps this host's privileges and configuration give jobs. */
async function hostSteps(
  config: Config,
  db: DatabaseSync,
  logger: Logger,
  volumes: Volumes,
): Promise<HostSteps> {
  const isRoot = process.getuid?.() === 0;
  const cgroups = isRoot
    ? await detectCgroups(undefined, config.hostJobLimits, config.cgroupParent)
    : undefined;
  if (cgroups?.version === 'v1' && config.cgroupParent !== undefined) {
    // The shipped unit sets it on every host; v1 trees are at each hierarchy's root anyway.
    logger.info(
      { cgroupParent: config.cgroupParent },
      "cgroup v1: the cgroup parent is not used, the jobs' trees are at each hierarchy's root",
    );
  }
  if (cgroups?.version === 'v1' && config.favordynmods) {
    const result = await favourFastMoves();
    if (result.kind === 'unavailable') {
      logger.warn({ why: result.why }, 'cgroup moves stay slow: could not turn on favordynmods');
    } else {
      logger.info(
        { mount: result.mount, result: result.kind },
        'cgroup moves are fast: favordynmods',
      );
    }
  }
  const steps: HostSteps = {
    cgroup: new CgroupStep(cgroups),
    namespaces: new NamespacesStep({ pid: isRoot }),
    network: await networkStep(config, isRoot, logger),
    sandbox: new SandboxStep({
      user: isRoot ? resolveJobUser(config.jobUser) : undefined,
      sandbox:
        isRoot && config.sandbox.mode === 'private' ? sandboxSettings(config, db) : undefined,
    }),
    // Volumes are bound into the private sandbox; elsewhere a job naming one is refused.
    volumes: new VolumesStep(
      isRoot && config.sandbox.mode === 'private'
        ? (client, name) => volumes.mountedPath(client, name)
        : undefined,
    ),
  };
  if (!isRoot || cgroups === undefined) {
    logger.warn(
      { root: isRoot, cgroups: cgroups?.version ?? 'none', isolation: config.isolation },
      'jobs run WITHOUT full protection: resource limits and namespaces need root and a writable cgroup hierarchy',
    );
  }
  return steps;
}

/**
 * The network step, with egress where a job may ask for it: this server's nftables table is
 * installed (replacing its last run's) and what dead jobs left is given back, before any launch.
 */
async function networkStep(config: Config, isRoot: boolean, logger: Logger): Promise<NetworkStep> {
  const offered = config.networkDefault === 'egress' || config.networkEgressRoles.size > 0;
  if (!isRoot || !offered) return new NetworkStep({ namespaces: isRoot, egress: undefined });
  const egress = new EgressNetwork({
    dataDir: config.dataDir,
    policy: {
      jobCidr: config.networkJobCidr,
      allow: config.networkEgressAllow,
      dns: config.networkDns,
      testPublic: config.networkTestPublic,
    },
    onForwardingEnabled: () =>
      logger.warn('turned on net.ipv4.ip_forward for egress jobs (left on when the server stops)'),
  });
  const readiness = await egress.start();
  if (readiness.ready) {
    logger.info(
      { table: egress.names.table, swept: readiness.swept },
      'egress: jobs filtered by nftables',
    );
  } else {
    logger.warn({ why: readiness.why }, 'egress jobs are refused on this host');
  }
  return new NetworkStep({ namespaces: true, egress });
}

/** Each client's uid for its jobs (and its volumes' files), from the operator's range. */
function clientAccounts(config: Config, db: DatabaseSync): ClientAccounts {
  const hostIds = hostAccountIds();
  return new ClientAccounts(db, config.sandbox.uidRange, (id) => hostIds.has(id));
}

function sandboxSettings(config: Config, db: DatabaseSync): SandboxSettings {
  const hostIds = hostAccountIds();
  return {
    binds: config.sandbox.binds,
    accounts: new ClientAccounts(db, config.sandbox.uidRange, (id) => hostIds.has(id)),
    images: new ImageStore(join(config.dataDir, 'images')),
  };
}

function printTryIt(config: Config, port: number): void {
  const layout = pkiLayout(config.certsDir);
  const alice = layout.client('alice');
  const path = (file: string): string => relative(PROJECT_ROOT, file) || file;
  const host = config.host === '127.0.0.1' || config.host === '0.0.0.0' ? 'localhost' : config.host;
  console.log(
    `\nTry it:\n  curl --cacert ${path(layout.caCert)} --cert ${path(alice.cert)} --key ${path(alice.key)} \\\n` +
      `    -H 'Content-Type: application/json' -d '{"command":"echo","args":["hello"]}' \\\n` +
      `    'https://${host}:${port}/v1/jobs?follow=true'\n` +
      `or open https://${host}:${port}/ in a browser that holds a client's PKCS#12 bundle\n` +
      `(npm run certs -- client NAME --role user; README.md, "Web console").\n`,
  );
}

await main();
