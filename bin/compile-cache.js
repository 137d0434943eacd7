// Node's compile cache for the project's entry points (bin/jobworker.js, bin/jobctl.js), kept in
// the project, where `npm install` warms it (scripts/warm-compile-cache.ts). From a warm cache Node
// loads neither the code's source nor its TypeScript stripper, a WebAssembly module: a server
// starts in about half the time, and no WebAssembly is compiled at start. That also keeps the
// server clear of a V8 fault seen once under emulation, a failed check in the bookkeeping of
// compiled code pages ("it->second.Size() > offset") while the stripper was being compiled.
// Portable: the entries are keyed by paths relative to the cache, so a project that is moved,
// copied or bind-mounted elsewhere (/opt/jobworker) still finds them. A read-only install (the
// unit's ProtectSystem=strict) reads the cache and cannot add to it, which Node takes in its stride.
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';

export const COMPILE_CACHE_DIR = fileURLToPath(
  new URL('../node_modules/.cache/jobworker/compile', import.meta.url),
);

/** Turns the cache on unless NODE_COMPILE_CACHE already did (a run that wants its own). */
export function useCompileCache() {
  enableCompileCache?.({ directory: COMPILE_CACHE_DIR, portable: true });
}
