/**
 * Each device's machine reset (Vm.reset calls them through vmm/platform.ts resetPlatform): a
 * device the guest has programmed, then reset, reads register by register as a device fresh
 * from power-on reads, with the same accesses in the same order; an interrupt line it held is
 * lowered. Statistics that outlive resets (ignored accesses, coalesced periods) are kept.
 */
import { describe, expect, it } from 'vitest';
import type { BusDevice, ByteSink, InterruptLine } from '../../src/devices/bus-device.js';
import { AcpiPm1Control, ACPI_PM1_STATE_WORDS, PM1_SCI_EN } from '../../src/devices/acpi-pm1-control.js';
import { FW_CFG_ID, FW_CFG_STATE_WORDS, FwCfg } from '../../src/devices/fw-cfg.js';
import * as hpet from '../../src/devices/hpet.js';
import * as ioapic from '../../src/devices/io-apic.js';
import * as lapic from '../../src/devices/local-apic.js';
import { ATTENTION_NMI, LocalApicStates } from '../../src/devices/local-apic-state.js';
import * as pic from '../../src/devices/pic8259.js';
import * as pit from '../../src/devices/pit8254.js';
import { SharedState } from '../../src/devices/shared-state.js';
import * as uart from '../../src/devices/uart16550.js';

class Line implements InterruptLine {
  level = false;
  setLevel(asserted: boolean): void {
    this.level = asserted;
  }
}

