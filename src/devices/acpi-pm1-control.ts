/**
 * The ACPI PM1a control register (ACPI 6.5, 4.8.3.2.1 "PM1 Control Registers"), at I/O
 * port 0x604 where QEMU's q35 machine puts it. A write with SLP_EN set and SLP_TYP 0 (the
 * S5 soft-off encoding QEMU uses) powers the machine off: the write QEMU guests and ArceOS
 * make is 0x2000 as 16 bits. Other sleep types are not modelled: the write is stored and
 * the machine keeps running.
 */
import type { BusDevice } from './bus-device.js';

export const ACPI_PM1A_CONTROL_PORT = 0x604;
export const ACPI_PM1_CONTROL_WIDTH = 2;

export const PM1_SCI_EN = 1 << 0;
export const PM1_SLP_TYP_SHIFT = 10;
export const PM1_SLP_TYP_MASK = 0x7 << PM1_SLP_TYP_SHIFT;
/** SLP_EN is write-only: it reads as 0. */
export const PM1_SLP_EN = 1 << 13;
export const SLP_TYP_SOFT_OFF = 0;

export class AcpiPm1Control implements BusDevice {
  private value = 0;

  constructor(private readonly onPowerOff: () => void) {}

  read(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const byte = offset + i;
      data[i] = byte < ACPI_PM1_CONTROL_WIDTH ? (this.value >> (8 * byte)) & 0xff : 0xff;
    }
  }

  write(offset: number, data: Uint8Array): void {
    let written = this.value;
    for (let i = 0; i < data.length; i++) {
      const byte = offset + i;
      if (byte >= ACPI_PM1_CONTROL_WIDTH) continue;
      written = (written & ~(0xff << (8 * byte))) | ((data[i] as number) << (8 * byte));
    }
    this.value = written & ~PM1_SLP_EN;
    const sleepType = (written & PM1_SLP_TYP_MASK) >> PM1_SLP_TYP_SHIFT;
    if (written & PM1_SLP_EN && sleepType === SLP_TYP_SOFT_OFF) this.onPowerOff();
  }
}
