/**
 * FIFOs (named pipes) for tests of a full output. They live in /dev/shm where there is one:
 * in the test VM, /tmp is this machine's over virtio-9p, which cannot make a FIFO (ENXIO).
 */
import { execFileSync } from 'node:child_process';
import { constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Fifo {
  /** The read end, non-blocking. */
  readonly reader: number;
  /** The write end (blocking, as a shell's pipe is). */
  readonly writer: number;
}

/** A folder for FIFOs, and its removal. */
export function fifoFolder(prefix: string): { readonly path: string; readonly remove: () => void } {
  const path = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A new FIFO at `path`, opened at both ends: the reader first, so that opening the writer does
 * not wait. One a test's earlier attempt left there (a retry) is made anew.
 */
export function openFifo(path: string): Fifo {
  rmSync(path, { force: true });
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY);
  return { reader, writer };
}
