// Every error the product reports on purpose is one of these classes, each with a stable `code`
// that clients and tests can match on. Layers below the API throw them without knowing HTTP:
// src/contract/problem.ts gives each code its status, title and retry hint in one table, and
// src/api/problem.ts answers with them.

export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'JOB_NOT_FOUND'
  | 'JOB_ALREADY_ENDED'
  | 'JOB_STILL_RUNNING'
  | 'LIMIT_EXCEEDS_CEILING'
  | 'LIMIT_EXCEEDS_CLIENT_TOTAL'
  | 'LIMIT_NOT_ENFORCEABLE'
  | 'SANDBOX_NOT_ALLOWED'
  | 'NETWORK_EGRESS_FORBIDDEN'
  | 'NETWORK_HOST_FORBIDDEN'
  | 'IMAGE_NOT_FOUND'
  | 'OUTPUT_UNAVAILABLE'
  | 'INPUT_NOT_OPEN'
  | 'INPUT_CLOSED'
  | 'INPUT_BUSY'
  | 'NOT_A_TERMINAL'
  | 'TOO_MANY_JOBS'
  | 'QUEUE_FULL'
  | 'OUTPUT_BUDGET_SPENT'
  | 'LIMIT_EXCEEDS_CAPACITY'
  | 'INSUFFICIENT_STORAGE'
  | 'RECORD_ALLOWANCE_EXCEEDED'
  | 'JOB_RATE_EXCEEDED'
  | 'VOLUME_NOT_FOUND'
  | 'VOLUME_EXISTS'
  | 'VOLUME_IN_USE'
  | 'VOLUME_BUDGET_EXCEEDED'
  | 'VOLUME_COUNT_EXCEEDED'
  | 'VOLUME_FULL'
  | 'VOLUME_PATH_NOT_FOUND'
  | 'ARCHIVE_REJECTED'
  | 'INVALID_STATE_TRANSITION'
  | 'LAUNCH_FAILED'
  | 'COMMAND_NOT_FOUND'
  | 'COMMAND_CANNOT_RUN'
  | 'INTERNAL'
  // Answered by the HTTP layer alone: framing, routing, authentication and request rates.
  | 'MALFORMED_REQUEST'
  | 'REQUEST_TIMEOUT'
  | 'EXPECTATION_FAILED'
  | 'HEADERS_TOO_LARGE'
  | 'UNAUTHENTICATED'
  | 'CLIENT_DISABLED'
  | 'CROSS_SITE_REQUEST'
  | 'METHOD_NOT_ALLOWED'
  | 'TOO_MANY_REQUESTS'
  | 'TOO_MANY_FOLLOWERS'
  | 'UPGRADE_REQUIRED';

export interface ErrorDetail {
  /** Where in the request the problem is, e.g. `args[2]` or `limits.memory`. */
  readonly field: string;
  readonly message: string;
}

/**
 * Base class of the server's own errors: a message safe to show to the client, a stable `code`
 * (contract/problem.ts gives each its HTTP status), optional field details, and for an error
 * that knows when a retry would succeed (a token bucket's refill) how many seconds to wait.
 */
export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly ErrorDetail[];
  /** Overrides the code's own retry hint; undefined for the hint, if the code has one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: readonly ErrorDetail[]; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodedError';
    this.code = code;
    this.details = options.details ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Thrown when a request body, query or path parameter does not have the expected shape. */
export class InvalidRequestError extends CodedError {
  constructor(message: string, details: readonly ErrorDetail[] = []) {
    super('INVALID_REQUEST', message, { details });
    this.name = 'InvalidRequestError';
  }
}

/** Thrown when the caller's role does not allow the action. */
export class ForbiddenError extends CodedError {
  constructor(action: string, role: string) {
    super('FORBIDDEN', `role '${role}' may not ${action}`);
    this.name = 'ForbiddenError';
  }
}

/**
 * Thrown when a request under way as its client certificate was revoked would start a job: the
 * job is not recorded. The revocation closes the connection, so the audit trail is its reader.
 */
export class CertificateRevokedError extends CodedError {
  constructor(serial: string) {
    super('FORBIDDEN', `the client certificate (serial ${serial}) was revoked: it starts no jobs`);
    this.name = 'CertificateRevokedError';
  }
}

