/**
 * KVM in tests: which tests may use it, and whether they can run here.
 *
 * A test that needs KVM is declared with describeKvm. Without a usable /dev/kvm those tests
 * are skipped, loudly; with TSVISOR_REQUIRE_KVM=1 (set by .ci/run wherever every test must
 * run) a KVM test that cannot run fails instead: a skipped KVM test must never pass for green.
 *
 * The declaration is enforced, on every host: kvm-fence.ts (a vitest setup file) points
 * TSVISOR_KVM_DEVICE, the device tsvisor and the bench's C floor open, at a path that does not
 * exist, and only describeKvm blocks point it at /dev/kvm while their tests run. So a test that
 * reaches KVM without the declaration fails with that path in its message, on a host with
 * /dev/kvm as on one without, instead of passing here and failing (not skipping) elsewhere.
 */
import { accessSync, constants } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { Kvm, KVM_DEVICE, kvmSide, loadedKvmModules, type KvmSide } from '../../src/kvm/index.js';
import { KVM_FENCE } from './kvm-fence.js';

function kvmProblem(): string | undefined {
  try {
    accessSync(KVM_DEVICE, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (error) {
    return `${KVM_DEVICE} is not usable (${(error as NodeJS.ErrnoException).code})`;
  }
}

const problem = kvmProblem();

if (problem && process.env.TSVISOR_REQUIRE_KVM === '1') {
  throw new Error(`KVM tests are required (TSVISOR_REQUIRE_KVM=1) but ${problem}.`);
}
if (problem) {
  console.warn(
    `\n*** KVM TESTS SKIPPED: ${problem}. Run them on a host with /dev/kvm, or in the test VM: npm run test:vm -- npm test ***\n`,
  );
}

/** describe() for tests that need a real /dev/kvm: skipped (loudly) without one; the only tests that may open it. */
export function describeKvm(name: string, body: () => void): void {
  (problem ? describe.skip : describe)(name, () => {
    beforeAll(() => {
      process.env.TSVISOR_KVM_DEVICE = KVM_DEVICE;
    });
    afterAll(() => {
      process.env.TSVISOR_KVM_DEVICE = KVM_FENCE;
    });
    body();
  });
}

/** Which of KVM's x86 sides this host runs (AMD SVM, Intel VMX or PVM), for tests of behaviour that differs between them. */
export function hostKvmSide(): KvmSide {
  const system = Kvm.open();
  try {
    return kvmSide(system.getSupportedCpuid(), loadedKvmModules());
  } finally {
    system.close();
  }
}
