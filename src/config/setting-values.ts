// The checks of one setting's value: an integer in a range, a size, a duration, one of a list, a
// cgroup path, a syslog target. Each names the setting and what it expected when a value is wrong.
import { join, resolve } from 'node:path';
import { parseDuration, parseSize } from '../util/quantities.ts';
import { settingError } from './config-error.ts';
import type { SettingName } from './settings.ts';

export function integer(name: SettingName, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw settingError(name, `must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

export function positiveNumber(name: SettingName, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw settingError(name, `must be a positive number, got '${text}'`);
  }
  return value;
}

export function duration(name: SettingName, text: string): number {
  const value = parseDuration(text);
  if (value === undefined)
    throw settingError(name, `must be a duration such as 5s or 7d, got '${text}'`);
  return value;
}

export function positiveDuration(name: SettingName, text: string): number {
  const value = duration(name, text);
  if (value === 0) throw settingError(name, `must be longer than 0, got '${text}'`);
  return value;
}

export function size(name: SettingName, text: string, zeroAllowed = false): number {
  const value = parseSize(text);
  if (value === undefined || (!zeroAllowed && value === 0)) {
    throw settingError(name, `must be a size such as 512MiB, got '${text}'`);
  }
  return value;
}

/**
 * A cgroup's path below the hierarchy's root, as /proc/self/cgroup gives it; undefined when not
 * set. No empty, `.` or `..` segment: it is joined to the mount point and must stay below it.
 */
export function cgroupPath(name: SettingName, text: string): string | undefined {
  if (text === '') return undefined;
  const segments = text.split('/').slice(1);
  if (!text.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw settingError(
      name,
      'must be a cgroup below the root as /proc/self/cgroup names it, ' +
        `such as /system.slice/jobworker-jobs.service, got '${text.slice(0, 100)}'`,
    );
  }
  return text;
}

export function oneOf<T extends string>(name: SettingName, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw settingError(name, `must be one of ${allowed.join(', ')}, got '${text}'`);
  }
  return text as T;
}

/** `tls://HOST:PORT` and the CA to check the collector with; undefined when not set. */
export function syslogTarget(
  text: string,
  caFile: string,
  certsDir: string,
  queueBytes: () => number,
): { url: URL; caFile: string; queueBytes: number } | undefined {
  if (text === '') return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw settingError('syslog', `must be tls://HOST:PORT, got '${text.slice(0, 100)}'`);
  }
  if (url.protocol !== 'tls:' || url.hostname === '' || url.port === '' || url.pathname !== '') {
    throw settingError('syslog', `must be tls://HOST:PORT, got '${text.slice(0, 100)}'`);
  }
  return { url, caFile: resolve(caFile || join(certsDir, 'ca.pem')), queueBytes: queueBytes() };
}
