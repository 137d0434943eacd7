// The default of NETWORK_DNS, worked out on each host when the settings table is read: kept apart
// from the network settings' checks so the table needs nothing that needs it back.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';

/**
 * The default of NETWORK_DNS: the host's own IPv4 resolvers from /etc/resolv.conf, leaving out
 * those on loopback (systemd-resolved's 127.0.0.53, a local dnsmasq), which a job cannot reach.
 */
export function hostResolvers(path = '/etc/resolv.conf'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  return text
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((address): address is string => address !== undefined && isIPv4(address))
    .filter((address) => !isLoopback(address))
    .join(',');
}

/** An address on the host's loopback, which no job's network reaches. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.');
}
