import type { Socket } from 'node:net';
import { StreamWriter, type OutputWriter } from '../host/output-writer.js';

/**
 * The guest's output to a socket's connected peer, or dropped while there is none: a drain
 * waiting on a peer that leaves goes on at once, dropping, so the guest never waits for a
 * connection that is gone.
 */
export class ClientWriter implements OutputWriter {
  private current: StreamWriter | undefined;
  private waiting: (() => void) | undefined;

  attach(socket: Socket): void {
    this.current = new StreamWriter(socket);
  }

  /** The peer left: a drain waiting on it goes on, dropping. */
  detach(): void {
    this.current?.close();
    this.current = undefined;
    const ready = this.waiting;
    this.waiting = undefined;
    if (ready) setImmediate(ready);
  }

  write(bytes: Uint8Array): number {
    return this.current ? this.current.write(bytes) : bytes.length;
  }

  whenWritable(ready: () => void): void {
    if (!this.current) {
      setImmediate(ready);
      return;
    }
    this.waiting = ready;
    this.current.whenWritable(() => {
      if (this.waiting !== ready) return;
      this.waiting = undefined;
      ready();
    });
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
    this.waiting = undefined;
  }
}
