/**
 * Host input for the guest's COM1, on the main thread, which owns the terminal: bytes read
 * from the terminal (or a pipe) go into the UART's receive FIFO through its shared state.
 * What the FIFO cannot take yet waits here, with the stream paused, and is offered again a
 * few milliseconds later: no byte is dropped, and a guest that never reads costs nothing.
 */
import type { Uart16550 } from '../devices/uart16550.js';

const RETRY_MS = 5;

export class ConsoleInput {
  private pending: Uint8Array = new Uint8Array(0);
  private retry: NodeJS.Timeout | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pump();
  };

  constructor(
    private readonly uart: Uart16550,
    private readonly stream: NodeJS.ReadableStream,
  ) {
    stream.on('data', this.onData);
  }

  /** Stops reading; the stream is not read again. */
  close(): void {
    clearInterval(this.retry);
    this.stream.removeListener('data', this.onData);
    this.stream.pause();
  }

  private pump(): void {
    const taken = this.uart.receive(this.pending);
    this.pending = this.pending.subarray(taken);
    if (this.pending.length > 0) {
      this.stream.pause();
      this.retry ??= setInterval(() => this.pump(), RETRY_MS);
    } else {
      clearInterval(this.retry);
      this.retry = undefined;
      this.stream.resume();
    }
  }
}
