// jobctl's dispatcher: connection options may come before the command (`jobctl --server X ps`),
// then the command's own module is loaded and run. A command reports its own failures
// (define-command.ts); those of the dispatcher become one line on stderr and an exit status the
// same way (report-failure.ts): a stack trace never reaches the user.
import { COMMANDS } from './commands.ts';
import { suggestion } from './did-you-mean.ts';
import { UsageError } from './errors.ts';
import { EXIT } from './exit-status.ts';
import { CONNECTION_OPTIONS } from './options.ts';
import { print } from './output.ts';
import { reportFailure } from './report-failure.ts';

export const MAIN_HELP = `jobctl: run and manage jobs on a jobworker server over mutual TLS.

Usage:
  jobctl [connection options] COMMAND [options] [args]
  jobctl COMMAND --help

Commands:
${Object.entries(COMMANDS)
  .map(([name, entry]) => `  ${name.padEnd(11)}${entry.summary}`)
  .join('\n')}

Connection options (any command, before or after its name; environment variables in [ ]):
  --server URL     the server, https://HOST[:PORT] [JOBCTL_SERVER] (default https://localhost:8443)
  --ca FILE        the CA that signed the server's certificate [JOBCTL_CA]
  --cert FILE      the client certificate [JOBCTL_CERT]
  --key FILE       the client's private key [JOBCTL_KEY]
  --client NAME    the certificate and key of a development PKI client [JOBCTL_CLIENT]
  --certs-dir DIR  the development PKI [JOBCTL_CERTS_DIR] (default ./certs, else the project's)
  --context NAME   a context other than the current one [JOBCTL_CONTEXT]
  Each setting comes from the first that has it: flags, environment, the current context,
  defaults (the development PKI's CA, and its client named like your login, else alice).

Examples:
  jobctl run -f -- make -j2 test
  jobctl ps --all
  jobctl logs -f 3f2a
  jobctl context add prod --server https://jobs.example.com:8443 \\
      --ca ca.pem --cert me.pem --key me-key.pem

Exit status: 0 success, 1 failure, 2 usage error; 'run -f' and 'run --wait' exit with the job's
status, and with 125 when jobctl itself fails. Manual: docs/jobctl.md.
`;

const GLOBAL_WITH_VALUE = new Set(Object.keys(CONNECTION_OPTIONS));

export async function main(argv: readonly string[]): Promise<number> {
  let name: string | undefined;
  try {
    const split = splitGlobalOptions(argv);
    name = split.name;
    if (split.flag === 'version') return await printVersion();
    if (split.flag === 'help' || name === undefined) {
      print(MAIN_HELP);
      return EXIT.OK;
    }
    if (name === 'help') return await printHelp(split.rest[0]);
    const entry = COMMANDS[name];
    if (entry === undefined) throw unknownCommand(name);
    const command = await entry.load();
    return await command.run([...split.global, ...split.rest]);
  } catch (error) {
    return reportFailure(error, name !== undefined && name in COMMANDS ? name : undefined);
  }
}

/** The options before the command name, the name, and everything after it. */
function splitGlobalOptions(argv: readonly string[]): {
  global: string[];
  name: string | undefined;
  rest: string[];
  /** --help or --version before any command. */
  flag?: 'help' | 'version';
} {
  const global: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index] ?? '';
    if (arg === '-h' || arg === '--help')
      return { global, name: undefined, rest: [], flag: 'help' };
    if (arg === '--version') return { global, name: undefined, rest: [], flag: 'version' };
    if (!arg.startsWith('-')) break;
    const option = arg.slice(2).split('=')[0] ?? '';
    if (!arg.startsWith('--') || !GLOBAL_WITH_VALUE.has(option)) {
      const near = suggestion(
        option,
        [...GLOBAL_WITH_VALUE].map((name) => `--${name}`),
      );
      throw new UsageError(`unknown option '${arg}' before the command${near}`);
    }
    global.push(arg);
    if (!arg.includes('=')) {
      const value = argv[index + 1];
      if (value === undefined) throw new UsageError(`option '${arg}' needs a value`);
      global.push(value);
      index += 1;
    }
    index += 1;
  }
  return { global, name: argv[index], rest: argv.slice(index + 1) };
}

function unknownCommand(name: string): UsageError {
  return new UsageError(`unknown command '${name}'${suggestion(name, Object.keys(COMMANDS))}`);
}

async function printHelp(name: string | undefined): Promise<number> {
  if (name === undefined) {
    print(MAIN_HELP);
    return EXIT.OK;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) throw unknownCommand(name);
  print((await entry.load()).help);
  return EXIT.OK;
}

async function printVersion(): Promise<number> {
  const { VERSION } = await import('../version.ts');
  print(`jobctl ${VERSION} (Node.js ${process.version})`);
  return EXIT.OK;
}
