// The signed head of the audit log: a statement of how long the log is (its last sequence number
// and that record's hash), kept beside it so that cutting records off the end is as detectable
// as editing one. The log writes it; the verifier checks the log against it.

/** The signed statement of how long the log is, rewritten after every append. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string | null;
}

export function auditHeadPath(logPath: string): string {
  return `${logPath}.head`;
}
