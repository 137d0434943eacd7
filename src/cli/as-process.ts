// jobctl as a process, around main(): what both of its entry points share (jobctl.ts on the
// project's Node.js, single-file.ts in dist/jobctl). An error that escapes every handler still
// gives one line, a reader that goes away ends jobctl quietly, and everything written reaches the
// kernel before the exit status.
import { printable } from './printable.ts';

// Errors that escape every handler are bugs; the user still gets one line, not a stack trace.
const lastResort = (error: unknown): void => {
  process.stderr.write(
    `jobctl: unexpected error: ${printable(error instanceof Error ? error.message : String(error))}\n`,
  );
  process.exit(1);
};

/** Runs jobctl with `argv` (the arguments after its name) and exits with its status. */
export async function runAsProcess(argv: readonly string[]): Promise<void> {
  process.on('uncaughtException', lastResort);
  process.on('unhandledRejection', lastResort);
  // A reader that goes away (`jobctl ps | head -1`) ends jobctl quietly, as SIGPIPE ends others.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(141);
    lastResort(error);
  });
  // Loaded once the handlers are in place, so that even a failure to load is one line.
  const { main } = await import('./main.ts');
  const status = await main(argv);
  // Into a pipe, stdout is written asynchronously: process.exit() would drop what the reader has
  // not taken yet (`jobctl ps --all | wc -l` lost all but the first 64 KiB). A write's callback
  // runs once everything written before it has been handed to the kernel.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(status);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}
