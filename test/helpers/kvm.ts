/**
 * KVM availability for tests. Without /dev/kvm, KVM tests are skipped, loudly. When
 * TSVISOR_REQUIRE_KVM=1 (set by .ci/run whenever /dev/kvm exists) a KVM test that
 * cannot run fails instead: a skipped KVM test must never pass for green.
 */
import { accessSync, constants } from 'node:fs';
import { describe } from 'vitest';

function kvmProblem(): string | undefined {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return undefined;
  } catch (error) {
    return `/dev/kvm is not usable (${(error as NodeJS.ErrnoException).code})`;
  }
}

const problem = kvmProblem();

if (problem && process.env.TSVISOR_REQUIRE_KVM === '1') {
  throw new Error(`KVM tests are required (TSVISOR_REQUIRE_KVM=1) but ${problem}.`);
}
if (problem) {
  console.warn(`\n*** KVM TESTS SKIPPED: ${problem}. Run on a host with /dev/kvm to execute them. ***\n`);
}

/** describe() for tests that need a real /dev/kvm. */
export const describeKvm = problem ? describe.skip : describe;
