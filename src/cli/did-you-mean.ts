// "did you mean": the known name nearest to what was typed, as git and kubectl suggest one, when
// it is at most two edits away (Levenshtein distance, a swap of two neighbours counted as one edit
// as typists make it: `rnu` is one from `run`); none when two are equally near.

const MAX_EDITS = 2;

/** The one candidate within two edits of `typed`, nearest first; undefined if none or a tie. */
export function nearest(typed: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_EDITS + 1;
  let tie = false;
  for (const candidate of candidates) {
    const distance = editDistance(typed, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      tie = false;
    } else if (distance === bestDistance) {
      tie = true;
    }
  }
  return best !== undefined && !tie ? best : undefined;
}

/** `; did you mean 'X'?`, or nothing. */
export function suggestion(typed: string, candidates: Iterable<string>): string {
  const match = nearest(typed, candidates);
  return match === undefined ? '' : `; did you mean '${match}'?`;
}

/** Insertions, deletions, substitutions and swaps of neighbours that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      let distance = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, (before[j - 2] ?? 0) + 1);
      }
      current.push(distance);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}
