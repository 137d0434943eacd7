// Run by `npm install`: fills the project's compile cache (bin/compile-cache.js) with the server's
// and jobctl's modules, so their first start, the unit's under a read-only /opt included, loads
// neither TypeScript nor the stripper. The server and jobctl are started once each with
// `--version`, which loads every module they import up front; jobctl's commands, which it loads
// only when one is asked for, are loaded here, where running none of them has no effect.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { enableCompileCache, flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// @ts-expect-error: plain JavaScript, shared with the bin/ entry points, has no declarations.
import { COMPILE_CACHE_DIR } from '../bin/compile-cache.js';

const root = fileURLToPath(new URL('..', import.meta.url));

for (const entry of ['bin/jobworker.js', 'bin/jobctl.js']) {
  execFileSync(process.execPath, [join(root, entry), '--version'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
enableCompileCache({ directory: COMPILE_CACHE_DIR as string, portable: true });
const commands = join(root, 'src', 'cli', 'commands');
for (const file of readdirSync(commands).filter((name) => name.endsWith('.ts'))) {
  await import(pathToFileURL(join(commands, file)).href);
}
flushCompileCache();
console.log(`warm-compile-cache: ${COMPILE_CACHE_DIR}`);