const byteSink: ByteSink = { offer: () => true, wakeDrainer: () => {} };
const outb = (device: BusDevice, offset: number, value: number) => device.write(offset, Uint8Array.of(value));
const inb = (device: BusDevice, offset: number) => {
  const data = new Uint8Array(1);
  device.read(offset, data);
  return data[0] as number;
};
const write32 = (device: BusDevice, offset: number, value: number) => device.write(offset, new Uint8Array(new Uint32Array([value >>> 0]).buffer));
const read32 = (device: BusDevice, offset: number) => {
  const data = new Uint8Array(4);
  device.read(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
};
const write64 = (device: BusDevice, offset: number, value: bigint) => device.write(offset, new Uint8Array(new BigUint64Array([value]).buffer));
const read64 = (device: BusDevice, offset: number) => {
  const data = new Uint8Array(8);
  device.read(offset, data);
  return new DataView(data.buffer).getBigUint64(0, true);
};

describe('UART 16550 reset', () => {
  /** Every register, DLAB clear then set (the divisor latch), LSR before RBR and IIR: reads that take something take it alike in both. */
  const registers = (device: uart.Uart16550) => {
    const lcr = inb(device, uart.UART_LCR);
    const plain = [uart.UART_IER, uart.UART_LCR, uart.UART_MCR, uart.UART_LSR, uart.UART_MSR, uart.UART_SCR, uart.UART_IIR, uart.UART_RBR].map((offset) => inb(device, offset));
    outb(device, uart.UART_LCR, lcr | uart.LCR_DLAB);
    const divisor = [inb(device, uart.UART_DLL), inb(device, uart.UART_DLM)];
    outb(device, uart.UART_LCR, lcr);
    return { plain, divisor };
  };

  it('reads as at power-on, FIFOs empty, its interrupt line lowered', () => {
    const line = new Line();
    const device = new uart.Uart16550({ irq: line, output: { ...byteSink, offer: () => false } });
    outb(device, uart.UART_LCR, uart.LCR_DLAB);
    outb(device, uart.UART_DLL, 0x0c);
    outb(device, uart.UART_DLM, 0x01);
    outb(device, uart.UART_LCR, 0x1b);
    outb(device, uart.UART_FCR, 0xc7);
    outb(device, uart.UART_MCR, uart.MCR_DTR | uart.MCR_RTS | uart.MCR_OUT2);
    outb(device, uart.UART_IER, uart.IER_RDA | uart.IER_THRE | uart.IER_RLS | uart.IER_MS);
    outb(device, uart.UART_SCR, 0x5a);
    device.receive(Uint8Array.of(1, 2, 3));
    outb(device, uart.UART_THR, 0x41); // the host takes nothing: it stays in the transmitter
    expect(line.level).toBe(true);

    device.reset();
    const fresh = new uart.Uart16550({ irq: new Line(), output: byteSink });
    expect(registers(device)).toEqual(registers(fresh));
    expect(line.level).toBe(false);
    expect(device.receiveRoom).toBe(fresh.receiveRoom);
  });
});

describe('8259A PIC pair reset', () => {
  const registers = (pair: pic.Pic8259) =>
    [pair.master, pair.slave].flatMap((chip) => {
      const mask = inb(chip, pic.PIC_DATA);
      outb(chip, pic.PIC_COMMAND, 0x0a); // OCW3: read IRR
      const irr = inb(chip, pic.PIC_COMMAND);
      outb(chip, pic.PIC_COMMAND, 0x0b); // OCW3: read ISR
      const isr = inb(chip, pic.PIC_COMMAND);
      return [mask, irr, isr];
    }).concat([inb(pair.elcr, 0), inb(pair.elcr, 1)]);

  it('both chips and the ELCR read as at power-on, its output lowered', () => {
    const output = new Line();
    const pair = new pic.Pic8259({ output });
    for (const [chip, base, cascade] of [[pair.master, 0x20, 0x04], [pair.slave, 0x28, 0x02]] as const) {
      outb(chip, pic.PIC_COMMAND, 0x11); // ICW1: edge, cascade, ICW4 follows
      outb(chip, pic.PIC_DATA, base);
      outb(chip, pic.PIC_DATA, cascade);
      outb(chip, pic.PIC_DATA, 0x01);
      outb(chip, pic.PIC_DATA, 0x00); // OCW1: everything unmasked
    }
    outb(pair.elcr, 1, 0x0c);
    pair.setIrq(1, true);
    expect(output.level).toBe(true);

    pair.reset();
    expect(registers(pair)).toEqual(registers(new pic.Pic8259()));
    expect(output.level).toBe(false);
  });
});

describe('8254 PIT reset', () => {
  const START = 5_000_000_000;
  /** Read-Back of every channel's status and count, then port 0x61. */
  const registers = (device: pit.Pit, portB: BusDevice) => {
    outb(device, pit.PIT_CONTROL, 0xc0 | 0b1110); // read back: count and status of channels 0-2
    const channels = [0, 1, 2].map((channel) => [inb(device, channel), inb(device, channel), inb(device, channel)]);
    return { channels, portB: inb(portB, 0) & 0x03 }; // bits 1:0 are the writable ones
  };

  it('every channel as at power-on, port 0x61 cleared, no deadline; the coalesced count kept', () => {
    let now = START;
    let deadlineChanges = 0;
    const state = new SharedState(pit.PIT_STATE_WORDS);
    const device = new pit.Pit({ state, now: () => now, irq: new Line(), onDeadlineChange: () => deadlineChanges++ });
    const portB = new pit.SystemControlPortB(device);
    outb(device, pit.PIT_CONTROL, 0x34); // channel 0, LSB then MSB, mode 2
    outb(device, 0, 0x10);
    outb(device, 0, 0x00);
    outb(portB, 0, 0x03);
    outb(device, pit.PIT_CONTROL, 0xb6); // channel 2, mode 3
    outb(device, 2, 0x00);
    outb(device, 2, 0x10);
    now += 10_000_000;
    device.service(now);
    expect(device.nextDeadline()).not.toBe(Infinity);
    // channel 0 rose ~1000 times in 10 ms of one service: all but one coalesced
    const coalesced = pit.pitCoalescedPeriods(state);
    expect(coalesced).toBeGreaterThan(0);

    device.reset();
    expect(deadlineChanges).toBeGreaterThan(0);
    expect(device.nextDeadline()).toBe(Infinity);
    expect(pit.pitCoalescedPeriods(state)).toBe(coalesced);
    const fresh = new pit.Pit({ now: () => now, irq: new Line(), onDeadlineChange: () => {} });
    expect(registers(device, portB)).toEqual(registers(fresh, new pit.SystemControlPortB(fresh)));
  });
});

describe('HPET reset', () => {
  const registers = (device: hpet.Hpet) => [
    read64(device, hpet.HPET_CAPABILITIES),
    read64(device, hpet.HPET_CONFIGURATION),
    read64(device, hpet.HPET_INTERRUPT_STATUS),
    read64(device, hpet.HPET_MAIN_COUNTER),
    ...[0, 1, 2].flatMap((timer) => [read64(device, hpet.hpetTimerConfiguration(timer)), read64(device, hpet.hpetTimerComparator(timer))]),
  ];

  it('reads as at power-on (counter halted at 0, comparators all ones), a level interrupt lowered, no deadline', () => {
    let now = 1_000_000_000;
    const lines = new Map<number, Line>();
    const line = (pin: number) => lines.get(pin) ?? lines.set(pin, new Line()).get(pin)!;
    let deadlineChanges = 0;
    const device = new hpet.Hpet({ now: () => now, irqLine: line, onDeadlineChange: () => deadlineChanges++ });
    write64(device, hpet.hpetTimerConfiguration(0), BigInt(hpet.TN_INT_TYPE_CNF | hpet.TN_INT_ENB_CNF | (20 << hpet.TN_INT_ROUTE_CNF_SHIFT)));
    write64(device, hpet.hpetTimerComparator(0), 100n);
    write64(device, hpet.hpetTimerComparator(1), 0x1234n);
    write64(device, hpet.HPET_CONFIGURATION, BigInt(hpet.ENABLE_CNF));
    now += 1_000_000;
    device.serviceTimers(now);
    expect(line(20).level).toBe(true);

    deadlineChanges = 0;
    device.reset();
    expect(line(20).level).toBe(false);
    expect(deadlineChanges).toBe(1);
    expect(device.nextDeadline()).toBe(Infinity);
    expect(registers(device)).toEqual(registers(new hpet.Hpet({ now: () => now, irqLine: () => new Line(), onDeadlineChange: () => {} })));
  });
});

describe('IO APIC reset', () => {
  const select = (device: ioapic.IoApic, register: number) => {
    write32(device, ioapic.IOREGSEL, register);
    return read32(device, ioapic.IOWIN);
  };
  const registers = (device: ioapic.IoApic) => [
    read32(device, ioapic.IOREGSEL),
    select(device, ioapic.IOAPICID),
    select(device, ioapic.IOAPICVER),
    select(device, ioapic.IOAPICARB),
    ...Array.from({ length: ioapic.IO_APIC_PIN_COUNT * 2 }, (_, i) => select(device, ioapic.IOREDTBL_FIRST + i)),
  ];

  it('every entry masked, ID 0, no pin level or edge left to send; the ignored-access count kept', () => {
    const sent: number[] = [];
    const device = new ioapic.IoApic({ sink: { send: (message) => (sent.push(message.vector), 1) } });
    write32(device, ioapic.IOREGSEL, ioapic.IOAPICID);
    write32(device, ioapic.IOWIN, 3 << ioapic.IOAPICID_SHIFT);
    write32(device, ioapic.IOREGSEL, ioapic.IOREDTBL_FIRST + 2 * 4);
    write32(device, ioapic.IOWIN, 0x30 | ioapic.IOREDTBL_LEVEL_TRIGGERED);
    write32(device, ioapic.IOREGSEL, ioapic.IOREDTBL_FIRST + 2 * 5 + 1);
    write32(device, ioapic.IOWIN, 0xff << ioapic.IOREDTBL_DESTINATION_SHIFT);
    device.setPinLevel(4, true); // Remote IRR set, awaiting EOI
    device.read(0x40, new Uint8Array(4)); // an ignored access: a statistic
    const ignored = device.ignoredAccesses;

    device.reset();
    expect(registers(device)).toEqual(registers(new ioapic.IoApic({ sink: { send: () => 1 } })));
    expect(device.ignoredAccesses).toBe(ignored);
    // The pin's level went with the reset: unmasking its entry sends nothing.
    sent.length = 0;
    write32(device, ioapic.IOREGSEL, ioapic.IOREDTBL_FIRST + 2 * 4);
    write32(device, ioapic.IOWIN, 0x30 | ioapic.IOREDTBL_LEVEL_TRIGGERED);
    expect(sent).toEqual([]);
  });
});

describe('Local APIC power-on (a machine reset, not INIT)', () => {
  const registers = (apic: lapic.LocalApic) =>
    [lapic.APIC_ID, lapic.APIC_VERSION, lapic.APIC_TPR, lapic.APIC_PPR, lapic.APIC_LDR, lapic.APIC_DFR, lapic.APIC_SVR, lapic.APIC_ESR, lapic.APIC_ICR_LOW, lapic.APIC_ICR_HIGH,
      lapic.APIC_LVT_TIMER, lapic.APIC_LVT_THERMAL, lapic.APIC_LVT_PERFORMANCE, lapic.APIC_LVT_LINT0, lapic.APIC_LVT_LINT1, lapic.APIC_LVT_ERROR,
      lapic.APIC_TIMER_INITIAL_COUNT, lapic.APIC_TIMER_CURRENT_COUNT, lapic.APIC_TIMER_DIVIDE,
      ...Array.from({ length: 8 }, (_, i) => [lapic.APIC_ISR + 0x10 * i, lapic.APIC_TMR + 0x10 * i, lapic.APIC_IRR + 0x10 * i]).flat()].map((offset) => read32(apic, offset));
  const make = (states: LocalApicStates, id: number, relocations: number[] = []) => {
    const taskPriority = { cr8: 0 };
    const apic = new lapic.LocalApic({
      id, states, ipis: { sendIpi: () => {} }, taskPriority, now: () => 1_000, onLevelEoi: () => {}, onAcceptingInterrupts: () => {},
      relocate: (base) => (relocations.push(base), true), report: () => {},
    });
    return { apic, taskPriority };
  };

  it.each([0, 1])('vCPU %i: registers, IA32_APIC_BASE (BSP on vCPU 0 alone) and the APIC ID as at power-on; raised events dropped', (id) => {
    const states = new LocalApicStates(2);
    const relocations: number[] = [];
    const { apic, taskPriority } = make(states, id, relocations);
    write32(apic, lapic.APIC_ID, 7 << 24);
    write32(apic, lapic.APIC_SVR, 0x1ff);
    write32(apic, lapic.APIC_TPR, 0x20);
    write32(apic, lapic.APIC_LDR, 0x0100_0000);
    write32(apic, lapic.APIC_LVT_TIMER, 0x40 | (lapic.TIMER_MODE_PERIODIC << 17));
    write32(apic, lapic.APIC_TIMER_DIVIDE, 0x0b);
    write32(apic, lapic.APIC_TIMER_INITIAL_COUNT, 1_000_000);
    states.raise(id, ATTENTION_NMI);
    expect(apic.writeApicBase(0xfed0_0000n | lapic.APIC_BASE_ENABLE)).toBe(true); // moved, BSP flag cleared
    expect(apic.nextDeadline).not.toBe(Infinity);

    apic.powerOn();
    const fresh = make(new LocalApicStates(2), id).apic;
    expect(registers(apic)).toEqual(registers(fresh));
    expect(apic.readApicBase()).toBe(fresh.readApicBase());
    expect(apic.readApicBase() & lapic.APIC_BASE_BSP).toBe(id === 0 ? lapic.APIC_BASE_BSP : 0n);
    expect(relocations).toEqual([0xfed0_0000, lapic.LOCAL_APIC_DEFAULT_BASE]);
    expect(states.apicId(id)).toBe(id);
    expect(apic.pendingEvents).toBe(0);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(taskPriority.cr8).toBe(0);
  });
});

describe('fw_cfg and ACPI PM1 control reset', () => {
  it('fw_cfg: the selection back to item 0 (the signature), read from its start', () => {
    const state = new SharedState(FW_CFG_STATE_WORDS);
    const device = new FwCfg({ bootCpus: 1, cpuCount: 1, ramSize: 0x100_0000, memoryMap: [] }, state);
    device.write(0, Uint8Array.of(FW_CFG_ID, 0));
    inb(device, 1);
    device.reset();
    expect([0, 1, 2, 3].map(() => String.fromCharCode(inb(device, 1))).join('')).toBe('QEMU');
  });

  it('PM1 control: SCI_EN and SLP_TYP clear', () => {
    const device = new AcpiPm1Control(() => {}, new SharedState(ACPI_PM1_STATE_WORDS));
    device.write(0, Uint8Array.of(PM1_SCI_EN, 0x14)); // SCI_EN, SLP_TYP 5 (no SLP_EN: not a power-off)
    expect(read32({ read: (offset, data) => device.read(offset, data), write: () => {} }, 0) & 0xffff).toBe(0x1401);
    device.reset();
    expect(inb(device, 0) | (inb(device, 1) << 8)).toBe(0);
  });
});
