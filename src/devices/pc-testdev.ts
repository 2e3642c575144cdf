/**
 * QEMU's pc-testdev (`-device pc-testdev`, hw/misc/pc-testdev.c), the ISA device
 * kvm-unit-tests use to check a VMM's port, MMIO and interrupt handling. Its ranges:
 *   - I/O 0xe0-0xe3 ("ioport"): a 32-bit scratch register; an access of n bytes at port
 *     0xe0 + k reads or writes bytes k .. k+n-1 of it (what lies past byte 3 reads as 0);
 *   - I/O 0xe4-0xe7 ("flush page"): a 32-bit write names a guest page QEMU unmaps and maps
 *     again in the host, to exercise KVM's MMU; the guest sees no change, and here it is
 *     accepted and has no effect; reads return 0;
 *   - I/O 0xe8-0xeb ("ioport-byte"): the same scratch register, taken a byte at a time, so
 *     a wide access at 0xe8 + k wraps around the register's four bytes;
 *   - I/O 0x2000-0x2017 ("irq-line"): a byte written to 0x2000 + n sets ISA IRQ n
 *     (non-zero) or clears it (zero); only byte accesses count; reads return 0;
 *   - MMIO 0xff000000-0xff00ffff ("iomem"): 64 KiB of scratch memory.
 * The register and the 64 KiB live in one shared block, the same for every vCPU.
 */
import type { BusDevice, InterruptLine } from './bus-device.js';
import { SharedState } from './shared-state.js';

export const PC_TESTDEV_IOPORT = 0xe0;
export const PC_TESTDEV_FLUSH_PAGE = 0xe4;
export const PC_TESTDEV_IOPORT_BYTE = 0xe8;
export const PC_TESTDEV_REGISTER_WIDTH = 4;
export const PC_TESTDEV_IRQ_LINES = 0x2000;
export const PC_TESTDEV_IRQ_LINE_COUNT = 24;
export const PC_TESTDEV_IOMEM = 0xff00_0000;
export const PC_TESTDEV_IOMEM_SIZE = 0x1_0000;

/** The shared words: the scratch register (word 0); the iomem bytes follow the block's words. */
const SCRATCH = 0;
const STATE_WORDS = 1;
/** SharedState's lock word and the scratch word come first. */
const IOMEM_OFFSET = (STATE_WORDS + 1) * 4;

/** A shared block for one pc-testdev: its scratch register, lock and 64 KiB of iomem. */
export function createPcTestdevState(): SharedArrayBuffer {
  return new SharedArrayBuffer(IOMEM_OFFSET + PC_TESTDEV_IOMEM_SIZE);
}

/**
 * ISA IRQ n reaches the IO APIC on pin n, except IRQ 0, which a PC routes to pin 2 (the
 * interrupt source override in its ACPI MADT, ACPI 6.5 section 5.2.12.5). QEMU 7.2 has 16
 * ISA IRQs; ports 0x2010-0x2017 drive pins 16-23 here.
 */
export function isaIrqPin(irq: number): number {
  return irq === 0 ? 2 : irq;
}

export interface PcTestdevOptions {
  /** The block from createPcTestdevState, shared by every vCPU's PcTestdev. */
  readonly state: SharedArrayBuffer;
  /** IO APIC input pin `pin` as a line. */
  readonly pin: (pin: number) => InterruptLine;
}

export class PcTestdev {
  private readonly state: SharedState;
  private readonly iomemBytes: Uint8Array;

  /** I/O ports 0xe0-0xe3: the scratch register, accessed as wide as the access. */
  readonly ioport: BusDevice = {
    read: (offset, data) => this.state.locked(() => data.forEach((_, i) => (data[i] = this.scratchByte(offset + i)))),
    write: (offset, data) => this.state.locked(() => data.forEach((byte, i) => this.setScratchByte(offset + i, byte))),
  };

  /** I/O ports 0xe4-0xe7: the page flush, invisible to the guest. */
  readonly flushPage: BusDevice = {
    read: (_offset, data) => data.fill(0),
    write: () => {},
  };

  /** I/O ports 0xe8-0xeb: the scratch register a byte at a time, wrapping around its four bytes. */
  readonly ioportByte: BusDevice = {
    read: (offset, data) => this.state.locked(() => data.forEach((_, i) => (data[i] = this.scratchByte((offset + i) % PC_TESTDEV_REGISTER_WIDTH)))),
    write: (offset, data) => this.state.locked(() => data.forEach((byte, i) => this.setScratchByte((offset + i) % PC_TESTDEV_REGISTER_WIDTH, byte))),
  };

  /** I/O ports 0x2000-0x2017: one ISA interrupt line per port. */
  readonly irqLines: BusDevice = {
    read: (_offset, data) => data.fill(0),
    write: (offset, data) => {
      if (data.length !== 1 || offset >= PC_TESTDEV_IRQ_LINE_COUNT) return; // QEMU takes byte accesses only
      this.options.pin(isaIrqPin(offset)).setLevel(data[0] !== 0);
    },
  };

  /** MMIO 0xff000000-0xff00ffff: scratch memory; bytes past its end read as 0. */
  readonly iomem: BusDevice = {
    read: (offset, data) =>
      this.state.locked(() => data.forEach((_, i) => (data[i] = offset + i < PC_TESTDEV_IOMEM_SIZE ? (this.iomemBytes[offset + i] as number) : 0))),
    write: (offset, data) =>
      this.state.locked(() =>
        data.forEach((byte, i) => {
          if (offset + i < PC_TESTDEV_IOMEM_SIZE) this.iomemBytes[offset + i] = byte;
        }),
      ),
  };

  constructor(private readonly options: PcTestdevOptions) {
    this.state = new SharedState(STATE_WORDS, options.state);
    this.iomemBytes = new Uint8Array(options.state, IOMEM_OFFSET, PC_TESTDEV_IOMEM_SIZE);
  }

  /** Byte `index` of the scratch register; 0 past its four bytes. Under the lock. */
  private scratchByte(index: number): number {
    return index < PC_TESTDEV_REGISTER_WIDTH ? (this.state.get(SCRATCH) >>> (8 * index)) & 0xff : 0;
  }

  private setScratchByte(index: number, byte: number): void {
    if (index >= PC_TESTDEV_REGISTER_WIDTH) return;
    const shift = 8 * index;
    this.state.set(SCRATCH, (this.state.get(SCRATCH) & ~(0xff << shift)) | (byte << shift));
  }
}
