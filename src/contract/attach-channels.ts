// The channels of GET /v1/jobs/{id}/attach, as kubectl's `v5.channel.k8s.io` numbers them: each
// WebSocket message starts with its channel. Plain data (no zod), so jobctl uses it at run time.

export const ATTACH_PROTOCOL = 'v5.channel.k8s.io';

export const CHANNEL = {
  /** Client to job: bytes for the job's input. */
  stdin: 0,
  /** Job to client: its stdout (a terminal's whole output). */
  stdout: 1,
  /** Job to client: its stderr (never for a terminal). */
  stderr: 2,
  /** Job to client: `AttachEnd` as JSON, once the job has ended; then the socket closes. */
  status: 3,
  /** Client to job: `{"Width": cols, "Height": rows}`, a new size of the job's terminal. */
  resize: 4,
  /** Client to job: followed by the byte 0, the end of the job's input (EOF). */
  close: 255,
} as const;

/** The last message of a session: how the job ended. */
export interface AttachEnd {
  readonly status: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
}
