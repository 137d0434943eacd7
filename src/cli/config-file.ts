// The config file of named contexts, as kubectl and docker keep them: one user, several servers.
// `$JOBCTL_CONFIG`, or `${XDG_CONFIG_HOME:-~/.config}/jobctl/config.json`:
//   { "current": "prod", "contexts": { "prod": { "server", "ca", "cert", "key" } } }
// It names private keys, so it is written with mode 0600, atomically (a rename), never in place.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './errors.ts';

export interface Context {
  readonly server?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface ConfigFile {
  readonly current?: string;
  readonly contexts: Readonly<Record<string, Context>>;
}

export const CONTEXT_FIELDS = ['server', 'ca', 'cert', 'key'] as const;

/** The name that means "no context": flags, environment and built-in defaults only. */
export const DEFAULT_CONTEXT = 'default';

export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.JOBCTL_CONFIG) return env.JOBCTL_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'jobctl', 'config.json');
}

/** The config file's contents; an empty one when the file does not exist yet. */
export function readConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new CliError(
      'CONFIG_INVALID',
      `cannot read the config file ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return validate(path, text);
}

export function writeConfig(path: string, config: ConfigFile): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, path);
  } catch (error) {
    throw new CliError(
      'CONFIG_INVALID',
      `cannot write the config file ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function validate(path: string, text: string): ConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(path, `not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed)) throw invalid(path, 'expected a JSON object');
  const { current, contexts = {} } = parsed;
  if (current !== undefined && typeof current !== 'string') {
    throw invalid(path, '"current" must be a string');
  }
  if (!isObject(contexts)) throw invalid(path, '"contexts" must be an object');
  for (const [name, context] of Object.entries(contexts)) {
    if (!isObject(context)) throw invalid(path, `context "${name}" must be an object`);
    for (const field of CONTEXT_FIELDS) {
      const value = context[field];
      if (value !== undefined && typeof value !== 'string') {
        throw invalid(path, `"${field}" of context "${name}" must be a string`);
      }
    }
  }
  return {
    ...(current === undefined ? {} : { current }),
    contexts: contexts as Record<string, Context>,
  };
}

function invalid(path: string, reason: string): CliError {
  return new CliError('CONFIG_INVALID', `the config file ${path} is invalid: ${reason}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
