/** host/regular-file.ts: only regular files are read, and their size is checked first. */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError, openRegularFile, readFileRange, readRegularFile, regularFileSize } from '../../src/host/regular-file.js';
import { fifoFolder } from '../helpers/fifo.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-regular-file-'));
const fifos = fifoFolder('tsvisor-regular-file-fifo-');
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
  fifos.remove();
});

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InputFileError);
    return (error as InputFileError).problem;
  }
  throw new Error('expected an InputFileError');
}

describe('regular files only', () => {
  it('reads a regular file and its size', () => {
    const path = join(folder, 'five');
    writeFileSync(path, 'hello');
    expect(regularFileSize(path)).toBe(5);
    expect(new TextDecoder().decode(readRegularFile(path, 5, 'a test file'))).toBe('hello');
  });

  it('names what a path is instead, without opening a device or waiting on a FIFO', () => {
    const fifo = join(fifos.path, 'pipe');
    execFileSync('mkfifo', [fifo]);
    expect(problemOf(() => openRegularFile(fifo))).toBe('is a FIFO (named pipe), not a regular file: tsvisor reads only regular files, whose size it checks before reading them');
    expect(problemOf(() => openRegularFile('/dev/zero'))).toMatch(/^is a character device, not a regular file/);
    expect(problemOf(() => regularFileSize(folder))).toMatch(/^is a folder, not a regular file/);
    expect(problemOf(() => regularFileSize(join(folder, 'missing')))).toBe('does not exist');
  });

  it('refuses a file over the limit by its size, unread', () => {
    const path = join(folder, 'sparse');
    writeFileSync(path, '');
    truncateSync(path, 2 ** 33);
    const error = (() => {
      try {
        readRegularFile(path, 1024, 'a config');
      } catch (caught) {
        return caught as InputFileError;
      }
      throw new Error('expected an InputFileError');
    })();
    expect(error.message).toBe(`Cannot read ${path}: it is ${2 ** 33} bytes, more than the 1024 bytes tsvisor reads for a config. Check that the path names the file you meant.`);
  });

  it('says so when a file shrank after its size was checked', () => {
    const path = join(folder, 'shrinks');
    writeFileSync(path, 'abc');
    const file = openRegularFile(path);
    try {
      expect(problemOf(() => readFileRange(path, file.fd, 0, 10))).toBe('ended at byte 3 while tsvisor read it, before the 10 it had when checked (it changed meanwhile)');
    } finally {
      closeSync(file.fd);
    }
  });
});
