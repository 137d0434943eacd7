// What is running, for `jobworker_build_info`: the package's version and Node's, so a dashboard
// can show which hosts an upgrade has reached and an alert can tell a regression from a release.
import { VERSION } from '../version.ts';

export interface BuildInfo {
  readonly version: string;
  readonly node: string;
}

/** The release (package.json's version, through src/version.ts) and the Node.js running it. */
export function buildInfo(): BuildInfo {
  return { version: VERSION, node: process.versions.node };
}
