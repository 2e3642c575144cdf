/**
 * errno values turned into words: "EACCES (permission denied)". Names and meanings come
 * from Node's own table (libuv's), so nothing is pasted here.
 */
import { getSystemErrorMap } from 'node:util';
import { constants } from 'node:os';

let errorMap: Map<number, [string, string]> | undefined;

/** "EACCES (permission denied)" for 13. */
export function describeErrno(errno: number): string {
  errorMap ??= getSystemErrorMap();
  const entry = errorMap.get(-errno);
  return entry ? `${entry[0]} (${entry[1]})` : `errno ${errno}`;
}

export const Errno = {
  EPERM: constants.errno.EPERM,
  ENOENT: constants.errno.ENOENT,
  EINTR: constants.errno.EINTR,
  EAGAIN: constants.errno.EAGAIN,
  ENOMEM: constants.errno.ENOMEM,
  EACCES: constants.errno.EACCES,
  EFAULT: constants.errno.EFAULT,
  EEXIST: constants.errno.EEXIST,
  ENXIO: constants.errno.ENXIO,
  ENODEV: constants.errno.ENODEV,
  EINVAL: constants.errno.EINVAL,
  E2BIG: constants.errno.E2BIG,
  ENOTTY: constants.errno.ENOTTY,
} as const;
