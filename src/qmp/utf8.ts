/**
 * UTF-8 as QEMU's JSON code reads it (util/unicode.c, mod_utf8_codepoint): strict UTF-8 in its
 * shortest form, except that "\xC0\x80" is U+0000 (modified UTF-8); surrogates, code points
 * above U+10FFFF and the noncharacters (U+FDD0..U+FDEF and the last two of every plane) are
 * invalid. Measured against QEMU 7.2: a string holding U+FFFF or U+FDD0 is refused with
 * "invalid UTF-8 sequence in string".
 */

/** One decoded code point, or -1 for an invalid sequence, and how many bytes it took. */
export interface CodePoint {
  readonly codePoint: number;
  readonly length: number;
}

export function isNoncharacter(codePoint: number): boolean {
  return (codePoint >= 0xfdd0 && codePoint <= 0xfdef) || (codePoint & 0xfffe) === 0xfffe;
}

export function decodeCodePoint(bytes: Uint8Array, at: number): CodePoint {
  const lead = bytes[at] as number;
  if (lead < 0x80) return { codePoint: lead, length: 1 };
  const length = lead >= 0xc0 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf8 ? 4 : 1;
  if (length === 1) return { codePoint: -1, length: 1 };
  let codePoint = lead & (0x7f >> length);
  let taken = 1;
  for (; taken < length; taken++) {
    const next = bytes[at + taken];
    if (next === undefined || (next & 0xc0) !== 0x80) return { codePoint: -1, length: taken };
    codePoint = (codePoint << 6) | (next & 0x3f);
  }
  const shortest = length === 2 ? 0x80 : length === 3 ? 0x800 : 0x10000;
  const modifiedNul = length === 2 && codePoint === 0;
  if ((codePoint < shortest && !modifiedNul) || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff) || isNoncharacter(codePoint)) {
    return { codePoint: -1, length };
  }
  return { codePoint, length };
}

/** Bytes as text, each invalid sequence one U+FFFD: how QEMU prints bytes that are not UTF-8 in a JSON string. */
export function decodeLossy(bytes: Uint8Array): string {
  let text = '';
  for (let at = 0; at < bytes.length; ) {
    const { codePoint, length } = decodeCodePoint(bytes, at);
    text += String.fromCodePoint(codePoint < 0 ? 0xfffd : codePoint);
    at += length;
  }
  return text;
}
