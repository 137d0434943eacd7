// The output step: how much of a job's output the supervisor records. It stops recording (the
// job runs on) at the cap its client's budget leaves it, and for good once recording more would
// leave the data disk less free than the server's floor.
import type { LaunchRequest } from '../launcher.ts';
import type { LaunchStep, StepSetup } from './launch-step.ts';
import { argumentsOnly } from './launch-step.ts';

export class OutputStep implements LaunchStep {
  check(): void {
    // The registry has already weighed the job's output against its client's budget.
  }

  prepare(request: LaunchRequest): Promise<StepSetup> {
    const args: string[] = [];
    if (request.maxOutputBytes !== undefined) {
      args.push('--max-output', String(request.maxOutputBytes));
    }
    if (request.minFreeDiskBytes > 0)
      args.push('--min-free-disk', String(request.minFreeDiskBytes));
    return Promise.resolve(argumentsOnly(args));
  }

  missingWhenRequired(): undefined {
    return undefined;
  }
}
