/**
 * Where the main thread writes COM1's output (vmm/serial-output.ts): a descriptor written
 * without ever blocking the thread.
 *
 * A pipe, a socket or a terminal can stay full for as long as its reader likes (a pipe nobody
 * reads, a terminal stopped with Ctrl-S). Such an output is written in non-blocking mode: a
 * write takes what fits, and when nothing fits the caller waits in the event loop
 * (whenWritable, the shim's WritableWatch) instead of in write(2). O_NONBLOCK belongs to the
 * open file description, which stdout shares with the shell and often with stderr, so the
 * writer opens a description of its own through /proc/self/fd when it can (pipes, FIFOs,
 * terminals); a socket cannot be reopened, so its flag is set and put back on close().
 *
 * A regular file (--serial FILE) or a device such as /dev/null is never full: it is written
 * synchronously, as before.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { describeErrno } from './errno.js';
import { F_GETFL, F_SETFL, O_NONBLOCK, errno, fcntl } from './libc.js';
import { nativeShim, type WritableWatch } from './shim.js';

export interface OutputWriter {
  /** Writes what the output takes now, never waiting: the count, 0 when it is full. Throws the write's error when it fails (EPIPE, ...). */
  write(bytes: Uint8Array): number;
  /** Calls `ready` once, from the event loop, when the output may take bytes again. */
  whenWritable(ready: () => void): void;
  /** Stops any wait and gives back what the writer changed or opened; `fd` itself stays open. Idempotent. */
  close(): void;
}

/** A writer for `fd`, chosen by what the descriptor is. */
export function openOutputWriter(fd: number): OutputWriter {
  const stats = fstatSync(fd);
  if (stats.isFIFO() || stats.isSocket() || (stats.isCharacterDevice() && isatty(fd))) return new NonBlockingWriter(fd, reopenNonBlocking(fd));
  return new FileWriter(fd);
}

/**
 * A writer for a descriptor its caller opened itself, and in non-blocking mode: written as it
 * is. A pty's master must be: reopening it through /proc/self/fd would make a new pty.
 */
export function ownNonBlockingWriter(fd: number): OutputWriter {
  return new NonBlockingWriter(fd, undefined);
}

/**
 * A writer over a Node stream (a socket): a write hands the stream a copy of the bytes (the
 * caller's view is reused) unless the stream asks to be drained first, and then takes nothing
 * until 'drain'. What it holds is at most one write beyond the stream's high-water mark.
 */
export class StreamWriter implements OutputWriter {
  private waiting: (() => void) | undefined;
  private readonly onDrain = () => {
    const ready = this.waiting;
    this.waiting = undefined;
    ready?.();
  };

  constructor(private readonly stream: NodeJS.WritableStream & { readonly writableNeedDrain: boolean }) {
    stream.on('drain', this.onDrain);
  }

  write(bytes: Uint8Array): number {
    if (this.stream.writableNeedDrain) return 0;
    this.stream.write(Buffer.from(bytes));
    return bytes.length;
  }

  whenWritable(ready: () => void): void {
    if (this.stream.writableNeedDrain) this.waiting = ready;
    else setImmediate(ready);
  }

  close(): void {
    this.waiting = undefined;
    this.stream.removeListener('drain', this.onDrain);
  }
}

class FileWriter implements OutputWriter {
  constructor(private readonly fd: number) {}

  write(bytes: Uint8Array): number {
    return writeSync(this.fd, bytes);
  }

  whenWritable(ready: () => void): void {
    setImmediate(ready); // a file is never full: a short write is simply tried again
  }

  close(): void {}
}

class NonBlockingWriter implements OutputWriter {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  /** The flags to put back on a shared description, when the writer had to change them. */
  private readonly flagsToRestore: number | undefined;
  private readonly watch: WritableWatch;
  private closed = false;

  /** `own`: a descriptor of the writer's own for `target` (reopenNonBlocking), closed with it; undefined to write `target` itself. */
  constructor(target: number, own: number | undefined) {
    if (own !== undefined) {
      this.fd = own;
      this.ownsFd = true;
      this.flagsToRestore = undefined;
    } else {
      this.fd = target;
      this.ownsFd = false;
      const flags = fcntl(target, F_GETFL, 0);
      if (flags < 0) throw new Error(`fcntl(F_GETFL) on the serial output failed: ${describeErrno(errno())}`);
      if (!(flags & O_NONBLOCK) && fcntl(target, F_SETFL, flags | O_NONBLOCK) < 0) {
        throw new Error(`fcntl(F_SETFL, O_NONBLOCK) on the serial output failed: ${describeErrno(errno())}`);
      }
      this.flagsToRestore = flags & O_NONBLOCK ? undefined : flags;
    }
    this.watch = new (nativeShim().WritableWatch)(this.fd);
  }

  write(bytes: Uint8Array): number {
    try {
      return writeSync(this.fd, bytes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      throw error;
    }
  }

  whenWritable(ready: () => void): void {
    this.watch.arm(ready);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    if (this.ownsFd) closeSync(this.fd);
    else if (this.flagsToRestore !== undefined) fcntl(this.fd, F_SETFL, this.flagsToRestore);
  }
}

/** A new, non-blocking open file description of what `fd` refers to; undefined where that cannot be (a socket). */
function reopenNonBlocking(fd: number): number | undefined {
  try {
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}
