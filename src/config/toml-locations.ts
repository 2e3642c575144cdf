/**
 * Where each key and value of a TOML document is written, by key path, for error messages:
 * `kernel.memory_regions[1][2]` -> line 21, column 19. smol-toml parses the values; this
 * scanner only walks the text (tables, keys, strings, arrays, inline tables, comments)
 * and records positions. It never throws: on text it cannot follow it stops, keeping what
 * it found, and callers fall back to the nearest enclosing path.
 */

export interface SourceLocation {
  readonly line: number;
  readonly column: number;
}

export interface TomlLocations {
  /** The start of each value, by path ("base.id", "kernel.memory_regions[0][1]"). */
  readonly values: ReadonlyMap<string, SourceLocation>;
  /** The start of each key, and of each table header, by path. */
  readonly keys: ReadonlyMap<string, SourceLocation>;
}

const BARE_KEY = /[A-Za-z0-9_-]/;

class Scanner {
  private index = 0;
  private line = 1;
  private lineStart = 0;
  readonly values = new Map<string, SourceLocation>();
  readonly keys = new Map<string, SourceLocation>();
  /** How many times each array of tables has been opened, by path. */
  private readonly tableArrays = new Map<string, number>();

  constructor(private readonly text: string) {}

  scan(): void {
    let table: string[] = [];
    while (this.skipBlank(true)) {
      const here = this.location();
      if (this.peek() === '[') {
        const isArray = this.text.startsWith('[[', this.index);
        this.index += isArray ? 2 : 1;
        const path = this.key();
        if (!path) return;
        this.skipSpaces();
        if (!this.text.startsWith(isArray ? ']]' : ']', this.index)) return;
        this.index += isArray ? 2 : 1;
        if (isArray) {
          const name = path.join('.');
          const count = this.tableArrays.get(name) ?? 0;
          this.tableArrays.set(name, count + 1);
          table = [...path.slice(0, -1), `${path.at(-1)}[${count}]`];
        } else {
          table = path;
        }
        this.keys.set(table.join('.'), here);
      } else {
        const key = this.key();
        if (!key) return;
        const path = [...table, ...key].join('.');
        this.keys.set(path, here);
        this.skipSpaces();
        if (this.peek() !== '=') return;
        this.index++;
        this.skipSpaces();
        if (!this.value(path)) return;
      }
    }
  }

  /** A dotted key: bare, "basic" or 'literal' parts. */
  private key(): string[] | undefined {
    const parts: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      if (c === '"' || c === "'") {
        const part = this.quotedKey(c);
        if (part === undefined) return undefined;
        parts.push(part);
      } else {
        const start = this.index;
        while (this.index < this.text.length && BARE_KEY.test(this.text[this.index] as string)) this.index++;
        if (this.index === start) return undefined;
        parts.push(this.text.slice(start, this.index));
      }
      this.skipSpaces();
      if (this.peek() !== '.') return parts;
      this.index++;
    }
  }

  private quotedKey(quote: string): string | undefined {
    const start = ++this.index;
    while (this.index < this.text.length && this.text[this.index] !== quote && this.text[this.index] !== '\n') {
      if (quote === '"' && this.text[this.index] === '\\') this.index++;
      this.index++;
    }
    if (this.text[this.index] !== quote) return undefined;
    return this.text.slice(start, this.index++);
  }

  /** Records and skips one value; false when the text cannot be followed. */
  private value(path: string): boolean {
    this.values.set(path, this.location());
    const c = this.peek();
    if (c === '[') return this.array(path);
    if (c === '{') return this.inlineTable(path);
    if (c === '"' || c === "'") return this.string(c);
    // A number, boolean or date: up to the next delimiter.
    const start = this.index;
    while (this.index < this.text.length && !/[,\]}#\n\r]/.test(this.text[this.index] as string)) this.index++;
    return this.index > start;
  }

  private array(path: string): boolean {
    this.index++; // [
    for (let element = 0; ; element++) {
      if (!this.skipBlank(true)) return false;
      if (this.peek() === ']') {
        this.index++;
        return true;
      }
      if (!this.value(`${path}[${element}]`)) return false;
      if (!this.skipBlank(true)) return false;
      if (this.peek() === ',') this.index++;
      else if (this.peek() !== ']') return false;
    }
  }

  private inlineTable(path: string): boolean {
    this.index++; // {
    for (;;) {
      this.skipSpaces();
      if (this.peek() === '}') {
        this.index++;
        return true;
      }
      const here = this.location();
      const key = this.key();
      if (!key) return false;
      const inner = [path, ...key].join('.');
      this.keys.set(inner, here);
      this.skipSpaces();
      if (this.peek() !== '=') return false;
      this.index++;
      this.skipSpaces();
      if (!this.value(inner)) return false;
      this.skipSpaces();
      if (this.peek() === ',') this.index++;
      else if (this.peek() !== '}') return false;
    }
  }

  private string(quote: string): boolean {
    const triple = quote.repeat(3);
    if (this.text.startsWith(triple, this.index)) {
      const end = this.findClosing(triple, this.index + 3, quote === '"');
      if (end < 0) return false;
      // A multi-line string may end with up to two extra quotes ("""a"""" is a valid string).
      let close = end + 3;
      while (this.text[close] === quote && close - end < 5) close++;
      this.advanceTo(close);
      return true;
    }
    const end = this.findClosing(quote, this.index + 1, quote === '"');
    if (end < 0 || this.text.slice(this.index, end).includes('\n')) return false;
    this.index = end + 1;
    return true;
  }

  private findClosing(delimiter: string, from: number, escapes: boolean): number {
    for (let i = from; i < this.text.length; i++) {
      if (escapes && this.text[i] === '\\') i++;
      else if (this.text.startsWith(delimiter, i)) return i;
    }
    return -1;
  }

  /** Skips spaces and tabs. */
  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.index++;
  }

  /** Skips spaces, comments and (when allowed) newlines; false at the end of the text. */
  private skipBlank(newlines: boolean): boolean {
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      if (c === '#') {
        while (this.index < this.text.length && this.text[this.index] !== '\n') this.index++;
      } else if (newlines && (c === '\n' || c === '\r')) {
        this.advanceTo(this.index + 1);
      } else {
        return this.index < this.text.length;
      }
    }
  }

  private advanceTo(index: number): void {
    for (; this.index < index; this.index++) {
      if (this.text[this.index] === '\n') {
        this.line++;
        this.lineStart = this.index + 1;
      }
    }
  }

  private peek(): string | undefined {
    return this.text[this.index];
  }

  private location(): SourceLocation {
    return { line: this.line, column: this.index - this.lineStart + 1 };
  }
}

export function locateToml(text: string): TomlLocations {
  const scanner = new Scanner(text);
  scanner.scan();
  return { values: scanner.values, keys: scanner.keys };
}
