// `--since` of `ps` and `logs`: a time as the API takes it (RFC 3339 with its zone), or a time ago
// such as 10m that jobctl turns into one, as docker and kubectl accept both.
import { UsageError } from './errors.ts';

const AGO_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** The RFC 3339 time `text` names, for the option `option`, with `now` for a time ago. */
export function sinceTime(option: string, text: string, now: Date): string {
  const ago = /^([0-9]+)([smhd])$/.exec(text);
  if (ago?.[1] !== undefined && ago[2] !== undefined) {
    const since = new Date(now.getTime() - Number(ago[1]) * (AGO_UNITS[ago[2]] ?? 0));
    // Further back than a Date reaches (99999999d): everything is that recent.
    return Number.isNaN(since.getTime()) ? new Date(0).toISOString() : since.toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return text;
  throw new UsageError(
    `${option} expects an ISO 8601 time with its zone (2026-11-30T08:00:00Z) or a time ago (10m, 2h, 7d), not '${text}'`,
  );
}
