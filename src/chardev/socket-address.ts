/**
 * Listening on and connecting to a chardev's socket address, with QEMU 7.2's messages, and
 * the address as QEMU's query-chardev writes it: a tcp host resolved as QEMU resolves it
 * (localhost is 127.0.0.1, no host is 0.0.0.0), a unix path as given.
 */
import { lookup } from 'node:dns/promises';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { SocketAddress } from '../qemu/invocation.js';
import { ChardevOpenError, strerrorOf } from './chardev-open-error.js';

/** The address as QEMU's query-chardev names it, without ",server=on". */
export function addressText(address: SocketAddress): string {
  return address.kind === 'unix' ? `unix:${address.path}` : `tcp:${address.host}:${address.port}`;
}

/**
 * A server listening on `address`, taking no connection yet (the caller's 'connection'
 * handler does). A unix socket left by an earlier run is replaced, as QEMU unlinks the path
 * before it binds; unlike QEMU, a file that is not a socket is left alone and the bind fails.
 * Resolves with the server and its address as bound (a tcp host resolved, port 0 chosen).
 */
export async function listenOn(address: SocketAddress): Promise<{ server: Server; bound: SocketAddress }> {
  const server = createServer({ pauseOnConnect: true });
  if (address.kind === 'unix') {
    removeStaleSocket(address.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new ChardevOpenError(`Failed to bind socket to ${address.path}: ${strerrorOf(bindErrorOf(error, address.path))}`)));
      server.listen(address.path, resolve);
    });
    return { server, bound: address };
  }
  const host = address.host === '' ? '0.0.0.0' : await resolveHost(address.host, address.port);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new ChardevOpenError(`Failed to find an available port: ${strerrorOf(error)}`)));
    server.listen(address.port, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return { server, bound: { kind: 'tcp', host, port } };
}

/** A connected socket to `address`, or QEMU's "Failed to connect to '<address>': <why>". */
export function connectTo(address: SocketAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      const target = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
      reject(new ChardevOpenError(`Failed to connect to '${target}': ${strerrorOf(error)}`));
    });
  });
}

/** A connected tcp socket's ends as QEMU writes them: "LOCAL:PORT <-> PEER:PORT". */
export function tcpEnds(socket: Socket, local: string): string {
  return `${local} <-> ${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`;
}

/** The IPv4 address first, as QEMU's getaddrinfo order gives it. */
async function resolveHost(host: string, port: number): Promise<string> {
  try {
    return (await lookup(host, { verbatim: false })).address;
  } catch {
    throw new ChardevOpenError(`address resolution failed for ${host}:${port}: Name or service not known`);
  }
}

/** libuv reports a unix bind's ENOENT as EACCES (as Windows would say it): the folder missing is ENOENT again, as bind(2) says and QEMU prints. */
function bindErrorOf(error: NodeJS.ErrnoException, path: string): NodeJS.ErrnoException {
  return error.code === 'EACCES' && !existsSync(dirname(path)) ? Object.assign(new Error(error.message), { code: 'ENOENT' }) : error;
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there: the bind creates it.
  }
}
