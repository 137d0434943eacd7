// The C programs `npm install` builds into build/ (scripts/build-shim.ts).
import { fileURLToPath } from 'node:url';

const BUILD_URL = new URL('../../build/', import.meta.url);

/** Where they are built. */
export const BUILD_DIR = fileURLToPath(BUILD_URL);

/** The per-job supervisor (native/jobshim.c). */
export const SHIM_PATH = fileURLToPath(new URL('jobshim', BUILD_URL));

/** The helper that spawns the supervisors (native/jobspawner.c). */
export const SPAWNER_PATH = fileURLToPath(new URL('jobspawner', BUILD_URL));
