// The settings in words: --help's usage, --check's report of each value and where it came from,
// and the example config file (systemd/config.yaml), all written from the one table.
import { CONFIG_FILE, SETTINGS, type Setting, type SettingName } from './settings.ts';
import type { EffectiveSettings, SettingOrigin } from './effective-settings.ts';

/** `--help`: every setting with its variable, its default and what it does. */
export function usage(): string {
  const rows = Object.values(SETTINGS).map((setting) => {
    const fallback = setting.fallback === '' ? '' : ` (default ${setting.fallback})`;
    return `  --${setting.flag} VALUE, ${setting.env}=VALUE${fallback}\n      ${setting.help}\n`;
  });
  return `Usage: npm start -- [--config FILE] [--SETTING VALUE]... [--check]
       (or node src/server.ts ...)

Serves the job API over mutual TLS. Every setting is a flag, an environment variable or a
key of the config file (the flag's name: \`port: 8443\`); a flag wins over the environment,
which wins over the file. A development PKI is made in the certificates directory on first
start.

  --${CONFIG_FILE.flag} FILE, ${CONFIG_FILE.env}=FILE
      ${CONFIG_FILE.help}
  --check
      check the settings (flags, environment, config file), print each with where it came
      from, and exit: 0 if they are valid, 2 naming the bad one; starts nothing
  --help
      this

Settings:
${rows.join('')}`;
}

/** Where a value came from, as `--check` prints it. */
export function describeOrigin(name: SettingName, origin: SettingOrigin): string {
  switch (origin.kind) {
    case 'flag':
      return `flag --${SETTINGS[name].flag}`;
    case 'environment':
      return `environment ${SETTINGS[name].env}`;
    case 'file':
      return `file ${origin.path}:${origin.line}`;
    case 'default':
      return 'default';
  }
}

/**
 * `--check`'s report: every effective setting as a line of a config file (so it can be pasted
 * into one), with where it came from as the line's comment.
 */
export function describeSettings(settings: EffectiveSettings): string {
  const lines = [...settings].map(([name, { text, origin }]) => [
    `${SETTINGS[name].flag}: ${yamlValue(text)}`,
    describeOrigin(name, origin),
  ]);
  const width = Math.max(...lines.map(([line]) => (line ?? '').length));
  return lines.map(([line, origin]) => `${(line ?? '').padEnd(width)}  # ${origin}\n`).join('');
}

/** A value as a YAML scalar: plain where that reads back the same, else double-quoted. */
function yamlValue(text: string): string {
  const plain = /^[A-Za-z0-9/._][A-Za-z0-9/._:,@+ -]*$/.test(text) && !/:\s|\s$/.test(text);
  return plain && !/^(~|null|Null|NULL)$/.test(text) ? text : JSON.stringify(text);
}

/**
 * An example config file: `header`, then every setting's help, variable and default as comments,
 * and below the default the value `active` gives it, if any. systemd/config.yaml is made by this
 * (`node scripts/config-example.ts`), and a test keeps it so.
 */
export function exampleConfig(header: string, active: ReadonlyMap<string, string>): string {
  const blocks = Object.values(SETTINGS).map((setting: Setting) => {
    const help = wrapComment(`${setting.help} (${setting.env})`);
    const fallback = setting.exampleFallback ?? setting.fallback;
    const value = active.get(setting.flag);
    const set = value === undefined ? '' : `${setting.flag}: ${yamlValue(value)}\n`;
    return `${help}#${setting.flag}: ${yamlValue(fallback)}\n${set}`;
  });
  return `${header.trimEnd()}\n\n${blocks.join('\n')}`;
}

/** Text as `# ` lines of at most 100 columns. */
function wrapComment(text: string): string {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > 100 && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  return `${[...lines, line].join('\n')}\n`;
}
