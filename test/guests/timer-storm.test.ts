/**
 * The timer-storm test kernel (guests/timer-storm) under `tsvisor run`, on real KVM, with two
 * vCPUs: the BSP starts the AP with INIT-SIPI-SIPI, each CPU takes its LAPIC timer at 250 Hz
 * and the BSP the HPET's periodic timer at 250 Hz too, for 2 s, then the AP parks in cli; hlt
 * while the BSP finishes; every count must be within 25 % of 500 (no ticks lost or doubled
 * beyond that).
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';

const TIMER_STORM_OUTPUT = `cpu 1 started: ok
cpu 0 lapic ticks: ok
cpu 1 lapic ticks: ok
cpu 0 hpet ticks: ok
4 passed, 0 failed
`;

describeKvm('the timer-storm test kernel', () => {
  it('keeps every CPU\'s LAPIC timer and the HPET at their rates under load on two vCPUs', async () => {
    const result = await tsvisor(['run', 'configs/timer-storm-x86_64.toml'], { timeoutMs: 25_000 });
    expect(result.stdout).toBe(TIMER_STORM_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 30_000);
});
