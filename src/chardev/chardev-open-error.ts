import { TsvisorError } from '../errors.js';

/** A backend that could not be opened, said as QEMU says it ("Could not open '/x': No such file or directory"); the front end names the option. */
export class ChardevOpenError extends TsvisorError {
  override name = 'ChardevOpenError';
}

/** strerror's words for the errno codes opening a backend meets, as QEMU prints them. */
const STRERROR: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ECONNREFUSED: 'Connection refused',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENETUNREACH: 'Network is unreachable',
  EHOSTUNREACH: 'No route to host',
  ETIMEDOUT: 'Connection timed out',
  ENOTSOCK: 'Socket operation on non-socket',
};

/** The C library's text for a Node system error, or its code when it is not one of those above. */
export function strerrorOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code !== undefined && STRERROR[code]) || code || String(error);
}
