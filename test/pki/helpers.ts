// Small file-system helpers shared by the PKI tests.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function makeTempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'jobworker-pki-test-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Permission bits only, e.g. 0o600. */
export async function fileMode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
export const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/** Bit length of an X509Certificate's hex serial number. */
export function serialBits(serialHex: string): number {
  return BigInt(`0x${serialHex}`).toString(2).length;
}

export type CommandResult = { status: number | null; output: string };

/** Runs openssl; stdout and stderr together, as a person would read them. */
export async function openssl(args: string[]): Promise<CommandResult> {
  const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, output };
}
