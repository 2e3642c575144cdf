import { openOutputWriter } from '../host/output-writer.js';
import type { CharBackend } from './char-backend.js';
import { RawTerminal } from './terminal-mode.js';

const STDIN = 0;
const STDOUT = 1;

/**
 * stdio: the guest's output on stdout, its input from stdin. With `rawTerminal` (QEMU's
 * -serial stdio) a terminal on stdin is put in raw mode until close(), ISIG kept with
 * `signal`; tsvisor run leaves the terminal as it is. stdin stays open: the caller ends it.
 */
export function openStdioBackend(signal: boolean, rawTerminal = true): CharBackend {
  const writer = openOutputWriter(STDOUT);
  const terminal = rawTerminal ? RawTerminal.enter(STDIN, signal) : undefined;
  let closed = false;
  return {
    filename: 'stdio',
    writer,
    input: process.stdin,
    ready: () => Promise.resolve(),
    close: () => {
      if (closed) return;
      closed = true;
      writer.close();
      terminal?.restore();
    },
  };
}
