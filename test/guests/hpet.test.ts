/**
 * The hpet test kernel (guests/hpet) under `tsvisor run --stats`, on real KVM: the HPET's
 * capabilities and main counter, and its timers' interrupts through the IO APIC (one-shot,
 * periodic, level-triggered, legacy replacement). The periodic timer's ticks may coalesce on a
 * busy host, as on hardware: every period must be a tick the guest saw or one tsvisor counted
 * as coalesced (see timer-storm.test.ts).
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
periodic timer (Tn_VAL_SET_CNF) ticks at most once a period: ok
  periodic timer <n>: <fewest>-<most> periods, <ticks> ticks, vector 0x51
periodic timer's comparator holds its next tick: ok
legacy replacement: timer 0 on IO APIC pin 2, timer 1 on pin 8: ok
13 passed, 0 failed
`;

describeKvm('the hpet test kernel', () => {
  it('checks the HPET counter and delivers its timers through the IO APIC', async () => {
    const result = await tsvisor(['run', '--stats', 'configs/hpet-x86_64.toml'], { timeoutMs: 25_000 });
    const figures = /^ {2}periodic timer (\d): (\d+)-(\d+) periods, (\d+) ticks, vector 0x51$/m.exec(result.stdout);
    expect(figures, result.stdout).not.toBeNull();
    const [line, timer, fewest, most, ticks] = figures as RegExpExecArray;
    expect(result.stdout.replace(line, '  periodic timer <n>: <fewest>-<most> periods, <ticks> ticks, vector 0x51')).toBe(HPET_OUTPUT);
    expect(result.status).toBe(0);
    const coalesced = (source: string) => Number(/ (\d+)$/.exec(result.stderr.split('\n').find((row) => row.startsWith(`  ${source} `)) ?? ' 0')?.[1]);
    const accounted = Number(ticks) + coalesced('vCPU 0 vector 0x51') + coalesced(`HPET timer ${timer} periods`);
    expect(accounted >= Number(fewest) && accounted <= Number(most), `${ticks} ticks + coalesced for ${fewest}-${most} periods`).toBe(true);
  }, 40_000);
});
