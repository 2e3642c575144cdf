/**
 * QMP's JSON lexer: bytes in, tokens out, with QEMU's token boundaries (qobject/json-lexer.c,
 * behaviour measured against QEMU 7.2, test/qmp/qemu-transcripts.json), because a client sees
 * them in the errors it gets back:
 *
 * - strings in double or single quotes, any byte 0x20..0xFD inside (escapes and UTF-8 are the
 *   parser's to check); numbers in JSON's grammar ("01" is an error, "0x" is 0 then x); keywords
 *   are runs of a-z ("truex" is one token, which the parser refuses);
 * - a byte no token can take ends the token as an error token that includes the byte ("1.}" is
 *   one error token); the lexer then skips input until a byte where a new message may begin: a
 *   structural character ({ } [ ] : ,), a control character other than tab, or 0xFE/0xFF, which
 *   a client may send on purpose to resynchronise (docs/interop/qmp-spec.txt, "Forcing the JSON
 *   parser into known-good state");
 * - whitespace (space, tab, CR, LF) separates tokens and is dropped.
 *
 * A token that grows beyond `maxTokenBytes` is cut there and handed on as 'overlong' (the
 * streamer reports the limit), and lexing starts afresh with the next byte, as QEMU does: a
 * string that never ends costs bounded memory. The token passed to `onToken` is a view that is
 * only valid during the call.
 */
import { GrowableBytes } from './growable-bytes.js';

export type TokenKind = '{' | '}' | '[' | ']' | ':' | ',' | 'string' | 'integer' | 'float' | 'keyword' | 'error' | 'overlong';

export interface JsonToken {
  readonly kind: TokenKind;
  /** The token's bytes as sent (a string's with its quotes). */
  readonly text: Uint8Array;
}

const enum State {
  Start,
  Recovery,
  DoubleQuoted,
  DoubleQuotedEscape,
  SingleQuoted,
  SingleQuotedEscape,
  /** '-' read: a digit must follow. */
  Sign,
  /** '0' read: no digit may follow. */
  Zero,
  Digits,
  /** '.' read: a digit must follow. */
  Dot,
  Fraction,
  /** 'e' or 'E' read: a sign or a digit must follow. */
  Exponent,
  ExponentSign,
  ExponentDigits,
  Keyword,
}

const STRUCTURAL: Readonly<Record<number, TokenKind>> = { 0x7b: '{', 0x7d: '}', 0x5b: '[', 0x5d: ']', 0x3a: ':', 0x2c: ',' };
const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;
const isWhitespace = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
const isStringByte = (byte: number) => byte >= 0x20 && byte <= 0xfd;
/** Where the lexer stops skipping after an error. */
const endsRecovery = (byte: number) => (byte < 0x20 && byte !== 0x09) || byte >= 0xfe || STRUCTURAL[byte] !== undefined;

/** QEMU's limit on one token, and on the tokens of one message (qobject/json-streamer.c): 64 MiB. */
export const MAX_TOKEN_BYTES = 64 << 20;

export class JsonLexer {
  private state = State.Start;
  private readonly token = new GrowableBytes();

  constructor(
    private readonly onToken: (token: JsonToken) => void,
    private readonly maxTokenBytes = MAX_TOKEN_BYTES,
  ) {}

  feed(bytes: Uint8Array): void {
    for (const byte of bytes) this.feedByte(byte);
  }

  private feedByte(byte: number): void {
    for (;;) {
      const next = this.step(byte);
      if (next === 'again') continue;
      if (next === 'consumed' && this.token.length > this.maxTokenBytes) this.emit('overlong');
      return;
    }
  }

