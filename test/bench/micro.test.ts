/** The host micro-benchmarks run in quick mode and report sane numbers (no timing thresholds). */
import { expect, it } from 'vitest';
import { microBenchmarks } from '../../src/bench/micro.js';
import { describeKvm } from '../helpers/kvm.js';

const HOST_ONLY = [
  'kvm_run I/O exit decode (6 fields)',
  'Bus.write, 1 byte (8 I/O ranges)',
  'Bus.read, 1 byte (8 I/O ranges)',
  'LocalApic.write TPR (0x80)',
  'LocalApic.write EOI (0xb0)',
];

function expectSane(results: { nsPerOp: number; rme: number; samples: number }[]): void {
  for (const result of results) {
    expect(result.nsPerOp).toBeGreaterThan(0);
    expect(Number.isFinite(result.nsPerOp)).toBe(true);
    expect(result.rme).toBeGreaterThanOrEqual(0);
    expect(result.samples).toBeGreaterThanOrEqual(5);
  }
}

it('runs the host-only micro-benchmarks in quick mode', async () => {
  const notes: string[] = [];
  const results = await microBenchmarks({ quick: true, kvm: false, notes });
  expect(results.map((result) => result.name)).toEqual(HOST_ONLY);
  expectSane(results);
  expect(notes).toEqual([]);
});

describeKvm('KVM micro-benchmarks', () => {
  it('times KVM_CHECK_EXTENSION and a KVM_RUN round trip of a real vCPU', async () => {
    const notes: string[] = [];
    const results = await microBenchmarks({ quick: true, notes });
    expect(notes).toEqual([]);
    expect(results.map((result) => result.name)).toEqual([
      'KVM_CHECK_EXTENSION ioctl (koffi call)',
      'KVM_RUN round trip (guest `out`, koffi)',
      ...HOST_ONLY,
    ]);
    expectSane(results);
  });
});
