// Command-line parsing shared by every command (define-command.ts adds them to each): node:util's
// parseArgs, the connection options every command accepts (before or after its name, as kubectl
// allows), and parse errors turned into one-line usage errors that point at the command's --help.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { suggestion } from './did-you-mean.ts';
import { UsageError } from './errors.ts';
import { chooseColor, COLOR_CHOICES, type ColorChoice } from './terminal.ts';

export const CONNECTION_OPTIONS = {
  server: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  client: { type: 'string' },
  'certs-dir': { type: 'string' },
  context: { type: 'string' },
  color: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** Connection options as parsed: what `resolveConnection` takes. */
export type ConnectionFlags = {
  readonly [name in keyof typeof CONNECTION_OPTIONS]?: string | undefined;
};

export interface Parsed<T extends ParseArgsOptionsConfig> {
  readonly values: ParsedValues<T>;
  readonly positionals: string[];
}

type ParsedValues<T extends ParseArgsOptionsConfig> = {
  readonly [name in keyof T]?: T[name] extends { type: 'boolean' }
    ? boolean
    : T[name] extends { multiple: true }
      ? string[]
      : string;
};

/** parseArgs with strict checking; its errors become usage errors of `command`. */
export function parseCommandLine<T extends ParseArgsOptionsConfig>(
  command: string,
  args: readonly string[],
  options: T,
): Parsed<T> {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: true,
    });
    applyColorChoice((values as { color?: string }).color, command);
    return { values, positionals };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(describeParseError(error, options), command);
  }
}

function applyColorChoice(value: string | undefined, command: string): void {
  if (value === undefined) return;
  if (!(COLOR_CHOICES as readonly unknown[]).includes(value)) {
    throw new UsageError(
      `--color expects ${COLOR_CHOICES.join(', ')}, not '${String(value)}'`,
      command,
    );
  }
  chooseColor(value as ColorChoice);
}

/**
 * Splits `[options] COMMAND ARGS...` at the first argument that is not an option (or after
 * `--`), as docker and ssh do: everything from there on belongs to the job, dashes included.
 */
export function splitAtCommand<T extends ParseArgsOptionsConfig>(
  command: string,
  args: readonly string[],
  options: T,
): { own: string[]; rest: string[] } {
  let tokens;
  try {
    ({ tokens } = parseArgs({
      args: [...args],
      options,
      strict: false,
      allowPositionals: true,
      tokens: true,
    }));
  } catch (error) {
    throw new UsageError(describeParseError(error), command);
  }
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      return { own: args.slice(0, token.index), rest: args.slice(token.index + 1) };
    }
    if (token.kind === 'positional') {
      return { own: args.slice(0, token.index), rest: args.slice(token.index) };
    }
  }
  return { own: [...args], rest: [] };
}

function describeParseError(error: unknown, options?: ParseArgsOptionsConfig): string {
  const { code, message } = error as { code?: string; message?: string };
  const text = String(message ?? error);
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const quoted = quoteOption(text);
      const typed = quoted.replace(/^'|'$/g, '').split('=')[0] ?? '';
      const known = Object.keys(options ?? {}).map((name) => `--${name}`);
      return `unknown option ${quoted}${typed.startsWith('--') ? suggestion(typed, known) : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--cwd <value>' argument missing" and similar: keep parseArgs' own words.
      return lowerFirst(text.replace(/\.$/, ''));
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoteOption(text)}`;
    default:
      return lowerFirst(text);
  }
}

function quoteOption(message: string): string {
  return /'([^']*)'/.exec(message)?.[0] ?? message;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** The one job id a command such as `inspect` or `logs` takes. */
export function singleJobId(positionals: readonly string[]): string {
  const [text, extra] = positionals;
  if (text === undefined) throw new UsageError('missing the job id');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return text;
}
