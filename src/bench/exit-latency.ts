/**
 * The cost of one VM exit: the exit-loop guest (guests/exit-loop) does `out` to an
 * unassigned port N times, once under tsvisor's Vm and exit loop, once under the C floor
 * (bench/exit-floor). Both time the same span, from the first KVM_RUN to the debug exit,
 * and divide by N.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadVmConfig } from '../config/load-config.js';
import { Vm } from '../vmm/vm.js';

export const EXIT_LOOP_IMAGE = fileURLToPath(new URL('../../guests/build/exit-loop.bin', import.meta.url));
export const EXIT_FLOOR = fileURLToPath(new URL('../../bench/build/exit-floor', import.meta.url));
/** Where the exit-loop guest reads its iteration count. */
const ITERATIONS_GPA = 0x8004;

const EXIT_LOOP_CONFIG = fileURLToPath(new URL('../../bench/exit-loop.toml', import.meta.url));

/** Nanoseconds per exit under tsvisor (its vCPU on a worker thread). */
export async function tsvisorNsPerExit(iterations: number): Promise<number> {
  const vm = await Vm.create(loadVmConfig(EXIT_LOOP_CONFIG), { serialOutputFd: 1, report: () => {} });
  try {
    vm.memory.write32(ITERATIONS_GPA, iterations);
    const start = process.hrtime.bigint();
    const exit = await vm.run();
    const elapsed = Number(process.hrtime.bigint() - start);
    const unassigned = vm.stats().devices.find((device) => device.device === 'unassigned I/O ports');
    if (exit.kind !== 'debug-exit' || unassigned?.writes !== iterations) {
      throw new Error(`the exit-loop guest did not run as expected: ${JSON.stringify(exit)}`);
    }
    return elapsed / iterations;
  } finally {
    await vm.destroy();
  }
}

/** Nanoseconds per exit under the C floor. */
export function floorNsPerExit(iterations: number): number {
  const output = execFileSync(EXIT_FLOOR, [EXIT_LOOP_IMAGE, String(iterations)], { encoding: 'utf8' });
  const match = /exits=(\d+) ns_per_exit=([\d.]+)/.exec(output);
  if (!match || Number(match[1]) !== iterations + 1) throw new Error(`bench/exit-floor printed: ${output}`);
  return Number(match[2]);
}
