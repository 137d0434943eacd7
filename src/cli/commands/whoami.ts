// jobctl whoami: who the server takes you to be (GET /healthz: name, role, what the role may do)
// and the certificate that says so (read here: its serial and when it expires), as `kubectl auth
// whoami` answers from the server rather than from the local files alone.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Health } from '../../contract/health.ts';
import { defineCommand } from '../define-command.ts';
import { EXIT } from '../exit-status.ts';
import { print, printJson } from '../output.ts';

const HELP = `Usage: jobctl whoami [options]

Show who the server takes you to be: your client name and role and what the role may do, as
the server answers it, with the serial number and expiry of the certificate jobctl presents.

Options:
      --json   the same as a JSON object
  -h, --help   show this help

Examples:
  jobctl whoami
  jobctl --context prod whoami --json | jq -r .role
`;

export const command = defineCommand({
  name: 'whoami',
  help: HELP,
  options: { json: { type: 'boolean' } },
  // Words after it are ignored, as they always were.
  arguments: { takes: 'words' },
  async run({ values, connect }) {
    const client = await connect();
    const health = await client.json<Health>('GET', '/healthz');
    const certificate = new X509Certificate(readFileSync(client.settings.cert.value));
    const identity = {
      name: health.client.name,
      role: health.client.role,
      permissions: health.permissions,
      server: client.settings.url.origin,
      certificate: {
        file: client.settings.cert.value,
        serial: certificate.serialNumber.toLowerCase(),
        notAfter: new Date(certificate.validTo).toISOString(),
      },
    };
    if (values.json === true) {
      printJson(identity);
      return EXIT.OK;
    }
    print(
      [
        `Name:         ${identity.name}`,
        `Role:         ${identity.role}`,
        `May:          ${identity.permissions.join(', ')}`,
        `Server:       ${identity.server}`,
        `Certificate:  ${identity.certificate.file}`,
        `Serial:       ${identity.certificate.serial}`,
        `Expires:      ${identity.certificate.notAfter}`,
      ].join('\n'),
    );
    return EXIT.OK;
  },
});
