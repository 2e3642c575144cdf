/**
 * QEMU's option lists (QemuOpts, docs/system/invocation.rst): `key=value` pairs separated by
 * commas, a comma inside a value written `,,`, and, for most options, an implied first key
 * (`-machine pc,accel=kvm` is `type=pc,accel=kvm`; `-smp 2` is `cpus=2`). A bare key is the
 * legacy short form of `key=on` (`server,nowait` in a chardev is `server=on,nowait=on`).
 */
import { QemuError } from './qemu-error.js';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

/** The pairs of `text` in order; `impliedKey` names a first element written without `=`. */
export function parseKeyValues(option: string, text: string, impliedKey?: string): KeyValue[] {
  const pairs: KeyValue[] = [];
  for (const [index, element] of splitElements(text).entries()) {
    const equals = element.indexOf('=');
    if (equals < 0) {
      if (index === 0 && impliedKey !== undefined) pairs.push({ key: impliedKey, value: element });
      else if (element === '') throw new QemuError(`${option} ${text}`, 'Invalid parameter \'\'');
      else pairs.push({ key: element, value: 'on' });
      continue;
    }
    const key = element.slice(0, equals);
    if (key === '') throw new QemuError(`${option} ${text}`, 'Invalid parameter \'\'');
    pairs.push({ key, value: element.slice(equals + 1) });
  }
  return pairs;
}

/** Splits on single commas; `,,` is a comma in the element (also -initrd's module list). */
export function splitElements(text: string): string[] {
  const elements: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char !== ',') {
      current += char;
    } else if (text[i + 1] === ',') {
      current += ',';
      i++;
    } else {
      elements.push(current);
      current = '';
    }
  }
  elements.push(current);
  return elements;
}

/** QEMU's booleans: on/off, and the yes/no and true/false it also takes. */
export function parseBoolean(option: string, key: string, value: string): boolean {
  if (['on', 'yes', 'true', 'y'].includes(value)) return true;
  if (['off', 'no', 'false', 'n'].includes(value)) return false;
  throw new QemuError(option, `Parameter '${key}' expects 'on' or 'off'`);
}

/** QEMU's unsigned integers: decimal, 0x hex or 0 octal. */
export function parseUnsigned(option: string, key: string, value: string): number {
  const parsed = /^0x[0-9a-f]+$/i.test(value) ? Number(value) : /^0[0-7]+$/.test(value) ? Number.parseInt(value, 8) : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed)) throw new QemuError(option, `Parameter '${key}' expects integer`);
  return parsed;
}
