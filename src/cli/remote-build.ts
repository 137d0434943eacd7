// `jobctl run --upload DIR --download PATH -- make`: a remote build in one line. A volume of its
// own is made for the run (`jobctl-` and 8 hex digits), DIR's content is sent into it, and the
// job runs with it mounted as its working directory, /work; once the job has ended, each PATH
// (relative to DIR, as to /work) comes back into DIR, and the volume is removed: also when the
// job fails, the upload fails or the user presses Ctrl-C (which stops the job, then cleans up).
// The job's exit status is jobctl's.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Writable } from 'node:stream';
import { ApiError, CliError, UsageError } from './errors.ts';
import { EXIT } from './exit-status.ts';
import { END_OFFSET, OutputFollower } from './follow.ts';
import type { ApiClient } from './http-client.ts';
import type { Request } from './job-field-options.ts';
import { say } from './output.ts';
import type * as TarTransfer from './tar-transfer.ts';

/**
 * The tar work, loaded for a remote build alone: it brings node:child_process (and with it
 * dgram), which a plain `jobctl run` would otherwise load for nothing (issue #38).
 */
function tarTransfer(): Promise<typeof TarTransfer> {
  return import('./tar-transfer.ts');
}

/** Where the volume is mounted: the sandbox's working directory, where the job starts. */
export const BUILD_DIR = '/work';

/** The volume's size unless --upload-size says: room for a checkout and its build. */
export const DEFAULT_UPLOAD_SIZE = '1G';

export interface RemoteBuild {
  /** The local directory whose content the job gets, and where results come back. */
  readonly dir: string;
  /** Paths relative to `dir` (and to /work) to bring back once the job has ended. */
  readonly downloads: readonly string[];
  readonly size: string;
}

/** Starts and watches the job; calls `onJob` with its id as soon as it has one. */
export type StartAndWatch = (request: Request, onJob: (id: string) => void) => Promise<number>;

/** --upload's and --download's values, checked before anything is made on the server. */
export async function remoteBuildOf(
  dir: string,
  downloads: readonly string[],
  size: string | undefined,
): Promise<RemoteBuild> {
  if ((await stat(dir).catch(() => undefined))?.isDirectory() !== true) {
    throw new UsageError(`--upload ${dir}: not a directory`);
  }
  for (const path of downloads) {
    const normal = posix.normalize(path);
    if (path.startsWith('/') || normal === '..' || normal.startsWith('../')) {
      throw new UsageError(
        `--download ${path}: a path relative to the uploaded directory, inside it`,
      );
    }
  }
  return { dir, downloads, size: size ?? DEFAULT_UPLOAD_SIZE };
}

/** Signals that end jobctl from outside, handled as Ctrl-C during a remote build. */
const TERMINATIONS = ['SIGTERM', 'SIGHUP'] as const;

export async function runRemoteBuild(
  client: ApiClient,
  build: RemoteBuild,
  request: Request,
  startAndWatch: StartAndWatch,
): Promise<number> {
  const volume = `jobctl-${randomBytes(4).toString('hex')}`;
  // From the first request on, Ctrl-C must not end jobctl before it has cleaned up: it cuts the
  // upload short, or stops the job as soon as there is one (then `watch` handles it as usual).
  const interrupt = new AbortController();
  const onInterrupt = (): void => interrupt.abort(new CliError('USAGE', 'interrupted'));
  let made = false;
  let jobId: string | undefined;
  // `kill` or a closed terminal is a Ctrl-C here, not the end of jobctl: without its listener
  // the default action would end jobctl and leave the temporary volume behind. The job watch
  // stops the job on SIGINT itself; on these, the job is stopped here.
  const onTermination = (): void => {
    onInterrupt();
    if (jobId !== undefined) void stopJob(client, jobId);
  };
  process.on('SIGINT', onInterrupt);
  for (const signal of TERMINATIONS) process.on(signal, onTermination);
  try {
    await client.json('POST', '/v1/volumes', { name: volume, size: build.size });
    made = true;
    if (!(await uploadUnlessInterrupted(client, build.dir, volume, interrupt.signal))) {
      return EXIT.INTERRUPTED;
    }
    const mounted: Request = {
      ...request,
      volumes: [...(request.volumes ?? []), { name: volume, path: BUILD_DIR, readOnly: false }],
    };
    const status = await startAndWatch(mounted, (id) => {
      jobId = id;
      if (interrupt.signal.aborted) void stopJob(client, id);
    });
    if (jobId === undefined) return status;
    // Ctrl-C twice stops waiting for the stop; the volume can go only once the job has ended.
    if (status === EXIT.INTERRUPTED && !(await waitForEnd(client, jobId))) return status;
    // A job Ctrl-C stopped has no results worth the wait.
    if (interrupt.signal.aborted) return status;
    const fetched = await downloadResults(client, build, volume, interrupt.signal);
    return fetched || status !== EXIT.OK ? status : EXIT.RUN_FAILED;
  } finally {
    process.off('SIGINT', onInterrupt);
    for (const signal of TERMINATIONS) process.off(signal, onTermination);
    if (made) await removeVolume(client, volume, jobId);
  }
}

