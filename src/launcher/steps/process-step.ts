// The process step: the job's process as its spec describes it, told to the supervisor. Its
// directory, its input (a FIFO in the job directory, for a job started with `stdin`), its
// stderr merged into stdout or not, its terminal and its timeout. A new field of the spec that
// shapes the process is one more line here.
import { jobFile } from '../../jobs/job-directory.ts';
import type { LaunchRequest } from '../launcher.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';
import { argumentsOnly } from './launch-step.ts';

export class ProcessStep implements LaunchStep {
  check(): void {
    // The contract has validated the spec; every host runs any process it describes.
  }

  prepare(request: LaunchRequest): Promise<StepSetup> {
    return Promise.resolve(argumentsOnly(processArguments(request)));
  }

  missingWhenRequired(): undefined {
    return undefined;
  }
}

/** The supervisor's arguments for the job's process, from the job's spec. */
export function processArguments({ spec, dir }: LaunchRequest): string[] {
  const args = ['--cwd', spec.cwd];
  if (spec.stdin) args.push('--stdin', jobFile(dir, 'stdin'));
  if (spec.stderr === 'merged') args.push('--merge-stderr');
  if (spec.tty !== undefined) {
    args.push('--tty', '--tty-rows', String(spec.tty.rows), '--tty-cols', String(spec.tty.cols));
  }
  if (spec.timeoutMs !== undefined) args.push('--timeout', String(spec.timeoutMs));
  return args;
}
