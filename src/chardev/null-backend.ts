import type { OutputWriter } from '../host/output-writer.js';
import type { CharBackend } from './char-backend.js';

/** Output that goes nowhere, at once: the guest never waits for it. */
export const DISCARDING_WRITER: OutputWriter = {
  write: (bytes) => bytes.length,
  whenWritable: (ready) => void setImmediate(ready),
  close: () => {},
};

/** null: output dropped, no input (QEMU's query-chardev says "null"). */
export function openNullBackend(): CharBackend {
  return { filename: 'null', writer: DISCARDING_WRITER, input: undefined, ready: () => Promise.resolve(), close: () => {} };
}
