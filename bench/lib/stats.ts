// Summaries of repeated measurements. The README quotes medians and 99th percentiles; min, max and
// the count sit beside them so a reader can judge how stable a figure is on a noisy machine.

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * The nearest-rank percentile of sorted samples: the smallest sample with at least p% of the
 * samples at or below it. It never interpolates, so a p99 is always a latency that was observed.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** Collects samples under names, in the order the names were first used. */
export class Samples {
  readonly #byName = new Map<string, number[]>();

  add(name: string, value: number): void {
    let list = this.#byName.get(name);
    if (list === undefined) {
      list = [];
      this.#byName.set(name, list);
    }
    list.push(value);
  }

  summary(name: string): Summary {
    return summarize(this.#byName.get(name) ?? []);
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  all(): Record<string, Summary> {
    return Object.fromEntries(this.names().map((name) => [name, this.summary(name)]));
  }
}

/**
 * Runs each variant once per round, `rounds` times, in a new random order every round. Noise on a
 * shared machine (another engineer's test run, a page-cache flush) then lands on every variant
 * alike instead of on whichever one happened to run during it, and no variant always runs right
 * after the same other one: some kernel costs depend on what ran just before (a cgroup move is
 * cheap right after another one, see scenarios/isolation-cost.ts).
 */
export async function interleave<T extends string>(
  rounds: number,
  variants: readonly T[],
  run: (variant: T, round: number) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const variant of shuffled(variants)) await run(variant, round);
  }
}

/** A copy in random order (Fisher–Yates). */
export function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}
