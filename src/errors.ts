/**
 * Errors a user can meet, and the exit statuses tsvisor ends with.
 *
 * Every failure a user can cause or meet is a TsvisorError: its message is one paragraph
 * that says what went wrong, where (file, key path, address, port, ioctl) and how to fix
 * it, and it carries the exit status the CLI ends with. Anything else that escapes is a
 * tsvisor bug.
 */

/** Exit statuses. Odd statuses belong to the guest: (code << 1) | 1 from the debug-exit port. */
export const ExitStatus = {
  /** The guest powered off. */
  ok: 0,
  /** Bad input: usage, config, image, or no access to KVM. */
  badInput: 2,
  /** The guest crashed or stopped without choosing a status (triple fault, emulation failure, ...). */
  guestFailure: 4,
  /** Writing to stdout or stderr failed: a full disk (ENOSPC), a closed pipe (EPIPE), ... (EX_IOERR). */
  outputFailed: 74,
  /** A bug in tsvisor (EX_SOFTWARE). */
  internal: 70,
  /** Stopped by SIGINT / SIGTERM (128 + the signal number). */
  interrupted: 130,
  terminated: 143,
} as const;

export class TsvisorError extends Error {
  override name = 'TsvisorError';
  constructor(
    message: string,
    readonly exitStatus: number = ExitStatus.badInput,
  ) {
    super(message);
  }
}

/** Formats a number as 0x-prefixed hex, the way addresses and ports are written in messages. */
export function hex(value: number | bigint, width = 0): string {
  return `0x${value.toString(16).padStart(width, '0')}`;
}
