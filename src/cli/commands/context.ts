// jobctl context: named connection settings, as `kubectl config` and `docker context` keep them,
// so one user can switch between servers (or identities) with one command.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CONTEXT_FIELDS,
  DEFAULT_CONTEXT,
  configPath,
  readConfig,
  writeConfig,
  type ConfigFile,
  type Context,
} from '../config-file.ts';
import { parseServer, resolveConnection } from '../connection.ts';
import { pkiClient, pkiDirectory } from '../dev-pki.ts';
import { defineCommand, type CommandValues } from '../define-command.ts';
import { CliError, UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { print, printJson, say } from '../output.ts';
import { printable } from '../printable.ts';
import { renderTable } from '../table.ts';
import { terminalOf } from '../terminal.ts';

const OPTIONS = {
  use: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = CommandValues<typeof OPTIONS>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const HELP = `Usage: jobctl context SUBCOMMAND [options]

Named connection settings (server, CA, client certificate and key), kept in the config file
($JOBCTL_CONFIG, or \${XDG_CONFIG_HOME:-~/.config}/jobctl/config.json, mode 0600). The current
context supplies every setting that no flag or environment variable gives.

Subcommands:
  ls                   list the contexts; * marks the current one
  use NAME             make NAME the current context ('default': none, back to the defaults)
  add NAME [options]   save a context from --server, --ca, --cert, --key, or --client NAME
                       (the cert and key of a development PKI client, with --certs-dir);
                       relative paths are saved as absolute ones; --use also switches to it
  rm NAME...           delete contexts
  show                 the settings in effect for this command line, and where each comes from

Options:
      --json   ls and show: print JSON
  -h, --help   show this help

Examples:
  jobctl context add prod --server https://jobs.example.com:8443 \\
      --ca ~/pki/ca.pem --cert ~/pki/me.pem --key ~/pki/me-key.pem
  jobctl context add local-bob --client bob --use
  jobctl context use prod
  jobctl --context local-bob ps
  jobctl context show
  jobctl context use default
`;

export const command = defineCommand({
  name: 'context',
  help: HELP,
  options: OPTIONS,
  // The subcommand and its names.
  arguments: { takes: 'words' },
  // The connection options are what `add` saves and `show` explains: it never connects.
  run: ({ values, positionals }) => runContext(values, positionals),
});

function runContext(values: Values, positionals: readonly string[]): number {
  const [subcommand = 'show', ...names] = positionals;
  const path = configPath(process.env);
  switch (subcommand) {
    case 'ls':
      expectNames(names, 0);
      return list(path, values);
    case 'use':
      return use(path, expectNames(names, 1)[0] ?? '');
    case 'add':
      return add(path, expectNames(names, 1)[0] ?? '', values);
    case 'rm':
      if (names.length === 0) throw new UsageError('missing the name of the context to delete');
      return remove(path, names);
    case 'show':
      expectNames(names, 0);
      return show(path, values);
    default:
      throw new UsageError(`unknown subcommand 'context ${subcommand}'`);
  }
}

function expectNames(names: readonly string[], count: number): readonly string[] {
  if (names.length < count) throw new UsageError('missing the context name');
  if (names.length > count) throw new UsageError(`unexpected argument '${names[count]}'`);
  return names;
}

function list(path: string, values: Values): number {
  const config = readConfig(path);
  if (values.json === true) {
    printJson(config);
    return EXIT.OK;
  }
  const current = config.current ?? DEFAULT_CONTEXT;
  const rows = [
    [DEFAULT_CONTEXT, '(flags, environment and defaults)', '', '', ''],
    ...Object.entries(config.contexts).map(([name, context]) => [
      name,
      context.server ?? '',
      context.ca ?? '',
      context.cert ?? '',
      context.key ?? '',
    ]),
  ];
  const terminal = terminalOf(process.stdout, process.env);
  if (!terminal.isTTY) {
    // Pipes get: NAME, "*" for the current one, SERVER, CA, CERT, KEY, tab-separated.
    print(
      rows
        .map(([name = '', ...rest]) => [name, name === current ? '*' : '', ...rest])
        .map((fields) => fields.map((field) => printable(field)).join('\t'))
        .map((line) => `${line}\n`)
        .join(''),
    );
    return EXIT.OK;
  }
  const table = rows.map(([name = '', server = '', , cert = '']) => [
    name === current ? '*' : '',
    name,
    server,
    cert,
  ]);
  process.stdout.write(
    renderTable(['CURRENT', 'NAME', 'SERVER', 'CERTIFICATE'], table, { columns: terminal.columns }),
  );
  return EXIT.OK;
}

function use(path: string, name: string): number {
  const config = readConfig(path);
  if (name !== DEFAULT_CONTEXT && config.contexts[name] === undefined) {
    throw unknownContext(path, name);
  }
  writeConfig(path, {
    contexts: config.contexts,
    ...(name === DEFAULT_CONTEXT ? {} : { current: name }),
  });
  print(`Switched to context "${name}".`);
  return EXIT.OK;
}

function add(path: string, name: string, values: Values): number {
  if (!NAME.test(name) || name === DEFAULT_CONTEXT) {
    throw new UsageError(
      `invalid context name '${name}': letters, digits, '.', '_' and '-', and not '${DEFAULT_CONTEXT}'`,
    );
  }
  const config = readConfig(path);
  if (config.contexts[name] !== undefined) {
    throw new CliError(
      'CONFIG_INVALID',
      `context '${name}' already exists; delete it first with 'jobctl context rm ${name}'`,
    );
  }
  const context = contextFrom(values);
  if (Object.keys(context).length === 0) {
    throw new UsageError(
      'give the context at least one of --server, --ca, --cert, --key, --client',
    );
  }
  for (const field of ['ca', 'cert', 'key'] as const) {
    const file = context[field];
    if (file !== undefined && !existsSync(file)) say(`warning: ${file} does not exist (yet)`);
  }
  const updated: ConfigFile = {
    ...config,
    contexts: { ...config.contexts, [name]: context },
    ...(values.use === true ? { current: name } : {}),
  };
  writeConfig(path, updated);
  print(`Added context "${name}".`);
  if (values.use === true) print(`Switched to context "${name}".`);
  return EXIT.OK;
}

/** The settings given on the command line; paths made absolute so the context works anywhere. */
function contextFrom(values: Values): Context {
  const cwd = process.cwd();
  const client =
    values.client === undefined
      ? undefined
      : pkiClient(
          pkiDirectory(values['certs-dir'] ?? (process.env.JOBCTL_CERTS_DIR || undefined), cwd),
          values.client,
        );
  const file = (value: string | undefined): string | undefined =>
    value === undefined ? undefined : resolve(cwd, value);
  const context: Record<string, string | undefined> = {
    server:
      values.server === undefined
        ? undefined
        : parseServer({ value: values.server, source: 'flag', origin: '--server' }).origin,
    ca: file(values.ca),
    cert: file(values.cert) ?? client?.cert,
    key: file(values.key) ?? client?.key,
  };
  return Object.fromEntries(
    CONTEXT_FIELDS.flatMap((field) => {
      const value = context[field];
      return value === undefined ? [] : [[field, value]];
    }),
  );
}

function remove(path: string, names: readonly string[]): number {
  const config = readConfig(path);
  const contexts = { ...config.contexts };
  for (const name of names) {
    if (contexts[name] === undefined) throw unknownContext(path, name);
    delete contexts[name];
  }
  const clearCurrent = config.current !== undefined && names.includes(config.current);
  const { current, ...rest } = config;
  writeConfig(path, {
    ...rest,
    ...(clearCurrent || current === undefined ? {} : { current }),
    contexts,
  });
  for (const name of names) print(`Deleted context "${name}".`);
  if (clearCurrent) say(`the current context was deleted; now using "${DEFAULT_CONTEXT}"`);
  return EXIT.OK;
}

function show(path: string, values: Values): number {
  const settings = resolveConnection(values, process.env, process.cwd());
  const context = settings.context ?? DEFAULT_CONTEXT;
  if (values.json === true) {
    printJson({
      config: path,
      context,
      server: settings.server,
      ca: settings.ca,
      cert: settings.cert,
      key: settings.key,
    });
    return EXIT.OK;
  }
  const rows = [
    ['config', path, ''],
    ['context', context, ''],
    ...(['server', 'ca', 'cert', 'key'] as const).map((field) => [
      field,
      settings[field].value,
      `(${settings[field].origin})`,
    ]),
  ];
  print(
    rows.map(([field = '', ...rest]) => [field.padEnd(8), ...rest].join('  ').trimEnd()).join('\n'),
  );
  return EXIT.OK;
}

function unknownContext(path: string, name: string): CliError {
  return new CliError(
    'CONFIG_INVALID',
    `no context named '${name}' in ${path} (see 'jobctl context ls')`,
  );
}
