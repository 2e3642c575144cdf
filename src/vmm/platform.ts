/**
 * The PC platform every tsvisor VM has: its I/O-port and MMIO buses, COM1, QEMU's debug-exit
 * port and the ACPI power-off register. Devices reach the VMM only through the callbacks given here.
 */
import { AcpiPm1Control, ACPI_PM1A_CONTROL_PORT, ACPI_PM1_CONTROL_WIDTH } from '../devices/acpi-pm1-control.js';
import { Bus } from '../devices/bus.js';
import { UNCONNECTED_LINE, type ByteSink } from '../devices/bus-device.js';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH, DebugExit } from '../devices/debug-exit.js';
import { UART_REGISTER_COUNT, Uart16550 } from '../devices/uart16550.js';

export const COM1_PORT = 0x3f8;

export interface PlatformEffects {
  /** Where COM1's output goes. */
  readonly serialOutput: ByteSink;
  readonly onDebugExit: (value: number) => void;
  readonly onPowerOff: () => void;
}

export interface Platform {
  readonly ioBus: Bus;
  readonly mmioBus: Bus;
  readonly com1: Uart16550;
}

export function buildPlatform(effects: PlatformEffects): Platform {
  const ioBus = new Bus('I/O port');
  const mmioBus = new Bus('MMIO');
  // No interrupt controller is emulated yet, so COM1's IRQ 4 is not wired to anything.
  const com1 = new Uart16550({ irq: UNCONNECTED_LINE, output: effects.serialOutput });
  ioBus.register('COM1 (16550A UART)', COM1_PORT, UART_REGISTER_COUNT, com1);
  ioBus.register('debug-exit', DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH, new DebugExit(effects.onDebugExit));
  ioBus.register('ACPI PM1a control', ACPI_PM1A_CONTROL_PORT, ACPI_PM1_CONTROL_WIDTH, new AcpiPm1Control(effects.onPowerOff));
  return { ioBus, mmioBus, com1 };
}
