/**
 * Writing to stdout and stderr so that a failed write is reported as what it is: stdout
 * redirected to a full disk (ENOSPC), a pipe whose reader went away (EPIPE), a terminal that
 * hung up (EIO). Such a failure is the environment's, not a bug: an OutputError with status
 * 74 (ExitStatus.outputFailed), never 70 and a stack trace.
 */
import { writeSync } from 'node:fs';
import { ExitStatus, TsvisorError } from '../errors.js';
import { describeErrno } from '../host/errno.js';

const STREAM_NAMES: Readonly<Record<number, string>> = { 1: 'standard output', 2: 'standard error' };

export class OutputError extends TsvisorError {
  override name = 'OutputError';
  constructor(readonly stream: string, readonly code: string) {
    super(
      `cannot write to ${stream}: ${code}. ${
        code.startsWith('EPIPE') ? 'The program reading it stopped before tsvisor finished writing.' : `Free space on the disk it is written to, or send ${stream} elsewhere.`
      }`,
      ExitStatus.outputFailed,
    );
  }
}

/** A 1 ms pause, for a non-blocking stdout that is full (EAGAIN), without a busy loop. */
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text` to fd 1 or 2; an error of the write is an OutputError naming the stream. */
export function writeOutput(fd: 1 | 2, text: string | Uint8Array): void {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A terminal or pipe another process made non-blocking is full for a moment: wait, as a blocking write would.
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      throw outputErrorOf(error, STREAM_NAMES[fd] as string) ?? error;
    }
  }
}

/**
 * The OutputError for an error a write to an output raised (ENOSPC, EPIPE, EIO, EDQUOT,
 * EFBIG, EBADF), or undefined for any other error. `stream` names what was written.
 */
export function outputErrorOf(error: unknown, stream: string): OutputError | undefined {
  const { code, errno, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  if (syscall !== 'write' || code === undefined || !OUTPUT_ERRORS.has(code)) return undefined;
  return new OutputError(stream, errno === undefined ? code : describeErrno(-errno));
}

const OUTPUT_ERRORS = new Set(['ENOSPC', 'EPIPE', 'EIO', 'EDQUOT', 'EFBIG', 'EBADF']);
