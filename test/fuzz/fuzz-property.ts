/**
 * The fuzz targets' shared property: whatever the input, the code under test returns or
 * throws a TsvisorError (src/errors.ts), never another exception, within a time and memory
 * bound. The bounds are generous on purpose, so that a slow machine does not fail them: they
 * catch hangs, quadratic blow-ups and inputs that make tsvisor read or allocate without end,
 * not ordinary slowness.
 *
 * `npm test` runs each target for a few hundred seeded cases; `npm run fuzz -- --cases N`
 * (scripts/fuzz.mjs) sets TSVISOR_FUZZ_CASES and TSVISOR_FUZZ_SEED for a long run.
 */
import fc from 'fast-check';
import { TsvisorError } from '../../src/errors.js';

export const FUZZ = {
  cases: Number(process.env['TSVISOR_FUZZ_CASES'] ?? 300),
  seed: Number(process.env['TSVISOR_FUZZ_SEED'] ?? 15),
  /** One case may take this long: inputs are at most a few KiB (a FAT32 image 40 MiB), so seconds mean a hang. */
  caseTimeLimitMs: 5_000,
  /** ...and may leave this much more heap and buffer memory in use: a file read whole would exceed it. */
  caseMemoryLimitBytes: 256 * 2 ** 20,
} as const;

/** A test's timeout for a target that runs FUZZ.cases cases, each well within the time bound. */
export const FUZZ_TIMEOUT_MS = Math.max(60_000, FUZZ.cases * 200);

/**
 * Runs `run` on one input: its result, or the TsvisorError it threw. Any other exception, or
 * a case over the time or memory bound, fails the property with a message saying which.
 */
export function typedOutcome<T>(run: () => T): T | TsvisorError {
  const memoryBefore = memoryInUse();
  const started = performance.now();
  let outcome: T | TsvisorError;
  try {
    outcome = run();
  } catch (error) {
    if (!(error instanceof TsvisorError)) throw new Error(`not a TsvisorError: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    outcome = error;
  }
  const elapsed = performance.now() - started;
  if (elapsed > FUZZ.caseTimeLimitMs) throw new Error(`one case took ${Math.round(elapsed)} ms, over the ${FUZZ.caseTimeLimitMs} ms bound`);
  const grown = memoryInUse() - memoryBefore;
  if (grown > FUZZ.caseMemoryLimitBytes) throw new Error(`one case left ${grown} bytes more in use, over the ${FUZZ.caseMemoryLimitBytes}-byte bound`);
  return outcome;
}

/** fc.assert with the run's seed and case count; a long run says how many cases it ran. */
export function fuzz<T>(target: string, property: fc.IProperty<T>): void {
  fc.assert(property, { seed: FUZZ.seed, numRuns: FUZZ.cases });
  if (process.env['TSVISOR_FUZZ_CASES'] !== undefined) console.log(`fuzz ${target}: ${FUZZ.cases} cases passed (seed ${FUZZ.seed})`);
}

function memoryInUse(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}
