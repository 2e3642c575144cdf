/**
 * socket,server=on: COM1 on a listening socket, one client at a time as QEMU has it. The
 * socket listens before the VM starts; with wait=on (QEMU's default for a server) the VM
 * starts once the first client has connected. While a client is connected the guest's output
 * goes to it, at the pace it reads; while none is, the output is dropped, so that the guest
 * never waits for a client. A client that connects while another has the console is held,
 * unread (QEMU leaves it in the listen backlog), and gets the console when the one before it
 * leaves; a client that leaves harms nothing.
 */
import { unlinkSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { SocketAddress } from '../qemu/invocation.js';
import type { CharBackend, CharBackendHooks } from './char-backend.js';
import { ClientWriter } from './client-writer.js';
import { InputFeed } from './input-feed.js';
import { addressText, listenOn, tcpEnds } from './socket-address.js';

export async function openSocketServerBackend(address: SocketAddress, wait: boolean, hooks: CharBackendHooks): Promise<CharBackend> {
  const { server, bound } = await listenOn(address);
  const backend = new SocketServerBackend(server, bound, wait);
  if (wait) hooks.info(`QEMU waiting for connection on: ${backend.filename}`);
  return backend;
}

class SocketServerBackend implements CharBackend {
  readonly writer: ClientWriter;
  private readonly feed = new InputFeed();
  private client: Socket | undefined;
  private readonly waitingClients: Socket[] = [];
  private firstClient!: () => void;
  private readonly connected = new Promise<void>((resolve) => (this.firstClient = resolve));
  private closed = false;

  constructor(
    private readonly server: Server,
    private readonly address: SocketAddress,
    private readonly wait: boolean,
  ) {
    this.writer = new ClientWriter();
    server.on('connection', (socket: Socket) => {
      if (!this.client) {
        this.take(socket);
        return;
      }
      // Held unread; one that fails meanwhile is skipped when its turn comes.
      socket.on('error', () => socket.destroy());
      this.waitingClients.push(socket);
    });
  }

  get input(): NodeJS.ReadableStream {
    return this.feed.stream;
  }

  /** QEMU's: "disconnected:unix:/tmp/s,server=on", "unix:/tmp/s,server=on", "tcp:127.0.0.1:4444,server=on <-> 127.0.0.1:50000". */
  get filename(): string {
    const listening = `${addressText(this.address)},server=on`;
    if (!this.client) return `disconnected:${listening}`;
    return this.address.kind === 'unix' ? listening : tcpEnds(this.client, listening);
  }

  ready(): Promise<void> {
    return this.wait ? this.connected : Promise.resolve();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    if (this.address.kind === 'unix') unlinkQuietly(this.address.path);
    for (const socket of [this.client, ...this.waitingClients]) socket?.destroy();
    this.writer.close();
    this.feed.close();
  }

  /** Gives the console to `socket`: its bytes are the guest's input, the guest's output goes to it. */
  private take(socket: Socket): void {
    this.client = socket;
    if (socket.remoteFamily !== undefined) socket.setNoDelay(true);
    const leave = () => {
      if (this.client !== socket) return;
      this.client = undefined;
      this.feed.detach();
      this.writer.detach();
      socket.destroy();
      let next = this.waitingClients.shift();
      while (next?.destroyed) next = this.waitingClients.shift();
      if (next && !this.closed) this.take(next);
    };
    socket.on('error', leave).on('end', leave).on('close', leave);
    this.writer.attach(socket);
    this.feed.attach(socket);
    socket.resume();
    this.firstClient();
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
