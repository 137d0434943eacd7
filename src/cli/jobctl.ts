#!/usr/bin/env node
// jobctl, the command-line client of the job worker's API (docs/jobctl.md). This file only checks
// the Node.js version, so that an old Node fails with one clear line, and loads the rest.
import '../util/require-node.ts';
import { printable } from './printable.ts';

// Errors that escape every handler are bugs; the user still gets one line, not a stack trace.
const lastResort = (error: unknown): void => {
  process.stderr.write(
    `jobctl: unexpected error: ${printable(error instanceof Error ? error.message : String(error))}\n`,
  );
  process.exit(1);
};
process.on('uncaughtException', lastResort);
process.on('unhandledRejection', lastResort);
// A reader that goes away (`jobctl ps | head -1`) ends jobctl quietly, as SIGPIPE ends others.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(141);
  lastResort(error);
});

// Compiled code of jobctl's modules is cached on disk, so later runs start faster.
(await import('node:module')).enableCompileCache?.();

const { main } = await import('./main.ts');
const status = await main(process.argv.slice(2));
// Into a pipe, stdout is written asynchronously: process.exit() would drop what the reader has
// not taken yet (`jobctl ps --all | wc -l` lost all but the first 64 KiB). A write's callback
// runs once everything written before it has been handed to the kernel.
const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(status);

export {};
