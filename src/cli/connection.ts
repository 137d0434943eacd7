// Which server to talk to and with which certificates. Each setting is taken from the first place
// that has it: flags, then the environment, then the context in use, then the defaults that find
// the development PKI of a local server. Every setting remembers where it came from, so errors
// and `jobctl context show` can say which knob to turn.
import { resolve } from 'node:path';
import { configPath, readConfig, DEFAULT_CONTEXT, type Context } from './config-file.ts';
import { defaultClient, pkiCa, pkiClient, pkiDirectory } from './dev-pki.ts';
import { CliError, UsageError } from './errors.ts';
import type { ConnectionFlags } from './options.ts';

export const DEFAULT_SERVER = 'https://localhost:8443';

export type Source = 'flag' | 'environment' | 'context' | 'default';

export interface Setting {
  readonly value: string;
  readonly source: Source;
  /** Where exactly, e.g. `--ca`, `JOBCTL_CLIENT=bob`, `context "prod"`, `development PKI`. */
  readonly origin: string;
}

export interface ConnectionSettings {
  readonly server: Setting;
  readonly ca: Setting;
  readonly cert: Setting;
  readonly key: Setting;
  /** The context in use; undefined for none ("default"). */
  readonly context: string | undefined;
  /** The server as a URL: https, host and port only. */
  readonly url: URL;
}

export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  cwd: string,
): ConnectionSettings {
  const { name, context } = selectContext(flags, env);
  const pki = pkiDirectory(flags['certs-dir'] ?? (env.JOBCTL_CERTS_DIR || undefined), cwd);
  const fromClient = (client: string | undefined, file: 'cert' | 'key'): string | undefined =>
    client === undefined ? undefined : pkiClient(pki, client)[file];
  const envClient = env.JOBCTL_CLIENT || undefined;
  const fallbackClient = defaultClient(pki);
  const credential = (file: 'cert' | 'key'): Setting =>
    first(
      flag(flags[file], `--${file}`, cwd),
      flag(fromClient(flags.client, file), `--client ${flags.client}`, cwd),
      environment(env, `JOBCTL_${file.toUpperCase()}`, cwd),
      environmentValue(fromClient(envClient, file), `JOBCTL_CLIENT=${envClient}`),
      fromContext(name, context?.[file]),
      {
        value: pkiClient(pki, fallbackClient)[file],
        source: 'default',
        origin: `the development PKI's client ${fallbackClient}`,
      },
    );
  const server = first(
    flag(flags.server, '--server'),
    environment(env, 'JOBCTL_SERVER'),
    fromContext(name, context?.server),
    { value: DEFAULT_SERVER, source: 'default', origin: 'default' },
  );
  return {
    server,
    ca: first(
      flag(flags.ca, '--ca', cwd),
      environment(env, 'JOBCTL_CA', cwd),
      fromContext(name, context?.ca),
      { value: pkiCa(pki), source: 'default', origin: `the development PKI in ${pki}` },
    ),
    cert: credential('cert'),
    key: credential('key'),
    context: name,
    url: parseServer(server),
  };
}

/** The context named by --context, JOBCTL_CONTEXT or the config file's "current". */
export function selectContext(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
): { name: string | undefined; context: Context | undefined } {
  const path = configPath(env);
  const config = readConfig(path);
  const name = flags.context ?? (env.JOBCTL_CONTEXT || undefined) ?? config.current;
  if (name === undefined || name === DEFAULT_CONTEXT)
    return { name: undefined, context: undefined };
  const context = config.contexts[name];
  if (context === undefined) {
    throw new CliError(
      'CONFIG_INVALID',
      `no context named '${name}' in ${path} (see 'jobctl context ls')`,
    );
  }
  return { name, context };
}

/** `https://host[:port]`, with https:// assumed when no scheme is given. */
export function parseServer(setting: Setting): URL {
  const text = setting.value.includes('://') ? setting.value : `https://${setting.value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidServer(setting);
  }
  if (url.protocol !== 'https:') {
    throw invalidServer(setting, 'jobctl speaks only HTTPS with mutual TLS');
  }
  if (url.pathname !== '/' || url.search !== '' || url.username !== '')
    throw invalidServer(setting);
  return url;
}

function invalidServer(setting: Setting, reason = 'expected https://HOST[:PORT]'): UsageError {
  return new UsageError(`invalid server '${setting.value}' (from ${setting.origin}): ${reason}`);
}

function first(...candidates: (Setting | undefined)[]): Setting {
  const found = candidates.find((candidate) => candidate !== undefined);
  if (found === undefined) throw new Error('no default for a connection setting');
  return found;
}

function flag(value: string | undefined, origin: string, cwd?: string): Setting | undefined {
  if (value === undefined) return undefined;
  return { value: cwd === undefined ? value : resolve(cwd, value), source: 'flag', origin };
}

function environment(env: NodeJS.ProcessEnv, name: string, cwd?: string): Setting | undefined {
  const value = env[name];
  if (!value) return undefined;
  return {
    value: cwd === undefined ? value : resolve(cwd, value),
    source: 'environment',
    origin: name,
  };
}

function environmentValue(value: string | undefined, origin: string): Setting | undefined {
  return value === undefined ? undefined : { value, source: 'environment', origin };
}

function fromContext(name: string | undefined, value: string | undefined): Setting | undefined {
  if (name === undefined || value === undefined) return undefined;
  return { value, source: 'context', origin: `context "${name}"` };
}
