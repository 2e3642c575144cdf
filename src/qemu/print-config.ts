/**
 * --print-config: the config document a QEMU command line makes, as an AxVisor-style TOML
 * config that `tsvisor check` and `tsvisor run` take and that makes the same VmSpec. Paths
 * are absolute, so the file works from any folder.
 */
import type { ConfigDocument } from './to-config.js';

const SECTIONS = ['base', 'kernel', 'devices', 'tsvisor'] as const;
/** Integers from here up are addresses and sizes, written in hex. */
const HEX_FROM = 0x1000n;

export function configToml(document: ConfigDocument, header: readonly string[]): string {
  const lines = header.map((line) => `# ${line}`);
  for (const section of SECTIONS) {
    const table = document[section];
    if (!table) continue;
    lines.push('', `[${section}]`);
    for (const [key, value] of Object.entries(table)) {
      // One memory region (or device) a line, as the example configs are written.
      const multiLine = Array.isArray(value) && value.length > 0 && value.every((item) => Array.isArray(item) || typeof item === 'object');
      lines.push(multiLine ? `${key} = [\n${(value as unknown[]).map((item) => `    ${tomlValue(item)},`).join('\n')}\n]` : `${key} = ${tomlValue(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function tomlValue(value: unknown): string {
  if (typeof value === 'bigint') return value >= HEX_FROM ? `0x${value.toString(16)}` : value.toString();
  if (typeof value === 'boolean') return String(value);
  // A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
  if (typeof value === 'string') return JSON.stringify(value).replaceAll('\x7f', '\\u007f');
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{ ${Object.entries(value).map(([key, inner]) => `${key} = ${tomlValue(inner)}`).join(', ')} }`;
  }
  throw new Error(`no TOML form for ${String(value)}`);
}
