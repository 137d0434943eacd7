// The entry point of dist/jobctl, the single executable that `npm run build:jobctl` makes
// (scripts/build-jobctl.ts bundles everything jobctl runs from here). It is jobctl.ts without
// the Node.js version check (the executable carries its own Node.js) and without top-level await,
// which the one CommonJS script a single executable runs cannot have.
import { runAsProcess } from './as-process.ts';

void runAsProcess(process.argv.slice(2));
