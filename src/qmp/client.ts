/**
 * A QMP client: connects to a QMP server (tsvisor's or QEMU's), reads its greeting, negotiates
 * capabilities, then runs commands one at a time. Replies are read with the same JSON code as
 * the server's, so that integers come back exactly as the server wrote them.
 */
import { connect, type Socket } from 'node:net';
import { TsvisorError } from '../errors.js';
import { formatJson } from './json-format.js';
import { JsonLexer } from './json-lexer.js';
import { JsonParseError, parseMessage } from './json-parser.js';
import { JsonStreamer } from './json-streamer.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json-value.js';

export type QmpAddress = { readonly transport: 'unix'; readonly path: string } | { readonly transport: 'tcp'; readonly host: string; readonly port: number };

export type QmpReply = { readonly return: JsonValue } | { readonly error: { readonly class: string; readonly desc: string } };

export class QmpClientError extends TsvisorError {
  override name = 'QmpClientError';
}

/** How long a server may take to greet: a socket that is not QMP's must not hang the client. */
const GREETING_TIMEOUT_MS = 10_000;

export class QmpClient {
  private readonly messages: JsonObject[] = [];
  /** The command in flight: the next one waits for its reply. */
  private pending: Promise<unknown> = Promise.resolve();
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly where: string,
    /** Called with each event the server sends. */
    private readonly onEvent: (event: JsonObject) => void,
  ) {
    const streamer = new JsonStreamer((streamed) => {
      let message: JsonValue;
      try {
        if ('error' in streamed) throw new JsonParseError(streamed.error);
        message = parseMessage(streamed.tokens);
      } catch (error) {
        this.fail(new QmpClientError(`${where} sent something that is not QMP (${(error as Error).message}). Is it a QMP socket?`));
        return;
      }
      if (!isJsonObject(message)) return this.fail(new QmpClientError(`${where} sent ${formatJson(message)}, which is not a QMP message. Is it a QMP socket?`));
      if (message.has('event')) this.onEvent(message);
      else this.messages.push(message);
      this.wake();
    });
    const lexer = new JsonLexer((token) => streamer.token(token.kind, token.text));
    socket.on('data', (chunk: Buffer) => lexer.feed(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(new QmpClientError(`the connection to ${where} failed: ${error.code ?? error.message}.`)));
    socket.on('close', () => this.fail(new QmpClientError(`${where} closed the connection before it answered.`)));
  }

  /** Connects, reads the greeting and negotiates; `onEvent` sees the events that come after. */
  static async connect(address: QmpAddress, onEvent: (event: JsonObject) => void = () => {}): Promise<QmpClient> {
    const where = address.transport === 'unix' ? `the QMP socket ${address.path}` : `the QMP server at ${address.host}:${address.port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const socket = address.transport === 'unix' ? connect(address.path) : connect(address.port, address.host);
      socket.once('connect', () => resolve(socket));
      socket.once('error', (error: NodeJS.ErrnoException) =>
        reject(new QmpClientError(`cannot connect to ${where}: ${error.code ?? error.message}. Start the VM with a QMP server there first (tsvisor run --qmp unix:PATH,server=on,wait=off, or QEMU's -qmp), and check the address.`)),
      );
    });
    const client = new QmpClient(socket, where, onEvent);
    const timer = setTimeout(() => client.fail(new QmpClientError(`${where} sent no QMP greeting within ${GREETING_TIMEOUT_MS / 1000} s. Is it a QMP socket?`)), GREETING_TIMEOUT_MS);
    try {
      const greeting = await client.next();
      if (!greeting.has('QMP')) throw new QmpClientError(`${where} did not greet as a QMP server does (it sent ${formatJson(greeting)}). Is it a QMP socket?`);
    } finally {
      clearTimeout(timer);
    }
    const negotiated = await client.execute('qmp_capabilities');
    if ('error' in negotiated) throw new QmpClientError(`${where} refused capabilities negotiation: ${negotiated.error.class}: ${negotiated.error.desc}`);
    return client;
  }

  /** Runs one command and gives its reply. */
  /** Sends one command and returns its reply; commands sent before it have their replies first (QMP answers in order). */
  execute(command: string, args?: JsonObject): Promise<QmpReply> {
    const reply = this.pending.then(() => this.executeNow(command, args));
    this.pending = reply.catch(() => {});
    return reply;
  }

  private async executeNow(command: string, args?: JsonObject): Promise<QmpReply> {
    const request = new Map<string, JsonValue>([['execute', command]]);
    if (args) request.set('arguments', args);
    this.socket.write(`${formatJson(request)}\n`);
    const reply = await this.next();
    if (reply.has('return')) return { return: reply.get('return') as JsonValue };
    const error = reply.get('error');
    if (isJsonObject(error)) return { error: { class: String(error.get('class')), desc: String(error.get('desc')) } };
    throw new QmpClientError(`${this.where} answered with ${formatJson(reply)}, which is neither a return nor an error.`);
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }

  private async next(): Promise<JsonObject> {
    for (;;) {
      const message = this.messages.shift();
      if (message) return message;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.socket.destroy();
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
