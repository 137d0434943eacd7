// What egress needs of the host, set up once per server and per job. Once: the server's
// nftables table (egress-firewall.ts) and the routing rules that fail closed without it,
// installed for its first egress job, and the /31s a killed server's dead jobs left given back.
// Each egress launch checks the table is still there (an operator's `flush ruleset`, or
// `systemctl restart nftables`, removes it: its jobs then reach nothing) and installs it again;
// `nft monitor` tells it (table-watch.ts), or else one `nft list table` beside the job's /31.
// Per job: a /31 of the jobs' range (job-links.ts), the resolver file the job sees as
// /etc/resolv.conf, and the supervisor told to make the veth pair in the job's own namespace
// (native/network.c): the kernel's work there takes about a millisecond, where each `ip` run
// would cost this host 8-11 ms. The pair goes with the job's namespace when the job and its
// supervisor are gone, whoever dies first; the /31 is given back when the server hears the job
// ended, or by the next server's sweep.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { jobFile } from '../../jobs/job-directory.ts';
import {
  firewallPresent,
  firewallRuleset,
  installFirewall,
  installRoutingRules,
  removeFirewall,
  type EgressPolicy,
} from './egress-firewall.ts';
import { JobLinks, serverNames, type ServerNames } from './job-links.ts';
import { TableWatch } from './table-watch.ts';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/**
 * There when a jobworker server turned the host's forwarding on (gone with a reboot, as that
 * is): every server's table then forwards jobs' traffic alone, whichever server did it.
 */
export const FORWARDING_MARKER = '/run/jobworker/ip-forward-enabled';

export interface EgressNetworkSettings {
  /** The server's data directory: its names on the host are derived from it. */
  readonly dataDir: string;
  readonly policy: EgressPolicy;
  /** Told once, when this server turns on the host's IPv4 forwarding for its first egress job. */
  readonly onForwardingEnabled?: () => void;
}

/** What the start of egress found: ready, or why jobs cannot have it on this host. */
export type EgressReadiness =
  | { readonly ready: true; readonly swept: number }
  | { readonly ready: false; readonly why: string };

export class EgressNetwork {
  readonly names: ServerNames;
  readonly #settings: EgressNetworkSettings;
  readonly #links: JobLinks;
  #readiness: EgressReadiness = { ready: false, why: 'egress has not been set up yet' };
  #forwarding: Promise<void> | undefined;
  /** The table, installed for the first egress job (or at start, for jobs still running). */
  #firewall: Promise<void> | undefined;
  readonly #watch: TableWatch;

  constructor(settings: EgressNetworkSettings) {
    this.#settings = settings;
    this.names = serverNames(settings.dataDir);
    this.#watch = new TableWatch(this.names.table);
    this.#links = new JobLinks(this.names, settings.policy.jobCidr);
  }

  /** Why egress jobs cannot start on this host; undefined once it is ready. */
  get unavailable(): string | undefined {
    return this.#readiness.ready ? undefined : this.#readiness.why;
  }

  /**
   * Gives back the /31s whose jobs are gone and, if jobs of this server's last run still use
   * theirs, installs its table anew (replacing the last run's: their connections carry on), or
   * else removes what a killed run left of it. A server whose jobs never ask for egress leaves
   * no table on the host.
   */
  async start(): Promise<EgressReadiness> {
    try {
      const swept = await this.#links.sweep();
      if (await this.#links.anyHeld()) await this.#installFirewall();
      else await removeFirewall(this.names.table);
      this.#readiness = { ready: true, swept };
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.#readiness = { ready: false, why: `its firewall cannot be installed (${why})` };
    }
    return this.#readiness;
  }

  /** The supervisor's arguments for one job's egress; what it took is given back by `release`. */
  async prepare(jobId: string, dir: string): Promise<string[]> {
    // Checked beside the job's /31 being taken, so that the check costs the start little.
    const checking = this.#ensureFirewall();
    checking.catch(() => undefined);
    const link = await this.#links.take(jobId);
    try {
      await checking;
      await this.#enableForwarding();
      const resolvConf = jobFile(dir, 'resolvConf');
      await writeFile(resolvConf, resolverFile(this.#settings.policy.dns), { mode: 0o644 });
      return [
        ...['--veth', link.hostInterface],
        ...['--net-address', link.jobAddress, '--net-gateway', link.gateway],
        ...['--resolv-conf', resolvConf],
      ];
    } catch (error) {
      await this.#links.release(jobId);
      throw error;
    }
  }

  /** Gives back the job's /31; its pair went with its namespace. */
  async release(jobId: string, dir: string): Promise<void> {
    await this.#links.release(jobId);
    await rm(jobFile(dir, 'resolvConf'), { force: true });
  }

  /**
   * Removes this server's table, unless a job of its own still runs with egress (a job left
   * running across the server's stop must stay filtered: the next server replaces the table).
   */
  async close(): Promise<void> {
    this.#watch.close();
    if (this.#firewall === undefined || (await this.#links.anyHeld())) return;
    await removeFirewall(this.names.table).catch(() => undefined);
  }

  /** Installs the table once, and again if it has gone since (its jobs reached nothing then). */
  async #ensureFirewall(): Promise<void> {
    const installed = this.#firewall;
    await this.#installFirewall();
    if (installed === undefined) return;
    const told = this.#watch.state;
    if (told === 'present') return;
    if (told === 'unknown' && (await firewallPresent(this.names.table))) return;
    if (this.#firewall === installed) this.#firewall = undefined;
    await this.#installFirewall();
  }

  #installFirewall(): Promise<void> {
    const { table, interfacePrefix } = this.names;
    const { policy } = this.#settings;
    this.#firewall ??= (async () => {
      // Watching before the table goes in: the watch's first word is then this install's.
      this.#watch.start();
      await installRoutingRules(policy.jobCidr);
      const options = { forwardJobsOnly: await forwardingIsJobworkers() };
      await installFirewall(firewallRuleset(table, interfacePrefix, policy, options));
    })().catch((error: unknown) => {
      this.#firewall = undefined;
      throw error;
    });
    return this.#firewall;
  }

  /**
   * The kernel forwards nothing between interfaces unless told to, and a job's packets must go
   * from its pair out of the host: turned on, host-wide, for the first egress job, and left on
   * (other servers' jobs may need it). The table forwards only replies into jobs' pairs, and
   * (the marker says so) nothing that is not a job's.
   */
  #enableForwarding(): Promise<void> {
    this.#forwarding ??= (async () => {
      if ((await readFile(IP_FORWARD, 'utf8')).trim() === '1') return;
      await mkdir(dirname(FORWARDING_MARKER), { recursive: true, mode: 0o700 });
      await writeFile(FORWARDING_MARKER, '');
      await writeFile(IP_FORWARD, '1');
      this.#settings.onForwardingEnabled?.();
    })().catch((error: unknown) => {
      this.#forwarding = undefined;
      throw new Error('could not turn on IPv4 forwarding', { cause: error });
    });
    return this.#forwarding;
  }
}

/** Whether the host's forwarding is off (a jobworker server turns it on) or one turned it on. */
async function forwardingIsJobworkers(): Promise<boolean> {
  return (await readFile(IP_FORWARD, 'utf8')).trim() !== '1' || existsSync(FORWARDING_MARKER);
}

/** The job's /etc/resolv.conf: the operator's resolvers, nothing of the host's own file. */
function resolverFile(resolvers: readonly string[]): string {
  const lines = resolvers.map((address) => `nameserver ${address}`);
  if (resolvers.length === 0) lines.push('# no resolver: the server sets none (--network-dns)');
  return `${lines.join('\n')}\n`;
}
