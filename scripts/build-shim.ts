// Builds the per-job supervisor (native/jobshim.c, with the sandbox it builds in native/sandbox.c
// and its seccomp filter in native/seccomp-filter.c) and the small process that spawns one per
// job for the server (native/jobspawner.c) at install time. The supervisor is C because it must
// outlive the server at a few hundred KiB per job, and set clone flags Node cannot. The filter is
// compiled by libseccomp, the library Docker, Podman and systemd use for theirs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiler = process.env.CC ?? 'cc';
const flags = ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11'];

function build(output: string, files: string[], libraries: string[] = []): void {
  const sources = files.map((file) => join(root, 'native', file));
  for (const source of sources) {
    if (!existsSync(source)) {
      console.error(`build-shim: ${source} is missing`);
      process.exit(1);
    }
  }
  const path = join(root, 'build', output);
  mkdirSync(dirname(path), { recursive: true });
  execFileSync(compiler, [...flags, '-o', path, ...sources, ...libraries], { stdio: 'inherit' });
  console.log(`build-shim: built ${path}`);
}

build('jobshim', ['jobshim.c', 'sandbox.c', 'seccomp-filter.c'], ['-lseccomp']);
build('jobspawner', ['jobspawner.c']);
