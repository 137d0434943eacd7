#!/usr/bin/env node
// jobctl, the command-line client of the job worker's API (docs/jobctl.md). This file only checks
// the Node.js version, so that an old Node fails with one clear line, and loads the rest
// (as-process.ts, which dist/jobctl's entry point, single-file.ts, shares).
import '../util/require-node.ts';

// Compiled code of jobctl's modules is cached on disk, so later runs start faster.
(await import('node:module')).enableCompileCache?.();

const { runAsProcess } = await import('./as-process.ts');
await runAsProcess(process.argv.slice(2));

export {};
