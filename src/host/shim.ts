/**
 * The native shim (native/src/shim.cc): the kick signal, the caller's kernel tid, tgkill,
 * each vCPU thread's deadline timer, and an event-loop wait for a descriptor to be writable.
 * Loaded on first use, so commands that never run a vCPU never load it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TsvisorError } from '../errors.js';

export interface NativeShim {
  /** Installs the no-op kick handler (without SA_RESTART) and returns the kick signal number. */
  installKickHandler(): number;
  /** The calling thread's kernel thread id. */
  currentThreadId(): number;
  /** Sends the kick signal to thread `tid` of this process; false when that thread has ended. */
  kickThread(tid: number): boolean;
  /** Names the calling thread's kvm_run.immediate_exit byte, which the kick handler then sets (0n forgets it). */
  setImmediateExitByte(address: bigint): void;
  /** Sends the calling thread the kick signal at a CLOCK_MONOTONIC time in ns (monotonicNanos); 0 disarms. */
  armDeadlineTimer(monotonicNanos: number): void;
  /** Deletes the calling thread's deadline timer and forgets its immediate_exit byte. */
  releaseThread(): void;
  /** A wait, on the calling thread's event loop, for a descriptor to become writable. */
  readonly WritableWatch: new (fd: number) => WritableWatch;
}

/** A uv_poll handle on a descriptor: the event loop stays alive while it is armed. */
export interface WritableWatch {
  /** Calls `callback` once, from the event loop, when the descriptor is writable or has failed (the next write says how). */
  arm(callback: () => void): void;
  /** Stops waiting, for good; the callback is not called. */
  close(): void;
}

const addonPath = fileURLToPath(new URL('../../native/build/Release/tsvisor_shim.node', import.meta.url));
let shim: NativeShim | undefined;

export function nativeShim(): NativeShim {
  if (shim) return shim;
  if (!existsSync(addonPath)) {
    throw new TsvisorError(
      `The native shim is not built: ${addonPath} does not exist. Run \`npm install\` (or \`npm run build:native\`) in the tsvisor folder; it needs cmake and a C++ compiler.`,
    );
  }
  shim = createRequire(import.meta.url)(addonPath) as NativeShim;
  return shim;
}
