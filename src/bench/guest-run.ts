/**
 * A bench guest under tsvisor in this process: COM1 into a temporary file, the VM stopped if it
 * outlives a time limit (a lost interrupt would otherwise hang the bench), and its output
 * returned only when it ended as expected.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmSpec } from '../config/vm-spec.js';
import { Vm } from '../vmm/vm.js';
import { openOutputWriter } from '../host/output-writer.js';
import type { VmExit } from '../vmm/vm-exit.js';

export interface GuestRunOptions {
  /** Names the guest in errors. */
  readonly name: string;
  readonly limitMs: number;
  /** How the guest must end. */
  readonly expected: (exit: VmExit) => boolean;
  /** Runs on the built VM before its vCPUs start (to write parameters into guest RAM). */
  readonly beforeRun?: (vm: Vm) => void;
  /** The error a failed run throws (an Error by default). */
  readonly failure?: (message: string) => Error;
}

/** Runs `spec` to its end; returns what the guest printed on COM1, or throws with it. */
export async function runGuestForOutput(spec: VmSpec, options: GuestRunOptions): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'tsvisor-bench-'));
  const outputPath = join(directory, 'com1.txt');
  const fd = openSync(outputPath, 'w');
  try {
    const vm = await Vm.create(spec, { serialOutput: openOutputWriter(fd), report: () => {} });
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      void vm.stop();
    }, options.limitMs);
    try {
      options.beforeRun?.(vm);
      const exit = await vm.run();
      const output = readFileSync(outputPath, 'utf8');
      const failure = options.failure ?? ((message: string) => new Error(message));
      if (timedOut) throw failure(`the ${options.name} guest did not finish within ${options.limitMs / 1000} s (a lost interrupt?); it printed:\n${output}`);
      if (!options.expected(exit)) throw failure(`the ${options.name} guest ended with ${JSON.stringify(exit)}; it printed:\n${output}`);
      return output;
    } finally {
      clearTimeout(limit);
      await vm.destroy();
    }
  } finally {
    closeSync(fd);
    rmSync(directory, { recursive: true, force: true });
  }
}
