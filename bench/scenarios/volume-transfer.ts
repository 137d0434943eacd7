// Files into and out of a volume (issue 34): a 1 GiB tree uploaded as a tar stream
// (`tar -c | PUT /v1/volumes/{name}/archive`) and downloaded back (`GET .../archive | tar -x`),
// each from starting tar to its end, against the same move over OpenSSH on the same machine:
// `tar -c | ssh host 'tar -x -C DIR'` and `ssh host 'tar -c -C DIR .' | tar -x`. The tree is four
// files of 256 MiB (zeros: tar and the disks move them as any bytes; nothing compresses). The
// server's side runs tar as the client's uid in its sandbox and writes into a loop-mounted ext4
// image; ssh's writes as root into a directory of the same disk. Each run's destination is
// emptied before the next.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { sized, type BenchContext, type Scenario, type ScenarioResult } from '../lib/context.ts';
import { timeCommand } from '../lib/command.ts';
import { apiClient, expectJson, requestJson, type ApiClient } from '../lib/http.ts';
import { compare, throughput } from '../lib/report.ts';
import { interleave, Samples } from '../lib/stats.ts';

const MIB = 1024 * 1024;
const FILES = 4;

export const volumeTransfer: Scenario = {
  name: 'volume-transfer',
  title: 'volume upload and download of 1 GiB against tar over ssh',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const server = await context.server();
    const ssh = await context.ssh();
    const bytes = sized(context, 1024 * MIB, 32 * MIB);
    const source = join(context.scratch, 'volume-transfer-source');
    const sshTarget = join(context.scratch, 'volume-transfer-ssh');
    const back = join(context.scratch, 'volume-transfer-back');
    mkdirSync(source, { recursive: true });
    for (let index = 0; index < FILES; index += 1) {
      const file = join(source, `part-${index}.bin`);
      await timeCommand('sh', ['-c', `head -c ${bytes / FILES} /dev/zero > '${file}'`]);
    }
    const client = apiClient(server);
    const name = 'bench-transfer';
    // Room for the tree and ext4's own blocks (its journal, inodes).
    const size = `${Math.ceil((bytes * 1.25) / MIB) + 64}M`;
    await expectJson(client, 201, 'POST', '/v1/volumes', { name, size });
    const fresh = (dir: string): void => {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    };
    const variants = ['upload', 'download', 'ssh upload', 'ssh download'] as const;
    const runInto = (samples: Samples) => async (variant: (typeof variants)[number]) => {
      switch (variant) {
        case 'upload':
          samples.add(variant, await upload(client, name, source));
          break;
        case 'download':
          fresh(back);
          samples.add(variant, await download(client, name, back));
          break;
        case 'ssh upload':
          fresh(sshTarget);
          samples.add(
            variant,
            await pipeline(
              ['tar', '-c', '-C', source, '.'],
              [ssh.sshPath, ...ssh.command(`tar -x -C '${sshTarget}'`, false)],
            ),
          );
          break;
        case 'ssh download':
          fresh(back);
          samples.add(
            variant,
            await pipeline(
              [ssh.sshPath, ...ssh.command(`tar -c -C '${source}' .`, false)],
              ['tar', '-x', '-C', back],
            ),
          );
          break;
      }
    };
    try {
      // The first upload fills the volume the downloads read; then every variant in turn.
      await upload(client, name, source);
      const measured = new Samples();
      await interleave(sized(context, 3, 1), variants, runInto(measured));
      const of = (variant: string) => throughput(bytes, measured.summary(variant));
      return {
        figures: [
          compare('upload (tar | PUT archive)', of('upload'), 'tar | ssh tar x', of('ssh upload'), {
            text: '≥ 1× ssh',
            met: (ratio) => ratio >= 1,
          }),
          compare(
            'download (GET archive | tar x)',
            of('download'),
            'ssh tar c | tar x',
            of('ssh download'),
            { text: '≥ 1× ssh', met: (ratio) => ratio >= 1 },
          ),
        ],
        details: {
          bytes,
          files: FILES,
          volumeSize: size,
          timesMs: measured.all(),
          note:
            'from starting tar to the end of the receiving side; the upload overwrites the same ' +
            'files in the volume each time, the other destinations are emptied first',
        },
      };
    } finally {
      await requestJson(client, 'DELETE', `/v1/volumes/${name}`).catch(() => undefined);
      client.agent.destroy();
      for (const dir of [source, sshTarget, back]) rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** `tar -c -C source .` streamed into the volume's archive; request to the 204. */
async function upload(client: ApiClient, name: string, source: string): Promise<number> {
  const started = performance.now();
  const tar = spawn('tar', ['-c', '-C', source, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: client.port,
        method: 'PUT',
        path: `/v1/volumes/${name}/archive`,
        headers: { 'content-type': 'application/x-tar' },
        agent: client.agent,
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    tar.stdout.pipe(req);
  });
  const [status] = await Promise.all([answered, once(tar, 'exit')]);
  if (status !== 204) throw new Error(`PUT archive: ${status}`);
  return performance.now() - started;
}

/** GET of the volume's archive piped into `tar -x -C dest`; request to tar's exit. */
async function download(client: ApiClient, name: string, dest: string): Promise<number> {
  const started = performance.now();
  const tar = spawn('tar', ['-x', '-C', dest], { stdio: ['pipe', 'inherit', 'inherit'] });
  const exited = once(tar, 'exit');
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: client.port,
        method: 'GET',
        path: `/v1/volumes/${name}/archive`,
        agent: client.agent,
      },
      (response) => {
        if (response.statusCode !== 200) reject(new Error(`GET archive: ${response.statusCode}`));
        response.pipe(tar.stdin);
        response.once('end', () => resolve());
      },
    );
    req.once('error', reject);
    req.end();
  });
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`tar -x exited with ${code}`);
  return performance.now() - started;
}

/** `first | second`, from starting both to the second's exit. */
async function pipeline(first: readonly string[], second: readonly string[]): Promise<number> {
  const started = performance.now();
  const [file1, ...args1] = first;
  const [file2, ...args2] = second;
  const writer = spawn(file1 as string, args1, { stdio: ['ignore', 'pipe', 'inherit'] });
  const reader = spawn(file2 as string, args2, { stdio: ['pipe', 'inherit', 'inherit'] });
  writer.stdout.pipe(reader.stdin);
  const [[writerCode], [readerCode]] = (await Promise.all([
    once(writer, 'exit'),
    once(reader, 'exit'),
  ])) as [[number | null], [number | null]];
  if (writerCode !== 0 || readerCode !== 0) {
    throw new Error(`${first[0]} | ${second[0]}: exit ${writerCode} and ${readerCode}`);
  }
  return performance.now() - started;
}
