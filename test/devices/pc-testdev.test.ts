/** QEMU's pc-testdev, register by register, as hw/misc/pc-testdev.c (QEMU 7.2) has each range behave. */
import { describe, expect, it } from 'vitest';
import type { InterruptLine } from '../../src/devices/bus-device.js';
import { PcTestdev, createPcTestdevState, isaIrqPin, PC_TESTDEV_IOMEM_SIZE } from '../../src/devices/pc-testdev.js';

function testdev() {
  const levels: { pin: number; asserted: boolean }[] = [];
  const pin = (number: number): InterruptLine => ({ setLevel: (asserted) => levels.push({ pin: number, asserted }) });
  const state = createPcTestdevState();
  return { device: new PcTestdev({ state, pin }), state, pin, levels };
}

const read = (device: { read(offset: number, data: Uint8Array): void }, offset: number, width: number) => {
  const data = new Uint8Array(width).fill(0xee);
  device.read(offset, data);
  return Array.from(data);
};

describe('pc-testdev ioport (I/O 0xe0-0xe3): a 32-bit scratch register', () => {
  it('reads back a 32-bit write, and starts at zero', () => {
    const { device } = testdev();
    expect(read(device.ioport, 0, 4)).toEqual([0, 0, 0, 0]);
    device.ioport.write(0, new Uint8Array([0x78, 0x56, 0x34, 0x12]));
    expect(read(device.ioport, 0, 4)).toEqual([0x78, 0x56, 0x34, 0x12]);
  });

  it('takes narrower accesses at their byte offset, leaving the other bytes', () => {
    const { device } = testdev();
    device.ioport.write(0, new Uint8Array([0x78, 0x56, 0x34, 0x12]));
    device.ioport.write(2, new Uint8Array([0xcd, 0xab]));
    device.ioport.write(1, new Uint8Array([0xef]));
    expect(read(device.ioport, 0, 4)).toEqual([0x78, 0xef, 0xcd, 0xab]);
    expect(read(device.ioport, 2, 2)).toEqual([0xcd, 0xab]);
    expect(read(device.ioport, 3, 1)).toEqual([0xab]);
  });

  it('keeps an access running past byte 3 to the register: those bytes are dropped on write and read as 0', () => {
    const { device } = testdev();
    device.ioport.write(2, new Uint8Array([1, 2, 3, 4]));
    expect(read(device.ioport, 0, 4)).toEqual([0, 0, 1, 2]);
    expect(read(device.ioport, 2, 4)).toEqual([1, 2, 0, 0]);
  });
});

describe('pc-testdev ioport-byte (I/O 0xe8-0xeb): the same register, a byte at a time', () => {
  it('is the very register 0xe0 shows', () => {
    const { device } = testdev();
    device.ioport.write(0, new Uint8Array([0x11, 0x22, 0x33, 0x44]));
    expect(read(device.ioportByte, 0, 4)).toEqual([0x11, 0x22, 0x33, 0x44]);
    device.ioportByte.write(1, new Uint8Array([0x99]));
    expect(read(device.ioport, 0, 4)).toEqual([0x11, 0x99, 0x33, 0x44]);
  });

  it('wraps a wide access around the four bytes (QEMU splits it into bytes at offset & 3)', () => {
    const { device } = testdev();
    device.ioportByte.write(2, new Uint8Array([0xa, 0xb, 0xc, 0xd]));
    expect(read(device.ioport, 0, 4)).toEqual([0xc, 0xd, 0xa, 0xb]);
    expect(read(device.ioportByte, 3, 2)).toEqual([0xb, 0xc]);
  });
});

describe('pc-testdev flush-page (I/O 0xe4-0xe7)', () => {
  it('accepts a page address, changes nothing the guest sees, and reads as 0', () => {
    const { device } = testdev();
    device.ioport.write(0, new Uint8Array([1, 2, 3, 4]));
    device.flushPage.write(0, new Uint8Array([0x00, 0x10, 0x20, 0x00]));
    expect(read(device.flushPage, 0, 4)).toEqual([0, 0, 0, 0]);
    expect(read(device.ioport, 0, 4)).toEqual([1, 2, 3, 4]);
  });
});

describe('pc-testdev irq-line (I/O 0x2000-0x2017)', () => {
  it('sets ISA IRQ n with a non-zero byte at 0x2000 + n and clears it with zero; IRQ 0 is IO APIC pin 2', () => {
    const { device, levels } = testdev();
    device.irqLines.write(4, new Uint8Array([1]));
    device.irqLines.write(4, new Uint8Array([0]));
    device.irqLines.write(0, new Uint8Array([0x80]));
    device.irqLines.write(23, new Uint8Array([1]));
    expect(levels).toEqual([
      { pin: 4, asserted: true },
      { pin: 4, asserted: false },
      { pin: 2, asserted: true },
      { pin: 23, asserted: true },
    ]);
  });

  it('ignores accesses wider than a byte (QEMU takes byte accesses only) and reads as 0', () => {
    const { device, levels } = testdev();
    device.irqLines.write(4, new Uint8Array([1, 0]));
    expect(levels).toEqual([]);
    expect(read(device.irqLines, 5, 1)).toEqual([0]);
  });

  it('routes ISA IRQs as a PC does: 0 to pin 2, the rest to their own pin', () => {
    expect([0, 1, 2, 8, 15].map(isaIrqPin)).toEqual([2, 1, 2, 8, 15]);
  });
});

describe('pc-testdev iomem (MMIO 0xff000000, 64 KiB)', () => {
  it('reads back what was written, at any width and offset', () => {
    const { device } = testdev();
    device.iomem.write(0x10, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    device.iomem.write(0x13, new Uint8Array([0xff]));
    expect(read(device.iomem, 0x10, 8)).toEqual([1, 2, 3, 0xff, 5, 6, 7, 8]);
    expect(read(device.iomem, 0x0, 4)).toEqual([0, 0, 0, 0]);
  });

  it('keeps an access at the last bytes inside the 64 KiB', () => {
    const { device } = testdev();
    device.iomem.write(PC_TESTDEV_IOMEM_SIZE - 2, new Uint8Array([9, 8, 7, 6]));
    expect(read(device.iomem, PC_TESTDEV_IOMEM_SIZE - 2, 4)).toEqual([9, 8, 0, 0]);
  });
});

describe('pc-testdev state', () => {
  it('is shared: another PcTestdev over the same block (another vCPU\'s) sees the register and iomem', () => {
    const { device, state, pin } = testdev();
    const other = new PcTestdev({ state, pin });
    device.ioport.write(0, new Uint8Array([5, 6, 7, 8]));
    device.iomem.write(0x100, new Uint8Array([0x42]));
    expect(read(other.ioport, 0, 4)).toEqual([5, 6, 7, 8]);
    expect(read(other.iomem, 0x100, 1)).toEqual([0x42]);
  });
});
