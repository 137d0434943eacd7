// `jobctl logs --tail N`: where the last N lines of a job's output begin, found from the end. The
// API skips bytes (`offset`) but does not count lines, so jobctl reads a window before the end
// (64 KiB, doubled until it holds N line ends or reaches the start) and counts them there: the
// tail of a large output costs about the tail, never the whole output.
import type { ApiClient } from './http-client.ts';

const FIRST_WINDOW_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** The offset, into both streams as the job wrote them, at which the last `lines` lines start. */
export async function tailOffset(
  client: ApiClient,
  jobId: string,
  lines: number,
  outputBytes: number,
): Promise<number> {
  let window = FIRST_WINDOW_BYTES;
  for (;;) {
    const start = Math.max(0, outputBytes - window);
    const bytes = await readRange(client, jobId, start, outputBytes - start);
    const found = startOfLastLines(bytes, lines);
    if (found !== undefined) return start + found;
    if (start === 0) return 0;
    window *= 2;
  }
}

/** Where the last `lines` lines of `bytes` begin; undefined if they may begin before it. */
export function startOfLastLines(bytes: Buffer, lines: number): number | undefined {
  // A last line without its newline is a line all the same; a final newline starts none.
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === NEWLINE) end -= 1;
  let seen = 0;
  for (let index = end - 1; index >= 0; index -= 1) {
    if (bytes[index] !== NEWLINE) continue;
    seen += 1;
    if (seen === lines) return index + 1;
  }
  return undefined;
}

async function readRange(
  client: ApiClient,
  jobId: string,
  offset: number,
  length: number,
): Promise<Buffer> {
  const query = new URLSearchParams({ stream: 'all', offset: String(offset) });
  const response = await client.open(
    'GET',
    `/v1/jobs/${jobId}/output?${query.toString()}`,
    undefined,
    {
      accept: 'application/octet-stream',
    },
  );
  const chunks: Buffer[] = [];
  let read = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    read += buffer.length;
    // Output written since the record was read is not the tail's concern.
    if (read >= length) {
      response.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, length);
}