/** Sends the directory; false when Ctrl-C cut it short (or came before it began). */
async function uploadUnlessInterrupted(
  client: ApiClient,
  dir: string,
  volume: string,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const { upload } = await tarTransfer();
    await upload(client, dir, { volume, path: '/' }, signal);
    return true;
  } catch (error) {
    if (!signal.aborted) throw error;
    say(`interrupted while sending ${dir}`);
    return false;
  }
}

/** A Ctrl-C that came between the upload and the job's start: the job stops as it starts. */
async function stopJob(client: ApiClient, jobId: string): Promise<void> {
  await client.json('POST', `/v1/jobs/${jobId}/stop`).catch(() => undefined);
}

/** Waits for the job to end (it was asked to stop); false if Ctrl-C gave up on that too. */
async function waitForEnd(client: ApiClient, jobId: string): Promise<boolean> {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const follower = OutputFollower.read(
    client,
    jobId,
    { stream: 'all', to: sink },
    { follow: true, offset: END_OFFSET },
  );
  let gaveUp = false;
  const onInterrupt = (): void => {
    gaveUp = true;
    follower.destroy();
  };
  say(`waiting for job ${jobId} to end, to remove its volume (Ctrl-C again to leave both)`);
  process.on('SIGINT', onInterrupt);
  try {
    await follower.done;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return !gaveUp;
}

/** Brings each --download back into the directory; false if one could not be. */
async function downloadResults(
  client: ApiClient,
  build: RemoteBuild,
  volume: string,
  signal: AbortSignal,
): Promise<boolean> {
  let all = true;
  for (const path of build.downloads) {
    try {
      const from = { volume, path: posix.join('/', path) };
      const { download } = await tarTransfer();
      await download(client, from, join(build.dir, path), signal);
    } catch (error) {
      if (!(error instanceof ApiError) || error.problemCode !== 'VOLUME_PATH_NOT_FOUND') {
        throw error;
      }
      say(`the job left no ${path} in ${BUILD_DIR}: nothing to download`);
      all = false;
    }
  }
  return all;
}

async function removeVolume(
  client: ApiClient,
  volume: string,
  jobId: string | undefined,
): Promise<void> {
  try {
    await deleteVolume(client, volume, jobId === undefined ? UPLOAD_CLOSING_RETRIES : []);
  } catch (error) {
    const still = error instanceof ApiError && error.problemCode === 'VOLUME_IN_USE';
    const why = still ? `job ${jobId ?? '?'} still runs with it` : (error as Error).message;
    say(
      `could not remove volume ${volume} (${why}): 'jobctl volume rm ${volume}' once it has ended`,
    );
  }
}

/**
 * Waits between DELETEs while the server still counts an upload cut short as open (409
 * VOLUME_IN_USE until it has seen the connection close and its sandbox end): with no job, that
 * upload, this jobctl's own, is all that can hold the volume. Nothing tells a client when it has
 * closed, so it asks again a few times, over about 3 s.
 */
const UPLOAD_CLOSING_RETRIES: readonly number[] = [50, 100, 200, 400, 800, 1600];

async function deleteVolume(
  client: ApiClient,
  volume: string,
  pauses: readonly number[],
): Promise<void> {
  for (const pause of pauses) {
    try {
      await client.json('DELETE', `/v1/volumes/${volume}`);
      return;
    } catch (error) {
      if (!(error instanceof ApiError && error.problemCode === 'VOLUME_IN_USE')) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
  await client.json('DELETE', `/v1/volumes/${volume}`);
}
