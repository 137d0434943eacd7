// Parses the human forms users type for sizes ("64M", "1.5GiB") and durations ("30s", "5m"),
// as docker and kubectl accept them. Plain numbers are bytes and seconds.

/** The most bytes a size may name (1 PiB): far above any host, far below what JSON numbers lose. */
export const MAX_SIZE_BYTES = 2 ** 50;

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  '': 1000,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** The written forms of a size and of a duration that parseSize and parseDuration take. */
export const SIZE_TEXT = /^\s*\d+(\.\d+)?\s*([bB]|[kKmMgGtT]([iI]?[bB])?)?\s*$/;
export const DURATION_TEXT = /^\s*\d+(\.\d+)?\s*([mM][sS]|[sSmMhHdD])?\s*$/;

/** Bytes, or undefined when the text is not a size. */
export function parseSize(value: number | string): number | undefined {
  return parseQuantity(value, SIZE_UNITS);
}

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(value: number | string): number | undefined {
  return parseQuantity(value, DURATION_UNITS, 1000);
}

function parseQuantity(
  value: number | string,
  units: Readonly<Record<string, number>>,
  plainNumberScale = 1,
): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * plainNumberScale) : undefined;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const scale = match === null ? undefined : units[(match[2] ?? '').toLowerCase()];
  if (match === null || scale === undefined) return undefined;
  return Math.round(Number(match[1]) * scale);
}

export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

/** A size for people to read, to a tenth of its unit: `31.9 MiB`, `58.6 KiB`, `512 bytes`. */
export function roughBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) return `${(bytes / size).toFixed(1).replace(/\.0$/, '')} ${unit}`;
  }
  return `${bytes} bytes`;
}
