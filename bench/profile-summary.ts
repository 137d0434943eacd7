// Summarises a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof`) as text: the
// functions with the most self time and the most total time. Enough to find where a missed goal's
// time goes without opening a profiler UI.
//   node bench/profile-summary.ts FILE.cpuprofile [TOP_SELF] [TOP_TOTAL]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}

interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
  readonly startTime: number;
  readonly endTime: number;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file}${url === '' ? '' : `:${lineNumber + 1}`}`;
}

export function summarizeProfile(profile: Profile, topSelf = 25, topTotal = 40): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const selfById = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, micros] of selfById) {
    const node = byId.get(id);
    if (node === undefined) continue;
    self.set(label(node), (self.get(label(node)) ?? 0) + micros);
    // Each function counts once per sample, however often it recurs on the stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (frame === undefined) break;
      const name = label(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + micros);
    }
  }
  const top = (map: Map<string, number>, count: number): string =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, micros]) => `${(micros / 1000).toFixed(1).padStart(10)} ms  ${name}`)
      .join('\n');
  return [
    `profile: ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms`,
    '--- self time',
    top(self, topSelf),
    '--- total time (including callees)',
    top(total, topTotal),
  ].join('\n');
}

if (import.meta.main) {
  const [file, topSelf, topTotal] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write(
      'usage: node bench/profile-summary.ts FILE.cpuprofile [TOP_SELF] [TOP_TOTAL]\n',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  process.stdout.write(
    `${summarizeProfile(profile, Number(topSelf ?? 25), Number(topTotal ?? 40))}\n`,
  );
}
