/** The check every KVM ioctl goes through: -1 becomes a KvmIoctlError naming the ioctl and errno. */
import * as libc from '../host/libc.js';
import { KvmIoctlError } from './errors.js';

/** Returns `result`, or throws the KvmIoctlError for the ioctl `request` with the current errno. */
export function checked(result: number, request: number, context?: string): number {
  if (result < 0) throw KvmIoctlError.fromRequest(request, libc.errno(), context);
  return result;
}
