// The error of a setting that cannot be used or a config file that cannot be read, and how a
// setting is named in one: by its flag and its variable, since either may have set it.
import { SETTINGS, type SettingName } from './settings.ts';

/**
 * A setting that cannot be used, or a config file that cannot be read. `setting` and `problem`
 * are set when one setting's value is at fault, so the error can say where that value came from.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly setting: SettingName | undefined;
  readonly problem: string | undefined;
  constructor(message: string, setting?: SettingName, problem?: string) {
    super(message);
    this.name = 'ConfigError';
    this.setting = setting;
    this.problem = problem;
  }
}

/** A value of one setting that is wrong: "--port (PORT) must be ...". */
export function settingError(name: SettingName, problem: string): ConfigError {
  return new ConfigError(`${settingName(name)} ${problem}`, name, problem);
}

export function settingName(name: SettingName): string {
  return `--${SETTINGS[name].flag} (${SETTINGS[name].env})`;
}
