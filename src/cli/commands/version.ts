// jobctl version: this client's release and, when the server answers, the server's (from
// GET /healthz), as `docker version` shows both. `jobctl --version` is the client's alone and
// never connects.
import type { Health } from '../../contract/health.ts';
import { VERSION } from '../../version.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { parseCommandLine, withConnection } from '../options.ts';
import { print } from '../output.ts';
import { connect } from '../session.ts';

const OPTIONS = withConnection({});

const HELP = `Usage: jobctl version [options]

Print jobctl's version, then the server's. The client's line comes first, so it is printed even
when the server cannot be reached (jobctl then says why and exits 1).

Options:
  -h, --help   show this help

Examples:
  jobctl version
  jobctl --context prod version
`;

export const command: Command = {
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandLine('version', args, OPTIONS);
    if (values.help) {
      print(HELP);
      return EXIT.OK;
    }
    if (positionals.length > 0) throw new UsageError('version takes no arguments');
    print(`Client: ${VERSION}`);
    const client = await connect(values);
    try {
      const health = await client.json<Partial<Health>>('GET', '/healthz');
      // A server from before releases were numbered has no version to give.
      print(`Server: ${health.version ?? 'unknown'}`);
      return EXIT.OK;
    } finally {
      client.close();
    }
  },
};
