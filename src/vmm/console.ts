/**
 * The host side of the guest's serial console: output to a file descriptor (the terminal,
 * or a file), input from another (the terminal).
 *
 * Input is polled: the vCPU loop runs on this thread, so nothing else can read the
 * terminal while the guest runs. The loop calls pumpInput() every so many exits; a
 * non-blocking poll(2) tells whether bytes wait, and what the UART cannot take yet is
 * kept for the next call, so no byte is dropped.
 */
import { writeSync } from 'node:fs';
import type { ByteSink } from '../devices/bus-device.js';
import type { Uart16550 } from '../devices/uart16550.js';
import { Errno } from '../host/errno.js';
import * as libc from '../host/libc.js';

const POLLOUT = 0x4;

export interface SerialConsole extends ByteSink {
  /** Offers waiting host input to the UART. */
  pumpInput(uart: Uart16550): void;
}

export class HostConsole implements SerialConsole {
  private pending: Uint8Array = new Uint8Array(0);
  private inputEnded: boolean;
  private readonly pollFds = new Uint8Array(8); // struct pollfd { int fd; short events; short revents; }
  private readonly readBuffer = new Uint8Array(256);

  constructor(
    private readonly outputFd: number,
    private readonly inputFd: number | undefined,
  ) {
    this.inputEnded = inputFd === undefined;
  }

  write(bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.length) {
      try {
        written += writeSync(this.outputFd, bytes, written, bytes.length - written);
      } catch (error) {
        // A non-blocking pipe that is full: wait until it drains.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        this.waitFor(this.outputFd, POLLOUT, -1);
      }
    }
  }

  pumpInput(uart: Uart16550): void {
    if (uart.receiveRoom === 0) return;
    if (this.pending.length === 0 && !this.inputEnded && this.waitFor(this.inputFd as number, libc.POLLIN, 0)) {
      const count = libc.read(this.inputFd as number, this.readBuffer, this.readBuffer.length);
      if (count > 0) this.pending = this.readBuffer.slice(0, count);
      else if (count === 0 || libc.errno() !== Errno.EAGAIN) this.inputEnded = true; // end of input, or an error
    }
    if (this.pending.length > 0) this.pending = this.pending.subarray(uart.receive(this.pending));
  }

  private waitFor(fd: number, events: number, timeoutMs: number): boolean {
    const view = new DataView(this.pollFds.buffer);
    view.setInt32(0, fd, true);
    view.setInt16(4, events, true);
    view.setInt16(6, 0, true);
    return libc.poll(this.pollFds, 1, timeoutMs) > 0;
  }
}
