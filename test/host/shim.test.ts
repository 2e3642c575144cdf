/** The native shim: the kick signal makes a vCPU thread blocked in KVM_RUN return with EINTR. */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { nativeShim } from '../../src/host/shim.js';
import { KVM_EXIT_INTR } from '../../src/kvm/constants.js';
import { describeKvm } from '../helpers/kvm.js';

describe('native shim', () => {
  it('installs the kick handler on a real-time signal, without SA_RESTART', () => {
    const signal = nativeShim().installKickHandler();
    expect(signal).toBeGreaterThanOrEqual(34); // SIGRTMIN on glibc
    expect(signal).toBeLessThanOrEqual(64);
    // The handler is installed for the process: the signal shows as caught in /proc.
    const caught = BigInt(`0x${/SigCgt:\s+([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]}`);
    expect((caught >> BigInt(signal - 1)) & 1n).toBe(1n);
  });

  it('returns the calling thread\'s kernel tid (the main thread\'s is the pid)', () => {
    expect(nativeShim().currentThreadId()).toBe(process.pid);
  });

  it('refuses a bad argument, reports tgkill errors, and says false for a thread that has ended', () => {
    const shim = nativeShim();
    expect(() => (shim.kickThread as (tid: unknown) => void)('x')).toThrow('kickThread(tid: number)');
    expect(() => shim.kickThread(-1)).toThrow('tgkill failed: EINVAL');
    expect(shim.kickThread(0x3fffffff)).toBe(false);
  });

  it('refuses a deadline the host timer cannot arm (2^63 ns and beyond, negative, NaN) instead of converting it', () => {
    const shim = nativeShim();
    for (const time of [2 ** 63, 2 ** 64, Infinity, -1, Number.NaN]) {
      expect(() => shim.armDeadlineTimer(time)).toThrow('armDeadlineTimer: the time must be 0 or a CLOCK_MONOTONIC time below 2^63 ns');
    }
    shim.armDeadlineTimer(0); // disarms: nothing fires
    shim.releaseThread();
  });
});

describeKvm('kicking a vCPU', () => {
  it('interrupts a guest spinning inside KVM_RUN on another thread', async () => {
    const worker = new Worker(new URL('./kick-worker.mjs', import.meta.url));
    try {
      const [{ tid }] = (await once(worker, 'message')) as [{ tid: number }];
      expect(tid).not.toBe(process.pid);
      const result = once(worker, 'message');
      // Kick until the worker reports: a kick landing before it enters KVM_RUN only runs the handler.
      const shim = nativeShim();
      const timer = setInterval(() => shim.kickThread(tid), 20);
      const [report] = (await result) as [{ reason: number; rip: number }];
      clearInterval(timer);
      expect(report.reason).toBe(KVM_EXIT_INTR);
      expect(report.rip).toBe(0x8000); // still on its jmp $
    } finally {
      await worker.terminate();
    }
  });

  it('fires a thread\'s deadline timer into KVM_RUN, setting its immediate_exit byte, not before the deadline', async () => {
    const worker = new Worker(new URL('./deadline-worker.mjs', import.meta.url));
    try {
      const [report] = (await once(worker, 'message')) as [{ reason: number; earlyNs: number; immediateExit: boolean; secondReason: number }];
      expect(report.reason).toBe(KVM_EXIT_INTR);
      expect(report.earlyNs).toBeLessThanOrEqual(0);
      expect(report.immediateExit).toBe(true);
      expect(report.secondReason).toBe(KVM_EXIT_INTR);
    } finally {
      await worker.terminate();
    }
  });
});
