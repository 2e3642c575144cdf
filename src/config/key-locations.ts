/**
 * Finds where a key is written in a TOML source, for error messages. This is a line
 * scanner for the plain `[table]` / `key = value` shape AxVisor configs use; a key it
 * cannot find is reported at its table's header, or at the top of the file.
 */
import type { SourceLocation } from './config-error.js';

const TABLE_HEADER = /^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]/;
const KEY_ASSIGNMENT = /^(\s*)([A-Za-z0-9_-]+)\s*=/;

/** The location of `table.key` (or of `[table]` when key is omitted or missing). */
export function locateKey(source: string, table: string, key?: string): SourceLocation | undefined {
  let current = '';
  let tableLocation: SourceLocation | undefined;
  const lines = source.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string;
    const header = TABLE_HEADER.exec(line);
    if (header) {
      current = header[1] as string;
      if (current === table) tableLocation = { line: index + 1, column: line.indexOf('[') + 1 };
      continue;
    }
    const assignment = KEY_ASSIGNMENT.exec(line);
    if (key && current === table && assignment && assignment[2] === key) {
      return { line: index + 1, column: (assignment[1] as string).length + 1 };
    }
  }
  return tableLocation;
}
