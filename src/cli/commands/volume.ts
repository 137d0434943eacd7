// jobctl volume: the caller's named volumes, as `docker volume` manages them (POST, GET and
// DELETE /v1/volumes): create one of a size, list them with what they hold, show one, remove
// them. A job mounts one with `run -v NAME:/path`; files go in and out with `jobctl cp`.
import type { VolumeAnswer } from '../../contract/volumes.ts';
import { defineCommand, type CommandValues } from '../define-command.ts';
import { ApiError, UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import type { ApiClient } from '../http-client.ts';
import { age } from '../job-view.ts';
import { print, printJson, say } from '../output.ts';
import { printable } from '../printable.ts';
import { renderTable } from '../table.ts';
import { terminalOf } from '../terminal.ts';
import { volumePages } from '../volume-pages.ts';

const OPTIONS = {
  size: { type: 'string', short: 's' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

type Values = CommandValues<typeof OPTIONS>;

const HELP = `Usage: jobctl volume SUBCOMMAND [options]

A volume is a filesystem of your own on the server, of a fixed size, that outlives jobs: a job
mounts it with 'run -v NAME:/path[:ro]', and 'jobctl cp' copies files into and out of it.

Subcommands:
  create NAME --size SIZE   make a volume of SIZE (from 32M, e.g. 256M or 2GiB), reserved
                            whole on the server's disk
  ls                        list your volumes (an admin's: every client's)
  inspect NAME...           show volumes as JSON
  rm NAME...                remove volumes and their files (refused while a queued or running
                            job names one)

Options:
  -s, --size SIZE   create: the volume's size
      --json        create and ls: print JSON
  -q, --quiet       ls: the names only, one a line
  -h, --help        show this help

Piped, ls prints one line of tab-separated fields per volume, without a header:
  NAME  SIZE (bytes)  USED (bytes)  CREATED (RFC 3339)  CLIENT

Examples:
  jobctl volume create cache --size 1G
  jobctl run -f -v cache:/work/cache -- sh -c 'du -sh /work/cache'
  jobctl volume ls
  jobctl volume inspect cache
  jobctl volume rm cache
`;

export const command = defineCommand({
  name: 'volume',
  help: HELP,
  options: OPTIONS,
  // The subcommand and the volumes' names.
  arguments: { takes: 'words' },
  async run({ values, positionals, connect }) {
    const [subcommand, ...names] = positionals;
    switch (subcommand) {
      case 'create':
        return create(await connect(), oneName(names, 'create'), values);
      case 'ls':
        if (names.length > 0) throw new UsageError(`unexpected argument '${names[0] ?? ''}'`);
        return list(await connect(), values);
      case 'inspect':
        return inspect(await connect(), someNames(names, 'inspect'));
      case 'rm':
        return remove(await connect(), someNames(names, 'rm'));
      case undefined:
        throw new UsageError('volume needs a subcommand: create, ls, inspect or rm');
      default:
        throw new UsageError(
          `unknown subcommand '${subcommand}': expected create, ls, inspect or rm`,
        );
    }
  },
});

function oneName(names: readonly string[], subcommand: string): string {
  const [name, extra] = names;
  if (name === undefined) throw new UsageError(`volume ${subcommand} needs the volume's name`);
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return name;
}

function someNames(names: readonly string[], subcommand: string): readonly string[] {
  if (names.length === 0) throw new UsageError(`volume ${subcommand} needs at least one name`);
  return names;
}

function volumeUrl(name: string): string {
  return `/v1/volumes/${encodeURIComponent(name)}`;
}

async function create(client: ApiClient, name: string, values: Values): Promise<number> {
  if (values.size === undefined) {
    throw new UsageError('volume create needs --size, e.g. --size 256M');
  }
  const volume = await client.json<VolumeAnswer>('POST', '/v1/volumes', {
    name,
    size: values.size,
  });
  if (values.json === true) printJson(volume);
  else print(volume.name);
  return EXIT.OK;
}

async function list(client: ApiClient, values: Values): Promise<number> {
  const volumes: VolumeAnswer[] = [];
  for await (const page of volumePages(client)) volumes.push(...page);
  if (values.json === true) {
    printJson({ volumes });
    return EXIT.OK;
  }
  if (values.quiet === true) {
    if (volumes.length > 0) print(volumes.map(({ name }) => printable(name)).join('\n'));
    return EXIT.OK;
  }
  const terminal = terminalOf(process.stdout, process.env);
  if (!terminal.isTTY) {
    const lines = volumes.map((volume) =>
      [
        volume.name,
        String(volume.sizeBytes),
        String(volume.usedBytes),
        volume.createdAt,
        volume.client,
      ].map(printable),
    );
    if (lines.length > 0) print(lines.map((fields) => fields.join('\t')).join('\n'));
    return EXIT.OK;
  }
  const now = Date.now();
  const rows = volumes.map((volume) => [
    volume.name,
    humanBytes(volume.sizeBytes),
    `${humanBytes(volume.usedBytes)} (${Math.round((100 * volume.usedBytes) / volume.sizeBytes)}%)`,
    age(volume.createdAt, now),
    volume.client,
  ]);
  process.stdout.write(
    renderTable(['NAME', 'SIZE', 'USED', 'CREATED', 'CLIENT'], rows, {
      columns: terminal.columns,
    }),
  );
  return EXIT.OK;
}

async function inspect(client: ApiClient, names: readonly string[]): Promise<number> {
  const found: VolumeAnswer[] = [];
  let status: number = EXIT.OK;
  for (const name of names) {
    try {
      found.push(await client.json<VolumeAnswer>('GET', volumeUrl(name)));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(error.message);
      status = EXIT.FAILURE;
    }
  }
  if (found.length > 0) printJson(names.length === 1 ? found[0] : found);
  return status;
}

/** Each removed volume's name on stdout, as `docker volume rm` says it; a refusal on stderr. */
async function remove(client: ApiClient, names: readonly string[]): Promise<number> {
  let status: number = EXIT.OK;
  for (const name of names) {
    try {
      await client.json('DELETE', volumeUrl(name));
      print(name);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      say(error.message);
      status = EXIT.FAILURE;
    }
  }
  return status;
}

/** Binary units, as --size takes them. */
function humanBytes(value: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (value >= size) return `${Number((value / size).toFixed(1))}${unit}`;
  }
  return `${value}B`;
}
