/**
 * startQmpServer: the QMP server on its socket. A server socket takes any number of clients at
 * once; a client socket (server=off, as QEMU's default) connects once to a QMP server. A unix
 * socket's file is replaced when a socket is there already (QEMU unlinks the path before it
 * binds) and removed when the server closes.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TsvisorError } from '../errors.js';
import { endpointFilename, type QmpEndpoint } from './endpoint.js';
import type { QmpMachine } from './machine.js';
import { QmpServer, type QmpServerOptions } from './server.js';

export interface QmpService {
  readonly server: QmpServer;
  /** Resolves once the first client is connected (the client socket: once it has connected). */
  readonly firstClient: Promise<void>;
  /** Where clients connect: for tcp:HOST:0, the port the system chose. */
  readonly endpoint: QmpEndpoint;
  /** Stops listening, ends every connection once its output is out, removes a unix socket's file. */
  close(): Promise<void>;
}

export async function startQmpServer(endpoint: QmpEndpoint, machine: QmpMachine, options: QmpServerOptions): Promise<QmpService> {
  const server = new QmpServer(machine, options);
  return endpoint.server ? listen(endpoint, server) : connectOut(endpoint, server);
}

async function listen(endpoint: QmpEndpoint, server: QmpServer): Promise<QmpService> {
  if (endpoint.transport === 'unix') removeStaleSocket(endpoint.path);
  let connected!: () => void;
  const firstClient = new Promise<void>((resolve) => (connected = resolve));
  const listener: Server = createServer((socket) => {
    server.attach(socket);
    connected();
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) => reject(new TsvisorError(`--qmp ${endpointFilename(endpoint)}: cannot listen there: ${error.code ?? error.message}. ${listenHint(endpoint, error)}`)));
    if (endpoint.transport === 'unix') listener.listen(endpoint.path, resolve);
    else listener.listen(endpoint.port, endpoint.host === '' ? undefined : endpoint.host, resolve);
  });
  const address = listener.address();
  const bound: QmpEndpoint = endpoint.transport === 'tcp' && address !== null && typeof address === 'object' ? { ...endpoint, port: address.port } : endpoint;
  return {
    server,
    firstClient,
    endpoint: bound,
    close: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      await server.close();
      await closed;
    },
  };
}

async function connectOut(endpoint: QmpEndpoint, server: QmpServer): Promise<QmpService> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const socket = endpoint.transport === 'unix' ? connect(endpoint.path) : connect(endpoint.port, endpoint.host);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      reject(new TsvisorError(`--qmp ${endpointFilename(endpoint)}: cannot connect to a QMP client there: ${error.code ?? error.message}. Start the program that listens there first, or add server=on to make tsvisor listen.`)),
    );
  });
  server.attach(socket);
  return { server, firstClient: Promise.resolve(), endpoint, close: () => server.close() };
}

function removeStaleSocket(path: string): void {
  try {
    if (!lstatSync(path).isSocket()) throw new TsvisorError(`--qmp unix:${path}: a file that is not a socket is there. Remove it, or give another path.`);
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function listenHint(endpoint: QmpEndpoint, error: NodeJS.ErrnoException): string {
  if (error.code === 'EADDRINUSE') return 'Another program listens on that port: choose another.';
  if (error.code === 'EACCES') return endpoint.transport === 'unix' ? 'Choose a folder you may write to.' : 'Ports below 1024 need root: choose another.';
  if (error.code === 'ENOENT') return 'The folder does not exist: create it or choose another.';
  return 'Check the address.';
}
