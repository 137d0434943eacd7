// The kernel's filter for egress jobs: one nftables table per server, on the host's side of every
// job's veth pair, where the job cannot reach it. It holds no per-job rule: every job of this
// server has an interface named with the server's prefix, so one set of rules covers them all
// and a job's start costs no rule of its own. What it says:
//   - nothing from a job reaches the host itself (input: any of its addresses, on any interface,
//     the job's own gateway included), but for the resolvers on port 53 if one is the host's;
//   - out (forward): nothing the host's DNAT (Docker's, kube-proxy's) translated; the resolvers
//     on port 53; never other jobs' addresses, link-local ones (metadata, ECS credentials) nor
//     Azure's WireServer; then the operator's allow list, or without one public unicast only;
//   - nothing in: no connection is opened into a job, only replies to what a job opened;
//   - when a jobworker server turned the host's forwarding on: nothing forwarded that neither
//     comes from nor goes to a job's link, so the host routes nothing else because of it;
//   - source NAT (masquerade) out of the host, so the job's private address never leaves it.
// Fail closed: the table marks its jobs' packets, and routing rules outside it (`ip rule`,
// untouched by nftables' `flush ruleset`) prohibit any packet from or to the jobs' range that
// lacks the mark, so a job whose table is gone reaches nothing rather than everything.
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

/**
 * Never reachable, whatever the list says: link-local (cloud instance metadata at
 * 169.254.169.254, ECS task credentials at 169.254.170.2) and Azure's WireServer.
 */
export const ALWAYS_DENIED: readonly string[] = ['169.254.0.0/16', '168.63.129.16'];

/**
 * The mark the table gives the packets of its jobs (in its top 16 bits; the rest are left to
 * others): the same on every jobworker server of the host, as the routing rules are.
 */
export const JOB_MARK = 0x6a770000;
export const JOB_MARK_MASK = 0xffff0000;

export interface FirewallOptions {
  /**
   * A jobworker server turned the host's forwarding on: forward nothing but jobs' traffic (every
   * jobworker server's: `jw*`), so the host does not start routing between its other interfaces.
   */
  readonly forwardJobsOnly: boolean;
}

/**
 * The table's text for `nft -f`: made anew in one transaction (declared, deleted, declared
 * again), so a server that restarts replaces its rules without a moment where running jobs'
 * traffic goes unfiltered, and their connections (conntrack's) carry on.
 */
export function firewallRuleset(
  table: string,
  interfaces: string,
  policy: EgressPolicy,
  options: FirewallOptions = { forwardJobsOnly: false },
): string {
  const jobs = `iifname "${interfaces}*"`;
  const dns =
    policy.dns.length === 0 ? [] : ['ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept'];
  const mark = `meta mark set meta mark & ${hex(~JOB_MARK_MASK >>> 0)} | ${hex(JOB_MARK)}`;
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    set('never', [policy.jobCidr, ...ALWAYS_DENIED]),
    set('not_public', NOT_PUBLIC),
    set('test_public', policy.testPublic),
    set('dns', policy.dns),
    // Marked before routing, so the routing rules let them pass (see routingRules); after
    // conntrack has undone the source NAT of replies, which then are to a job's address.
    '  chain prerouting {',
    '    type filter hook prerouting priority dstnat + 10; policy accept;',
    `    ${jobs} ${mark}`,
    `    ip daddr ${policy.jobCidr} ${mark}`,
    '  }',
    '  chain output {',
    '    type route hook output priority mangle; policy accept;',
    `    ip daddr ${policy.jobCidr} ${mark}`,
    '  }',
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
    ...(options.forwardJobsOnly ? [`    iifname != "jw*" oifname != "jw*" drop`] : []),
    `    oifname "${interfaces}*" ct state new drop`,
    `    ${jobs} jump job_out`,
    `    oifname "${interfaces}*" ct state established,related accept`,
    `    oifname "${interfaces}*" drop`,
    '  }',
    '  chain job_out {',
    '    ct status dnat drop',
    '    meta nfproto != ipv4 drop',
    `    ip saddr != ${policy.jobCidr} drop`,
    ...dns.map((rule) => `    ${rule}`),
    '    ip daddr @never drop',
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

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function set(name: string, elements: readonly string[]): string {
  const contents = elements.length === 0 ? '' : ` elements = { ${elements.join(', ')} };`;
  return `  set ${name} { type ipv4_addr; flags interval;${contents} }`;
}

/** Installs (or replaces) the table; rejects with nft's own words when it cannot. */
export function installFirewall(ruleset: string): Promise<void> {
  return runNft(['-f', '-'], ruleset);
}

/** Whether the table is there (an operator's `flush ruleset` removes it). */
export function firewallPresent(table: string): Promise<boolean> {
  return runNft(['list', 'table', 'inet', table]).then(
    () => true,
    () => false,
  );
}

/**
 * The routing rules that make the jobs' range fail closed: a packet from or to it without the
 * table's mark is prohibited. They outlive any table (nftables' `flush ruleset` leaves them), are
 * the same for every server with this range, and stay when the server stops: they concern the
 * jobs' range alone. Fixed priority, before the main table's. The host's own sockets route their
 * packets before nftables can mark them: the answers of a resolver at one of the host's addresses
 * (port 53, which the table lets jobs reach) pass a rule just before, as the main table routes.
 */
export function routingRules(jobCidr: string): string[][] {
  const unmarked = ['fwmark', `0/${hex(JOB_MARK_MASK)}`, 'prohibit'];
  const dnsAnswers = ['udp', 'tcp'].map((protocol) => [
    ...['rule', 'add', 'pref', String(ROUTING_RULE_PRIORITY - 1), 'to', jobCidr],
    ...['ipproto', protocol, 'sport', '53', 'lookup', 'main'],
  ]);
  return [
    ...dnsAnswers,
    ['rule', 'add', 'pref', String(ROUTING_RULE_PRIORITY), 'from', jobCidr, ...unmarked],
    ['rule', 'add', 'pref', String(ROUTING_RULE_PRIORITY), 'to', jobCidr, ...unmarked],
  ];
}

export const ROUTING_RULE_PRIORITY = 100;

/** Adds the routing rules unless they are there already (`ip` says so: File exists). */
export async function installRoutingRules(jobCidr: string): Promise<void> {
  for (const args of routingRules(jobCidr)) {
    await runCommand('ip', args).catch((error: unknown) => {
      if (!(error instanceof Error && error.message.includes('File exists'))) throw error;
    });
  }
}

/** Removes the table, if it is there; rejects only when nft cannot run. */
export function removeFirewall(table: string): Promise<void> {
  return runNft(['-f', '-'], `table inet ${table} {}\ndelete table inet ${table}\n`);
}

/** Runs nft; rejects with its own words when it fails (or is not installed). */
function runNft(args: readonly string[], input = ''): Promise<void> {
  return runCommand('nft', args, input);
}

function runCommand(command: string, args: readonly string[], input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`${command}: ${stderr.trim() || error.message}`, { cause: error }));
    });
    // nft may exit without reading (`--version`, or an error): its reason is in stderr.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}