/**
 * Thrown for an unknown job id and, deliberately with the same message, for another client's
 * job: the two must be indistinguishable to the caller.
 */
export class JobNotFoundError extends CodedError {
  constructor(id: string) {
    super('JOB_NOT_FOUND', `no job with id '${id}'`);
    this.name = 'JobNotFoundError';
  }
}

/** Thrown when stopping a job that has already ended. */
export class JobAlreadyEndedError extends CodedError {
  constructor(id: string, status: string) {
    super('JOB_ALREADY_ENDED', `job '${id}' has already ended (status '${status}')`);
    this.name = 'JobAlreadyEndedError';
  }
}

/** Thrown when writing to the input of a job that was not started with `"stdin": true`. */
export class InputNotOpenError extends CodedError {
  constructor(id: string) {
    super('INPUT_NOT_OPEN', `job '${id}' was not started with an open stdin ("stdin": true)`);
    this.name = 'InputNotOpenError';
  }
}

/** Thrown when a job's input has ended: a writer closed it, or the job no longer reads it. */
export class InputClosedError extends CodedError {
  constructor(id: string, why: string) {
    super('INPUT_CLOSED', `the input of job '${id}' is closed: ${why}`);
    this.name = 'InputClosedError';
  }
}

/** Thrown when a second writer comes while another still sends a job's input. */
export class InputBusyError extends CodedError {
  constructor(id: string) {
    super('INPUT_BUSY', `another request is sending the input of job '${id}'; one at a time`);
    this.name = 'InputBusyError';
  }
}

/** Thrown when resizing the terminal of a job that has none. */
export class NotATerminalError extends CodedError {
  constructor(id: string) {
    super('NOT_A_TERMINAL', `job '${id}' has no terminal (start it with "tty": true)`);
    this.name = 'NotATerminalError';
  }
}

/** Thrown when deleting a job that is still running. */
export class JobStillRunningError extends CodedError {
  constructor(id: string) {
    super('JOB_STILL_RUNNING', `job '${id}' is still running; stop it first`);
    this.name = 'JobStillRunningError';
  }
}

/** Thrown when a request asks for more of a resource than the caller's role may have. */
export class LimitExceedsCeilingError extends CodedError {
  constructor(field: string, requested: string, ceiling: string, role: string) {
    super(
      'LIMIT_EXCEEDS_CEILING',
      `${field} ${requested} exceeds the ceiling ${ceiling} for role '${role}'`,
      {
        details: [{ field, message: `at most ${ceiling}` }],
      },
    );
    this.name = 'LimitExceedsCeilingError';
  }
}

/** Thrown when one job asks for more than all of its client's running jobs may use together. */
export class LimitExceedsClientTotalError extends CodedError {
  constructor(field: string, requested: string, total: string) {
    super(
      'LIMIT_EXCEEDS_CLIENT_TOTAL',
      `${field} ${requested} exceeds ${total}, the total all of this client's running jobs may ` +
        'use together',
      { details: [{ field, message: `the client's total is ${total}` }] },
    );
    this.name = 'LimitExceedsClientTotalError';
  }
}

/** Thrown when a request asks for a limit this host cannot enforce (no cgroup controller). */
export class LimitNotEnforceableError extends CodedError {
  constructor(field: string, reason: string) {
    super('LIMIT_NOT_ENFORCEABLE', `${field} cannot be enforced on this host: ${reason}`, {
      details: [{ field, message: reason }],
    });
    this.name = 'LimitNotEnforceableError';
  }
}

/** Thrown when a request asks for the host's filesystem and the caller's role may not have it. */
export class SandboxNotAllowedError extends CodedError {
  constructor(role: string) {
    super(
      'SANDBOX_NOT_ALLOWED',
      `role '${role}' may not run jobs on the host's filesystem ("sandbox": "host"); ` +
        'the server configuration decides which roles may',
      { details: [{ field: 'sandbox', message: 'not allowed for this role' }] },
    );
    this.name = 'SandboxNotAllowedError';
  }
}

/**
 * Thrown when a request asks for a network mode (`egress` or `host`) the caller's role may not
 * have; the code names the mode, so a client can tell which one to drop.
 */
