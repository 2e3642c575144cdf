/** The monitor's line editing, key by key: what it redraws and where it leaves the cursor (QEMU 7.2's bytes: qemu-hmp.json). */
import { describe, expect, it } from 'vitest';
import { LineEditor } from '../../src/monitor/line-editor.js';

function type(editor: LineEditor, text: string): { echo: string; lines: string[] } {
  let echo = '';
  const lines: string[] = [];
  for (const byte of Buffer.from(text, 'latin1')) {
    const result = editor.feed(byte);
    echo += result.echo;
    if (result.line !== undefined) lines.push(result.line);
  }
  return { echo, lines };
}

describe('LineEditor', () => {
  it('redraws the whole line from its start after each character', () => {
    expect(type(new LineEditor(), 'abc')).toEqual({ echo: 'a\x1b[K\x1b[Dab\x1b[K\x1b[D\x1b[Dabc\x1b[K', lines: [] });
  });

  it('ends a line on CR and on LF alike, so CR LF is a line and an empty one', () => {
    expect(type(new LineEditor(), 'c\r\n')).toEqual({ echo: 'c\x1b[K\r\n\r\n', lines: ['c', ''] });
  });

  it('deletes before the cursor with DEL and ^H, and ignores them at the line start', () => {
    expect(type(new LineEditor(), '\x7fab\x7f\x08x')).toEqual({ echo: 'a\x1b[K\x1b[Dab\x1b[K\x1b[D\x1b[Da\x1b[K\x1b[D\x1b[Kx\x1b[K', lines: [] });
  });

  it('inserts at the cursor after Left, and moves the cursor back to where the edit left it', () => {
    expect(type(new LineEditor(), 'x\x1b[Dy\n')).toEqual({ echo: 'x\x1b[K\x1b[Dyx\x1b[K\x1b[D\r\n', lines: ['yx'] });
  });

  it('moves with Right, Home and End without redrawing the text', () => {
    const editor = new LineEditor();
    type(editor, 'abc');
    expect(type(editor, '\x1b[1~').echo).toBe('\x1b[D\x1b[D\x1b[D');
    expect(type(editor, '\x1b[C').echo).toBe('\x1b[C');
    expect(type(editor, '\x05').echo).toBe('\x1b[C\x1b[C');
    expect(type(editor, '\x01\x1b[4~').echo).toBe('\x1b[D\x1b[D\x1b[D\x1b[C\x1b[C\x1b[C');
  });

  it('deletes under the cursor with Delete', () => {
    const editor = new LineEditor();
    type(editor, 'abc\x1b[D\x1b[D');
    expect(type(editor, '\x1b[3~\n')).toEqual({ echo: '\x1b[Dac\x1b[K\x1b[D\r\n', lines: ['ac'] });
  });

  it('recalls entered lines with Up and Down, newest first, and an empty line past the newest', () => {
    const editor = new LineEditor();
    type(editor, 'one\ntwo\n');
    expect(type(editor, '\x1b[A').echo).toBe('two\x1b[K');
    expect(type(editor, '\x1b[A').echo).toBe('\x1b[D\x1b[D\x1b[Done\x1b[K');
    expect(type(editor, '\x1b[A').echo).toBe('');
    expect(type(editor, '\x1b[B\x1b[B')).toEqual({ echo: '\x1b[D\x1b[D\x1b[Dtwo\x1b[K\x1b[D\x1b[D\x1b[D\x1b[K', lines: [] });
    expect(type(editor, '\x1b[A\n').lines).toEqual(['two']);
  });

  it('ignores other control characters, and stops taking characters at 4095', () => {
    const editor = new LineEditor();
    expect(type(editor, '\x03\x09\x00').echo).toBe('');
    const long = 'a'.repeat(5000);
    expect(type(editor, `${long}\n`).lines).toEqual(['a'.repeat(4095)]);
  });
});
