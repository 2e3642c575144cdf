/** The interrupt wiring each thread builds: who gets kicked, and where device lines go. */
import { describe, expect, it } from 'vitest';
import type { DeviceSpec } from '../../src/config/vm-spec.js';
import { DeliveryMode } from '../../src/devices/apic-message.js';
import { ATTENTION_STARTUP, ENABLE_GLOBAL, ENABLE_SOFTWARE } from '../../src/devices/local-apic-state.js';
import { IOREDTBL_FIRST, IOREGSEL, IOWIN } from '../../src/devices/io-apic.js';
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
    control.becomeStuck(0); // the sender halts with IF = 0 right after: vCPU 1 is still waiting
    expect(control.noVcpuCanRun()).toBe(true);
    wired.apicBus.sendIpi(0, { ...fixed(1, 0x07), deliveryMode: DeliveryMode.startup }, 0);
    expect(control.noVcpuCanRun()).toBe(true); // the hold is released once the target is notified
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
    ioApic.write(IOREGSEL, word(IOREDTBL_FIRST + 2 * 4 + 1));
    ioApic.write(IOWIN, word(1 << 24)); // pin 4 to APIC ID 1
    ioApic.write(IOREGSEL, word(IOREDTBL_FIRST + 2 * 4));
    ioApic.write(IOWIN, word(0x34)); // vector 0x34, fixed, edge, unmasked
    wired.line(4).setLevel(true);
    expect(kicked).toEqual([1]);
    expect(wired.localApics.irrWord(1, 1)).toBe(1 << (0x34 - 32));
  });
});