export class NetworkForbiddenError extends CodedError {
  readonly mode: 'egress' | 'host';
  constructor(mode: 'egress' | 'host', role: string) {
    super(
      mode === 'egress' ? 'NETWORK_EGRESS_FORBIDDEN' : 'NETWORK_HOST_FORBIDDEN',
      `role '${role}' may not run jobs with "network": "${mode}"; ` +
        'the server configuration decides which roles may',
      { details: [{ field: 'network', message: `"${mode}" not allowed for this role` }] },
    );
    this.name = 'NetworkForbiddenError';
    this.mode = mode;
  }
}

/** Thrown when a request names a root filesystem image the operator has not imported. */
export class ImageNotFoundError extends CodedError {
  constructor(name: string) {
    super('IMAGE_NOT_FOUND', `there is no image '${name}' on this server`, {
      details: [{ field: 'image', message: 'no such image; an operator imports images' }],
    });
    this.name = 'ImageNotFoundError';
  }
}

/** Thrown when a job's output files are missing or unreadable. */
export class OutputUnavailableError extends CodedError {
  constructor(id: string, cause: unknown) {
    super('OUTPUT_UNAVAILABLE', `the output of job '${id}' is not available`, { cause });
    this.name = 'OutputUnavailableError';
  }
}

/** Thrown when a client already runs as many jobs as one client may at a time. */
export class TooManyJobsError extends CodedError {
  constructor(owner: string, limit: number) {
    super(
      'TOO_MANY_JOBS',
      `client '${owner}' already has ${limit} jobs running, the most one client may run at once; ` +
        'wait for one to end or stop one',
    );
    this.name = 'TooManyJobsError';
  }
}

/**
 * Thrown with `?queue=false` when a job cannot start now for another reason than its client's
 * running cap: `why` is the job's queue reason (its client's memory total or output budget, its
 * fair share, the host's memory), which gives no figures of the host or of other clients.
 */
export class NoCapacityNowError extends CodedError {
  constructor(why = 'the host has not the memory this job reserves free right now') {
    super(
      'TOO_MANY_JOBS',
      `${why}; wait for jobs to end, or leave out ?queue=false to have it queued`,
    );
    this.name = 'NoCapacityNowError';
  }
}

/**
 * Thrown when the output a client's ended jobs keep fills its output budget: no job of the
 * client can start until some of it is deleted (a queued job whose turn comes ends `failed` with
 * the same words).
 */
export class OutputBudgetSpentError extends CodedError {
  constructor(owner: string, budget: string, kept: string) {
    super(
      'OUTPUT_BUDGET_SPENT',
      `client '${owner}': its output budget (${budget}) is spent: its ended jobs keep ${kept} of ` +
        'output; delete some of them (DELETE /v1/jobs/{id}, jobctl rm) to start more',
    );
    this.name = 'OutputBudgetSpentError';
  }
}

/** Thrown when a client already has the most queued jobs one client may have. */
export class QueueFullError extends CodedError {
  constructor(owner: string, limit: number) {
    super(
      'QUEUE_FULL',
      `client '${owner}' already has ${limit} jobs queued, the most one client may queue; ` +
        'wait for some to start, or stop some',
    );
    this.name = 'QueueFullError';
  }
}

/** Thrown when a job's memory limit is more than the host could ever give all jobs together. */
export class LimitExceedsCapacityError extends CodedError {
  constructor(neededBytes: string, capacityBytes: string) {
    super(
      'LIMIT_EXCEEDS_CAPACITY',
      `limits.memory: the job would reserve ${neededBytes} of memory, and all jobs on this host together get ${capacityBytes}; it could never start`,
      {
        details: [
          { field: 'limits.memory', message: `more than the host's ${capacityBytes} for jobs` },
        ],
      },
    );
    this.name = 'LimitExceedsCapacityError';
  }
}

/** Thrown when the data disk is full: new jobs cannot be recorded. */
export class InsufficientStorageError extends CodedError {
  constructor(cause: unknown) {
    super('INSUFFICIENT_STORAGE', 'the server has no space left to record a new job', { cause });
    this.name = 'InsufficientStorageError';
  }
}

/**
 * Thrown when the data disk has less free space than the floor the server keeps
 * (`--min-free-disk`): no job starts, so the disk's last space goes to the records of jobs that
 * run already, the database and the audit trail.
 */
