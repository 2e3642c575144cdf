/**
 * pty: COM1 on a new pseudo-terminal, as QEMU's pty backend: tsvisor holds the master, prints
 * the slave's path ("char device redirected to /dev/pts/N (label serial0)", on stdout as QEMU
 * 7.2 prints it), and a program such as screen or minicom opens the slave.
 *
 * Output: written to the master without blocking. Until a program opens the slave, the
 * kernel keeps what the guest prints (some kilobytes: the prompt is there when one does);
 * while the slave is closed again after that (the master sees POLLHUP), output is dropped, as
 * QEMU drops it while its pty is disconnected, so the guest never waits for a reader that left.
 *
 * Input: read from the master through a tty stream on a duplicate of it. Reading fails with
 * EIO once the slave's last holder closed it; the reader is then given up and a new one
 * made when the slave is open again (the master no longer shows POLLHUP), checked every
 * RECONNECT_POLL_MS as QEMU polls.
 */
import { closeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { describeErrno } from '../host/errno.js';
import { dup, errno, fcntl, F_GETFL, F_SETFL, grantpt, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDWR, poll, posixOpenpt, ptsname, unlockpt } from '../host/libc.js';
import { ownNonBlockingWriter, type OutputWriter } from '../host/output-writer.js';
import type { CharBackend, CharBackendHooks } from './char-backend.js';
import { ChardevOpenError } from './chardev-open-error.js';
import { InputFeed } from './input-feed.js';
import { makeRaw } from './terminal-mode.js';

const POLLHUP = 0x10;
const RECONNECT_POLL_MS = 200;

export function openPtyBackend(label: string, hooks: CharBackendHooks): CharBackend {
  const master = posixOpenpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) throw new ChardevOpenError(`Failed to create PTY: ${describeErrno(errno())}`);
  const slavePath = grantpt(master) === 0 && unlockpt(master) === 0 ? ptsname(master) : null;
  if (slavePath === null || fcntl(master, F_SETFL, fcntl(master, F_GETFL, 0) | O_NONBLOCK) < 0) {
    const problem = describeErrno(errno());
    closeSync(master);
    throw new ChardevOpenError(`Failed to create PTY: ${problem}`);
  }
  // Raw, as QEMU makes its pty: the guest's bytes reach the program on the slave unchanged, and are not echoed back as input.
  makeRaw(master);
  hooks.print(`char device redirected to ${slavePath} (label ${label})`);
  return new PtyBackend(master, slavePath);
}

class PtyBackend implements CharBackend {
  readonly filename: string;
  readonly writer: OutputWriter;
  private readonly feed = new InputFeed();
  private reader: ReadStream | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly master: number,
    slavePath: string,
  ) {
    this.filename = `pty:${slavePath}`;
    const masterWriter = ownNonBlockingWriter(master);
    this.writer = {
      write: (bytes) => (this.slaveClosed() ? bytes.length : masterWriter.write(bytes)),
      whenWritable: (ready) => masterWriter.whenWritable(ready),
      close: () => masterWriter.close(),
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
    closeSync(this.master);
  }

  /** Whether a program had the slave open and has closed it (POLLHUP on the master). */
  private slaveClosed(): boolean {
    const pollfd = new Uint8Array(8);
    const view = new DataView(pollfd.buffer);
    view.setInt32(0, this.master, true);
    view.setInt16(4, 0, true);
    return poll(pollfd, 1, 0) > 0 && (view.getInt16(6, true) & POLLHUP) !== 0;
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
