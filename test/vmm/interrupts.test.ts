/** The interrupt wiring each thread builds: who gets kicked, and where device lines go. */
import { describe, expect, it } from 'vitest';
import type { DeviceSpec } from '../../src/config/vm-spec.js';
import { DeliveryMode } from '../../src/devices/apic-message.js';
import { ATTENTION_STARTUP, ENABLE_GLOBAL, ENABLE_SOFTWARE } from '../../src/devices/local-apic-state.js';
import { IOREDTBL_FIRST, IOREDTBL_LEVEL_TRIGGERED, IOREDTBL_REMOTE_IRR, IOREGSEL, IOWIN, type IoApic } from '../../src/devices/io-apic.js';
import { createInterruptState, wireInterrupts } from '../../src/vmm/interrupts.js';
import { VmControl } from '../../src/vmm/vm-control.js';

const IO_APIC: DeviceSpec = { kind: 'io-apic', name: 'IO APIC', bus: 'mmio', base: 0xfec0_0000, length: 0x1000, irq: undefined, origin: 'test' };

function wiring(devices: readonly DeviceSpec[], currentVcpu: number) {
  const state = createInterruptState(2);
  const kicked: number[] = [];
  const control = VmControl.create(2);
  const wired = wireInterrupts(2, devices, state, { currentVcpu, kick: (id) => kicked.push(id), control });
  for (const id of [0, 1]) wired.localApics.setEnableBits(id, ENABLE_GLOBAL | ENABLE_SOFTWARE);
  return { wired, kicked, control };
}

const fixed = (destination: number, vector: number) => ({ vector, deliveryMode: DeliveryMode.fixed, logical: false, destination, levelTriggered: false });
const word = (value: number) => new Uint8Array(new Uint32Array([value]).buffer);

/** Pin `pin`'s entry, low half `low`, destination APIC ID `destination`, as an OS writes it. */
function route(ioApic: IoApic, pin: number, low: number, destination: number): void {
  ioApic.write(IOREGSEL, word(IOREDTBL_FIRST + 2 * pin + 1));
  ioApic.write(IOWIN, word(destination << 24));
  ioApic.write(IOREGSEL, word(IOREDTBL_FIRST + 2 * pin));
  ioApic.write(IOWIN, word(low));
}

function remoteIrr(ioApic: IoApic, pin: number): number {
  const data = new Uint8Array(4);
  ioApic.write(IOREGSEL, word(IOREDTBL_FIRST + 2 * pin));
  ioApic.read(IOWIN, data);
  return new DataView(data.buffer).getUint32(0, true) & IOREDTBL_REMOTE_IRR;
}

describe('wireInterrupts', () => {
  it('kicks the vCPU an interrupt is for, but not the calling thread\'s own vCPU', () => {
    const { wired, kicked } = wiring([], 0);
    wired.apicBus.send(fixed(1, 0x40));
    wired.apicBus.send(fixed(0, 0x41));
    expect(kicked).toEqual([1]);
    expect(wired.localApics.irrWord(1, 2)).toBe(1 << 0);
    expect(wired.localApics.irrWord(0, 2)).toBe(1 << 1);
  });

  it('kicks every target from the main thread, which runs no vCPU', () => {
    const { wired, kicked } = wiring([], -1);
    wired.apicBus.send({ ...fixed(0xff, 0x40) });
    expect(kicked).toEqual([0, 1]);
  });

  it('latches a start-up IPI in its target\'s APIC and kicks the target, holding the VM alive meanwhile', () => {
    const { wired, kicked, control } = wiring([], 0);
    wired.apicBus.sendIpi(0, { ...fixed(1, 0x07), deliveryMode: DeliveryMode.startup }, 0);
    control.becomeStuck(0); // the sender halts with IF = 0 right after...
    expect(control.noVcpuCanRun()).toBe(false); // ...but vCPU 1 has a SIPI to look at
    expect(kicked).toEqual([1]);
    expect(wired.localApics.attention(1) & ATTENTION_STARTUP).toBe(ATTENTION_STARTUP);
    expect(wired.localApics.startupVector(1)).toBe(0x07);
  });

  it('without an IO APIC, device lines go nowhere; with one, a pin reaches the Local APIC its entry names', () => {
    const without = wiring([], 0);
    expect(without.wired.ioApic).toBeUndefined();
    without.wired.line(4).setLevel(true);
    expect(without.kicked).toEqual([]);

    const { wired, kicked } = wiring([IO_APIC], -1);
    const ioApic = wired.ioApic;
    if (!ioApic) throw new Error('the IO APIC is listed');
    route(ioApic, 4, 0x34, 1); // vector 0x34, fixed, edge, unmasked, to APIC ID 1
    wired.line(4).setLevel(true);
    expect(kicked).toEqual([1]);
    expect(wired.localApics.irrWord(1, 1)).toBe(1 << (0x34 - 32));
  });

  it('passes a Local APIC\'s level EOI and its start of accepting interrupts to the IO APIC', () => {
    const { wired, kicked } = wiring([IO_APIC], -1);
    const ioApic = wired.ioApic;
    if (!ioApic) throw new Error('the IO APIC is listed');
    wired.localApics.setEnableBits(1, ENABLE_GLOBAL); // software-disabled
    route(ioApic, 5, IOREDTBL_LEVEL_TRIGGERED | 0x35, 1);
    wired.line(5).setLevel(true);
    expect(kicked).toEqual([]);
    expect(remoteIrr(ioApic, 5)).toBe(0);
    expect(wired.localApics.undeliveredCount()).toBe(1);
    wired.localApics.setEnableBits(1, ENABLE_GLOBAL | ENABLE_SOFTWARE); // what SVR bit 8 does, then the Local APIC tells
    wired.localApicAccepting();
    expect(kicked).toEqual([1]);
    expect(remoteIrr(ioApic, 5)).toBe(IOREDTBL_REMOTE_IRR);
    wired.line(5).setLevel(false);
    wired.levelEoi(0x35);
    expect(remoteIrr(ioApic, 5)).toBe(0);
  });

  it('without an IO APIC, a Local APIC\'s level EOI and its enable go nowhere', () => {
    const { wired, kicked } = wiring([], 0);
    expect(() => {
      wired.levelEoi(0x35);
      wired.localApicAccepting();
    }).not.toThrow();
    expect(kicked).toEqual([]);
  });
});