export class DiskBelowFloorError extends CodedError {
  constructor(freeBytes: string, floorBytes: string) {
    super(
      'INSUFFICIENT_STORAGE',
      `the server's data disk has ${freeBytes} free, less than the ${floorBytes} it keeps free; ` +
        'no job starts until space is freed (running jobs are unaffected)',
    );
    this.name = 'DiskBelowFloorError';
  }
}

/**
 * Thrown when a new job's record would take its client past what the records of its jobs may
 * hold (`--client-record-bytes`): their command lines and environment variable names. 507, as
 * WebDAV answers a quota (RFC 4331): waiting does not help, deleting ended jobs does.
 */
export class RecordAllowanceExceededError extends CodedError {
  constructor(owner: string, keptBytes: string, jobBytes: string, allowanceBytes: string) {
    super(
      'RECORD_ALLOWANCE_EXCEEDED',
      `client '${owner}' keeps ${keptBytes} of job records (command lines and environment ` +
        `variable names), and this job's ${jobBytes} would pass its allowance of ` +
        `${allowanceBytes}; delete ended jobs to make room`,
    );
    this.name = 'RecordAllowanceExceededError';
  }
}

/** Thrown when a client creates jobs faster than one client may (`--client-job-rate`). */
export class JobRateExceededError extends CodedError {
  declare readonly retryAfterSeconds: number;

  constructor(owner: string, perMinute: number, retryAfterSeconds: number) {
    super(
      'JOB_RATE_EXCEEDED',
      `client '${owner}' is over its rate of ${perMinute} new jobs a minute (in bursts of as ` +
        `many); retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
    this.name = 'JobRateExceededError';
  }
}

/** Thrown for a volume the client has not and, with the same words, for another client's. */
export class VolumeNotFoundError extends CodedError {
  constructor(name: string) {
    super('VOLUME_NOT_FOUND', `no volume named '${name}'`);
    this.name = 'VolumeNotFoundError';
  }
}

/** Thrown when a client creates a volume under a name it already has. */
export class VolumeExistsError extends CodedError {
  constructor(name: string) {
    super('VOLUME_EXISTS', `a volume named '${name}' already exists`);
    this.name = 'VolumeExistsError';
  }
}

/** Thrown when deleting a volume that a queued or running job names. */
export class VolumeInUseError extends CodedError {
  constructor(name: string) {
    super('VOLUME_IN_USE', `volume '${name}' is named by a queued or running job; stop it first`);
    this.name = 'VolumeInUseError';
  }
}

/** Thrown past the total size a client's volumes may have (`--client-volume-bytes`): a quota. */
export class VolumeBudgetExceededError extends CodedError {
  constructor(owner: string, budget: string, taken: string, asked: string) {
    super(
      'VOLUME_BUDGET_EXCEEDED',
      `client '${owner}': its volume budget (${budget}) would be passed: its volumes take ` +
        `${taken} and this one asks ${asked}; delete a volume or ask for less`,
    );
    this.name = 'VolumeBudgetExceededError';
  }
}

/** Thrown when a client already has as many volumes as its role may (`--client-volumes`). */
export class VolumeCountExceededError extends CodedError {
  constructor(owner: string, count: number) {
    super('VOLUME_COUNT_EXCEEDED', `client '${owner}' already has ${count} volumes, its most`);
    this.name = 'VolumeCountExceededError';
  }
}

/** Thrown when the data disk cannot reserve a new volume above its floor (`--min-free-disk`). */
export class VolumeNoDiskSpaceError extends CodedError {
  constructor(asked: string) {
    super('INSUFFICIENT_STORAGE', `the server's data disk has not ${asked} free for a volume`);
    this.name = 'VolumeNoDiskSpaceError';
  }
}

/** Thrown when an upload fills its volume (ENOSPC): what fitted stays. */
export class VolumeFullError extends CodedError {
  constructor(name: string) {
    super('VOLUME_FULL', `volume '${name}' is full: the archive did not fit (ENOSPC)`);
    this.name = 'VolumeFullError';
  }
}

/** Thrown when a download names a path its volume has not. */
export class VolumePathNotFoundError extends CodedError {
  constructor(name: string, path: string) {
    super('VOLUME_PATH_NOT_FOUND', `volume '${name}' has nothing at ${path}`);
    this.name = 'VolumePathNotFoundError';
  }
}

/** Thrown when tar refuses an uploaded archive: not a tar, or an entry it could not unpack. */
export class ArchiveRejectedError extends CodedError {
  constructor(reason: string) {
    super('ARCHIVE_REJECTED', `the archive was not unpacked whole: ${reason}`);
    this.name = 'ArchiveRejectedError';
  }
}

/** Thrown by the job state machine on a transition it does not allow: a bug, not bad input. */
export class InvalidStateTransitionError extends CodedError {
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string) {
    super('INVALID_STATE_TRANSITION', `invalid job state transition ${from} -> ${to}`);
    this.name = 'InvalidStateTransitionError';
    this.from = from;
    this.to = to;
  }
}

