/**
 * The hpet test kernel (guests/hpet) under `tsvisor run`, on real KVM: the HPET's
 * capabilities and main counter, and its timers' interrupts through the IO APIC (one-shot,
 * periodic, level-triggered, legacy replacement).
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';

const HPET_OUTPUT = `HPET at 0xfed00000: ok
HPET capabilities: 64-bit counter, legacy replacement, 3 timers or more: ok
HPET period within (0, 100 ns]: ok
HPET timers: route capabilities, a periodic-capable timer: ok
main counter halted while disabled, and writable: ok
main counter: 32-bit halves and 64-bit reads agree: ok
main counter advances at the advertised period (TSC, +-10 %): ok
one-shot timer fires once, at its comparator, through the IO APIC: ok
level-triggered timer sets its interrupt status bit: ok
level-triggered timer delivered once, status cleared before EOI: ok
periodic timer (Tn_VAL_SET_CNF) ticks at its period: ok
periodic timer's comparator holds its next tick: ok
legacy replacement: timer 0 on IO APIC pin 2, timer 1 on pin 8: ok
13 passed, 0 failed
`;

describeKvm('the hpet test kernel', () => {
  it('checks the HPET counter and delivers its timers through the IO APIC', async () => {
    const result = await tsvisor(['run', 'configs/hpet-x86_64.toml'], { timeoutMs: 25_000 });
    expect(result.stdout).toBe(HPET_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 40_000);
});
