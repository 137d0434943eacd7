// `npm run images -- import NAME FILE.tar | list | rm NAME`: the root filesystem images jobs may
// name with "image": "NAME". They live under DATA_DIR/images, beside the server's database, and
// are shared read-only by every job that names them; the server needs no restart to see them.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SETTINGS } from '../src/config.ts';
import { ImageStore } from '../src/launcher/images.ts';

const USAGE = `Usage: npm run images -- import NAME FILE.tar | list | rm NAME [--data-dir DIR]

  import NAME FILE.tar   unpack a root filesystem tarball (e.g. from 'docker export') as NAME
  list                   the images jobs may name, with when each was imported
  rm NAME                remove an image (jobs running on it lose files that are not open)

  --data-dir DIR         the server's data directory (default: $DATA_DIR or ./data)

Example:
  npm run images -- import busybox busybox-rootfs.tar
  curl ... -d '{"command":"/bin/sh","args":["-c","ls /"],"image":"busybox"}' https://localhost:8443/v1/jobs`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined) {
    console.log(USAGE);
    return values.help === true ? 0 : 2;
  }
  const dataDir = resolve(
    values['data-dir'] ?? process.env[SETTINGS.dataDir.env] ?? SETTINGS.dataDir.fallback,
  );
  const images = new ImageStore(resolve(dataDir, 'images'));
  if (command === 'import' && rest.length === 2) {
    const [name = '', file = ''] = rest;
    await images.import(name, resolve(file));
    console.log(`imported image '${name}'`);
    return 0;
  }
  if (command === 'list' && rest.length === 0) {
    for (const image of await images.list())
      console.log(`${image.name}\t${image.importedAt.toISOString()}`);
    return 0;
  }
  if (command === 'rm' && rest.length === 1) {
    const [name = ''] = rest;
    if (!(await images.remove(name))) {
      console.error(`images: there is no image '${name}'`);
      return 1;
    }
    console.log(`removed image '${name}'`);
    return 0;
  }
  console.error(`images: unknown command '${[command, ...rest].join(' ')}'\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`images: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
