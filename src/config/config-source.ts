/**
 * A parsed config file with the position of every key and value: typed reads that fail
 * with a ConfigError at the exact file:line:column and key path, saying what was expected,
 * what was found and how to fix it.
 */
import { dirname } from 'node:path';
import type { TomlTable } from 'smol-toml';
import { ConfigError, formatPlace } from './config-error.js';
import { nearest } from './spelling.js';
import type { SourceLocation, TomlLocations } from './toml-locations.js';

export type Table = Record<string, unknown>;

export interface IntegerRange {
  readonly min?: bigint | number;
  readonly max?: bigint | number;
}

export class ConfigSource {
  /** The folder relative paths in the config are resolved against. */
  readonly folder: string;
  readonly warnings: string[] = [];

  constructor(
    /** The config path as the user wrote it, for messages. */
    readonly displayPath: string,
    /** The config path, absolute. */
    readonly file: string,
    readonly document: TomlTable,
    private readonly locations: TomlLocations,
  ) {
    this.folder = dirname(file);
  }

  /** Where `path` is written: its value, else its key, else the nearest enclosing path that is. */
  locate(path: string): SourceLocation | undefined {
    for (let current = path; current; current = parentPath(current)) {
      const found = this.locations.values.get(current) ?? this.locations.keys.get(current);
      if (found) return found;
    }
    return undefined;
  }

  /** Where the key of `path` is written (for a key the user should rename or remove). */
  locateKey(path: string): SourceLocation | undefined {
    return this.locations.keys.get(path) ?? this.locate(path);
  }

  error(path: string, problem: string, fix: string): ConfigError {
    return new ConfigError(this.displayPath, this.locate(path), path || undefined, problem, fix);
  }

  warn(path: string, message: string, location = this.locate(path)): void {
    this.warnings.push(`${formatPlace(this.displayPath, location, path || undefined)} ${message}`);
  }

  /** The table `name` (a top-level section), or a ConfigError saying it is missing. */
  table(name: string): Table {
    const value = this.document[name];
    if (value === undefined) {
      throw new ConfigError(
        this.displayPath,
        undefined,
        name,
        `the [${name}] table is missing.`,
        'An AxVisor VM config has three tables, [base], [kernel] and [devices]; see configs/hello-x86_64.toml.',
      );
    }
    if (!isTable(value)) throw this.error(name, `expected a table, found ${describe(value)}.`, `Write it as a [${name}] section.`);
    return value;
  }

  required(table: Table, tablePath: string, key: string): unknown {
    const value = table[key];
    if (value === undefined) {
      // A misspelt key is the usual cause: point at it.
      const misspelt = Object.keys(table).find((other) => other !== key && nearest(other, [key]) === key);
      const hint = misspelt ? ` The table has \`${misspelt}\`: is that a misspelling of ${key}?` : '';
      throw new ConfigError(
        this.displayPath,
        misspelt ? this.locateKey(`${tablePath}.${misspelt}`) : this.locate(tablePath),
        `${tablePath}.${key}`,
        'this required key is missing.',
        `Add \`${key} = ...\` to the [${tablePath}] table.${hint}`,
      );
    }
    return value;
  }

  integer(value: unknown, path: string, range: IntegerRange = {}): number {
    return Number(this.bigInteger(value, path, range));
  }

  /** An integer that may exceed 2^53 (a CPU bitmask); the range is checked before any conversion. */
  bigInteger(value: unknown, path: string, { min = 0n, max = BigInt(Number.MAX_SAFE_INTEGER) }: IntegerRange = {}): bigint {
    if (typeof value !== 'bigint') {
      throw this.error(path, `expected an integer, found ${describe(value)}.`, 'Write a whole number, in decimal or hex (0x20_0000).');
    }
    if (value < BigInt(min) || value > BigInt(max)) {
      throw this.error(path, `${formatInteger(value)} is out of range: expected ${formatInteger(BigInt(min))} to ${formatInteger(BigInt(max))}.`, 'Use a value in that range.');
    }
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') throw this.error(path, `expected a string, found ${describe(value)}.`, 'Quote the value: key = "value".');
    return value;
  }

  boolean(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') throw this.error(path, `expected true or false, found ${describe(value)}.`, 'Write true or false, unquoted.');
    return value;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) throw this.error(path, `expected an array, found ${describe(value)}.`, 'Write a list in brackets, possibly empty: [].');
    return value;
  }

  /** A positional entry: at least `required` and at most `fields.length` values. */
  tuple(value: unknown, path: string, fields: readonly string[], required = fields.length): unknown[] {
    const shape = `[${fields.join(', ')}]`;
    if (!Array.isArray(value) || value.length < required || value.length > fields.length) {
      const count = required === fields.length ? `all ${fields.length} fields` : `${required} to ${fields.length} fields`;
      throw this.error(path, `expected ${shape}, found ${describe(value)}.`, `Give ${count} in that order.`);
    }
    return value;
  }

  /** One of a set of words; `choices` maps each accepted spelling to its meaning. */
  choice<T>(value: unknown, path: string, choices: Readonly<Record<string, T>>): T {
    const word = this.string(value, path);
    const meaning = Object.hasOwn(choices, word) ? choices[word] : undefined;
    if (meaning === undefined) {
      const allowed = Object.keys(choices).map((choice) => JSON.stringify(choice));
      throw this.error(path, `expected one of ${allowed.join(', ')}, found ${JSON.stringify(word)}.`, 'Use one of those values.');
    }
    return meaning;
  }
}

export function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** "kernel.memory_regions[1][2]" -> "kernel.memory_regions[1]" -> "kernel.memory_regions" -> "kernel" -> "". */
function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut < 0 ? '' : path.slice(0, cut);
}

function formatInteger(value: bigint): string {
  return value > 0xffffn ? `0x${value.toString(16)}` : value.toString();
}

/** What a TOML value is, for "found ..." in messages. */
export function describe(value: unknown): string {
  if (typeof value === 'bigint') return `the integer ${formatInteger(value)}`;
  if (typeof value === 'number') return `the float ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `${value}`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : `an array of ${value.length}`;
  if (value instanceof Date || (typeof value === 'object' && value !== null && 'isDate' in value)) return 'a date';
  if (isTable(value)) return 'a table';
  return String(value);
}
