// Writes systemd/config.yaml again from src/config.ts's SETTINGS: every setting's help, variable
// and default as comments, keeping the file's header and the values it sets. Run it after adding
// or changing a setting (test/operations/config-example.test.ts fails until then).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleConfig, PROJECT_ROOT } from '../src/config.ts';
import { parseFlatYaml } from '../src/util/flat-yaml.ts';

export const EXAMPLE_CONFIG = join(PROJECT_ROOT, 'systemd', 'config.yaml');

/** The example as SETTINGS make it, with the header and values of `current`. */
export function regenerated(current: string): string {
  const header = current.slice(0, current.indexOf('\n\n') + 1);
  const values = new Map(parseFlatYaml(current).map(({ key, text }) => [key, text]));
  return exampleConfig(header, values);
}

if (import.meta.main) {
  writeFileSync(EXAMPLE_CONFIG, regenerated(readFileSync(EXAMPLE_CONFIG, 'utf8')));
}
