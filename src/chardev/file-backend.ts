import { closeSync, openSync } from 'node:fs';
import { openOutputWriter } from '../host/output-writer.js';
import type { CharBackend } from './char-backend.js';
import { ChardevOpenError, strerrorOf } from './chardev-open-error.js';

/** file: output into PATH, truncated first unless `append` (QEMU's append=on); no input. */
export function openFileBackend(path: string, append: boolean): CharBackend {
  let fd: number;
  try {
    fd = openSync(path, append ? 'a' : 'w');
  } catch (error) {
    throw new ChardevOpenError(`Could not open '${path}': ${strerrorOf(error)}`);
  }
  const writer = openOutputWriter(fd);
  let closed = false;
  return {
    filename: 'file',
    writer,
    input: undefined,
    ready: () => Promise.resolve(),
    close: () => {
      if (closed) return;
      closed = true;
      writer.close();
      closeSync(fd);
    },
  };
}
