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
  wait: {
    summary: "Wait for jobs to end; print each one's exit status and exit with the last one's",
    load: async () => (await import('./commands/wait.ts')).command,
  },
  top: {
    summary: 'Show CPU, memory and output of running jobs, live (like docker stats)',
    load: async () => (await import('./commands/top.ts')).command,
  },
  whoami: {
    summary: 'Show who the server takes you to be: name, role, certificate',
    load: async () => (await import('./commands/whoami.ts')).command,
  },
  limits: {
    summary: 'Show what your role may ask for when it starts a job',
    load: async () => (await import('./commands/limits.ts')).command,
  },
  images: {
    summary: 'List the root filesystem images jobs may run in',
    load: async () => (await import('./commands/images.ts')).command,
  },
  volume: {
    summary: 'Manage your volumes, filesystems that outlive jobs (create, ls, inspect, rm)',
    load: async () => (await import('./commands/volume.ts')).command,
  },
  cp: {
    summary: 'Copy files between this machine and a volume (LOCAL VOL:PATH, or VOL:PATH LOCAL)',
    load: async () => (await import('./commands/cp.ts')).command,
  },
  audit: {
    summary: "Show the server's audit trail, or verify it (admins, auditors)",
    load: async () => (await import('./commands/audit.ts')).command,
  },
  completion: {
    summary: 'Print a completion script for bash, zsh or fish',
    load: async () => (await import('./commands/completion.ts')).commandFor(COMMANDS),
  },
  context: {
    summary: 'Manage named connection settings (ls, use, add, rm, show)',
    load: async () => (await import('./commands/context.ts')).command,
  },
  version: {
    summary: "Show jobctl's version and the server's",
    load: async () => (await import('./commands/version.ts')).command,
  },
};
