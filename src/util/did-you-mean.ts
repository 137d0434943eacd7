// The known name a mistyped one was most likely meant to be, for "did you mean" in errors.

/**
 * The candidate nearest to `name` by edit distance, if near enough to be a slip (a quarter of
 * its length, at least two edits); undefined otherwise. Case and `_` against `-` are no edits.
 */
export function nearest(name: string, candidates: readonly string[]): string | undefined {
  const wanted = normalised(name);
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, normalised(candidate));
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  const allowed = Math.max(2, Math.floor(wanted.length / 4));
  return best !== undefined && best.distance <= allowed ? best.candidate : undefined;
}

function normalised(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/** Levenshtein's distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
