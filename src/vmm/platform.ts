/**
 * The machine around the vCPUs: the I/O-port and MMIO buses with the devices a VmSpec
 * lists, and the guarded ranges of guest memory (read-only RAM, reserved holes) whose
 * accesses exit to tsvisor. Devices reach the VMM only through the callbacks given here.
 */
import { MEMORY_AVAILABLE, guestMemoryMap } from '../boot/multiboot-info.js';
import type { DeviceKind, DeviceSpec, MemoryRegionSpec } from '../config/vm-spec.js';
import { AcpiPm1Control } from '../devices/acpi-pm1-control.js';
import { Bus } from '../devices/bus.js';
import { UNCONNECTED_LINE, type BusDevice, type ByteSink } from '../devices/bus-device.js';
import { DebugExit } from '../devices/debug-exit.js';
import { FwCfg } from '../devices/fw-cfg.js';
import { GuardedRegion } from '../devices/guarded-region.js';
import { Uart16550 } from '../devices/uart16550.js';
import type { GuestMemory } from '../memory/guest-memory.js';

export interface PlatformEffects {
  /** Where COM1's output goes. */
  readonly serialOutput: ByteSink;
  readonly onDebugExit: (value: number) => void;
  readonly onPowerOff: () => void;
  /** Tells the user something the guest did that they should know (a write to read-only memory, ...). */
  readonly report: (message: string) => void;
}

export interface Platform {
  readonly ioBus: Bus;
  readonly mmioBus: Bus;
  readonly com1: Uart16550;
  readonly guardedRegions: readonly GuardedRegion[];
}

/** The device kinds this version emulates; the others are listed in the VmSpec but not yet built. */
export const EMULATED_DEVICE_KINDS: ReadonlySet<DeviceKind> = new Set(['uart-16550', 'debug-exit', 'acpi-pm1-control', 'fw-cfg']);

export function buildPlatform(
  spec: { readonly cpuCount: number; readonly devices: readonly DeviceSpec[]; readonly memoryRegions: readonly MemoryRegionSpec[] },
  memory: GuestMemory,
  effects: PlatformEffects,
): Platform {
  const memoryMap = guestMemoryMap(spec.memoryRegions);
  const ioBus = new Bus('I/O port');
  const mmioBus = new Bus('MMIO');
  // No interrupt controller is emulated yet, so COM1's interrupt line is not wired to anything.
  const com1 = new Uart16550({ irq: UNCONNECTED_LINE, output: effects.serialOutput });
  const models: Partial<Record<DeviceKind, BusDevice>> = {
    'uart-16550': com1,
    'debug-exit': new DebugExit(effects.onDebugExit),
    'acpi-pm1-control': new AcpiPm1Control(effects.onPowerOff),
    'fw-cfg': new FwCfg({
      cpuCount: spec.cpuCount,
      ramSize: memoryMap.filter((entry) => entry.type === MEMORY_AVAILABLE).reduce((total, entry) => total + entry.size, 0),
      memoryMap: memoryMap.map((entry) => ({ address: entry.base, length: entry.size, type: entry.type })),
    }),
  };
  for (const device of spec.devices) {
    const model = models[device.kind];
    if (model) (device.bus === 'io' ? ioBus : mmioBus).register(device.name, device.base, device.length, model);
  }

  const guardedRegions: GuardedRegion[] = [];
  for (const region of spec.memoryRegions) {
    if (region.mapType !== 'reserved' && !region.readOnly) continue;
    const guard = new GuardedRegion({
      name: region.keyPath,
      base: region.gpa,
      report: effects.report,
      ...(region.readOnly ? { readMemory: (offset: number, data: Uint8Array) => readRam(memory, region.gpa + offset, data) } : {}),
    });
    mmioBus.register(region.keyPath, region.gpa, region.size, guard);
    guardedRegions.push(guard);
  }
  return { ioBus, mmioBus, com1, guardedRegions };
}

/** Guest RAM into `data`, or all ones where the access runs past RAM: a guest cannot make tsvisor read outside it. */
function readRam(memory: GuestMemory, gpa: number, data: Uint8Array): void {
  if (memory.contains(gpa, data.length)) data.set(memory.read(gpa, data.length));
  else data.fill(0xff);
}
