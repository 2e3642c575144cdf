/**
 * socket,server=off (QEMU's default): COM1 over a connection tsvisor makes before the VM
 * starts; a server nobody runs is QEMU's "Failed to connect to ...", before any vCPU runs.
 * When the server closes the connection, the guest's output is dropped from then on (tsvisor,
 * as QEMU without reconnect=, does not connect again).
 */
import type { Socket } from 'node:net';
import type { OutputWriter } from '../host/output-writer.js';
import type { SocketAddress } from '../qemu/invocation.js';
import type { CharBackend } from './char-backend.js';
import { ClientWriter } from './client-writer.js';
import { InputFeed } from './input-feed.js';
import { addressText, connectTo, tcpEnds } from './socket-address.js';

export async function openSocketClientBackend(address: SocketAddress): Promise<CharBackend> {
  return new SocketClientBackend(address, await connectTo(address));
}

class SocketClientBackend implements CharBackend {
  readonly writer: OutputWriter;
  private readonly feed = new InputFeed();
  private connected = true;
  private closed = false;

  constructor(
    private readonly address: SocketAddress,
    private readonly socket: Socket,
  ) {
    const writer = new ClientWriter();
    writer.attach(socket);
    this.writer = writer;
    const disconnected = () => {
      if (!this.connected) return;
      this.connected = false;
      this.feed.detach();
      writer.detach();
      socket.destroy();
    };
    socket.on('error', disconnected).on('end', disconnected).on('close', disconnected);
    if (socket.remoteFamily !== undefined) socket.setNoDelay(true);
    this.feed.attach(socket);
  }

  get input(): NodeJS.ReadableStream {
    return this.feed.stream;
  }

  /** QEMU's: "unix:" (a client's unix socket has no name of its own), "tcp:127.0.0.1:50000 <-> 127.0.0.1:4444", "disconnected:tcp:localhost:4444". */
  get filename(): string {
    if (!this.connected) return `disconnected:${addressText(this.address)}`;
    if (this.address.kind === 'unix') return 'unix:';
    return tcpEnds(this.socket, `tcp:${this.socket.localAddress ?? ''}:${this.socket.localPort ?? ''}`);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    this.socket.destroy();
    this.writer.close();
    this.feed.close();
  }
}
