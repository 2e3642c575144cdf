/** Pinning the calling thread to host CPUs (sched_setaffinity(2) on its own tid), and reading it back. */
import { TsvisorError } from '../errors.js';
import { describeErrno } from '../host/errno.js';
import * as libc from '../host/libc.js';

/** cpu_set_t holds 1024 CPUs in glibc. */
const CPU_SET_BYTES = 128;


export function setThreadAffinity(cpus: readonly number[]): void {
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (const cpu of cpus) mask[cpu >> 3] = (mask[cpu >> 3] as number) | (1 << (cpu & 7));
  // pid 0: the calling thread.
  if (libc.schedSetaffinity(0, CPU_SET_BYTES, mask) !== 0) {
    throw new TsvisorError(`Cannot pin a vCPU thread to host CPUs ${cpus.join(', ')} (sched_setaffinity: ${describeErrno(libc.errno())}): check base.phys_cpu_sets against the CPUs this process may use (taskset -p $$).`);
  }
}

export function threadAffinity(): number[] {
  const mask = new Uint8Array(CPU_SET_BYTES);
  if (libc.schedGetaffinity(0, CPU_SET_BYTES, mask) !== 0) throw new Error(`sched_getaffinity: ${describeErrno(libc.errno())}`);
  const cpus: number[] = [];
  mask.forEach((byte, index) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) cpus.push(index * 8 + bit);
  });
  return cpus;
}
