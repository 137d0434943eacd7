// Builds the per-job supervisor (native/jobshim.c) at install time. It is C because it must
// outlive the server at a few hundred KiB per job, and set clone flags Node cannot.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'jobshim.c');
const output = join(root, 'build', 'jobshim');

if (!existsSync(source)) {
  console.error(`build-shim: ${source} is missing`);
  process.exit(1);
}
mkdirSync(dirname(output), { recursive: true });
const compiler = process.env.CC ?? 'cc';
execFileSync(compiler, ['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-o', output, source], {
  stdio: 'inherit',
});
console.log(`build-shim: built ${output}`);
