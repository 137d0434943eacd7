// A launch is a list of steps, each one concern of how a job is started (its cgroup, its
// namespaces, its sandbox, the process its spec describes), in the manner of Nomad's task-runner
// hooks. A step checks what a job asks of it, sets up its part and says what the supervisor
// (native/jobshim.c) is told; the launcher runs the steps in order and, when a launch fails
// before the job ran, undoes what they set up. A new isolation mechanism is a new step.
import type { LaunchRequest } from '../launcher.ts';

/** What one step set up for one job. */
export interface StepSetup {
  /** Its part of the supervisor's arguments, in order. */
  readonly args: readonly string[];
  /** Releases what the step set up; called when the launch fails before the job ran. */
  undo(): Promise<void>;
  /** Releases what the job holds while it runs, once it has ended; absent when nothing is. */
  readonly release?: () => Promise<void>;
}

export interface LaunchStep {
  /**
   * Throws a CodedError when the job asks this step for what the host cannot give. Every step
   * checks before any sets anything up, so a refused job leaves nothing behind.
   */
  check(request: LaunchRequest): void;
  prepare(request: LaunchRequest): Promise<StepSetup>;
  /**
   * Why this host cannot give jobs the step's protection when the configuration requires
   * isolation; undefined when it can, or when the step protects nothing.
   */
  missingWhenRequired(): string | undefined;
}

/** The setup of a step that only tells the supervisor something: nothing to undo. */
export function argumentsOnly(args: readonly string[]): StepSetup {
  return { args, undo: () => Promise.resolve() };
}
