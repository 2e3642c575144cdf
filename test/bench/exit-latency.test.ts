/** A smoke test of the exit-latency benchmark: both sides run the exit-loop guest to the end (no timing asserted). */
import { expect, it } from 'vitest';
import { floorNsPerExit, tsvisorNsPerExit } from '../../src/bench/exit-latency.js';
import { describeKvm } from '../helpers/kvm.js';

describeKvm('exit-latency benchmark', () => {
  it('runs the exit-loop guest for exactly the requested exits under tsvisor and under the C floor', async () => {
    // Each side checks its own exit count and throws when the guest did not run as asked.
    expect(Number.isFinite(await tsvisorNsPerExit(2000))).toBe(true);
    expect(Number.isFinite(floorNsPerExit(2000))).toBe(true);
  });
});
