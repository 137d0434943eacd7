// Every failure jobctl reports on purpose is one of these, each with a stable `code` and a message
// that is already the one line the user sees (after "jobctl: "). Anything else is a bug, and is
// still reported as one line by the entry point.

export type CliErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'FILE_UNREADABLE'
  | 'CONNECTION_FAILED'
  | 'TLS_FAILED'
  | 'API_ERROR'
  | 'JOB_NOT_FOUND'
  | 'AMBIGUOUS_ID'
  | 'PROTOCOL';

/** Base class: a user-facing message and a stable code. */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
  }
}

/** Thrown for a command line jobctl cannot understand: unknown command, option or value. */
export class UsageError extends CliError {
  /** The command whose help explains the right usage, e.g. `run` or `context add`. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super('USAGE', message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** Thrown when the API answers with an error: its problem+json `detail` and `code` are kept. */
export class ApiError extends CliError {
  readonly status: number;
  /** The API's own stable code, e.g. `FORBIDDEN` or `JOB_NOT_FOUND`. */
  readonly problemCode: string | undefined;

  /** `advice`, if any, follows the code: what to do about it, in jobctl's words. */
  constructor(status: number, problemCode: string | undefined, detail: string, advice = '') {
    super(
      'API_ERROR',
      `${problemCode === undefined ? detail : `${detail} (${problemCode})`}${advice}`,
    );
    this.name = 'ApiError';
    this.status = status;
    this.problemCode = problemCode;
  }
}
