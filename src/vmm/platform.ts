/**
 * The machine around the vCPUs: the I/O-port and MMIO buses with the devices a VmSpec lists,
 * and the guarded ranges of guest memory (read-only RAM, reserved holes) whose accesses exit
 * to tsvisor. Every vCPU thread builds its own buses and device objects; the devices'
 * registers live in shared state (PlatformState) made once on the main thread, so every
 * vCPU sees the same machine. The Local APIC is the exception that proves the rule: each
 * thread's bus holds its own vCPU's APIC at the same address, as on hardware. Devices reach
 * the VMM only through the callbacks given here, and COM1's output through a shared ring
 * (devices/output-ring.ts) that the main thread drains (serial-output.ts).
 */
import { MEMORY_AVAILABLE, guestMemoryMap } from '../boot/multiboot-info.js';
import { readFileSync } from 'node:fs';
import type { DeviceSpec, FwCfgFileSpec, MemoryRegionSpec } from '../config/vm-spec.js';
import { ACPI_PM1_STATE_WORDS, AcpiPm1Control } from '../devices/acpi-pm1-control.js';
import { Bus, type BusCounters, type UnassignedAccess } from '../devices/bus.js';
import { UNCONNECTED_LINE, type BusDevice } from '../devices/bus-device.js';
import { DebugExit } from '../devices/debug-exit.js';
import { FW_CFG_STATE_WORDS, FwCfg } from '../devices/fw-cfg.js';
import { GuardedRegion } from '../devices/guarded-region.js';
import { HPET_STATE_WORDS, Hpet } from '../devices/hpet.js';
import { LocalApic, type TaskPriority } from '../devices/local-apic.js';
import { OutputRing } from '../devices/output-ring.js';
import { PcTestdev, createPcTestdevState } from '../devices/pc-testdev.js';
import { PIC_STATE_WORDS, Pic8259 } from '../devices/pic8259.js';
import { PIT_STATE_WORDS, Pit, SystemControlPortB } from '../devices/pit8254.js';
import { SharedState } from '../devices/shared-state.js';
import { UART_STATE_WORDS, Uart16550 } from '../devices/uart16550.js';
import { monotonicNanos } from '../host/clock.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { createInterruptState, type InterruptState, type InterruptWiring } from './interrupts.js';
import { TimerSources, type TimerSource } from './vcpu/timer-sources.js';

export interface PlatformSpec {
  readonly cpuCount: number;
  readonly currentCpus: number;
  readonly devices: readonly DeviceSpec[];
  readonly memoryRegions: readonly MemoryRegionSpec[];
}

/** COM1's interrupt line on a PC: IRQ 4, IO APIC pin 4. */
const COM1_DEFAULT_IRQ = 4;

/** The shared state of the devices every vCPU can touch, made once, handed to every thread. */
export interface PlatformState {
  readonly uart: SharedArrayBuffer;
  /** COM1's output on its way to the host: an OutputRing, filled under the UART's lock, drained by the main thread. */
  readonly uartOutput: SharedArrayBuffer;
  readonly fwCfg: SharedArrayBuffer;
  readonly pm1: SharedArrayBuffer;
  readonly hpet: SharedArrayBuffer;
  readonly pit: SharedArrayBuffer;
  readonly pic: SharedArrayBuffer;
  readonly pcTestdev: SharedArrayBuffer;
  readonly interrupts: InterruptState;
}

export function createPlatformState(cpuCount: number): PlatformState {
  const words = (count: number) => new SharedState(count).buffer as SharedArrayBuffer;
  return {
    uart: words(UART_STATE_WORDS),
    uartOutput: OutputRing.create().buffer,
    fwCfg: words(FW_CFG_STATE_WORDS),
    pm1: words(ACPI_PM1_STATE_WORDS),
    hpet: words(HPET_STATE_WORDS),
    pit: words(PIT_STATE_WORDS),
    pic: words(PIC_STATE_WORDS),
    pcTestdev: createPcTestdevState(),
    interrupts: createInterruptState(cpuCount),
  };
}

/**
 * COM1 over the shared state, as one thread sees it: a vCPU's, or the main thread's, which
 * feeds it host input and drains its output.
 */
