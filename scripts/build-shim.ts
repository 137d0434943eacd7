// Builds the per-job supervisor (native/jobshim.c, with the sandbox it builds in native/sandbox.c
// and its seccomp filter in native/seccomp-filter.c) at install time. It is C because it must
// outlive the server at a few hundred KiB per job, and set clone flags Node cannot. The filter is
// compiled by libseccomp, the library Docker, Podman and systemd use for theirs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['jobshim.c', 'sandbox.c', 'seccomp-filter.c'].map((file) =>
  join(root, 'native', file),
);
const output = join(root, 'build', 'jobshim');

for (const source of sources) {
  if (!existsSync(source)) {
    console.error(`build-shim: ${source} is missing`);
    process.exit(1);
  }
}
mkdirSync(dirname(output), { recursive: true });
const compiler = process.env.CC ?? 'cc';
execFileSync(
  compiler,
  ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-o', output, ...sources, '-lseccomp'],
  { stdio: 'inherit' },
);
console.log(`build-shim: built ${output}`);
