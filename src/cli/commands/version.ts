// jobctl version: this client's release and, when the server answers, the server's (from
// GET /healthz), as `docker version` shows both. `jobctl --version` is the client's alone and
// never connects.
import type { Health } from '../../contract/health.ts';
import { VERSION } from '../../version.ts';
import { defineCommand } from '../define-command.ts';
import { EXIT } from '../exit-status.ts';
import { print } from '../output.ts';

const HELP = `Usage: jobctl version [options]

Print jobctl's version, then the server's. The client's line comes first, so it is printed even
when the server cannot be reached (jobctl then says why and exits 1).

Options:
  -h, --help   show this help

Examples:
  jobctl version
  jobctl --context prod version
`;

export const command = defineCommand({
  name: 'version',
  help: HELP,
  options: {},
  arguments: { takes: 'nothing', message: 'version takes no arguments' },
  async run({ connect }) {
    print(`Client: ${VERSION}`);
    const client = await connect();
    const health = await client.json<Partial<Health>>('GET', '/healthz');
    // A server from before releases were numbered has no version to give.
    print(`Server: ${health.version ?? 'unknown'}`);
    return EXIT.OK;
  },
});
