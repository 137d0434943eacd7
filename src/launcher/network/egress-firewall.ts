// The kernel's filter for egress jobs: one nftables table per server, on the host's side of every
// job's veth pair, where the job cannot reach it. It holds no per-job rule: every job of this
// server has an interface named with the server's prefix, so one set of rules covers them all
// and a job's start costs no `nft` run. What it says:
//   - nothing from a job reaches the host itself (input: any of its addresses, on any interface,
//     the job's own gateway included), but for the resolvers on port 53 if one is the host's;
//   - out (forward): never other jobs' addresses nor the metadata address; the resolvers on port
//     53 always; then the operator's allow list, or without one public unicast addresses only;
//   - nothing in: only replies to what a job opened are forwarded to it;
//   - source NAT (masquerade) out of the host, so the job's private address never leaves it.
// IPv4 only: the jobs have IPv6 turned off, and an IPv6 packet from one is dropped all the same.
import { execFile } from 'node:child_process';

/** A range the operator allows jobs to reach, and its ports (all of them if absent). */
export interface EgressAllowRule {
  readonly cidr: string;
  readonly ports?: { readonly from: number; readonly to: number };
}

export interface EgressPolicy {
  /** Where jobs' addresses (and their gateways') come from: never reachable from a job. */
  readonly jobCidr: string;
  /** What jobs may reach; empty for public unicast addresses only. */
  readonly allow: readonly EgressAllowRule[];
  /** The resolvers jobs are given, reachable on port 53 whatever the list says. */
  readonly dns: readonly string[];
  /** For tests alone: ranges counted as public (e.g. RFC 5737's 198.51.100.0/24). */
  readonly testPublic: readonly string[];
}

/**
 * Not public unicast (RFC 6890's special-purpose registry, in short): this network, private
 * ranges, carrier-grade NAT, loopback, link-local (the metadata address is in it), the IETF's
 * and documentation ranges, 6to4 relays, benchmarking, multicast and the reserved rest.
 */
export const NOT_PUBLIC: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

/** Cloud providers' instance metadata service: never reachable, whatever the list says. */
const METADATA_ADDRESS = '169.254.169.254';

/**
 * The table's text for `nft -f`: made anew in one transaction (declared, deleted, declared
 * again), so a server that restarts replaces its rules without a moment where running jobs'
 * traffic goes unfiltered, and their connections (conntrack's) carry on.
 */
export function firewallRuleset(table: string, interfaces: string, policy: EgressPolicy): string {
  const jobs = `iifname "${interfaces}*"`;
  const dns =
    policy.dns.length === 0 ? [] : ['ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept'];
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    set('never', [policy.jobCidr, METADATA_ADDRESS]),
    set('not_public', NOT_PUBLIC),
    set('test_public', policy.testPublic),
    set('dns', policy.dns),
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    ${jobs} jump job_to_host`,
    '  }',
    '  chain job_to_host {',
    ...dns.map((rule) => `    ${rule}`),
    '    drop',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    ${jobs} jump job_out`,
    `    oifname "${interfaces}*" ct state established,related accept`,
    `    oifname "${interfaces}*" drop`,
    '  }',
    '  chain job_out {',
    '    meta nfproto != ipv4 drop',
    `    ip saddr != ${policy.jobCidr} drop`,
    '    ip daddr @never drop',
    ...dns.map((rule) => `    ${rule}`),
    ...destinationRules(policy).map((rule) => `    ${rule}`),
    '    drop',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ${jobs} oifname != "${interfaces}*" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The allow list's rules, or without one: public unicast addresses (and the test's ranges). */
function destinationRules(policy: EgressPolicy): string[] {
  if (policy.allow.length > 0) return policy.allow.map(allowRule);
  return ['ip daddr @test_public accept', 'ip daddr @not_public drop', 'accept'];
}

function allowRule(rule: EgressAllowRule): string {
  if (rule.ports === undefined) return `ip daddr ${rule.cidr} accept`;
  const { from, to } = rule.ports;
  const ports = from === to ? String(from) : `${from}-${to}`;
  return `ip daddr ${rule.cidr} meta l4proto { tcp, udp } th dport ${ports} accept`;
}

function set(name: string, elements: readonly string[]): string {
  const contents = elements.length === 0 ? '' : ` elements = { ${elements.join(', ')} };`;
  return `  set ${name} { type ipv4_addr; flags interval;${contents} }`;
}

/** Installs (or replaces) the table; rejects with nft's own words when it cannot. */
export function installFirewall(ruleset: string): Promise<void> {
  return runNft(['-f', '-'], ruleset);
}

/** Removes the table, if it is there; rejects only when nft cannot run. */
export function removeFirewall(table: string): Promise<void> {
  return runNft(['-f', '-'], `table inet ${table} {}\ndelete table inet ${table}\n`);
}

/** Runs nft; rejects with its own words when it fails (or is not installed). */
function runNft(args: readonly string[], input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`nft: ${stderr.trim() || error.message}`, { cause: error }));
    });
    // nft may exit without reading (`--version`, or an error): its reason is in stderr.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}
