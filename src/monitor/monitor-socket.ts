/**
 * The human monitor on a socket (-monitor unix:PATH,server=on / tcp:HOST:PORT,server=on, or
 * -mon chardev=ID with a socket -chardev): each connection gets a session of its own, greeting
 * first. As QEMU's socket chardev, a server serves one client at a time: a client that
 * connects meanwhile waits, connected but unanswered, until the one before it has gone. A
 * client socket (server=off) connects once, before the guest starts.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TsvisorError } from '../errors.js';
import type { SocketAddress } from '../qemu/invocation.js';
import { HumanMonitor, type HumanMonitorOptions } from './human-monitor.js';

export interface MonitorSocketOptions extends Omit<HumanMonitorOptions, 'write' | 'onQuit'> {
  /** What the option was, for errors: "-monitor unix:/tmp/m,server=on". */
  readonly option: string;
}

export interface MonitorSocket {
  /** With a server and wait=on: resolves once the first client is connected; at once otherwise. */
  readonly firstClient: Promise<void>;
  /** Where it listens (for tcp port 0, the port the system chose). */
  readonly address: SocketAddress;
  close(): Promise<void>;
}

export async function startMonitorSocket(address: SocketAddress, server: boolean, options: MonitorSocketOptions): Promise<MonitorSocket> {
  return server ? listen(address, options) : connectOut(address, options);
}

async function listen(address: SocketAddress, options: MonitorSocketOptions): Promise<MonitorSocket> {
  if (address.kind === 'unix') removeStaleSocket(address.path, options.option);
  const waiting: Socket[] = [];
  let current: Socket | undefined;
  let connected!: () => void;
  const firstClient = new Promise<void>((resolve) => (connected = resolve));
  const serveNext = () => {
    current = waiting.shift();
    if (current) serve(current, options, serveNext);
  };
  const listener: Server = createServer((socket) => {
    connected();
    socket.on('error', () => {}); // a client that goes away mid-reply: 'close' follows
    waiting.push(socket);
    socket.once('close', () => {
      const index = waiting.indexOf(socket);
      if (index >= 0) waiting.splice(index, 1);
    });
    if (!current) serveNext();
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) => reject(new TsvisorError(`${options.option}: cannot listen there: ${error.code ?? error.message}. Choose another address.`)));
    if (address.kind === 'unix') listener.listen(address.path, resolve);
    else listener.listen(address.port, address.host, resolve);
  });
  const bound = listener.address();
  return {
    firstClient,
    address: address.kind === 'tcp' && bound !== null && typeof bound === 'object' ? { ...address, port: bound.port } : address,
    close: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of [current, ...waiting]) socket?.end();
      await closed;
    },
  };
}

async function connectOut(address: SocketAddress, options: MonitorSocketOptions): Promise<MonitorSocket> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const socket = address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const where = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
      reject(new TsvisorError(`${options.option}: Failed to connect to '${where}': ${error.code === 'ECONNREFUSED' ? 'Connection refused' : error.code === 'ENOENT' ? 'No such file or directory' : (error.code ?? error.message)}`));
    });
  });
  socket.on('error', () => {});
  serve(socket, options, () => {});
  return { firstClient: Promise.resolve(), address, close: async () => void socket.end() };
}

/** One session on `socket`, until the client goes or quits; then `done`. */
function serve(socket: Socket, options: MonitorSocketOptions, done: () => void): void {
  const monitor = new HumanMonitor({
    ...options,
    write: (text) => void (socket.writable && socket.write(text, 'latin1')),
    onQuit: () => socket.end(),
  });
  socket.on('data', (bytes: Buffer) => monitor.input(bytes));
  socket.once('close', done);
  monitor.greet();
}

function removeStaleSocket(path: string, option: string): void {
  try {
    if (!lstatSync(path).isSocket()) throw new TsvisorError(`${option}: a file that is not a socket is at ${path}. Remove it, or give another path.`);
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
