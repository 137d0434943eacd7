// `npm run certs -- <command>`: the operator's tool for the job worker's PKI. It parses
// arguments and prints; src/pki/authority.ts does the work. Nothing is written when an argument
// is wrong, and errors are one line each.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SETTINGS } from '../src/config.ts';
import { CertificateAuthority, VALIDITY_DAYS } from '../src/pki/authority.ts';
import { defaultServerAltNames } from '../src/pki/development-pki.ts';
import { PkiError } from '../src/pki/errors.ts';
import { CRL_REASONS, parseCrl, type CrlReason } from '../src/pki/crl.ts';
import type { InventoryEntry } from '../src/pki/inventory.ts';
import { generateP12Password } from '../src/pki/pkcs12.ts';
import { assertRole, ROLES, type Role } from '../src/pki/roles.ts';

const USAGE = `Usage: npm run certs -- <command> [options]

Commands:
  init [--san NAME]... [--force]
      A new CA and server certificate. SANs default to localhost, 127.0.0.1, ::1 and the
      host name. Refuses to replace an existing CA without --force.
  client NAME --role ${ROLES.join('|')} [--days N] [--p12-password-file FILE]
      A client certificate and key in certs/clients/NAME/, and a PKCS#12 bundle client.p12.
      The bundle's password comes from --p12-password-file or CERTS_P12_PASSWORD; otherwise
      one is generated and printed once.
  renew NAME [--days N] [--role ROLE] [--p12-password-file FILE]
      A new key and certificate for NAME (same role unless --role); the old one stays valid
      until it expires: revoke it if its key may be compromised.
  revoke NAME [--reason ${CRL_REASONS.join('|')}]
      Revokes every certificate of NAME; a running server refuses it within a second.
  list [--json]
      The CA, the CRL and every certificate issued: kind, name, role, serial, expiry, days
      left, state. The CRL's expiry is its next update: past it every client is refused.
  server [--san NAME]... [--days N]
      Rotates the server certificate (same SANs unless given); the server reloads it.
  crl
      Publishes a fresh CRL (valid ${VALIDITY_DAYS.crl} days). Every other command does this too;
      systemd/jobworker-crl.timer runs it daily so the PKI can go months unchanged.

Options:
  --certs-dir DIR   the PKI's directory (default: $CERTS_DIR or ./certs of the project)
  -h, --help        this text

Examples:
  npm run certs -- client ci-runner --role user
  npm run certs -- revoke ci-runner --reason keyCompromise
  npm run certs -- server --san jobs.example.com --san 10.0.0.5`;

