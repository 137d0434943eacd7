// One jobctl command, declared: its name, help text, options and what it takes after them. What
// every command does before and after its own work is done here, once: parsing with the
// connection options added, --help, usage errors that point at the command's help (with a "did
// you mean" for a mistyped option), the API client set up only when the command asks for it and
// closed when it returns, and each failure turned into one line and the command's exit status.
import type { ParseArgsOptionsConfig } from 'node:util';
import type { Command } from './command.ts';
import { UsageError } from './errors.ts';
import { EXIT } from './exit-status.ts';
import type { ApiClient } from './http-client.ts';
import {
  CONNECTION_OPTIONS,
  HELP_OPTION,
  parseCommandLine,
  singleJobId,
  splitAtCommand,
  type ConnectionFlags,
  type Parsed,
} from './options.ts';
import { print } from './output.ts';
import { DEFAULT_FAILURE_STATUSES, reportFailure, type FailureStatuses } from './report-failure.ts';

/** A command's options as parseArgs takes them: its own, the connection options and --help. */
export type CommandOptions<T extends ParseArgsOptionsConfig> = typeof CONNECTION_OPTIONS &
  typeof HELP_OPTION &
  T;

/** The parsed values of a command's options. */
export type CommandValues<T extends ParseArgsOptionsConfig> = Parsed<CommandOptions<T>>['values'];

/** What a command takes after its options; checked before it runs, as it always was. */
export type Takes =
  /** Nothing: an argument is an error (`unexpected argument 'X'`, or `message`). */
  | { readonly takes: 'nothing'; readonly message?: string }
  /** One job id (any unique prefix of one). */
  | { readonly takes: 'job' }
  /** At least one job id; `missing` says what none means. */
  | { readonly takes: 'jobs'; readonly missing: string }
  /**
   * A command line for the job: options end at the first argument that is not one of jobctl's
   * (or at `--`), and everything from there on is the job's, dashes included.
   */
  | { readonly takes: 'command'; readonly missing: string }
  /** Words the command reads itself (subcommands, a shell), or ignores. */
  | { readonly takes: 'words' };

/** The arguments after the options, as `takes` promises them. */
export type ArgumentsOf<A extends Takes> = A extends { takes: 'job' }
  ? readonly [string]
  : A extends { takes: 'jobs' | 'command' }
    ? readonly [string, ...string[]]
    : readonly string[];

/** What a command's own code gets. */
export interface Invocation<T extends ParseArgsOptionsConfig, A extends Takes> {
  readonly values: CommandValues<T>;
  /** For `takes: 'command'`, the job's command and its arguments. */
  readonly positionals: ArgumentsOf<A>;
  /** A client of the API for the connection settings in effect; closed when the command ends. */
  readonly connect: () => Promise<ApiClient>;
}

export interface CommandDefinition<T extends ParseArgsOptionsConfig, A extends Takes> {
  /** As typed after `jobctl`; usage errors say `see 'jobctl NAME --help'`. */
  readonly name: string;
  /** Usage, options and examples, printed by --help and read by `completion` for its flags. */
  readonly help: string;
  /** The command's own options (node:util parseArgs' config). */
  readonly options: T;
  /** False for a command that never talks to a server: it takes no connection options. */
  readonly connection?: boolean;
  readonly arguments: A;
  /** Exit statuses of jobctl's own failures, when not 2 (usage) and 1. */
  readonly failureStatuses?: FailureStatuses;
  /** The command's own work; resolves with its exit status. */
  run(invocation: Invocation<T, A>): Promise<number> | number;
}

export function defineCommand<T extends ParseArgsOptionsConfig, A extends Takes>(
  definition: CommandDefinition<T, A>,
): Command {
  const { name, help } = definition;
  const options = {
    ...(definition.connection === false ? {} : CONNECTION_OPTIONS),
    ...HELP_OPTION,
    ...definition.options,
  } as CommandOptions<T>;
  return {
    help,
    async run(args) {
      const clients: ApiClient[] = [];
      try {
        const parsed = parse(definition.arguments, name, args, options);
        const { values } = parsed;
        if (values.help === true) {
          print(help);
          return EXIT.OK;
        }
        const connect = async (): Promise<ApiClient> => {
          // Loaded here: `context` and `completion` never load the HTTP client.
          const session = await import('./session.ts');
          const client = await session.connect(values as ConnectionFlags);
          clients.push(client);
          return client;
        };
        try {
          return await definition.run({
            values,
            // checked() keeps `takes`' promise, through a switch the types cannot follow.
            positionals: checked(definition.arguments, parsed) as ArgumentsOf<A>,
            connect,
          });
        } finally {
          for (const client of clients) client.close();
        }
      } catch (error) {
        return reportFailure(error, name, definition.failureStatuses ?? DEFAULT_FAILURE_STATUSES);
      }
    },
  };
}

/** The options' values and the arguments after them, and a job's command line apart. */
function parse<T extends ParseArgsOptionsConfig>(
  takes: Takes,
  name: string,
  args: readonly string[],
  options: T,
): Parsed<T> & { readonly command?: readonly string[] } {
  if (takes.takes !== 'command') return parseCommandLine(name, args, options);
  const { own, rest } = splitAtCommand(name, args, options);
  return { ...parseCommandLine(name, own, options), command: rest };
}

/** The arguments as `takes` promises them, or the usage error that says why they are not. */
function checked(
  takes: Takes,
  { positionals, command }: { positionals: readonly string[]; command?: readonly string[] },
): readonly string[] {
  const [first, ...more] = positionals;
  switch (takes.takes) {
    case 'nothing':
      if (first !== undefined) {
        throw new UsageError(takes.message ?? `unexpected argument '${first}'`);
      }
      return positionals;
    case 'job':
      return [singleJobId(positionals)];
    case 'jobs':
      if (first === undefined) throw new UsageError(takes.missing);
      return [first, ...more];
    case 'command': {
      if (first !== undefined) throw new UsageError(`unexpected argument '${first}'`);
      const [job, ...jobArgs] = command ?? [];
      if (job === undefined) throw new UsageError(takes.missing);
      return [job, ...jobArgs];
    }
    case 'words':
      return positionals;
  }
}
