/** A problem in a config file, located by file:line:column and key path, with a fix. */
import { ExitStatus, TsvisorError } from '../errors.js';

export interface SourceLocation {
  readonly line: number;
  readonly column: number;
}

export class ConfigError extends TsvisorError {
  override name = 'ConfigError';

  constructor(
    readonly file: string,
    readonly location: SourceLocation | undefined,
    readonly keyPath: string | undefined,
    readonly problem: string,
    readonly fix: string,
  ) {
    const where = location ? `${file}:${location.line}:${location.column}` : file;
    const key = keyPath ? ` ${keyPath}:` : '';
    super(`${where}:${key} ${problem} ${fix}`, ExitStatus.badInput);
  }
}
