/**
 * One QMP client's connection: bytes to messages (lexer, streamer, parser), messages to the
 * server's queue in order, replies and events back as JSON lines ("\r\n", as QEMU ends them).
 *
 * Memory stays bounded whatever the client does: a message is bounded by the streamer's limits;
 * like QEMU (monitor/qmp.c, QMP_REQ_QUEUE_LEN_MAX), the connection stops reading while 8 of its
 * requests wait, and also while its unsent output is large (a client that sends but never
 * reads). A client that goes away drops its requests that have not started; one that has
 * started runs to its end, its reply dropped.
 */
import type { Socket } from 'node:net';
import { formatJson } from './json-format.js';
import { JsonLexer } from './json-lexer.js';
import { JsonParseError, parseMessage } from './json-parser.js';
import { JsonStreamer, QEMU_LIMITS, type StreamerLimits, type StreamedMessage } from './json-streamer.js';
import type { JsonValue } from './json-value.js';

/** What a connection hands its server: a message, or the desc of the error QEMU answers for it. */
export type Incoming = { readonly message: JsonValue } | { readonly error: string };

export interface ConnectionLimits extends StreamerLimits {
  /** Requests that may wait before the connection stops reading. */
  readonly queuedRequests: number;
  /** Bytes of unsent output beyond which the connection stops reading. */
  readonly unsentBytes: number;
}

/** How long tsvisor, as it ends, waits for a client that reads nothing to take its last replies. */
const CLOSE_GRACE_MS = 2000;

export const DEFAULT_LIMITS: ConnectionLimits = { ...QEMU_LIMITS, queuedRequests: 8, unsentBytes: 1 << 20 };

export class QmpConnection {
  /** After qmp_capabilities: commands are accepted, and events are sent. */
  negotiated = false;
  outOfBandEnabled = false;
  closed = false;
  private queued = 0;
  private readonly lexer: JsonLexer;
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly schedule: (connection: QmpConnection, incoming: Incoming) => Promise<void>,
    private readonly limits: ConnectionLimits = DEFAULT_LIMITS,
  ) {
    const streamer = new JsonStreamer((message) => this.receive(message), limits);
    this.lexer = new JsonLexer((token) => streamer.token(token.kind, token.text), limits.tokenBytes);
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.lexer.feed(chunk));
    socket.on('drain', () => this.readIfAllowed());
    // A client that resets the connection is gone; 'close' follows.
    socket.on('error', () => {});
    socket.once('close', () => {
      this.closed = true;
    });
  }

  send(value: JsonValue): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(`${formatJson(value)}\r\n`);
    if (this.socket.writableLength > this.limits.unsentBytes) this.socket.pause();
  }

  /**
   * Ends the connection once what was written has gone out to the system, without waiting for
   * the client to close its side, nor longer than CLOSE_GRACE_MS for a client that reads nothing.
   */
  close(): Promise<void> {
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.socket.end(() => this.socket.destroy());
    return this.closedPromise.then(() => clearTimeout(timer));
  }

  private receive(streamed: StreamedMessage): void {
    let incoming: Incoming;
    if ('error' in streamed) {
      incoming = streamed;
    } else {
      try {
        incoming = { message: parseMessage(streamed.tokens) };
      } catch (error) {
        if (!(error instanceof JsonParseError)) throw error;
        incoming = { error: error.message };
      }
    }
    this.queued++;
    if (this.queued >= this.limits.queuedRequests) this.socket.pause();
    void this.schedule(this, incoming).then(() => {
      this.queued--;
      this.readIfAllowed();
    });
  }

  private readIfAllowed(): void {
    if (!this.closed && this.queued < this.limits.queuedRequests && this.socket.writableLength <= this.limits.unsentBytes) this.socket.resume();
  }
}
