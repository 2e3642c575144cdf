/**
 * Opening the files a user names (configs, images, disk images) so that nothing a path can
 * point at makes tsvisor hang or read without end: a FIFO would block the read until a
 * writer came, /dev/zero never ends, a folder has no bytes. Only regular files are read, and
 * their size is known (and can be checked) before any byte is.
 *
 * The path is stat()ed first, so that a device is never opened (opening one can have side
 * effects), then opened with O_NONBLOCK (a FIFO swapped in meanwhile cannot block the open)
 * and fstat()ed again: the file read is the one checked.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { TsvisorError } from '../errors.js';

const MISSING = 'does not exist';

/** Why a path cannot be read; `problem` completes "the file <path> ...", for callers that name the key. */
export class InputFileError extends TsvisorError {
  override name = 'InputFileError';
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly fix = 'Give the path of a regular file.',
    /** The errno code, when the system refused (ENOENT, EACCES). */
    readonly code?: string,
  ) {
    super(`Cannot read ${path}: it ${problem}. ${fix}`);
  }

  /** Nothing is at the path (callers say where they looked, and where such files come from). */
  get missing(): boolean {
    return this.problem === MISSING;
  }
}

export interface RegularFile {
  readonly fd: number;
  readonly size: number;
}

/** The size of the regular file at `path`, or an InputFileError saying what the path is instead. */
export function regularFileSize(path: string): number {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new InputFileError(path, errnoProblem(error), undefined, (error as NodeJS.ErrnoException).code);
  }
  refuseIrregular(path, stats);
  return stats.size;
}

/** Opens a regular file for reading; the caller closes `fd`. */
export function openRegularFile(path: string): RegularFile {
  regularFileSize(path);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new InputFileError(path, errnoProblem(error), undefined, (error as NodeJS.ErrnoException).code);
  }
  try {
    const stats = fstatSync(fd);
    refuseIrregular(path, stats);
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * The whole of a regular file of at most `limit` bytes (`what` names it in the message, as in
 * "a config"). The size is checked before any byte is read.
 */
export function readRegularFile(path: string, limit: number, what: string): Uint8Array {
  const file = openRegularFile(path);
  try {
    if (file.size > limit) throw new InputFileError(path, `is ${file.size} bytes, more than the ${limit} bytes tsvisor reads for ${what}`, 'Check that the path names the file you meant.');
    return readFileRange(path, file.fd, 0, file.size);
  } finally {
    closeSync(file.fd);
  }
}

/** `length` bytes at `offset` of an open file; a file that ends sooner (it shrank) is an error. */
export function readFileRange(path: string, fd: number, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let done = 0; done < length; ) {
    let count: number;
    try {
      count = readSync(fd, bytes, done, length - done, offset + done);
    } catch (error) {
      throw new InputFileError(path, errnoProblem(error), undefined, (error as NodeJS.ErrnoException).code);
    }
    if (count === 0) {
      throw new InputFileError(path, `ended at byte ${offset + done} while tsvisor read it, before the ${offset + length} it had when checked (it changed meanwhile)`, 'Run tsvisor again once the file is written.');
    }
    done += count;
  }
  return bytes;
}

function refuseIrregular(path: string, stats: Stats): void {
  if (stats.isFile()) return;
  const kind = stats.isDirectory()
    ? 'is a folder'
    : stats.isFIFO()
      ? 'is a FIFO (named pipe)'
      : stats.isCharacterDevice()
        ? 'is a character device'
        : stats.isBlockDevice()
          ? 'is a block device'
          : stats.isSocket()
            ? 'is a socket'
            : 'is not a regular file';
  throw new InputFileError(path, `${kind}, not a regular file: tsvisor reads only regular files, whose size it checks before reading them`);
}

function errnoProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return MISSING;
  if (code === 'EACCES') return 'cannot be read (EACCES: permission denied)';
  if (code === 'ENOTDIR') return 'does not exist (a folder on its path is a file)';
  return `cannot be read (${code ?? String(error)})`;
}
