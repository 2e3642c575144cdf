/**
 * QMP's JSON streamer: groups the lexer's tokens into messages (qobject/json-streamer.c, as
 * measured against QEMU 7.2). A message ends when its braces and brackets balance, or as soon as
 * either count goes below zero (a stray '}' is a message of its own, which the parser refuses);
 * the two are counted apart, so "{[}" waits for a ']'. An error token is a message of its own,
 * and drops whatever the message before it held.
 *
 * QEMU's limits bound what one message may cost; past one of them the message is dropped with
 * QEMU's error, and the tokens after it start a new one:
 * - 64 MiB of token text ("JSON token size limit exceeded"),
 * - 2 Mi tokens ("JSON token count limit exceeded"),
 * - 1024 open braces and brackets ("JSON nesting depth limit exceeded").
 * The tokens are held as their bytes plus five bytes each (kind and end offset), so a message
 * at the limits costs some 75 MiB, as in QEMU.
 */
import { GrowableBytes } from './growable-bytes.js';
import { MAX_TOKEN_BYTES, type TokenKind } from './json-lexer.js';

export interface StreamerLimits {
  readonly tokenBytes: number;
  readonly tokenCount: number;
  readonly nesting: number;
}

export const QEMU_LIMITS: StreamerLimits = { tokenBytes: MAX_TOKEN_BYTES, tokenCount: 2 << 20, nesting: 1024 };

const KINDS: readonly TokenKind[] = ['{', '}', '[', ']', ':', ',', 'string', 'integer', 'float', 'keyword', 'error', 'overlong'];

/** The tokens of one message: kinds and texts, by index. */
export class TokenList {
  private kinds = new Uint8Array(64);
  private ends = new Uint32Array(64);
  readonly text = new GrowableBytes();
  count = 0;

  push(kind: TokenKind, text: Uint8Array): void {
    if (this.count === this.kinds.length) {
      const kinds = new Uint8Array(this.count * 2);
      kinds.set(this.kinds);
      this.kinds = kinds;
      const ends = new Uint32Array(this.count * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.text.append(text);
    this.kinds[this.count] = KINDS.indexOf(kind);
    this.ends[this.count++] = this.text.length;
  }

  kind(index: number): TokenKind | undefined {
    return index < this.count ? KINDS[this.kinds[index] as number] : undefined;
  }

  bytes(index: number): Uint8Array {
    return this.text.view(index === 0 ? 0 : this.ends[index - 1], this.ends[index]);
  }

  clear(): void {
    this.count = 0;
    this.text.clear();
    if (this.kinds.length > 4096) {
      this.kinds = new Uint8Array(64);
      this.ends = new Uint32Array(64);
    }
  }
}

export type StreamedMessage = { readonly tokens: TokenList } | { readonly error: string };

export class JsonStreamer {
  private readonly tokens = new TokenList();
  private braces = 0;
  private brackets = 0;

  /** `onMessage` may not keep the token list beyond the call: it is reused. */
  constructor(
    private readonly onMessage: (message: StreamedMessage) => void,
    private readonly limits: StreamerLimits = QEMU_LIMITS,
  ) {}

  token(kind: TokenKind, text: Uint8Array): void {
    if (kind === 'error') {
      this.reset();
      this.tokens.push(kind, text);
      this.emit();
      return;
    }
    if (kind === '{') this.braces++;
    else if (kind === '}') this.braces--;
    else if (kind === '[') this.brackets++;
    else if (kind === ']') this.brackets--;

    if (kind === 'overlong' || this.tokens.text.length + text.length > this.limits.tokenBytes) return this.fail('JSON token size limit exceeded');
    if (this.tokens.count + 1 > this.limits.tokenCount) return this.fail('JSON token count limit exceeded');
    if (this.braces + this.brackets > this.limits.nesting) return this.fail('JSON nesting depth limit exceeded');
    this.tokens.push(kind, text);
    if (this.braces < 0 || this.brackets < 0 || (this.braces === 0 && this.brackets === 0)) this.emit();
  }

  private fail(error: string): void {
    this.reset();
    this.onMessage({ error });
  }

  private emit(): void {
    this.onMessage({ tokens: this.tokens });
    this.reset();
  }

  private reset(): void {
    this.tokens.clear();
    this.braces = 0;
    this.brackets = 0;
  }
}
