import { ExitStatus, TsvisorError } from '../errors.js';

/** A command line tsvisor cannot act on. */
export class UsageError extends TsvisorError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, ExitStatus.badInput);
  }
}