export function com1Uart(spec: PlatformSpec, state: PlatformState, interrupts: InterruptWiring): Uart16550 {
  return new Uart16550({ irq: interrupts.line(com1Irq(spec)), output: new OutputRing(state.uartOutput), state: new SharedState(UART_STATE_WORDS, state.uart) });
}

function com1Irq(spec: PlatformSpec): number {
  return spec.devices.find((device) => device.kind === 'uart-16550')?.irq ?? COM1_DEFAULT_IRQ;
}

export interface PlatformEffects {
  readonly onDebugExit: (value: number) => void;
  readonly onPowerOff: () => void;
  /** Tells the user something the guest did that they should know (a write to read-only memory, ...). */
  readonly report: (message: string) => void;
  /** Called for each access no device owns, when tracing them. */
  readonly onUnassigned: ((access: UnassignedAccess) => void) | undefined;
}

/** The vCPU a platform is built for, on its own thread. */
export interface PlatformCpu {
  readonly id: number;
  /** CR8 in the vCPU's kvm_run, the Local APIC's task priority. */
  readonly taskPriority: TaskPriority;
  readonly interrupts: InterruptWiring;
  /** A register access moved a platform timer's next deadline (the HPET's, the PIT's): the platform timer thread must look again. */
  readonly onPlatformTimerChange: () => void;
}

export interface Platform {
  readonly ioBus: Bus;
  readonly mmioBus: Bus;
  readonly localApic: LocalApic;
}

/** What a device is built from, on the thread that builds it. */
interface AttachmentContext {
  readonly memory: GuestMemory;
  readonly state: PlatformState;
  readonly effects: PlatformEffects;
  readonly cpu: PlatformCpu;
  readonly mmioBus: Bus;
}

/** One thing on a bus, in registration order: what the bus counters' slots mean. */
interface Attachment {
  readonly name: string;
  readonly bus: 'io' | 'mmio';
  readonly base: number;
  readonly length: number;
  readonly create: (context: AttachmentContext) => BusDevice;
}

/** A device of the spec, made on the thread that uses it. */
type DeviceMaker = (context: AttachmentContext, device: DeviceSpec) => BusDevice;

