/**
 * pipe: COM1 over named pipes (FIFOs) or files, as QEMU's pipe backend: PATH.out takes the
 * guest's output and PATH.in gives its input when both exist, else PATH serves both ways.
 * Each is opened read-write, as QEMU opens them, so that opening a FIFO does not wait for the
 * program at its other end.
 */
import { closeSync, constants, createReadStream, existsSync, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { openOutputWriter } from '../host/output-writer.js';
import type { CharBackend } from './char-backend.js';
import { ChardevOpenError, strerrorOf } from './chardev-open-error.js';

export function openPipeBackend(path: string): CharBackend {
  const split = existsSync(`${path}.in`) && existsSync(`${path}.out`);
  const outputFd = openReadWrite(split ? `${path}.out` : path);
  const inputFd = split ? openReadWrite(`${path}.in`) : outputFd;
  const writer = openOutputWriter(outputFd);
  // A FIFO is read in the event loop; a regular file as a stream read from its start.
  const input = fstatSync(inputFd).isFIFO() ? new Socket({ fd: inputFd, readable: true, writable: false }) : createReadStream('', { fd: inputFd });
  let closed = false;
  return {
    filename: 'pipe',
    writer,
    input,
    ready: () => Promise.resolve(),
    close: () => {
      if (closed) return;
      closed = true;
      writer.close();
      // The input stream closes its descriptor itself, in the event loop: closing it here too could close a descriptor reused meanwhile.
      input.destroy();
      if (outputFd !== inputFd) closeSync(outputFd);
    },
  };
}

function openReadWrite(path: string): number {
  try {
    return openSync(path, constants.O_RDWR);
  } catch (error) {
    throw new ChardevOpenError(`Could not open '${path}': ${strerrorOf(error)}`);
  }
}
