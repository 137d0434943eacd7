// The commands of jobctl, each with a one-line summary for `jobctl --help` and a loader, so that
// only the command being run is ever parsed and compiled.
import type { Command } from './command.ts';

export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: {
    summary: 'Run a command as a job; -f follows its output and exits with its status',
    load: async () => (await import('./commands/run.ts')).command,
  },
  attach: {
    summary: 'Attach to a running job: its output, and this stdin or terminal to it',
    load: async () => (await import('./commands/attach.ts')).command,
  },
  ps: {
    summary: 'List jobs (running ones; --all for every job)',
    load: async () => (await import('./commands/ps.ts')).command,
  },
  inspect: {
    summary: "Show a job's full record as JSON",
    load: async () => (await import('./commands/inspect.ts')).command,
  },
  logs: {
    summary: "Print a job's output; -f follows it until the job ends",
    load: async () => (await import('./commands/logs.ts')).command,
  },
  stop: {
    summary: 'Stop running jobs',
    load: async () => (await import('./commands/stop.ts')).command,
  },
  rm: {
    summary: 'Delete ended jobs and their output',
    load: async () => (await import('./commands/rm.ts')).command,
  },
  context: {
    summary: 'Manage named connection settings (ls, use, add, rm, show)',
    load: async () => (await import('./commands/context.ts')).command,
  },
};
