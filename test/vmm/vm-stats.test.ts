/** The statistics: counters in shared memory, read back by name, and the --stats table. */
import { describe, expect, it } from 'vitest';
import { formatStats } from '../../src/cli/format-stats.js';
import { LocalApicStates } from '../../src/devices/local-apic-state.js';
import { PIT_STATE_WORDS, Pit } from '../../src/devices/pit8254.js';
import { SharedState } from '../../src/devices/shared-state.js';
import { KVM_EXIT_HLT, KVM_EXIT_IO } from '../../src/kvm/index.js';
import { readInterruptStats, StatsBuffer } from '../../src/vmm/vm-stats.js';

const NO_PLATFORM_TIMERS = { hpet: undefined, pit: undefined };

describe('VM statistics', () => {
  it('sum exits by vCPU and reason, accesses by device, and list coalesced interrupts by vCPU and vector, and undelivered messages', () => {
    const buffer = new StatsBuffer({ vcpuCount: 2, ioSlots: 2, mmioSlots: 1 }, false);
    buffer.exitCounters(0).counts[KVM_EXIT_IO] = 5;
    buffer.exitCounters(1).counts[KVM_EXIT_HLT] = 2;
    buffer.busCounters(0, 'io').writes[1] = 3;
    buffer.busCounters(1, 'io').writes[1] = 4;
    const apics = new LocalApicStates(2);
    apics.request(1, 0x41, false);
    apics.request(1, 0x41, false); // still pending: coalesced
    apics.countCoalesced(0, 0x40, 7);
    apics.countUndelivered();
    apics.countUndelivered();
    apics.reset(0); // the statistics survive resets
    const stats = buffer.read({ io: ['COM1', 'debug-exit'], mmio: ['Local APIC'] }, readInterruptStats(apics, NO_PLATFORM_TIMERS));
    expect(stats.exits).toEqual([
      { vcpu: 0, reason: 'KVM_EXIT_IO', count: 5, milliseconds: 0 },
      { vcpu: 1, reason: 'KVM_EXIT_HLT', count: 2, milliseconds: 0 },
    ]);
    expect(stats.devices).toEqual([{ device: 'debug-exit', reads: 0, writes: 7, milliseconds: 0 }]);
    expect(stats.interrupts).toEqual({
      coalesced: [
        { vcpu: 0, vector: 0x40, count: 7 },
        { vcpu: 1, vector: 0x41, count: 1 },
      ],
      hpetPeriodsCoalesced: [],
      pitPeriodsCoalesced: 0,
      undelivered: 2,
    });
    expect(formatStats(stats).split('\n')).toEqual([
      'tsvisor: statistics',
      'Exits',
      '  vCPU / reason        count  time',
      '  vCPU 0 KVM_EXIT_IO       5     -',
      '  vCPU 1 KVM_EXIT_HLT      2     -',
      'Device accesses',
      '  device      reads  writes  time',
      '  debug-exit      0       7     -',
      'Interrupts coalesced (merged with one of the same vector still pending, or periods of a timer serviced late)',
      '  source              count',
      '  vCPU 0 vector 0x40      7',
      '  vCPU 1 vector 0x41      1',
      'Interrupt messages no Local APIC accepted (none addressed, or all disabled): 2',
      '',
    ]);
  });

  it('count the PIT\'s channel 0 periods that coalesced', () => {
    let now = 0;
    const state = new SharedState(PIT_STATE_WORDS);
    const device = new Pit({ state, now: () => now, irq: { setLevel() {} }, onDeadlineChange() {} });
    device.write(3, Uint8Array.of(0x34)); // channel 0, lo/hi, mode 2
    device.write(0, Uint8Array.of(0xe8)); // 1000 clocks a period, low byte then high
    device.write(0, Uint8Array.of(0x03));
    now = (5500 * 1e9) / 1193182; // five periods, serviced once
    device.service(now);
    const stats = new StatsBuffer({ vcpuCount: 1, ioSlots: 0, mmioSlots: 0 }, false).read({ io: [], mmio: [] }, readInterruptStats(new LocalApicStates(1), { hpet: undefined, pit: state }));
    expect(stats.interrupts.pitPeriodsCoalesced).toBe(4);
    expect(formatStats(stats).split('\n').slice(-3)).toEqual(['  source                 count', '  PIT channel 0 periods      4', '']);
  });

  it('print no coalescing table when nothing coalesced, and no undelivered line when every message was accepted', () => {
    const buffer = new StatsBuffer({ vcpuCount: 1, ioSlots: 0, mmioSlots: 0 }, true);
    const stats = buffer.read({ io: [], mmio: [] }, readInterruptStats(new LocalApicStates(1), NO_PLATFORM_TIMERS));
    expect(stats.interrupts.undelivered).toBe(0);
    expect(formatStats(stats)).not.toContain('coalesced');
    expect(formatStats(stats)).not.toContain('accepted');
  });

  it('print the undelivered messages alone when nothing coalesced', () => {
    const apics = new LocalApicStates(1);
    apics.countUndelivered();
    const stats = new StatsBuffer({ vcpuCount: 1, ioSlots: 0, mmioSlots: 0 }, false).read({ io: [], mmio: [] }, readInterruptStats(apics, NO_PLATFORM_TIMERS));
    expect(formatStats(stats).split('\n').slice(-3)).toEqual([
      '  device  reads  writes  time',
      'Interrupt messages no Local APIC accepted (none addressed, or all disabled): 1',
      '',
    ]);
  });
});
