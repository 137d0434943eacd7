// jobctl cp: files between this machine and a volume, as `docker cp` copies them to and from a
// container (PUT and GET /v1/volumes/{name}/archive): a directory as a tar stream of its
// content, a file as itself. The tar work is tar-transfer.ts's.
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { download, upload, volumePathOf } from '../tar-transfer.ts';

const HELP = `Usage: jobctl cp [options] LOCAL VOLUME:PATH
       jobctl cp [options] VOLUME:PATH LOCAL

Copy files between this machine and one of your volumes (jobctl volume create), as 'docker cp'
copies them to and from a container. PATH is absolute inside the volume ('VOLUME:' alone is its
root); a local path with a colon before any slash is written './a:b'.

  LOCAL a directory   its content goes into PATH (made if missing), as 'cp -r DIR/. PATH'
  LOCAL a file        it becomes PATH, or goes into PATH when PATH ends with /
  PATH a directory    its content goes into LOCAL (made if missing)
  PATH a file         it becomes LOCAL, or goes into LOCAL when LOCAL is a directory

Directories travel as a tar stream made and read by this machine's tar; the server unpacks it
as your jobs' uid, inside the volume only. Nothing is compressed.

Options:
  -h, --help   show this help

Examples:
  jobctl volume create src --size 256M
  jobctl cp ./project src:/
  jobctl run -f -v src:/work -- make -j2
  jobctl cp src:/out ./out
  jobctl cp src:/out/app ./app
`;

export const command = defineCommand({
  name: 'cp',
  help: HELP,
  options: {},
  // The source and the destination.
  arguments: { takes: 'words' },
  async run({ positionals, connect }) {
    const [source, destination, extra] = positionals;
    if (source === undefined || destination === undefined) {
      throw new UsageError('cp needs a source and a destination, one of them VOLUME:PATH');
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    const from = volumePathOf(source);
    const to = volumePathOf(destination);
    if ((from === undefined) === (to === undefined)) {
      throw new UsageError(
        'cp copies between this machine and a volume: exactly one of the two is VOLUME:PATH',
      );
    }
    const client = await connect();
    if (to !== undefined) await upload(client, source, to);
    else if (from !== undefined) await download(client, from, destination);
    return EXIT.OK;
  },
});
