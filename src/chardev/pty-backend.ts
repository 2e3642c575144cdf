/**
 * pty: COM1 on a new pseudo-terminal, as QEMU's pty backend: tsvisor holds the master, prints
 * the slave's path ("char device redirected to /dev/pts/N (label serial0)", on stdout as QEMU
 * 7.2 prints it), and a program such as screen or minicom opens the slave.
 *
 * Output: written to the master without ever blocking the main thread. While no program has
 * the slave open (the master shows POLLHUP), the guest's output waits, as in QEMU 7.2
 * (compared with the bench guest: QEMU's guest printed nothing and did not end until a
 * program opened the slave, late, and then it got every byte; the same with the slave opened
 * and closed first): nothing is written, and the writer looks every RECONNECT_POLL_MS for a
 * program to have opened it.
 *
 * Input: read from the master through a tty stream on a duplicate of it. Reading fails with
 * EIO once the slave's last holder closed it; the reader is then given up and a new one
 * made when the slave is open again, looked for as often.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { describeErrno } from '../host/errno.js';
import { dup, errno, fcntl, ioctlBuffer, F_GETFL, F_SETFL, grantpt, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDWR, poll, posixOpenpt, ptsname, unlockpt } from '../host/libc.js';
import { ownNonBlockingWriter, type OutputWriter } from '../host/output-writer.js';
import type { CharBackend, CharBackendHooks } from './char-backend.js';
import { ChardevOpenError } from './chardev-open-error.js';
import { InputFeed } from './input-feed.js';
import { makeRaw } from './terminal-mode.js';

const POLLHUP = 0x10;
const RECONNECT_POLL_MS = 200;
const FIONREAD = 0x541b;
const DRAIN_LIMIT_MS = 500;
const DRAIN_POLL_MS = 5;

export function openPtyBackend(label: string, hooks: CharBackendHooks): CharBackend {
  const master = posixOpenpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) throw new ChardevOpenError(`Failed to create PTY: ${describeErrno(errno())}`);
  const slavePath = grantpt(master) === 0 && unlockpt(master) === 0 ? ptsname(master) : null;
  if (slavePath === null || fcntl(master, F_SETFL, fcntl(master, F_GETFL, 0) | O_NONBLOCK) < 0) {
    const problem = describeErrno(errno());
    closeSync(master);
    throw new ChardevOpenError(`Failed to create PTY: ${problem}`);
  }
  // Raw, as QEMU makes its pty: the guest's bytes reach the program on the slave unchanged, and are not echoed back as
  // input. Opened and closed once, as QEMU's openpty does: the master then shows POLLHUP until a program opens the slave.
  try {
    const slave = openSync(slavePath, constants.O_RDWR | constants.O_NOCTTY);
    try {
      makeRaw(slave);
    } finally {
      closeSync(slave);
    }
  } catch (error) {
    closeSync(master);
    throw new ChardevOpenError(`Failed to create PTY: ${error instanceof Error ? error.message : String(error)}`);
  }
  hooks.print(`char device redirected to ${slavePath} (label ${label})`);
  return new PtyBackend(master, slavePath);
}

class PtyBackend implements CharBackend {
  readonly filename: string;
  readonly writer: OutputWriter;
  private readonly feed = new InputFeed();
  private reader: ReadStream | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private writerWait: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly master: number,
    slavePath: string,
  ) {
    this.filename = `pty:${slavePath}`;
    const masterWriter = ownNonBlockingWriter(master);
    this.writer = {
      write: (bytes) => (this.slaveClosed() ? 0 : masterWriter.write(bytes)),
      // A closed slave makes the master always "ready": its reopening is looked for instead.
      whenWritable: (ready) => (this.slaveClosed() ? this.whenSlaveOpen(ready) : masterWriter.whenWritable(ready)),
      close: () => {
        clearInterval(this.writerWait);
        masterWriter.close();
      },
    };
    this.startReader();
  }

  get input(): NodeJS.ReadableStream {
    return this.feed.stream;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reconnect);
    this.reader?.destroy();
    this.writer.close();
    this.feed.close();
    this.letSlaveReadTheRest();
    closeSync(this.master);
  }

  /**
   * Closing the master hangs the slave up, and the kernel then discards what the program on
   * it has not read yet: the last lines the guest printed before it ended. So while a program
   * has the slave open and bytes wait in its input queue (FIONREAD on a descriptor of the
   * slave), the close waits for it to read them, DRAIN_LIMIT_MS at most. Only at the end of a
   * run, so the main thread may sleep.
   */
  private letSlaveReadTheRest(): void {
    if (this.slaveClosed()) return;
    let slave: number;
    try {
      slave = openSync(this.filename.slice('pty:'.length), constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch {
      return;
    }
    const pending = new Int32Array(1);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + DRAIN_LIMIT_MS;
    while (Date.now() < deadline && ioctlBuffer(slave, FIONREAD, new Uint8Array(pending.buffer)) === 0 && pending[0]! > 0) {
      Atomics.wait(sleeper, 0, 0, DRAIN_POLL_MS);
    }
    closeSync(slave);
  }

  /** Whether a program had the slave open and has closed it (POLLHUP on the master). */
  private slaveClosed(): boolean {
    const pollfd = new Uint8Array(8);
    const view = new DataView(pollfd.buffer);
    view.setInt32(0, this.master, true);
    view.setInt16(4, 0, true);
    return poll(pollfd, 1, 0) > 0 && (view.getInt16(6, true) & POLLHUP) !== 0;
  }

  /** Calls `ready` once a program has the slave open again. */
  private whenSlaveOpen(ready: () => void): void {
    clearInterval(this.writerWait);
    this.writerWait = setInterval(() => {
      if (this.slaveClosed()) return;
      clearInterval(this.writerWait);
      ready();
    }, RECONNECT_POLL_MS);
  }

  private startReader(): void {
    const fd = dup(this.master);
    if (fd < 0) return;
    const reader = new ReadStream(fd);
    this.reader = reader;
    this.feed.attach(reader);
    // EIO (an error, or an end): the slave's last holder closed it. Read again once a program has it open.
    reader.on('error', () => reader.destroy());
    reader.once('close', () => {
      this.feed.detach();
      this.reader = undefined;
      if (this.closed) return;
      this.reconnect = setInterval(() => {
        if (this.slaveClosed()) return;
        clearInterval(this.reconnect);
        this.startReader();
      }, RECONNECT_POLL_MS);
    });
  }
}
