// What a command module provides: its help text and the function that runs it. Commands are
// loaded only when used (see commands.ts), so `jobctl run` never loads the code of `jobctl ps`.

export interface Command {
  /** Usage, options and examples, printed by --help. */
  readonly help: string;
  /** Runs the command with the arguments after its name; resolves with the exit status. */
  run(args: readonly string[]): Promise<number>;
}
