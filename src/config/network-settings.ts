// The checks of the network settings' values (issue 33): the default mode and the deprecated
// --host-network that stands for it, the roles that may ask for each mode, the jobs' address
// range, the egress allow list, the resolvers a job is given and the test-only public ranges.
// Each names the setting and what it expected, so a bad value fails the server's start with a
// sentence an operator can act on rather than a job that cannot connect.
import { isIPv4 } from 'node:net';
import { NETWORK_MODES, type NetworkMode } from '../jobs/job.ts';
import { settingError } from './config-error.ts';
import type { EffectiveSettings } from './effective-settings.ts';
import { isLoopback } from './host-resolvers.ts';
import { oneOf } from './setting-values.ts';
import type { SettingName } from './settings.ts';

/** One entry of the egress allow list: a range of IPv4 addresses, and its ports (all if absent). */
export interface EgressRule {
  readonly cidr: string;
  readonly ports?: { readonly from: number; readonly to: number };
}

/**
 * The operator's network settings, as config.ts puts them on the Config (which adds the roles
 * that may ask for each mode: roles are pki's, which config.ts alone reads).
 */
export interface NetworkSettings {
  /** The mode of a job that names none (within what its role may have). */
  readonly networkDefault: NetworkMode;
  /** Where egress jobs' addresses come from, e.g. `10.200.0.0/16`. */
  readonly networkJobCidr: string;
  /** What egress jobs may reach; empty: public unicast addresses only. */
  readonly networkEgressAllow: readonly EgressRule[];
  /** The resolvers an egress job's /etc/resolv.conf names (reachable on port 53 whatever the list). */
  readonly networkDns: readonly string[];
  /** For tests: ranges counted as public, so a test host in them is reachable by default. */
  readonly networkTestPublic: readonly string[];
}

export function networkSettings(read: (name: SettingName) => string): NetworkSettings {
  return {
    networkDefault: networkDefault(read),
    networkJobCidr: jobCidr(read('networkJobCidr')),
    networkEgressAllow: list(read('networkEgressAllow')).map(egressRule),
    networkDns: list(read('networkDns')).map(resolver),
    networkTestPublic: list(read('networkTestPublic')).map((text) =>
      cidr('networkTestPublic', text),
    ),
  };
}

/**
 * What to tell the operator at start when egress jobs would get no resolver (NETWORK_DNS empty,
 * as it is by default where the host's resolvers are all on loopback); undefined when all is well.
 */
export function resolverAdvice(
  settings: NetworkSettings,
  egressOffered: boolean,
): string | undefined {
  if (!egressOffered || settings.networkDns.length > 0) return undefined;
  return (
    "egress jobs get no DNS resolver: the host's in /etc/resolv.conf are on loopback, which a " +
    'job cannot reach, or none is set; set --network-dns (NETWORK_DNS) to resolvers on the ' +
    'network, e.g. NETWORK_DNS=192.0.2.53'
  );
}

/**
 * What to tell the operator at start when a setting kept for one release is set: --host-network,
 * which --network-default host replaces. Undefined when none is.
 */
export function deprecationAdvice(settings: EffectiveSettings): string | undefined {
  if (settings.get('hostNetwork') === undefined) return undefined;
  return (
    '--host-network (HOST_NETWORK) is deprecated and goes in the next release: ' +
    'set --network-default host (NETWORK_DEFAULT=host) instead'
  );
}

/**
 * The default mode. `--host-network true` is kept for one release as another way to say
 * `--network-default host`; beside a different default it is a contradiction, refused.
 */
function networkDefault(read: (name: SettingName) => string): NetworkMode {
  const mode = oneOf('networkDefault', read('networkDefault'), NETWORK_MODES);
  const hostNetwork = oneOf('hostNetwork', read('hostNetwork'), ['true', 'false'] as const);
  if (hostNetwork === 'false') return mode;
  if (mode === 'egress') {
    throw settingError(
      'hostNetwork',
      'is the deprecated form of --network-default host and contradicts --network-default egress: leave out --host-network',
    );
  }
  return 'host';
}

/** The jobs' range: room for a few thousand jobs' links, and a network address (host bits 0). */
function jobCidr(text: string): string {
  const range = cidr('networkJobCidr', text);
  const prefix = Number(range.split('/')[1]);
  if (prefix < 8 || prefix > 24) {
    throw settingError(
      'networkJobCidr',
      `must be an IPv4 range from /8 to /24 (each job takes a few addresses), got '${text}'`,
    );
  }
  return range;
}

/** `CIDR[:PORT[-PORT]]`: a range of addresses and, if given, a port or range of ports. */
function egressRule(text: string): EgressRule {
  const [range = '', ports, ...rest] = text.split(':');
  if (rest.length > 0) throw egressError(text, 'expected CIDR[:PORT[-PORT]] (IPv4 only)');
  const rule = { cidr: cidr('networkEgressAllow', range.includes('/') ? range : `${range}/32`) };
  if (ports === undefined) return rule;
  const [fromText = '', toText = fromText, ...more] = ports.split('-');
  const from = port(fromText);
  const to = port(toText);
  if (more.length > 0 || from === undefined || to === undefined) {
    throw egressError(text, 'ports must be PORT or PORT-PORT, each from 1 to 65535');
  }
  if (from > to) throw egressError(text, `the port range ${from}-${to} runs backwards`);
  return { ...rule, ports: { from, to } };
}

function egressError(text: string, problem: string): Error {
  return settingError('networkEgressAllow', `has '${text}': ${problem}`);
}

function port(text: string): number | undefined {
  const value = Number(text);
  return /^\d+$/.test(text) && value >= 1 && value <= 65535 ? value : undefined;
}

/**
 * An IPv4 range, `A.B.C.D/N`, whose host bits are 0; a bare address is not taken here (the allow
 * list alone reads one as /32), so a typo does not silently name a different range.
 */
export function cidr(name: SettingName, text: string): string {
  const [address = '', prefixText, ...rest] = text.split('/');
  const prefix = Number(prefixText);
  if (
    rest.length > 0 ||
    !isIPv4(address) ||
    prefixText === undefined ||
    !/^\d+$/.test(prefixText) ||
    prefix > 32
  ) {
    throw settingError(name, `must name IPv4 ranges such as 10.200.0.0/16, got '${text}'`);
  }
  const value = addressValue(address);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((value & ~mask) >>> 0 !== 0) {
    const network = addressText((value & mask) >>> 0);
    throw settingError(
      name,
      `has '${text}', whose host bits are not 0: did you mean ${network}/${prefix}?`,
    );
  }
  return `${address}/${prefix}`;
}

/** A resolver a job can reach: an IPv4 address (jobs have no IPv6 route), not the host's loopback. */
function resolver(text: string): string {
  if (!isIPv4(text)) {
    throw settingError('networkDns', `must list IPv4 addresses of resolvers, got '${text}'`);
  }
  if (isLoopback(text)) {
    throw settingError(
      'networkDns',
      `has '${text}', on the host's loopback, which a job never reaches: name a resolver on the network`,
    );
  }
  return text;
}

/** A comma-separated list's items, blanks around them and empty ones left out. */
export function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function addressValue(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function addressText(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}
