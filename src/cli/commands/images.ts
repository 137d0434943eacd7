// jobctl images: the root filesystem images this server has, which `run --image NAME` may name
// (GET /v1/images). A table on a terminal, tab-separated lines in a pipe, JSON with -o json.
import type { Image, ImageList } from '../../contract/images.ts';
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { age } from '../job-view.ts';
import { print, printJson } from '../output.ts';
import { printable } from '../printable.ts';
import { renderTable } from '../table.ts';
import { terminalOf } from '../terminal.ts';

const FORMATS = ['json', 'name'] as const;
type Format = (typeof FORMATS)[number];

const HELP = `Usage: jobctl images [options]

List the root filesystem images on this server, which a job may run in (run --image NAME).
An operator imports them (npm run images -- import NAME TARBALL).

Options:
      --json            the server's answer (GET /v1/images) as JSON (also -o json)
  -o, --output FORMAT   json; name (the names, one a line)
  -h, --help            show this help

Piped, each image is one line of tab-separated fields, without a header:
  NAME  IMPORTED (RFC 3339)

Examples:
  jobctl images
  jobctl images -o name
`;

export const command = defineCommand({
  name: 'images',
  help: HELP,
  options: {
    json: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  },
  arguments: { takes: 'nothing' },
  async run({ values, connect }) {
    const format = values.json === true ? 'json' : formatOf(values.output);
    const client = await connect();
    const list = await client.json<ImageList>('GET', '/v1/images');
    printImages(list, format);
    return EXIT.OK;
  },
});

function formatOf(text: string | undefined): Format | undefined {
  if (text === undefined) return undefined;
  if (!(FORMATS as readonly string[]).includes(text)) {
    throw new UsageError(`-o expects ${FORMATS.join(', ')}, not '${text}'`);
  }
  return text as Format;
}

function printImages(list: ImageList, format: Format | undefined): void {
  if (format === 'json') return printJson(list);
  if (format === 'name') {
    if (list.images.length > 0) print(list.images.map(({ name }) => printable(name)).join('\n'));
    return;
  }
  const terminal = terminalOf(process.stdout, process.env);
  if (!terminal.isTTY) {
    const lines = list.images.map((image) => [image.name, image.importedAt].map(printable));
    if (lines.length > 0) print(lines.map((fields) => fields.join('\t')).join('\n'));
    return;
  }
  const now = Date.now();
  const rows = list.images.map((image: Image) => [image.name, age(image.importedAt, now)]);
  process.stdout.write(renderTable(['NAME', 'IMPORTED'], rows, { columns: terminal.columns }));
}
