import { describe, expect, it } from 'vitest';
import { Bus, BusConflictError, type UnassignedAccess } from '../../src/devices/bus.js';
import type { BusDevice } from '../../src/devices/bus-device.js';

/** A device that records its accesses and reads back its offset. */
class Probe implements BusDevice {
  readonly accesses: string[] = [];
  read(offset: number, data: Uint8Array): void {
    this.accesses.push(`read ${offset} ${data.length}`);
    data.fill(offset);
  }
  write(offset: number, data: Uint8Array): void {
    this.accesses.push(`write ${offset} ${Array.from(data).join(',')}`);
  }
}

describe('Bus', () => {
  it('routes an access to the device owning its first address, with the offset in its range', () => {
    const bus = new Bus('I/O port');
    const uart = new Probe();
    const exit = new Probe();
    bus.register('uart', 0x3f8, 8, uart);
    bus.register('exit', 0xf4, 4, exit);
    const data = new Uint8Array(1);
    bus.read(0x3fd, data);
    bus.write(0xf4, new Uint8Array([1, 0, 0, 0]));
    expect(data[0]).toBe(5);
    expect(uart.accesses).toEqual(['read 5 1']);
    expect(exit.accesses).toEqual(['write 0 1,0,0,0']);
  });

  it('moves a device to a free range (a relocated Local APIC), and refuses a move onto another device', () => {
    const bus = new Bus('MMIO');
    const apic = new Probe();
    bus.register('Local APIC', 0xfee0_0000, 0x1000, apic);
    bus.register('IO APIC', 0xfec0_0000, 0x1000, new Probe());
    const data = new Uint8Array(4);
    bus.read(0xfee0_0030, data); // fills the last-hit cache with the old range
    expect(bus.move(apic, 0xfec0_0800)).toBe(false);
    expect(bus.move(apic, 0xd000_0000)).toBe(true);
    bus.read(0xd000_0030, data);
    bus.read(0xfee0_0030, data);
    expect(apic.accesses).toEqual(['read 48 4', 'read 48 4']);
    expect(bus.unassigned.reads).toBe(1);
    expect(bus.list().map((range) => range.base)).toEqual([0xd000_0000, 0xfec0_0000]);
  });

  it('refuses an overlapping range, naming both devices and ranges', () => {
    const bus = new Bus('I/O port');
    bus.register('COM1', 0x3f8, 8, new Probe());
    expect(() => bus.register('other', 0x3fc, 8, new Probe())).toThrow(BusConflictError);
    expect(() => bus.register('other', 0x3fc, 8, new Probe())).toThrow(
      'Cannot place other at I/O ports 0x3fc-0x403: it overlaps COM1 at I/O ports 0x3f8-0x3ff. Move one of them to free addresses.',
    );
    const mmio = new Bus('MMIO');
    mmio.register('LAPIC', 0xfee00000, 0x1000, new Probe());
    expect(() => mmio.register('HPET', 0xfedff000, 0x1001, new Probe())).toThrow(
      'Cannot place HPET at MMIO 0xfedff000-0xfee00000: it overlaps LAPIC at MMIO 0xfee00000-0xfee00fff. Move one of them to free addresses.',
    );
  });

  it('accepts adjacent ranges and refuses empty ones', () => {
    const bus = new Bus('MMIO');
    bus.register('a', 0x1000, 0x1000, new Probe());
    bus.register('b', 0x2000, 0x1000, new Probe());
    expect(bus.list().map((range) => range.name)).toEqual(['a', 'b']);
    expect(() => bus.register('c', 0x5000, 0, new Probe())).toThrow(BusConflictError);
  });

  it('counts reads and writes per device, in registration order after the unassigned slot', () => {
    const counters = { reads: new Float64Array(3), writes: new Float64Array(3), nanos: new Float64Array(3), timed: true };
    const bus = new Bus('I/O port', counters);
    bus.register('second', 0x20, 4, new Probe());
    bus.register('first', 0x10, 4, new Probe());
    bus.read(0x10, new Uint8Array(1));
    bus.write(0x20, new Uint8Array(1));
    bus.write(0x22, new Uint8Array(1));
    bus.read(0x99, new Uint8Array(1));
    expect(Array.from(counters.reads)).toEqual([1, 0, 1]);
    expect(Array.from(counters.writes)).toEqual([0, 2, 0]);
    expect(counters.nanos[1]).toBeGreaterThan(0);
    expect(() => bus.register('third', 0x30, 4, new Probe())).toThrow('the I/O port bus has counters for 2 devices');
  });

  it('reads all ones and drops writes where no device lives, counting each access', () => {
    const bus = new Bus('MMIO');
    const seen: UnassignedAccess[] = [];
    bus.onUnassigned = (access) => seen.push({ ...access, data: access.data.slice() });
    const data = new Uint8Array(8);
    bus.read(0xd0000000, data);
    bus.write(0xd0000008, new Uint8Array([1, 2]));
    expect(Array.from(data)).toEqual(new Array(8).fill(0xff));
    expect(bus.unassigned).toEqual({ reads: 1, writes: 1 });
    expect(seen).toEqual([
      { bus: 'MMIO', address: 0xd0000000, direction: 'read', data: new Uint8Array(8).fill(0xff) },
      { bus: 'MMIO', address: 0xd0000008, direction: 'write', data: new Uint8Array([1, 2]) },
    ]);
  });

  it('finds the right device among many, in any registration order', () => {
    const bus = new Bus('I/O port');
    const probes = new Map<number, Probe>();
    const bases = Array.from({ length: 64 }, (_, i) => (i * 37) % 64).map((i) => i * 0x10);
    for (const base of bases) {
      const probe = new Probe();
      probes.set(base, probe);
      bus.register(`dev${base}`, base, 8, probe);
    }
    for (let port = 0; port < 0x400; port++) {
      const data = new Uint8Array(1);
      bus.read(port, data);
      const owner = probes.get(port & ~0xf);
      if ((port & 0xf) < 8) expect(data[0]).toBe(port & 0x7);
      else expect(data[0]).toBe(0xff);
      if ((port & 0xf) < 8) expect(owner?.accesses.at(-1)).toBe(`read ${port & 0x7} 1`);
    }
  });
});
