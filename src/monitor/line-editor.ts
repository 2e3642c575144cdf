/**
 * The human monitor's line editing, as QEMU 7.2's readline behaves on a terminal or socket
 * (measured byte for byte against it; test/monitor/line-editor.test.ts): the peer does not echo,
 * so every change to the line is redrawn by the monitor. A redraw moves the cursor back to the
 * line's start (ESC [ D once per column it had moved), writes the whole line and erases what
 * is right of it (ESC [ K); then the cursor is moved to where the edit left it. Enter (CR or
 * LF, each on its own) ends the line with "\r\n".
 *
 * Keys: printable characters insert at the cursor; Backspace (DEL or ^H) deletes before it;
 * Left/Right (ESC [ D / ESC [ C) move it; Home/End (ESC [ 1 ~ / ESC [ 4 ~, ^A / ^E) jump;
 * Up/Down (ESC [ A / ESC [ B) walk the history of entered lines. Other control characters
 * are ignored, as QEMU ignores them.
 */

const ESC = 0x1b;
const CURSOR_LEFT = '\x1b[D';
const CURSOR_RIGHT = '\x1b[C';
const ERASE_TO_END = '\x1b[K';
/** QEMU keeps this many lines of history. */
const HISTORY_LINES = 64;
/** A line longer than QEMU's buffer (READLINE_CMD_BUF_SIZE, 4 KiB) takes no more characters. */
const MAX_LINE = 4095;

type EscapeState = 'none' | 'escape' | 'csi';

export class LineEditor {
  private line = '';
  private cursor = 0;
  /** What the peer's screen shows: the line as last drawn, and the cursor's column in it. */
  private shown = '';
  private shownCursor = 0;
  private escape: EscapeState = 'none';
  private csiParameter = '';
  private readonly history: string[] = [];
  /** While walking the history: the index of the line shown; history.length when none is. */
  private historyIndex = 0;

  /**
   * Takes one byte of input; returns what to write back to the peer, and the line when this
   * byte ended one.
   */
  feed(byte: number): { readonly echo: string; readonly line?: string } {
    if (this.escape !== 'none') return { echo: this.escapeByte(byte) };
    if (byte === 0x0d || byte === 0x0a) return this.enter();
    if (byte === ESC) {
      this.escape = 'escape';
      return { echo: '' };
    }
    switch (byte) {
      case 0x7f:
      case 0x08:
        if (this.cursor > 0) {
          this.line = this.line.slice(0, this.cursor - 1) + this.line.slice(this.cursor);
          this.cursor--;
        }
        break;
      case 0x01:
        this.cursor = 0;
        break;
      case 0x05:
        this.cursor = this.line.length;
        break;
      default:
        if (byte >= 0x20 && byte < 0x7f && this.line.length < MAX_LINE) {
          this.line = this.line.slice(0, this.cursor) + String.fromCharCode(byte) + this.line.slice(this.cursor);
          this.cursor++;
        }
    }
    return { echo: this.redraw() };
  }

  /** Starts a new line after the prompt was written again (nothing of the old one is shown). */
  restart(): void {
    this.line = '';
    this.cursor = 0;
    this.shown = '';
    this.shownCursor = 0;
    this.historyIndex = this.history.length;
  }

  private enter(): { echo: string; line: string } {
    const line = this.line;
    if (line !== '' && this.history.at(-1) !== line) {
      this.history.push(line);
      if (this.history.length > HISTORY_LINES) this.history.shift();
    }
    this.restart();
    return { echo: '\r\n', line };
  }

  private escapeByte(byte: number): string {
    if (this.escape === 'escape') {
      this.escape = byte === 0x5b /* [ */ || byte === 0x4f /* O */ ? 'csi' : 'none';
      this.csiParameter = '';
      return '';
    }
    if (byte >= 0x30 && byte <= 0x39) {
      this.csiParameter += String.fromCharCode(byte);
      return '';
    }
    this.escape = 'none';
    switch (String.fromCharCode(byte)) {
      case 'A':
        this.recall(-1);
        break;
      case 'B':
        this.recall(+1);
        break;
      case 'C':
        this.cursor = Math.min(this.cursor + 1, this.line.length);
        break;
      case 'D':
        this.cursor = Math.max(this.cursor - 1, 0);
        break;
      case 'H':
        this.cursor = 0;
        break;
      case 'F':
        this.cursor = this.line.length;
        break;
      case '~':
        if (this.csiParameter === '1') this.cursor = 0;
        else if (this.csiParameter === '4') this.cursor = this.line.length;
        else if (this.csiParameter === '3' && this.cursor < this.line.length) this.line = this.line.slice(0, this.cursor) + this.line.slice(this.cursor + 1);
        break;
    }
    return this.redraw();
  }

  /** Shows the previous (-1) or next (+1) history line; past the newest, an empty line. */
  private recall(step: -1 | 1): void {
    const index = this.historyIndex + step;
    if (index < 0 || index > this.history.length) return;
    this.historyIndex = index;
    this.line = this.history[index] ?? '';
    this.cursor = this.line.length;
  }

  /** The bytes that bring the peer's screen from what it shows to the line and cursor now. */
  private redraw(): string {
    let out = '';
    if (this.line !== this.shown) {
      out += CURSOR_LEFT.repeat(this.shownCursor) + this.line + ERASE_TO_END;
      this.shown = this.line;
      this.shownCursor = this.line.length;
    }
    const delta = this.cursor - this.shownCursor;
    out += delta > 0 ? CURSOR_RIGHT.repeat(delta) : CURSOR_LEFT.repeat(-delta);
    this.shownCursor = this.cursor;
    return out;
  }
}
