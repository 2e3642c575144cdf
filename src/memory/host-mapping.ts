/**
 * The host memory behind guest RAM, in its two kinds:
 *   - anonymous: private, zero-filled, demand-paged (MAP_NORESERVE): no host memory is
 *     committed until a page is touched;
 *   - pinned: a shared memfd mapping, prefaulted (MAP_POPULATE) and locked (mlock), so the
 *     host never moves, swaps or reclaims it, and another process could map the same
 *     memory through the memfd.
 */
import { ExitStatus, TsvisorError, hex } from '../errors.js';
import { describeErrno } from '../host/errno.js';
import * as libc from '../host/libc.js';

export type Backing = 'anonymous' | 'pinned';

export interface HostMapping {
  readonly address: bigint;
  readonly size: number;
  /** The memfd of a pinned mapping, kept open for the VM's life; -1 for anonymous memory. */
  readonly fd: number;
}

export class HostMemoryError extends TsvisorError {
  override name = 'HostMemoryError';
}

export function mapHostMemory(backing: Backing, size: number, gpa: number): HostMapping {
  return backing === 'anonymous' ? mapAnonymous(size, gpa) : mapPinned(size, gpa);
}

export function unmapHostMemory(mapping: HostMapping): void {
  libc.munmap(mapping.address, mapping.size);
  if (mapping.fd >= 0) libc.close(mapping.fd);
}

function mapAnonymous(size: number, gpa: number): HostMapping {
  const address = libc.mmap(null, size, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS | libc.MAP_NORESERVE, -1, 0);
  if (address === libc.MAP_FAILED) throw mapFailed(size, gpa, 'mmap');
  return { address, size, fd: -1 };
}

function mapPinned(size: number, gpa: number): HostMapping {
  const fd = libc.memfdCreate(`tsvisor-ram-${hex(gpa)}`, libc.MFD_CLOEXEC);
  if (fd < 0) throw mapFailed(size, gpa, 'memfd_create');
  if (libc.ftruncate(fd, size) < 0) {
    const error = mapFailed(size, gpa, 'ftruncate');
    libc.close(fd);
    throw error;
  }
  const address = libc.mmap(null, size, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED | libc.MAP_POPULATE, fd, 0);
  if (address === libc.MAP_FAILED) {
    const error = mapFailed(size, gpa, 'mmap');
    libc.close(fd);
    throw error;
  }
  if (libc.mlock(address, size) < 0) {
    const errno = libc.errno();
    unmapHostMemory({ address, size, fd });
    throw new HostMemoryError(
      `Cannot lock the ${size} bytes of host memory behind the MAP_IDENTICAL region at ${hex(gpa)} (mlock: ${describeErrno(errno)}): raise this user's locked-memory limit (ulimit -l, or LimitMEMLOCK for a service), run as root, or use map_type 0 (MAP_ALLOC) for the region.`,
      ExitStatus.badInput,
    );
  }
  return { address, size, fd };
}

function mapFailed(size: number, gpa: number, call: string): HostMemoryError {
  return new HostMemoryError(
    `Cannot get ${size} bytes of host memory for guest RAM at ${hex(gpa)} (${call}: ${describeErrno(libc.errno())}): make the region smaller or free host memory.`,
    ExitStatus.badInput,
  );
}
