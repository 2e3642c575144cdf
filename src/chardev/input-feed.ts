/**
 * A backend's one input stream, fed by one source at a time: a socket server's successive
 * clients, a pty's successive readers. The source is paused while the stream is full (the
 * guest not reading), so backpressure reaches the client; a source that ends or is detached
 * leaves the stream open for the next one.
 */
import { PassThrough } from 'node:stream';

export class InputFeed {
  readonly stream = new PassThrough();
  private source: NodeJS.ReadableStream | undefined;
  private readonly onData = (chunk: Buffer) => {
    if (!this.stream.write(chunk)) this.source?.pause();
  };
  private readonly onDrain = () => this.source?.resume();

  constructor() {
    this.stream.on('drain', this.onDrain);
  }

  /** Makes `source` the one that feeds the stream, in place of any before it. */
  attach(source: NodeJS.ReadableStream): void {
    this.detach();
    this.source = source;
    source.on('data', this.onData);
  }

  /** Stops taking from the current source, if any. */
  detach(): void {
    this.source?.removeListener('data', this.onData);
    this.source = undefined;
  }

  /** Ends the stream for good. */
  close(): void {
    this.detach();
    this.stream.removeListener('drain', this.onDrain);
    this.stream.end();
  }
}
