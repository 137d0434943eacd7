// Where each setting's value comes from: its flag, else its environment variable, else the config
// file (--config or CONFIG_FILE), else its default. Values are read here as text and checked in
// config.ts; an unknown flag or key is an error that names its near miss.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nearest } from '../util/did-you-mean.ts';
import { FlatYamlError, parseFlatYaml } from '../util/flat-yaml.ts';
import { ConfigError } from './config-error.ts';
import { CONFIG_FILE, SETTINGS, type Setting, type SettingName } from './settings.ts';

/** Where a setting's value came from: `--check` prints it, and an error names it. */
export type SettingOrigin =
  | { readonly kind: 'flag' }
  | { readonly kind: 'environment' }
  | { readonly kind: 'file'; readonly path: string; readonly line: number }
  | { readonly kind: 'default' };

/** A setting's value as text, before it is checked, and where it came from. */
export interface EffectiveSetting {
  readonly text: string;
  readonly origin: SettingOrigin;
}

export type EffectiveSettings = ReadonlyMap<SettingName, EffectiveSetting>;

/**
 * Each setting's value as text and where it came from: the flag, else the environment, else the
 * config file (`--config` or CONFIG_FILE), else the default. Reads the file; checks no value.
 */
export function effectiveSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): EffectiveSettings {
  const values = parseFlags(argv);
  const configPath = values[CONFIG_FILE.flag] ?? env[CONFIG_FILE.env] ?? '';
  const file = configPath === '' ? new Map<string, FileValue>() : readConfigFile(configPath);
  const settings = new Map<SettingName, EffectiveSetting>();
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const fromFlag = values[setting.flag];
    const fromEnv = env[setting.env];
    const fromFile = file.get(setting.flag);
    if (typeof fromFlag === 'string') {
      settings.set(name, { text: fromFlag, origin: { kind: 'flag' } });
    } else if (fromEnv !== undefined) {
      settings.set(name, { text: fromEnv, origin: { kind: 'environment' } });
    } else if (fromFile !== undefined) {
      settings.set(name, {
        text: fromFile.text,
        origin: { kind: 'file', path: resolve(configPath), line: fromFile.line },
      });
    } else {
      settings.set(name, { text: setting.fallback, origin: { kind: 'default' } });
    }
  }
  return settings;
}

/** The flags given, each a setting's or --config; an unknown one is named with its near miss. */
function parseFlags(argv: readonly string[]): Record<string, string | undefined> {
  try {
    return parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        [CONFIG_FILE, ...Object.values(SETTINGS)].map((setting) => [
          setting.flag,
          { type: 'string' as const },
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    const unknown = /^Unknown option '--([^']+)'/.exec((error as Error).message)?.[1];
    if (unknown === undefined) throw new ConfigError((error as Error).message);
    throw new ConfigError(`unknown flag --${unknown}${suggestion(unknown, '--')}`);
  }
}

/** A value of the config file, with its line. */
interface FileValue {
  readonly text: string;
  readonly line: number;
}

/** The config file's values by key; every key must be a setting's flag. */
function readConfigFile(path: string): Map<string, FileValue> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file: ${(error as Error).message}`);
  }
  let entries;
  try {
    entries = parseFlatYaml(text);
  } catch (error) {
    if (!(error instanceof FlatYamlError)) throw error;
    throw new ConfigError(`${resolve(path)}:${error.line}: ${error.message}`);
  }
  const flags = new Set<string>(Object.values(SETTINGS).map((setting) => setting.flag));
  for (const { key, line } of entries) {
    if (!flags.has(key)) {
      throw new ConfigError(`${resolve(path)}:${line}: unknown setting '${key}'${suggestion(key)}`);
    }
  }
  return new Map(entries.map(({ key, text, line }) => [key, { text, line }]));
}

/** " (did you mean 'client-rate'?)" for a near miss of a flag, or of its variable's name. */
function suggestion(key: string, prefix = ''): string {
  const flagOf = new Map<string, string>(
    Object.values(SETTINGS).flatMap((setting) => [
      [setting.flag, setting.flag],
      [setting.env, setting.flag],
    ]),
  );
  const near = nearest(key, [...flagOf.keys()]);
  return near === undefined ? '' : ` (did you mean '${prefix}${flagOf.get(near) ?? near}'?)`;
}
