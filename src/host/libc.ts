/**
 * The libc calls tsvisor makes, bound with koffi. This is the only place that loads a
 * foreign library; everything above it sees plain functions with numbers and bigints.
 *
 * ioctl(2) is variadic in C. It is bound here twice with fixed third arguments (an
 * integer, or a pointer to a buffer), which matches the x86-64 calling convention of the
 * variadic call for these argument kinds and avoids koffi's slower variadic path on the
 * KVM_RUN hot path.
 */
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MFD_CLOEXEC = 0x1;
export const POLLIN = 0x1;

/** mmap's error return, (void *) -1. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

export const open = libc.func('int open(const char *path, int flags)') as (path: string, flags: number) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
/** ioctl with an integer argument (or none). */
export const ioctlValue = libc.func('int ioctl(int fd, unsigned long request, uintptr_t arg)') as (
  fd: number,
  request: number,
  arg: number | bigint,
) => number;
/** ioctl with a pointer to a buffer the kernel reads and/or writes in place. */
export const ioctlBuffer = libc.func('int ioctl(int fd, unsigned long request, void *arg)') as (
  fd: number,
  request: number,
  arg: Uint8Array,
) => number;
/** Pointers cross koffi as bigints (koffi 3); `null` is NULL. */
export const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
  addr: bigint | null,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
) => bigint;
export const munmap = libc.func('int munmap(void *addr, size_t length)') as (addr: bigint, length: number) => number;
export const memfdCreate = libc.func('int memfd_create(const char *name, unsigned int flags)') as (name: string, flags: number) => number;
export const ftruncate = libc.func('int ftruncate(int fd, int64_t length)') as (fd: number, length: number) => number;
export const mlock = libc.func('int mlock(void *addr, size_t length)') as (addr: bigint, length: number) => number;
/** sched_setaffinity(2) / sched_getaffinity(2) on a cpu_set_t; pid 0 is the calling thread. */
export const schedSetaffinity = libc.func('int sched_setaffinity(int pid, size_t size, void *mask)') as (pid: number, size: number, mask: Uint8Array) => number;
export const schedGetaffinity = libc.func('int sched_getaffinity(int pid, size_t size, void *mask)') as (pid: number, size: number, mask: Uint8Array) => number;
/** prctl(2) with integer arguments. */
export const prctl = libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)') as (
  option: number,
  arg2: number,
  arg3: number,
  arg4: number,
  arg5: number,
) => number;
export const PR_SET_TIMERSLACK = 29;

/** fcntl(2) with an integer argument (F_GETFL, F_SETFL, F_SETPIPE_SZ, ...): variadic in C, bound fixed as ioctl is. */
export const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const O_NONBLOCK = 0o4000;

/** poll(2) on an array of struct pollfd { int fd; short events; short revents; }. */
export const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)') as (
  fds: Uint8Array,
  nfds: number,
  timeout: number,
) => number;
export const read = libc.func('intptr_t read(int fd, void *buffer, size_t count)') as (
  fd: number,
  buffer: Uint8Array,
  count: number,
) => number;

/** The calling thread's errno after the last call made through koffi. */
export function errno(): number {
  return koffi.errno();
}

/** An ArrayBuffer over host memory at `address` (no copy). At most 4 GiB per view. */
export function view(address: bigint, length: number): ArrayBuffer {
  return koffi.view(address, length) as ArrayBuffer;
}

/** Pseudo-terminals (pty(7)): a new master, its slave made openable, and the slave's path. */
export const posixOpenpt = libc.func('int posix_openpt(int flags)') as (flags: number) => number;
export const grantpt = libc.func('int grantpt(int fd)') as (fd: number) => number;
export const unlockpt = libc.func('int unlockpt(int fd)') as (fd: number) => number;
/** NULL (null) on failure; the string is copied out of libc's static buffer at once. */
export const ptsname = libc.func('const char *ptsname(int fd)') as (fd: number) => string | null;
export const dup = libc.func('int dup(int fd)') as (fd: number) => number;
export const O_NOCTTY = 0o400;

/**
 * tcgetattr(3)/tcsetattr(3) on glibc's struct termios, as a byte buffer (terminal-mode.ts).
 * glibc's struct is 60 bytes (c_cc has 32 entries, then c_ispeed and c_ospeed) where the
 * kernel's (asm-generic/termbits.h) is 36 with 19: glibc converts, so the buffer is glibc's.
 */
export const tcgetattr = libc.func('int tcgetattr(int fd, void *termios)') as (fd: number, termios: Uint8Array) => number;
export const tcsetattr = libc.func('int tcsetattr(int fd, int when, void *termios)') as (fd: number, when: number, termios: Uint8Array) => number;
export const TCSANOW = 0;
/** cfmakeraw(3): a struct termios (as for tcgetattr) set to raw mode, in place. */
export const cfmakeraw = libc.func('void cfmakeraw(void *termios)') as (termios: Uint8Array) => void;
