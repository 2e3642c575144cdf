/** tsvisor bench tells a CPU that QEMU emulates in software (the test VM) from a real one, and says so in its report. */
import { expect, it } from 'vitest';
import { emulatedCpuNote } from '../../src/bench/run-bench.js';

it('notes that figures from an emulated CPU are no performance figures, and says nothing for a real one', () => {
  expect(emulatedCpuNote('QEMU TCG CPU version 2.5+')).toBe(
    'This machine\'s CPU is emulated by QEMU in software ("QEMU TCG CPU version 2.5+"): it is the test VM of a host without /dev/kvm, or another TCG guest. These timings are not performance figures; run the bench on a host with /dev/kvm.',
  );
  expect(emulatedCpuNote('Intel(R) Xeon(R) Platinum 8369B CPU @ 2.70GHz')).toBeUndefined();
  expect(emulatedCpuNote('AMD EPYC 7B13 64-Core Processor')).toBeUndefined();
});