/**
 * Thrown when a job's command is not a program on the PATH it was looked up in (or not a file at
 * all): the usual first mistake is a whole shell line as `command`.
 */
export class CommandNotFoundError extends CodedError {
  constructor(command: string, path: string) {
    super('COMMAND_NOT_FOUND', `command not found: ${command} (PATH=${path})`, {
      details: [{ field: 'command', message: `not found on PATH=${path}` }],
    });
    this.name = 'CommandNotFoundError';
  }
}

/**
 * Thrown when a job's command was found but could not be run: not executable, permission denied,
 * a `cwd` that does not exist. `reason` is the system's, as the supervisor reported it.
 */
export class CommandCannotRunError extends CodedError {
  constructor(reason: string) {
    super('COMMAND_CANNOT_RUN', reason);
    this.name = 'CommandCannotRunError';
  }
}

/** Thrown when the supervisor of a job could not be started at all (not the job's own failure). */
export class LaunchFailedError extends CodedError {
  constructor(message: string, cause?: unknown) {
    super('LAUNCH_FAILED', message, { cause });
    this.name = 'LaunchFailedError';
  }
}

/** Answered when no route has the request's path (the router found nothing to run). */
export class NoRouteError extends CodedError {
  constructor(method: string, path: string) {
    super('NOT_FOUND', `no route for ${method} ${path}`);
    this.name = 'NoRouteError';
  }
}

/** Answered when a path exists but not with the request's method; `allow` lists those it has. */
export class MethodNotAllowedError extends CodedError {
  /** The `Allow` header's value (RFC 9110), as the router gives it. */
  readonly allow: string;

  constructor(method: string, path: string, allow: string) {
    super('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
    this.name = 'MethodNotAllowedError';
    this.allow = allow;
  }
}

/** Thrown when a client certificate does not name a client and role the server knows, or expired. */
export class UnauthenticatedError extends CodedError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
    this.name = 'UnauthenticatedError';
  }
}

/** Thrown when the server's identity policy disables a client whose certificate is valid. */
export class ClientDisabledError extends CodedError {
  constructor(name: string) {
    super('CLIENT_DISABLED', `client ${name} is disabled by the server's identity policy`);
    this.name = 'ClientDisabledError';
  }
}

/** Thrown for a request a browser made from another site's page (api/middleware/cross-site.ts). */
export class CrossSiteRequestError extends CodedError {
  constructor(method: string, reason: string) {
    super('CROSS_SITE_REQUEST', `refused a ${method} from ${reason}`);
    this.name = 'CrossSiteRequestError';
  }
}

/** Thrown when a client is over its request rate; `retryAfterSeconds` is when its bucket refills. */
export class TooManyRequestsError extends CodedError {
  declare readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('TOO_MANY_REQUESTS', message, { retryAfterSeconds });
    this.name = 'TooManyRequestsError';
  }
}

/** Thrown when a client already holds as many output streams open as one client may. */
export class TooManyFollowersError extends CodedError {
  constructor(client: string, open: number) {
    super(
      'TOO_MANY_FOLLOWERS',
      `client '${client}' already has ${open} output streams open, the most one client may; ` +
        'close one (or read without ?follow) and try again',
    );
    this.name = 'TooManyFollowersError';
  }
}

/** Thrown when a plain request comes where only a WebSocket is answered. */
export class UpgradeRequiredError extends CodedError {
  constructor(message: string) {
    super('UPGRADE_REQUIRED', message);
    this.name = 'UpgradeRequiredError';
  }
}
