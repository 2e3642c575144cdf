/**
 * The timer-storm test kernel (guests/timer-storm) under `tsvisor run --stats`, on real KVM,
 * with two vCPUs: the BSP starts the AP with INIT-SIPI-SIPI, each CPU takes its LAPIC timer at
 * 250 Hz and the BSP the HPET's periodic timer at 250 Hz too, for 2 s.
 *
 * A periodic timer's ticks coalesce when its CPU cannot take them for longer than a period (on
 * hardware, and under KVM's LAPIC, as under tsvisor), which a slow or busy host makes happen: so
 * the guest checks only what it can rely on (at least one tick, never more than the periods),
 * and this test checks the rest: every period is a tick the guest saw or one tsvisor counted as
 * coalesced (--stats). The guest brackets each start and stop with two reads of the HPET's
 * counter, so the periods are known to lie in a range: the sum must fall inside it.
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';

const CHECKS = `cpu 1 started: ok
cpu 0 lapic ticks: ok
cpu 1 lapic ticks: ok
cpu 0 hpet ticks: ok
`;
const FIGURES = /^ {2}(cpu \d (?:lapic|hpet timer (\d))): (\d+)-(\d+) periods, (\d+) ticks, vector 0x([0-9a-f]+)$/;

/** The count in one row of --stats' "Interrupts coalesced" table, 0 when the row is absent. */
function coalesced(stderr: string, source: string): number {
  const row = stderr.split('\n').find((line) => line.startsWith(`  ${source} `));
  return row ? Number(row.trim().split(/\s+/).at(-1)) : 0;
}

describeKvm('the timer-storm test kernel', () => {
  it('accounts for every period of each CPU\'s LAPIC timer and the HPET under load on two vCPUs: a tick, or one tsvisor counted as coalesced', async () => {
    const result = await tsvisor(['run', '--stats', 'configs/timer-storm-x86_64.toml'], { timeoutMs: 25_000 });
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 4).join('\n') + '\n').toBe(CHECKS);
    expect(lines.slice(7)).toEqual(['4 passed, 0 failed', '']);
    const figures = lines.slice(4, 7).map((line) => {
      const match = FIGURES.exec(line);
      expect(match, line).not.toBeNull();
      const [, name, hpetTimer, fewest, most, ticks, vector] = match as RegExpExecArray;
      return { name, hpetTimer, fewest: Number(fewest), most: Number(most), ticks: Number(ticks), vector: Number.parseInt(vector as string, 16) };
    });
    expect(figures.map((figure) => figure.name)).toEqual(['cpu 0 lapic', 'cpu 1 lapic', expect.stringMatching(/^cpu 0 hpet timer \d$/)]);
    for (const { name, hpetTimer, fewest, most, ticks, vector } of figures) {
      const vcpu = Number(name?.[4]);
      const lost = coalesced(result.stderr, `vCPU ${vcpu} vector 0x${vector.toString(16)}`) + (hpetTimer ? coalesced(result.stderr, `HPET timer ${hpetTimer} periods`) : 0);
      expect(fewest, name).toBeGreaterThanOrEqual(400); // the timer ran its 2 s
      const accounted = ticks + lost;
      expect(accounted >= fewest && accounted <= most, `${name}: ${ticks} ticks + ${lost} coalesced for ${fewest}-${most} periods`).toBe(true);
    }
  }, 40_000);
});
