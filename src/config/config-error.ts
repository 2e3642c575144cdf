/** A problem in a config file, located by file:line:column and key path, with a fix. */
import { ExitStatus, TsvisorError } from '../errors.js';
import type { SourceLocation } from './toml-locations.js';

export class ConfigError extends TsvisorError {
  override name = 'ConfigError';

  constructor(
    readonly file: string,
    readonly location: SourceLocation | undefined,
    readonly keyPath: string | undefined,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${formatPlace(file, location, keyPath)} ${problem} ${fix}`, ExitStatus.badInput);
  }
}

/** "configs/vm.toml:12:5: kernel.memory_regions[1][2]:" */
export function formatPlace(file: string, location: SourceLocation | undefined, keyPath: string | undefined): string {
  const where = location ? `${file}:${location.line}:${location.column}` : file;
  return keyPath ? `${where}: ${keyPath}:` : `${where}:`;
}
