// `npm run audit -- verify [file]`: checks a signed audit log offline, the closed files rotated
// out of it included (audit-SEQ.log beside it), and names the first bad record. The public key comes from the server's JWK Set (`--jwks`, as served at
// /.well-known/jwks.json) or, on the server's own host, from its audit key in the certs directory.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { auditKeyPath } from '../src/audit/audit-key.ts';
import { verifyAuditLog } from '../src/audit/verify-log.ts';
import { SETTINGS } from '../src/config.ts';

const USAGE = `Usage: npm run audit -- verify [FILE] [--jwks FILE | --key FILE] [--head FILE | --no-head]

Checks every record's signature, sequence number and link to the one before, and the signed
head that says how many records there should be, across the closed files rotated out of the
log (audit-SEQ.log beside it, oldest first) and the log itself. If the oldest closed files were
shipped away, it starts from the oldest one present and says after which record. Exits 0 if the
trail is intact, 1 naming the file and line of the first bad record otherwise.

  FILE          the current audit log (default: audit.log in $DATA_DIR or ./data)
  --jwks FILE   the server's public keys, as served at GET /.well-known/jwks.json
  --key FILE    a PEM key (the server's certs/audit-key.pem, or its public half)
  --head FILE   the signed head (default: FILE.head)
  --no-head     check the chain alone, without the head (cannot detect records cut off the end)

Example:
  curl --cacert certs/ca.pem --cert certs/clients/auditor/cert.pem \\
    --key certs/clients/auditor/key.pem https://localhost:8443/.well-known/jwks.json > jwks.json
  npm run audit -- verify data/audit.log --jwks jwks.json`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      jwks: { type: 'string' },
      key: { type: 'string' },
      head: { type: 'string' },
      'no-head': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, file, ...extra] = positionals;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'verify' || extra.length > 0) {
    console.error(`audit: expected 'verify [FILE]'\n\n${USAGE}`);
    return 2;
  }
  const dataDir = resolve(process.env.DATA_DIR ?? SETTINGS.dataDir.fallback);
  const certsDir = resolve(process.env.CERTS_DIR ?? SETTINGS.certsDir.fallback);
  const path = resolve(file ?? join(dataDir, 'audit.log'));
  const publicKey = await loadPublicKey(values.jwks, values.key ?? auditKeyPath(certsDir));
  const verdict = await verifyAuditLog(path, publicKey, values.head, {
    requireHead: values['no-head'] !== true,
  });
  if (verdict.ok) {
    const head = verdict.headChecked ? 'and the signed head agrees' : 'no head file to compare';
    const start =
      verdict.startsAfter === undefined
        ? ''
        : ` (starting after record ${verdict.startsAfter}: the files before it are not here)`;
    console.log(`audit: ${path}: intact, ${verdict.records} records${start}, ${head}`);
    return 0;
  }
  const where = join(dirname(path), verdict.file);
  console.log(`audit: ${where}: record ${verdict.line} is bad: ${verdict.reason}`);
  return 1;
}

async function loadPublicKey(jwksPath: string | undefined, keyPath: string): Promise<KeyObject> {
  if (jwksPath !== undefined) {
    const jwks = JSON.parse(await readFile(jwksPath, 'utf8')) as { keys?: JsonWebKey[] };
    const jwk = jwks.keys?.[0];
    if (jwk === undefined) throw new Error(`${jwksPath} has no keys`);
    return createPublicKey({ key: jwk, format: 'jwk' });
  }
  return createPublicKey(await readFile(keyPath, 'utf8'));
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`audit: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
