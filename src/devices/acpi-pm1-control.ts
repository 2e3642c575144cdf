/**
 * The ACPI PM1a control register (ACPI 6.5, 4.8.3.2.1 "PM1 Control Registers"), at I/O
 * port 0x604 where QEMU's q35 machine puts it. A write with SLP_EN set and SLP_TYP 0 (the
 * S5 soft-off encoding QEMU uses) powers the machine off: the write QEMU guests and ArceOS
 * make is 0x2000 as 16 bits. Other sleep types are not modelled: the write is stored and
 * the machine keeps running. The register's value is shared state, the same on every vCPU.
 */
import type { BusDevice } from './bus-device.js';
import { SharedState } from './shared-state.js';

/** The one shared word: the register's value. */
const VALUE = 0;
export const ACPI_PM1_STATE_WORDS = 1;

export const ACPI_PM1A_CONTROL_PORT = 0x604;
export const ACPI_PM1_CONTROL_WIDTH = 2;

export const PM1_SCI_EN = 1 << 0;
export const PM1_SLP_TYP_SHIFT = 10;
export const PM1_SLP_TYP_MASK = 0x7 << PM1_SLP_TYP_SHIFT;
/** SLP_EN is write-only: it reads as 0. */
export const PM1_SLP_EN = 1 << 13;
export const SLP_TYP_SOFT_OFF = 0;

export class AcpiPm1Control implements BusDevice {
  constructor(
    private readonly onPowerOff: () => void,
    private readonly state: SharedState = new SharedState(ACPI_PM1_STATE_WORDS),
  ) {}

  /** A machine reset: PM1 control back to 0 (ACPI 6.5, 4.8.3.2.1: SCI_EN and SLP_TYP clear), as firmware finds it at power-on. */
  reset(): void {
    this.state.locked(() => this.state.zero());
  }

  read(offset: number, data: Uint8Array): void {
    const value = this.state.locked(() => this.state.get(VALUE));
    for (let i = 0; i < data.length; i++) {
      const byte = offset + i;
      data[i] = byte < ACPI_PM1_CONTROL_WIDTH ? (value >> (8 * byte)) & 0xff : 0xff;
    }
  }

  write(offset: number, data: Uint8Array): void {
    const written = this.state.locked(() => {
      let value = this.state.get(VALUE);
      for (let i = 0; i < data.length; i++) {
        const byte = offset + i;
        if (byte >= ACPI_PM1_CONTROL_WIDTH) continue;
        value = (value & ~(0xff << (8 * byte))) | ((data[i] as number) << (8 * byte));
      }
      this.state.set(VALUE, value & ~PM1_SLP_EN);
      return value;
    });
    const sleepType = (written & PM1_SLP_TYP_MASK) >> PM1_SLP_TYP_SHIFT;
    if (written & PM1_SLP_EN && sleepType === SLP_TYP_SOFT_OFF) this.onPowerOff();
  }
}
