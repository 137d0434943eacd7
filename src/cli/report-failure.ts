// How a failure of jobctl reaches the user: one line on stderr and an exit status
// (exit-status.ts), never a stack trace. Commands report through it (define-command.ts), and the
// dispatcher (main.ts) for what goes wrong before a command runs.
import { CliError, UsageError } from './errors.ts';
import { EXIT } from './exit-status.ts';
import { say } from './output.ts';

/** The exit statuses of jobctl's own failures: `run` keeps them out of the job's way (125). */
export interface FailureStatuses {
  readonly usage: number;
  readonly failure: number;
}

export const DEFAULT_FAILURE_STATUSES: FailureStatuses = {
  usage: EXIT.USAGE,
  failure: EXIT.FAILURE,
};

/**
 * Says what went wrong and returns the exit status. A usage error points at the help of the
 * command it names, else of `command` (the one being run, if any).
 */
export function reportFailure(
  error: unknown,
  command: string | undefined,
  statuses: FailureStatuses = DEFAULT_FAILURE_STATUSES,
): number {
  if (error instanceof UsageError) {
    const help = error.command ?? command;
    say(`${error.message} (see 'jobctl ${help === undefined ? '' : `${help} `}--help')`);
    return statuses.usage;
  }
  if (error instanceof CliError) {
    say(error.message);
  } else {
    // A bug: still one line, with enough to report it.
    say(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  }
  return statuses.failure;
}
