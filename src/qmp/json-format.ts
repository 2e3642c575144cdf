/**
 * JSON text as QEMU writes it (qobject/qjson.c): ", " and ": " between members, printable ASCII
 * as is, '"' and '\' escaped, \b \f \n \r \t, every other character as \uXXXX in upper-case hex
 * (U+007F and everything above ASCII included, characters outside the BMP as a surrogate pair),
 * and numbers in the form they were read in: integers exactly, doubles as printf's %.17g.
 */
import { JsonDouble, type JsonValue } from './json-value.js';

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function formatJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return formatString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : formatDouble(value);
  if (value instanceof JsonDouble) return formatDouble(value.value);
  if (Array.isArray(value)) return `[${value.map((item: JsonValue) => formatJson(item)).join(', ')}]`;
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return `{${entries.map(([key, member]) => `${formatString(key)}: ${formatJson(member as JsonValue)}`).join(', ')}}`;
}

function formatString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    const code = text.charCodeAt(i);
    const escape = SHORT_ESCAPES[char];
    if (escape) out += escape;
    else if (code >= 0x20 && code <= 0x7e) out += char;
    else out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return `${out}"`;
}

/**
 * printf("%.17g"): 17 significant digits, trailing zeros dropped, scientific notation when the
 * exponent is below -4 or at least 17, the exponent with a sign and at least two digits; glibc
 * prints infinities as inf and -inf (QEMU does echo an id of 1e400 as inf).
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exponentText] = value.toExponential(16).split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 17) {
    return `${stripZeros(mantissa)}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return stripZeros(value.toFixed(16 - exponent));
}

function stripZeros(digits: string): string {
  return digits.includes('.') ? digits.replace(/0+$/, '').replace(/\.$/, '') : digits;
}
