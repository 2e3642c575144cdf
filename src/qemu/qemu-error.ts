/**
 * A QEMU command line tsvisor cannot act on, in QEMU's form: `<program>: <option>: <what>`.
 * QEMU prefixes its messages with its program name (the basename of argv[0]); tsvisor's
 * QEMU front end always writes `tsvisor-qemu`, however it was started (`tsvisor-qemu` or
 * `tsvisor qemu`), so that a harness matching on the prefix sees one name. Every such
 * error ends the process with status 1, as QEMU's do.
 */
import { TsvisorError } from '../errors.js';

export const PROGRAM = 'tsvisor-qemu';
/** QEMU's status for every error. */
export const QEMU_ERROR_STATUS = 1;

export class QemuError extends TsvisorError {
  override name = 'QemuError';

  /** `option`: the option as written ("-m foo"), which QEMU puts first; undefined for a message about the whole command line. */
  constructor(
    readonly option: string | undefined,
    readonly problem: string,
  ) {
    super(option === undefined ? problem : `${option}: ${problem}`, QEMU_ERROR_STATUS);
  }
}