  /** Moves on by one byte: 'again' when the byte ended a token without being part of it and must be read once more. */
  private step(byte: number): 'consumed' | 'again' {
    switch (this.state) {
      case State.Start:
        return this.start(byte);
      case State.Recovery:
        if (!endsRecovery(byte)) return 'consumed';
        this.state = State.Start;
        return 'again';
      case State.DoubleQuoted:
      case State.SingleQuoted: {
        const quote = this.state === State.DoubleQuoted ? 0x22 : 0x27;
        if (byte === quote) return this.take(byte, 'string');
        if (byte === 0x5c) return this.advance(byte, this.state === State.DoubleQuoted ? State.DoubleQuotedEscape : State.SingleQuotedEscape);
        return isStringByte(byte) ? this.advance(byte, this.state) : this.fail(byte);
      }
      case State.DoubleQuotedEscape:
        return isStringByte(byte) ? this.advance(byte, State.DoubleQuoted) : this.fail(byte);
      case State.SingleQuotedEscape:
        return isStringByte(byte) ? this.advance(byte, State.SingleQuoted) : this.fail(byte);
      case State.Sign:
        return byte === 0x30 ? this.advance(byte, State.Zero) : isDigit(byte) ? this.advance(byte, State.Digits) : this.fail(byte);
      case State.Zero:
        if (isDigit(byte)) return this.fail(byte);
        return this.number(byte, 'integer');
      case State.Digits:
        return isDigit(byte) ? this.advance(byte, State.Digits) : this.number(byte, 'integer');
      case State.Dot:
        return isDigit(byte) ? this.advance(byte, State.Fraction) : this.fail(byte);
      case State.Fraction:
        return isDigit(byte) ? this.advance(byte, State.Fraction) : this.number(byte, 'float');
      case State.Exponent:
        if (byte === 0x2b || byte === 0x2d) return this.advance(byte, State.ExponentSign);
        return isDigit(byte) ? this.advance(byte, State.ExponentDigits) : this.fail(byte);
      case State.ExponentSign:
        return isDigit(byte) ? this.advance(byte, State.ExponentDigits) : this.fail(byte);
      case State.ExponentDigits:
        return isDigit(byte) ? this.advance(byte, State.ExponentDigits) : this.end('float');
      case State.Keyword:
        return byte >= 0x61 && byte <= 0x7a ? this.advance(byte, State.Keyword) : this.end('keyword');
    }
  }

  private start(byte: number): 'consumed' {
    const structural = STRUCTURAL[byte];
    if (structural) return this.take(byte, structural);
    if (isWhitespace(byte)) return 'consumed';
    if (byte === 0x22) return this.advance(byte, State.DoubleQuoted);
    if (byte === 0x27) return this.advance(byte, State.SingleQuoted);
    if (byte === 0x2d) return this.advance(byte, State.Sign);
    if (byte === 0x30) return this.advance(byte, State.Zero);
    if (isDigit(byte)) return this.advance(byte, State.Digits);
    if (byte >= 0x61 && byte <= 0x7a) return this.advance(byte, State.Keyword);
    return this.fail(byte);
  }

  /** After the digits of a number: a fraction, an exponent, or the end of the number. */
  private number(byte: number, kind: 'integer' | 'float'): 'consumed' | 'again' {
    if (byte === 0x2e && kind === 'integer') return this.advance(byte, State.Dot);
    if (byte === 0x65 || byte === 0x45) return this.advance(byte, State.Exponent);
    return this.end(kind);
  }

  private advance(byte: number, state: State): 'consumed' {
    this.token.push(byte);
    this.state = state;
    return 'consumed';
  }

  /** The byte completes a token. */
  private take(byte: number, kind: TokenKind): 'consumed' {
    this.token.push(byte);
    this.emit(kind);
    return 'consumed';
  }

  /** The byte ends the token before it, and starts whatever comes next. */
  private end(kind: TokenKind): 'again' {
    this.emit(kind);
    return 'again';
  }

  /** The byte cannot continue the token: both are an error token, and the lexer skips to a point it can start again. */
  private fail(byte: number): 'consumed' {
    this.token.push(byte);
    this.emit('error');
    return 'consumed';
  }

  private emit(kind: TokenKind): void {
    this.state = kind === 'error' ? State.Recovery : State.Start;
    this.onToken({ kind, text: this.token.view() });
    this.token.clear();
  }
}