function attachments(spec: PlatformSpec): Attachment[] {
  const memoryMap = guestMemoryMap(spec.memoryRegions);
  // IA32_APIC_BASE reads where the config put the Local APIC, the address its registers answer at.
  const localApicBase = spec.devices.find((device) => device.kind === 'local-apic')?.base;
  const makers: Record<DeviceSpec['kind'], DeviceMaker> = {
    'uart-16550': ({ state, cpu }) => com1Uart(spec, state, cpu.interrupts),
    'debug-exit': ({ effects }) => new DebugExit(effects.onDebugExit),
    'acpi-pm1-control': ({ state, effects }) => new AcpiPm1Control(effects.onPowerOff, new SharedState(ACPI_PM1_STATE_WORDS, state.pm1)),
    'io-apic': ({ cpu }) => cpu.interrupts.ioApic as BusDevice,
    'local-apic': ({ cpu, effects, mmioBus }) => {
      const apic: LocalApic = new LocalApic({
        id: cpu.id,
        states: cpu.interrupts.localApics,
        ipis: cpu.interrupts.apicBus,
        taskPriority: cpu.taskPriority,
        now: monotonicNanos,
        onLevelEoi: cpu.interrupts.levelEoi,
        onAcceptingInterrupts: cpu.interrupts.localApicAccepting,
        relocate: (base) => mmioBus.move(apic, base),
        report: effects.report,
        base: localApicBase,
      });
      return apic;
    },
    hpet: ({ state, cpu }) =>
      new Hpet({
        state: new SharedState(HPET_STATE_WORDS, state.hpet),
        now: monotonicNanos,
        irqLine: (pin) => cpu.interrupts.line(pin),
        onDeadlineChange: cpu.onPlatformTimerChange,
      }),
    'pic-master': ({ state }) => picOf(state).master,
    'pic-slave': ({ state }) => picOf(state).slave,
    elcr: ({ state }) => picOf(state).elcr,
    pit: ({ state, cpu }) => pitOf(spec, state, cpu.interrupts, cpu.onPlatformTimerChange),
    'system-control-port-b': ({ state, cpu }) => new SystemControlPortB(pitOf(spec, state, cpu.interrupts, cpu.onPlatformTimerChange)),
    'fw-cfg': ({ state }, device) =>
      new FwCfg(
        {
          bootCpus: spec.currentCpus,
          cpuCount: spec.cpuCount,
          ramSize: memoryMap.filter((entry) => entry.type === MEMORY_AVAILABLE).reduce((total, entry) => total + entry.size, 0),
          memoryMap: memoryMap.map((entry) => ({ address: entry.base, length: entry.size, type: entry.type })),
          files: (device.fwCfgFiles ?? []).map(fwCfgFileContents),
        },
        new SharedState(FW_CFG_STATE_WORDS, state.fwCfg),
      ),
    'pc-testdev-ioport': ({ state, cpu }) => pcTestdevOf(state, cpu.interrupts).ioport,
    'pc-testdev-flush-page': ({ state, cpu }) => pcTestdevOf(state, cpu.interrupts).flushPage,
    'pc-testdev-ioport-byte': ({ state, cpu }) => pcTestdevOf(state, cpu.interrupts).ioportByte,
    'pc-testdev-irq-line': ({ state, cpu }) => pcTestdevOf(state, cpu.interrupts).irqLines,
    'pc-testdev-iomem': ({ state, cpu }) => pcTestdevOf(state, cpu.interrupts).iomem,
  };
  const devices: Attachment[] = spec.devices.map((device) => ({
    name: device.name,
    bus: device.bus,
    base: device.base,
    length: device.length,
    create: (context) => makers[device.kind](context, device),
  }));
  const guards: Attachment[] = spec.memoryRegions
    .filter((region) => region.mapType === 'reserved' || region.readOnly)
    .map((region) => ({
      name: `${region.keyPath} (${region.readOnly ? 'read-only' : 'reserved'})`,
      bus: 'mmio',
      base: region.gpa,
      length: region.size,
      create: ({ memory, effects }) =>
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

/** The buses and devices vCPU `cpu.id` sees, on its own thread. */
export function buildPlatform(
  spec: PlatformSpec,
  memory: GuestMemory,
  state: PlatformState,
  effects: PlatformEffects,
  counters: { readonly io: BusCounters; readonly mmio: BusCounters },
  cpu: PlatformCpu,
): Platform {
  const ioBus = new Bus('I/O port', counters.io);
  const mmioBus = new Bus('MMIO', counters.mmio);
  const context: AttachmentContext = { memory, state, effects, cpu, mmioBus };
  let localApic: LocalApic | undefined;
  for (const attachment of attachments(spec)) {
    const device = attachment.create(context);
    if (device instanceof LocalApic) localApic = device;
    (attachment.bus === 'io' ? ioBus : mmioBus).register(attachment.name, attachment.base, attachment.length, device);
  }
  if (!localApic) throw new Error('every VmSpec lists a Local APIC (config/devices-section.ts adds it)');
  ioBus.onUnassigned = effects.onUnassigned;
  mmioBus.onUnassigned = effects.onUnassigned;
  return { ioBus, mmioBus, localApic };
}

/**
 * Whether the VM has a platform timer thread: when it has an HPET, or its config names the PIT
 * (emu_type 0x24). The thread costs a worker's start-up (some 40 ms of CPU), so a VM that only
 * has the PIT every VM has goes without: its counters count and channel 2 gates and reads
 * back, but channel 0 raises no interrupt.
 */
export function hasPlatformTimers(spec: PlatformSpec): boolean {
  return spec.devices.some((device) => device.kind === 'hpet' || (device.kind === 'pit' && device.origin !== 'platform'));
}

/** The platform timers as one timer source, for the platform timer thread (platform-timers.ts). */
export function buildPlatformTimers(spec: PlatformSpec, state: PlatformState, interrupts: InterruptWiring, onDeadlineChange: () => void): TimerSource {
  const sources: TimerSource[] = [];
  if (spec.devices.some((device) => device.kind === 'hpet')) {
    const hpet = new Hpet({ state: new SharedState(HPET_STATE_WORDS, state.hpet), now: monotonicNanos, irqLine: (pin) => interrupts.line(pin), onDeadlineChange });
    sources.push({ nextDeadline: () => hpet.nextDeadline(), service: (now) => hpet.serviceTimers(now) });
  }
  if (spec.devices.some((device) => device.kind === 'pit')) sources.push(pitOf(spec, state, interrupts, onDeadlineChange));
  return new TimerSources(sources);
}

/** The PIC pair over the shared state. Its INT output is not connected: tsvisor delivers interrupts through the IO APIC. */
function picOf(state: PlatformState): Pic8259 {
  return new Pic8259({ state: new SharedState(PIC_STATE_WORDS, state.pic) });
}

/** The PIT over the shared state, as one thread sees it; channel 0 drives its configured line. */
function pitOf(spec: PlatformSpec, state: PlatformState, interrupts: InterruptWiring, onDeadlineChange: () => void): Pit {
  const pin = spec.devices.find((device) => device.kind === 'pit')?.irq;
  return new Pit({ state: new SharedState(PIT_STATE_WORDS, state.pit), now: monotonicNanos, irq: pin === undefined ? UNCONNECTED_LINE : interrupts.line(pin), onDeadlineChange });
}

/** pc-testdev over the shared state, as one thread sees it; its ISA IRQs drive IO APIC pins. */
function pcTestdevOf(state: PlatformState, interrupts: InterruptWiring): PcTestdev {
  return new PcTestdev({ state: state.pcTestdev, pin: (pin) => interrupts.line(pin) });
}

/** An fw_cfg file's bytes: a string's (UTF-8, no NUL, as QEMU's string=), or a host file's, read as the VM starts. */
function fwCfgFileContents(file: FwCfgFileSpec): readonly [string, Uint8Array] {
  return [file.name, 'string' in file ? new TextEncoder().encode(file.string) : readFileSync(file.file)];
}

/** Guest RAM into `data`, or all ones where the access runs past RAM: a guest cannot make tsvisor read outside it. */
function readRam(memory: GuestMemory, gpa: number, data: Uint8Array): void {
  if (memory.contains(gpa, data.length)) data.set(memory.read(gpa, data.length));
  else data.fill(0xff);
}

/**
 * Every device of the machine back in its reset state, for a machine reset (Vm.reset), on the
 * main thread while every vCPU is paused: COM1, the PIC pair, the PIT, the HPET, fw_cfg's
 * selection, ACPI PM1 control, then the IO APIC last (the devices' resets lower their lines
 * into it). The Local APICs are their vCPU threads' to reset. pc-testdev keeps its scratch
 * register and memory, as QEMU's has no reset; debug-exit has no state.
 */
export function resetPlatform(spec: PlatformSpec, state: PlatformState, interrupts: InterruptWiring): void {
  const has = (kind: DeviceSpec['kind']) => spec.devices.some((device) => device.kind === kind);
  const onDeadlineChange = () => {}; // the caller resumes the VM, which wakes the platform timer thread
  if (has('uart-16550')) com1Uart(spec, state, interrupts).reset();
  if (has('pic-master') || has('pic-slave') || has('elcr')) picOf(state).reset();
  if (has('pit')) pitOf(spec, state, interrupts, onDeadlineChange).reset();
  if (has('hpet')) new Hpet({ state: new SharedState(HPET_STATE_WORDS, state.hpet), now: monotonicNanos, irqLine: (pin) => interrupts.line(pin), onDeadlineChange }).reset();
  // fw_cfg's items are each thread's own, not shared state: a view with none resets the selection all share.
  if (has('fw-cfg')) new FwCfg({ bootCpus: spec.currentCpus, cpuCount: spec.cpuCount, ramSize: 0, memoryMap: [] }, new SharedState(FW_CFG_STATE_WORDS, state.fwCfg)).reset();
  if (has('acpi-pm1-control')) new AcpiPm1Control(() => {}, new SharedState(ACPI_PM1_STATE_WORDS, state.pm1)).reset();
  interrupts.ioApic?.reset();
}