const OPTIONS = {
  'certs-dir': { type: 'string' },
  san: { type: 'string', multiple: true },
  force: { type: 'boolean' },
  role: { type: 'string' },
  days: { type: 'string' },
  'p12-password-file': { type: 'string' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

class UsageError extends Error {}

/** Which options each command accepts; anything else is a usage error, not silently ignored. */
const COMMANDS: Record<string, { args: number; options: (keyof typeof OPTIONS)[] }> = {
  init: { args: 0, options: ['san', 'force'] },
  client: { args: 1, options: ['role', 'days', 'p12-password-file'] },
  renew: { args: 1, options: ['role', 'days', 'p12-password-file'] },
  revoke: { args: 1, options: ['reason'] },
  list: { args: 0, options: ['json'] },
  server: { args: 0, options: ['san', 'days'] },
  crl: { args: 0, options: [] },
};

async function main(argv: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true || positionals.length === 0) {
    console.log(USAGE);
    return values.help === true ? 0 : 2;
  }
  const [command = '', ...args] = positionals;
  checkUsage(command, args, values);
  const certsDir = resolve(
    values['certs-dir'] ?? process.env.CERTS_DIR ?? SETTINGS.certsDir.fallback,
  );
  const name = args[0] ?? '';
  switch (command) {
    case 'init':
      return init(certsDir, values);
    case 'client':
      return issueClient(certsDir, name, values);
    case 'renew':
      return renewClient(certsDir, name, values);
    case 'revoke':
      return revokeClient(certsDir, name, values);
    case 'list':
      return list(certsDir, values);
    case 'server':
      return rotateServer(certsDir, values);
    default:
      return refreshCrl(certsDir);
  }
}

function checkUsage(command: string, args: string[], values: Values): void {
  const spec = COMMANDS[command];
  if (spec === undefined) {
    throw new UsageError(
      `unknown command '${command}'; expected one of ${Object.keys(COMMANDS).join(', ')}`,
    );
  }
  if (args.length !== spec.args) {
    throw new UsageError(
      spec.args === 0
        ? `'${command}' takes no arguments, received ${args.join(' ')}`
        : `'${command}' takes exactly one client name`,
    );
  }
  for (const option of Object.keys(values) as (keyof typeof OPTIONS)[]) {
    if (option !== 'certs-dir' && option !== 'help' && !spec.options.includes(option)) {
      throw new UsageError(`'${command}' does not take --${option}`);
    }
  }
  if (command === 'client' && values.role === undefined) {
    throw new UsageError(`'client' needs --role ${ROLES.join('|')}`);
  }
}

async function init(certsDir: string, values: Values): Promise<number> {
  const authority = await CertificateAuthority.init(certsDir, {
    altNames: values.san ?? defaultServerAltNames(),
    force: values.force === true,
  });
  console.log(
    `CA:     ${shown(authority.layout.caCert)} (key ${shown(authority.layout.caKey)}, 0600)`,
  );
  console.log(`server: ${shown(authority.layout.serverCert)}`);
  console.log(`CRL:    ${shown(authority.layout.crl)}`);
  console.log(`next: npm run certs -- client NAME --role ${ROLES.join('|')}`);
  return 0;
}

async function issueClient(certsDir: string, name: string, values: Values): Promise<number> {
  const role = roleOption(values.role);
  const days = daysOption(values.days);
  const password = await p12Password(values);
  const authority = await CertificateAuthority.open(certsDir);
  const issued = await authority.issueClient({ name, role: role!, days });
  await printIssued(authority, issued.entry, password);
  return 0;
}

async function renewClient(certsDir: string, name: string, values: Values): Promise<number> {
  const role = roleOption(values.role);
  const days = daysOption(values.days);
  const password = await p12Password(values);
  const authority = await CertificateAuthority.open(certsDir);
  const issued = await authority.renew(name, { role, days });
  await printIssued(authority, issued.entry, password);
  return 0;
}

async function revokeClient(certsDir: string, name: string, values: Values): Promise<number> {
  const reason = values.reason ?? 'unspecified';
  if (!(CRL_REASONS as readonly string[]).includes(reason)) {
    throw new UsageError(`--reason must be one of ${CRL_REASONS.join(', ')}, received '${reason}'`);
  }
  const authority = await CertificateAuthority.open(certsDir);
  const revoked = await authority.revoke(name, reason as CrlReason);
  for (const entry of revoked)
    console.log(`revoked ${entry.name} serial ${entry.serial} (${reason})`);
  console.log(`CRL: ${shown(authority.layout.crl)}; a running server applies it within a second`);
  return 0;
}

async function list(certsDir: string, values: Values): Promise<number> {
  const authority = await CertificateAuthority.open(certsDir);
  const now = new Date();
  const rows = [
    ...(await authorityRows(authority, now)),
    ...(await authority.list()).map((entry) => ({ ...entry, state: stateOf(entry, now) })),
  ].map((row) => ({ ...row, daysLeft: daysLeft(row.notAfter, now) }));
  if (values.json === true) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  const table = [
    ['KIND', 'NAME', 'ROLE', 'SERIAL', 'EXPIRES', 'DAYS LEFT', 'STATE'],
    ...rows.map((row) => [
      row.kind,
      row.name,
      row.role ?? '-',
      row.serial,
      row.notAfter,
      String(row.daysLeft),
      row.state,
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table)
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    );
  return 0;
}

/**
 * The CA's certificate and its CRL, listed first: the CRL is valid for 30 days only and, once
 * expired, makes the server refuse every client (jobworker-crl.timer re-signs it daily). The
 * CRL's row shows its number as its serial and its nextUpdate as its expiry.
 */
async function authorityRows(
  authority: CertificateAuthority,
  now: Date,
): Promise<
  { kind: string; name: string; role?: string; serial: string; notAfter: string; state: string }[]
> {
  const ca = new X509Certificate(await readFile(authority.layout.caCert, 'utf8'));
  const rows = [
    {
      kind: 'ca',
      name: /^CN=(.*)$/m.exec(ca.subject)?.[1] ?? 'ca',
      serial: ca.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
      notAfter: new Date(ca.validTo).toISOString(),
      state: new Date(ca.validTo) <= now ? 'expired' : 'active',
    },
  ];
  const crlPem = await readFile(authority.layout.crl, 'utf8').catch(() => undefined);
  if (crlPem === undefined) return rows;
  const crl = parseCrl(crlPem);
  const expired = crl.nextUpdate <= now;
  return [
    ...rows,
    {
      kind: 'crl',
      name: 'crl',
      serial: String(crl.crlNumber ?? '-'),
      notAfter: crl.nextUpdate.toISOString(),
      state: expired ? 'expired: every client is refused (npm run certs -- crl)' : 'active',
    },
  ];
}

/** Whole days until `notAfter`, rounded down; negative once past. */
function daysLeft(notAfter: string, now: Date): number {
  return Math.floor((Date.parse(notAfter) - now.getTime()) / 86_400_000);
}

async function rotateServer(certsDir: string, values: Values): Promise<number> {
  const days = daysOption(values.days);
  const authority = await CertificateAuthority.open(certsDir);
  const entry = await authority.rotateServer({ altNames: values.san, days });
  console.log(
    `server: ${shown(authority.layout.serverCert)} serial ${entry.serial}, valid until ${entry.notAfter}`,
  );
  console.log('a running server loads it without dropping connections');
  return 0;
}

async function refreshCrl(certsDir: string): Promise<number> {
  const authority = await CertificateAuthority.open(certsDir);
  const { nextUpdate, revoked } = await authority.refreshCrl();
  console.log(
    `CRL: ${shown(authority.layout.crl)}, ${revoked} revoked, valid until ${nextUpdate.toISOString()}`,
  );
  return 0;
}

async function printIssued(
  authority: CertificateAuthority,
  entry: InventoryEntry,
  password: string | undefined,
): Promise<void> {
  const paths = authority.layout.client(entry.name);
  const p12Secret = password ?? generateP12Password();
  const p12 = await authority.writePkcs12(entry.name, p12Secret);
  console.log(
    `client ${entry.name} (role ${entry.role}), serial ${entry.serial}, valid until ${entry.notAfter}`,
  );
  console.log(`  certificate: ${shown(paths.cert)}`);
  console.log(`  key:         ${shown(paths.key)} (0600)`);
  console.log(`  PKCS#12:     ${shown(p12)} (0600)`);
  if (password === undefined)
    console.log(`  PKCS#12 password (shown once, not stored): ${p12Secret}`);
  console.log('\nTry it:');
  console.log(
    `  curl --cacert ${shown(authority.layout.caCert)} --cert ${shown(paths.cert)} --key ${shown(paths.key)} https://localhost:${process.env.PORT ?? SETTINGS.port.fallback}/healthz`,
  );
}

function roleOption(value: string | undefined): Role | undefined {
  if (value === undefined) return undefined;
  try {
    assertRole(value);
  } catch {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}, received '${value}'`);
  }
  return value;
}

function daysOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!/^[0-9]+$/.test(value) || days < 1) {
    throw new UsageError(`--days must be a whole number of days, at least 1, received '${value}'`);
  }
  return days;
}

/** From a file or the environment, never from argv: argv is visible to every user in `ps`. */
async function p12Password(values: Values): Promise<string | undefined> {
  const file = values['p12-password-file'];
  const password =
    file === undefined
      ? process.env.CERTS_P12_PASSWORD
      : (
          await readFile(file, 'utf8').catch(() => {
            throw new UsageError(`cannot read --p12-password-file ${file}`);
          })
        ).replace(/\r?\n$/, '');
  if (password !== undefined && password.length < 8) {
    throw new UsageError('the PKCS#12 password must have at least 8 characters');
  }
  return password;
}

function stateOf(entry: InventoryEntry, now: Date): string {
  if (entry.revokedAt !== undefined)
    return `revoked ${entry.revokedAt} (${entry.reason ?? 'unspecified'})`;
  return new Date(entry.notAfter) <= now ? 'expired' : 'active';
}

/** Paths relative to where the command runs, so printed commands can be pasted as they are. */
function shown(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith('..') ? path : relativePath;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`certs: ${error.message}\nRun 'npm run certs -- --help' for usage.`);
    process.exitCode = 2;
  } else if (error instanceof PkiError) {
    console.error(`certs: ${error.message} (${error.code})`);
    process.exitCode = 1;
  } else {
    console.error(`certs: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
