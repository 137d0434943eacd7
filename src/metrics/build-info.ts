// What is running, for `jobworker_build_info`: the package's version and Node's, so a dashboard
// can show which hosts an upgrade has reached and an alert can tell a regression from a release.
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  readonly version: string;
  readonly node: string;
}

/** Read once at start from the package.json the server runs from: the version's one place. */
export function buildInfo(): BuildInfo {
  const manifest: unknown = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  );
  const version =
    typeof manifest === 'object' && manifest !== null && 'version' in manifest
      ? String(manifest.version)
      : 'unknown';
  return { version, node: process.versions.node };
}
