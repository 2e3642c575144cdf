/**
 * QMP's JSON parser: one message's tokens to a value, or QEMU's error for it
 * (qobject/json-parser.c, its messages as QEMU 7.2 gives them). Beyond JSON, as in QEMU:
 * strings may be in single quotes, "\'" is an escape, and "\xC0\x80" is U+0000. Integers keep
 * their exact value (a bigint) and other numbers are doubles (json-value.ts).
 */
import { JsonDouble, type JsonValue } from './json-value.js';
import type { TokenList } from './json-streamer.js';
import { decodeCodePoint, decodeLossy, isNoncharacter } from './utf8.js';

/** A message that is not JSON QEMU would take: `message` is the desc of QEMU's reply. */
export class JsonParseError extends Error {
  override name = 'JsonParseError';
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const SIMPLE_ESCAPES: Readonly<Record<number, string>> = { 0x22: '"', 0x27: "'", 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

export function parseMessage(tokens: TokenList): JsonValue {
  return new Parser(tokens).value();
}

class Parser {
  private next = 0;
  constructor(private readonly tokens: TokenList) {}

  value(): JsonValue {
    const index = this.next++;
    const kind = this.tokens.kind(index);
    const text = this.tokens.bytes(index);
    switch (kind) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case 'string':
        return parseString(text);
      case 'integer':
        return parseInteger(text);
      case 'float':
        return new JsonDouble(Number(Buffer.from(text).toString('latin1')));
      case 'keyword':
        return parseKeyword(Buffer.from(text).toString('latin1'));
      case 'error': {
        const nul = text.indexOf(0); // QEMU formats the token as a C string
        throw fail(`stray '${decodeLossy(nul < 0 ? text : text.subarray(0, nul))}'`);
      }
      default:
        throw fail('expecting value');
    }
  }

  private object(): Map<string, JsonValue> {
    const members = new Map<string, JsonValue>();
    if (this.tokens.kind(this.next) === '}') {
      this.next++;
      return members;
    }
    for (;;) {
      const key = this.value();
      if (typeof key !== 'string') throw fail('key is not a string in object');
      if (this.tokens.kind(this.next++) !== ':') throw fail('missing : in object pair');
      const member = this.value();
      if (members.has(key)) throw fail('duplicate key');
      members.set(key, member);
      const separator = this.tokens.kind(this.next++);
      if (separator === '}') return members;
      if (separator !== ',') throw fail('expected separator in dict');
    }
  }

  private array(): JsonValue[] {
    const items: JsonValue[] = [];
    if (this.tokens.kind(this.next) === ']') {
      this.next++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      const separator = this.tokens.kind(this.next++);
      if (separator === ']') return items;
      if (separator !== ',') throw fail('expected separator in list');
    }
  }
}

const fail = (what: string) => new JsonParseError(`JSON parse error, ${what}`);

function parseKeyword(word: string): JsonValue {
  if (word === 'true') return true;
  if (word === 'false') return false;
  if (word === 'null') return null;
  throw fail(`invalid keyword '${word}'`);
}

/** An integer is kept exactly when it fits int64 or uint64, as QEMU does; beyond, it is a double. */
function parseInteger(text: Uint8Array): JsonValue {
  const digits = Buffer.from(text).toString('latin1');
  const value = BigInt(digits);
  return value >= INT64_MIN && value <= UINT64_MAX ? value : new JsonDouble(Number(digits));
}

function parseString(token: Uint8Array): string {
  const body = token.subarray(1, token.length - 1);
  let text = '';
  for (let at = 0; at < body.length; ) {
    const byte = body[at] as number;
    if (byte !== 0x5c) {
      const { codePoint, length } = decodeCodePoint(body, at);
      if (codePoint < 0) throw fail('invalid UTF-8 sequence in string');
      text += String.fromCodePoint(codePoint);
      at += length;
      continue;
    }
    const escape = body[at + 1] as number;
    const simple = SIMPLE_ESCAPES[escape];
    if (simple !== undefined) {
      text += simple;
      at += 2;
    } else if (escape === 0x75) {
      const { codePoint, length } = unicodeEscape(body, at);
      text += String.fromCodePoint(codePoint);
      at += length;
    } else {
      throw fail('invalid escape sequence in string');
    }
  }
  return text;
}

/** "\uXXXX", or a surrogate pair of two; U+0000 is allowed, surrogates alone and noncharacters are not. */
function unicodeEscape(body: Uint8Array, at: number): { codePoint: number; length: number } {
  const first = hex4(body, at);
  if (first >= 0xd800 && first <= 0xdbff) {
    const low = body[at + 6] === 0x5c && body[at + 7] === 0x75 ? hex4(body, at + 6) : -1;
    if (low < 0xdc00 || low > 0xdfff) throw invalidEscape(body, at, 6);
    const codePoint = 0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00);
    if (isNoncharacter(codePoint)) throw invalidEscape(body, at, 12); // QEMU names the pair
    return { codePoint, length: 12 };
  }
  if (first < 0 || (first >= 0xdc00 && first <= 0xdfff) || isNoncharacter(first)) throw invalidEscape(body, at, 6);
  return { codePoint: first, length: 6 };
}

/** The four hex digits after "\u" at `at`, or -1. */
function hex4(body: Uint8Array, at: number): number {
  const digits = Buffer.from(body.subarray(at + 2, at + 6)).toString('latin1');
  return /^[0-9a-fA-F]{4}$/.test(digits) ? Number.parseInt(digits, 16) : -1;
}

function invalidEscape(body: Uint8Array, at: number, length: number): JsonParseError {
  return fail(`${decodeLossy(body.subarray(at, Math.min(at + length, body.length)))} is not a valid Unicode character`);
}
