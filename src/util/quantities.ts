// Parses the human forms users type for sizes ("64M", "1.5GiB", "512Mi") and durations ("30s",
// "5m"). Sizes are binary whatever their spelling, as docker documents `-m` (`k`, `m`, `g` with or
// without `b`, in either case), plus Kubernetes' `Ki`, `Mi`, `Gi` and the `KiB` forms: `MB` is
// 1024 ** 2 bytes, not 10 ** 6. Plain numbers are bytes and seconds. One parser for the server, its
// configuration and jobctl.

/** The most bytes a size may name (1 PiB): far above any host, far below what JSON numbers lose. */
export const MAX_SIZE_BYTES = 2 ** 50;

/** Powers of 1024 by unit letter; every spelling of a unit (`m`, `mb`, `Mi`, `MiB`) is binary. */
const SIZE_POWERS: Readonly<Record<string, number>> = { '': 0, k: 1, m: 2, g: 3, t: 4 };

/** A unit: a letter, then `b`, `i` or `ib` in either case; or `b` alone (bytes). */
const SIZE_UNIT = /^(?:([kmgt])(?:i?b?)?|b?)$/i;

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  '': 1000,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** The written forms of a size and of a duration that parseSize and parseDuration take. */
export const SIZE_TEXT = /^\s*\d+(\.\d+)?\s*([bB]|[kKmMgGtT][iI]?[bB]?)?\s*$/;
export const DURATION_TEXT = /^\s*\d+(\.\d+)?\s*([mM][sS]|[sSmMhHdD])?\s*$/;

/** Bytes, or undefined when the text is not a size. */
export function parseSize(value: number | string): number | undefined {
  if (typeof value === 'number') return parseQuantity(value, {});
  const written = splitSize(value);
  return written === undefined
    ? undefined
    : Math.round(written.amount * 1024 ** powerOf(written.unit));
}

/** The number and unit of a written size (`{ amount: 1.5, unit: 'Gi' }`), or undefined. */
function splitSize(text: string): { amount: number; unit: string } | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (match === null || !SIZE_UNIT.test(match[2] ?? '')) return undefined;
  return { amount: Number(match[1]), unit: match[2] ?? '' };
}

function powerOf(unit: string): number {
  return SIZE_POWERS[(SIZE_UNIT.exec(unit)?.[1] ?? '').toLowerCase()] ?? 0;
}

/**
 * A number of bytes written in the unit the user wrote `asWritten` in, so an error about their
 * `300Gi` names the ceiling as `4Gi`, not `4294967296` or `4GiB`: to two decimals where it is not
 * whole. A plain number, or bytes, gives bytes.
 */
export function formatBytesAs(bytes: number, asWritten: number | string): string {
  const unit = typeof asWritten === 'string' ? (splitSize(asWritten)?.unit ?? '') : '';
  const power = powerOf(unit);
  if (power === 0)
    return typeof asWritten === 'string' && unit !== '' ? `${bytes}${unit}` : String(bytes);
  const amount = bytes / 1024 ** power;
  return `${Number.isInteger(amount) ? amount : Number(amount.toFixed(2))}${unit}`;
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
