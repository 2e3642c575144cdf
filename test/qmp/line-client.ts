/** A raw QMP client for tests: writes bytes, reads the server's lines ("\r\n"-terminated) one by one; "<EOF>" once the server has closed. */
import { connect, type Socket } from 'node:net';

export class LineClient {
  private pending = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  /** The server has closed the connection, and every line before has been read. */
  get ended(): boolean {
    return this.closed && this.lines.length === 0;
  }
  private closed = false;
  readonly socket: Socket;

  constructor(path: string) {
    this.socket = connect(path);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (text: string) => {
      this.pending += text;
      const lines = this.pending.split('\r\n');
      this.pending = lines.pop() as string;
      this.lines.push(...lines.map((line) => Buffer.from(line, 'latin1').toString('utf8')));
      this.wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  write(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  async line(): Promise<string> {
    while (this.lines.length === 0) {
      if (this.closed) return '<EOF>';
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.lines.shift() as string;
  }

  async lineCount(count: number): Promise<string[]> {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(await this.line());
    return lines;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
