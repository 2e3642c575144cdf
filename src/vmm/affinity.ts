/**
 * How the host schedules the calling thread: pinning it to host CPUs (sched_setaffinity(2)
 * on its own tid) and reading that back, and its timer slack.
 */
import { TsvisorError } from '../errors.js';
import { describeErrno } from '../host/errno.js';
import * as libc from '../host/libc.js';

/** cpu_set_t holds 1024 CPUs in glibc. */
const CPU_SET_BYTES = 128;

/**
 * A vCPU thread sleeps in HLT until its next guest timer deadline. Linux may let such a
 * sleep overrun by the thread's timer slack, 50 µs by default (prctl(2), PR_SET_TIMERSLACK):
 * a vCPU asks for 1 ns, so its timer interrupts are not late by design.
 */
export function setExactTimerSlack(): void {
  if (libc.prctl(libc.PR_SET_TIMERSLACK, 1, 0, 0, 0) !== 0) throw new Error(`prctl(PR_SET_TIMERSLACK): ${describeErrno(libc.errno())}`);
}

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
