/** ioctl(2) on KVM file descriptors: every failure becomes a KvmIoctlError naming the ioctl and errno. */
import * as libc from '../host/libc.js';
import { KvmIoctlError } from './errors.js';
import { decode, encode, type Type, type Value } from './layout.js';

/** Returns `result`, or throws the KvmIoctlError for the ioctl `request` with the current errno. */
export function checked(result: number, request: number, context?: string): number {
  if (result < 0) throw KvmIoctlError.fromRequest(request, libc.errno(), context);
  return result;
}

/** An ioctl that passes a struct to the kernel (_IOW). Returns the ioctl's result. */
export function ioctlWrite<T extends Type>(fd: number, request: number, type: T, value: Value<T>, context?: string): number {
  const buffer = new Uint8Array(type.size);
  encode(type, value, new DataView(buffer.buffer));
  return checked(libc.ioctlBuffer(fd, request, buffer), request, context);
}

/** An ioctl that fills a struct (_IOR). */
export function ioctlRead<T extends Type>(fd: number, request: number, type: T, context?: string): Value<T> {
  const buffer = new Uint8Array(type.size);
  checked(libc.ioctlBuffer(fd, request, buffer), request, context);
  return decode(type, new DataView(buffer.buffer));
}
