/**
 * The machine around the vCPUs: the I/O-port and MMIO buses with the devices a VmSpec lists,
 * and the guarded ranges of guest memory (read-only RAM, reserved holes) whose accesses exit
 * to tsvisor. Every vCPU thread builds its own buses and device objects; the devices'
 * registers live in shared state (PlatformState) made once on the main thread, so every
 * vCPU sees the same machine. Devices reach the VMM only through the callbacks given here.
 */
import { MEMORY_AVAILABLE, guestMemoryMap } from '../boot/multiboot-info.js';
import type { DeviceKind, DeviceSpec, MemoryRegionSpec } from '../config/vm-spec.js';
import { ACPI_PM1_STATE_WORDS, AcpiPm1Control } from '../devices/acpi-pm1-control.js';
import { Bus, type BusCounters, type UnassignedAccess } from '../devices/bus.js';
import { UNCONNECTED_LINE, type BusDevice, type ByteSink } from '../devices/bus-device.js';
import { DebugExit } from '../devices/debug-exit.js';
import { FW_CFG_STATE_WORDS, FwCfg } from '../devices/fw-cfg.js';
import { GuardedRegion } from '../devices/guarded-region.js';
import { SharedState } from '../devices/shared-state.js';
import { UART_STATE_WORDS, Uart16550 } from '../devices/uart16550.js';
import type { GuestMemory } from '../memory/guest-memory.js';

export interface PlatformSpec {
  readonly cpuCount: number;
  readonly devices: readonly DeviceSpec[];
  readonly memoryRegions: readonly MemoryRegionSpec[];
}

/** The device kinds this version emulates; the others are listed in the VmSpec but not yet built. */
export const EMULATED_DEVICE_KINDS: ReadonlySet<DeviceKind> = new Set(['uart-16550', 'debug-exit', 'acpi-pm1-control', 'fw-cfg']);

/** The shared state of the devices every vCPU can touch, made once, handed to every thread. */
export interface PlatformState {
  readonly uart: SharedArrayBuffer;
  readonly fwCfg: SharedArrayBuffer;
  readonly pm1: SharedArrayBuffer;
}

export function createPlatformState(): PlatformState {
  const words = (count: number) => new SharedState(count).buffer as SharedArrayBuffer;
  return { uart: words(UART_STATE_WORDS), fwCfg: words(FW_CFG_STATE_WORDS), pm1: words(ACPI_PM1_STATE_WORDS) };
}

/** COM1 over the shared state, for the thread that feeds it host input (the main thread). */
export function consoleUart(state: PlatformState): Uart16550 {
  return new Uart16550({ irq: UNCONNECTED_LINE, output: { write() {} }, state: new SharedState(UART_STATE_WORDS, state.uart) });
}

export interface PlatformEffects {
  /** Where COM1's output goes. */
  readonly serialOutput: ByteSink;
  readonly onDebugExit: (value: number) => void;
  readonly onPowerOff: () => void;
  /** Tells the user something the guest did that they should know (a write to read-only memory, ...). */
  readonly report: (message: string) => void;
  /** Called for each access no device owns, when tracing them. */
  readonly onUnassigned: ((access: UnassignedAccess) => void) | undefined;
}

export interface Platform {
  readonly ioBus: Bus;
  readonly mmioBus: Bus;
}

/** One thing on a bus, in registration order: what the bus counters' slots mean. */
interface Attachment {
  readonly name: string;
  readonly bus: 'io' | 'mmio';
  readonly base: number;
  readonly length: number;
  readonly create: (memory: GuestMemory, state: PlatformState, effects: PlatformEffects) => BusDevice;
}

function attachments(spec: PlatformSpec): Attachment[] {
  const memoryMap = guestMemoryMap(spec.memoryRegions);
  const makers: Partial<Record<DeviceKind, Attachment['create']>> = {
    // No interrupt controller is emulated yet, so COM1's interrupt line is not wired to anything.
    'uart-16550': (_memory, state, effects) =>
      new Uart16550({ irq: UNCONNECTED_LINE, output: effects.serialOutput, state: new SharedState(UART_STATE_WORDS, state.uart) }),
    'debug-exit': (_memory, _state, effects) => new DebugExit(effects.onDebugExit),
    'acpi-pm1-control': (_memory, state, effects) => new AcpiPm1Control(effects.onPowerOff, new SharedState(ACPI_PM1_STATE_WORDS, state.pm1)),
    'fw-cfg': (_memory, state) =>
      new FwCfg(
        {
          cpuCount: spec.cpuCount,
          ramSize: memoryMap.filter((entry) => entry.type === MEMORY_AVAILABLE).reduce((total, entry) => total + entry.size, 0),
          memoryMap: memoryMap.map((entry) => ({ address: entry.base, length: entry.size, type: entry.type })),
        },
        new SharedState(FW_CFG_STATE_WORDS, state.fwCfg),
      ),
  };
  const devices: Attachment[] = spec.devices.flatMap((device) => {
    const create = makers[device.kind];
    return create ? [{ name: device.name, bus: device.bus, base: device.base, length: device.length, create }] : [];
  });
  const guards: Attachment[] = spec.memoryRegions
    .filter((region) => region.mapType === 'reserved' || region.readOnly)
    .map((region) => ({
      name: `${region.keyPath} (${region.readOnly ? 'read-only' : 'reserved'})`,
      bus: 'mmio',
      base: region.gpa,
      length: region.size,
      create: (memory, _state, effects) =>
        new GuardedRegion({
          name: region.keyPath,
          base: region.gpa,
          report: effects.report,
          ...(region.readOnly ? { readMemory: (offset: number, data: Uint8Array) => readRam(memory, region.gpa + offset, data) } : {}),
        }),
    }));
  return [...devices, ...guards];
}

/** The names of each bus's counter slots: slot 0 is the unassigned accesses, then each device in registration order. */
export function busSlotNames(spec: PlatformSpec): { readonly io: string[]; readonly mmio: string[] } {
  const all = attachments(spec);
  return {
    io: ['unassigned I/O ports', ...all.filter((a) => a.bus === 'io').map((a) => a.name)],
    mmio: ['unassigned MMIO', ...all.filter((a) => a.bus === 'mmio').map((a) => a.name)],
  };
}

export function buildPlatform(
  spec: PlatformSpec,
  memory: GuestMemory,
  state: PlatformState,
  effects: PlatformEffects,
  counters: { readonly io: BusCounters; readonly mmio: BusCounters },
): Platform {
  const ioBus = new Bus('I/O port', counters.io);
  const mmioBus = new Bus('MMIO', counters.mmio);
  for (const attachment of attachments(spec)) {
    (attachment.bus === 'io' ? ioBus : mmioBus).register(attachment.name, attachment.base, attachment.length, attachment.create(memory, state, effects));
  }
  ioBus.onUnassigned = effects.onUnassigned;
  mmioBus.onUnassigned = effects.onUnassigned;
  return { ioBus, mmioBus };
}

/** Guest RAM into `data`, or all ones where the access runs past RAM: a guest cannot make tsvisor read outside it. */
function readRam(memory: GuestMemory, gpa: number, data: Uint8Array): void {
  if (memory.contains(gpa, data.length)) data.set(memory.read(gpa, data.length));
  else data.fill(0xff);
}
