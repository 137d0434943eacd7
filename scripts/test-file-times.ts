// A node:test reporter for scripts/run-tests.ts: one line of JSON per test file as it ends, with
// its path, how long it ran and whether it passed, so that the runner can print the slowest
// files after every round has ended. node:test's own per-file summary is its source: the time
// is the file's own process's, from its start to its end.
import type { TestEvent } from 'node:test/reporters';

/** What the runner reads back, one per file. */
export interface FileTime {
  readonly file: string;
  readonly ms: number;
  readonly ok: boolean;
}

export default async function* fileTimes(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<string, void> {
  for await (const event of source) {
    // The run's own summary, over every file, names none.
    if (event.type !== 'test:summary' || event.data.file === undefined) continue;
    const time: FileTime = {
      file: event.data.file,
      ms: event.data.duration_ms,
      ok: event.data.success,
    };
    yield `${JSON.stringify(time)}\n`;
  }
}
