/**
 * [devices]: the devices a config lists, resolved into the VM's full device list (the
 * platform's own devices included) on non-overlapping ranges.
 *
 * A userspace VMM cannot hand host devices to a guest. The x86 platform devices a
 * passthrough entry names (IO APIC, Local APIC, HPET) are emulated at base_gpa instead;
 * any other passthrough entry is an error that says so.
 */
import { ACPI_PM1A_CONTROL_PORT, ACPI_PM1_CONTROL_WIDTH } from '../devices/acpi-pm1-control.js';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH } from '../devices/debug-exit.js';
import { FW_CFG_PORT, FW_CFG_PORT_COUNT } from '../devices/fw-cfg.js';
import { ELCR_PORT, ELCR_PORT_COUNT, PIC_MASTER_PORT, PIC_PORT_COUNT, PIC_SLAVE_PORT } from '../devices/pic8259.js';
import { PIT_BASE_PORT, PIT_PORT_COUNT, SYSTEM_CONTROL_PORT_B, SYSTEM_CONTROL_PORT_B_WIDTH } from '../devices/pit8254.js';
import { UART_REGISTER_COUNT } from '../devices/uart16550.js';
import { hex } from '../errors.js';
import type { ConfigSource, Table } from './config-source.js';
import { firstOverlap, lastStartingAtOrBelow, overlaps, span } from './memory-regions.js';
import type { TsvisorSection } from './tsvisor-section.js';
import type { DeviceKind, DeviceSpec, InterruptMode, MemoryRegionSpec } from './vm-spec.js';

const COM1_PORT = 0x3f8;
const COM1_IRQ = 4;
/** The PIT's ISA IRQ 0 reaches the IO APIC on pin 2 (the interrupt source override every PC's ACPI tables give). */
const PIT_IO_APIC_PIN = 2;
const IO_APIC_LENGTH = 0x1000;
/** Below this, a port-style device's base is an I/O port (AxVisor's x86 convention). */
const IO_PORT_LIMIT = 0x1_0000;
const DEFAULT_PLATFORM_DEVICE_LENGTH = 0x1000;

/** The devices every tsvisor VM has, whatever the config says (tsvisor.debug_exit may move or remove the debug-exit port). */
export const PLATFORM_DEVICES: readonly DeviceSpec[] = [
  { kind: 'uart-16550', name: 'COM1 (16550A UART)', bus: 'io', base: COM1_PORT, length: UART_REGISTER_COUNT, irq: COM1_IRQ, origin: 'platform' },
  { kind: 'debug-exit', name: 'debug-exit (isa-debug-exit)', bus: 'io', base: DEBUG_EXIT_PORT, length: DEBUG_EXIT_WIDTH, irq: undefined, origin: 'platform' },
  { kind: 'acpi-pm1-control', name: 'ACPI PM1a control', bus: 'io', base: ACPI_PM1A_CONTROL_PORT, length: ACPI_PM1_CONTROL_WIDTH, irq: undefined, origin: 'platform' },
  { kind: 'fw-cfg', name: 'fw_cfg (QEMU firmware configuration)', bus: 'io', base: FW_CFG_PORT, length: FW_CFG_PORT_COUNT, irq: undefined, origin: 'platform' },
  // As on a PC: kernels calibrate their TSC with channel 2, gated and read through port 0x61.
  { kind: 'pit', name: 'PIT (8254)', bus: 'io', base: PIT_BASE_PORT, length: PIT_PORT_COUNT, irq: PIT_IO_APIC_PIN, origin: 'platform' },
  { kind: 'system-control-port-b', name: 'system control port B', bus: 'io', base: SYSTEM_CONTROL_PORT_B, length: SYSTEM_CONTROL_PORT_B_WIDTH, irq: undefined, origin: 'platform' },
  // Kernels program the legacy PIC pair, then mask it, and some read the masks back.
  { kind: 'pic-master', name: 'PIC (8259A master)', bus: 'io', base: PIC_MASTER_PORT, length: PIC_PORT_COUNT, irq: undefined, origin: 'platform' },
  { kind: 'pic-slave', name: 'PIC (8259A slave)', bus: 'io', base: PIC_SLAVE_PORT, length: PIC_PORT_COUNT, irq: undefined, origin: 'platform' },
  { kind: 'elcr', name: 'ELCR (PIC edge/level control)', bus: 'io', base: ELCR_PORT, length: ELCR_PORT_COUNT, irq: undefined, origin: 'platform' },
];

/** The x86 platform devices a passthrough entry may name, at their usual host addresses. */
const PASSTHROUGH_EMULATED: readonly { kind: DeviceKind; name: string; hostAddress: number; aliases: readonly string[] }[] = [
  { kind: 'io-apic', name: 'IO APIC', hostAddress: 0xfec0_0000, aliases: ['ioapic'] },
  { kind: 'local-apic', name: 'Local APIC', hostAddress: 0xfee0_0000, aliases: ['localapic', 'lapic', 'apic'] },
  { kind: 'hpet', name: 'HPET', hostAddress: 0xfed0_0000, aliases: ['hpet'] },
];
const LOCAL_APIC = PASSTHROUGH_EMULATED[1] as (typeof PASSTHROUGH_EMULATED)[number];

/** emu_type codes (axvmconfig EmulatedDeviceType), with the architecture of those that are not x86. */
const EMU_TYPES: Readonly<Record<number, { name: string; architecture?: string }>> = {
  0x0: { name: 'Dummy' },
  0x1: { name: 'InterruptController', architecture: 'ARM (a GIC)' },
  0x2: { name: 'Console' },
  0x3: { name: 'FwCfg' },
  0xa: { name: 'IVCChannel' },
  0x20: { name: 'GPPTRedistributor', architecture: 'ARM' },
  0x21: { name: 'GPPTDistributor', architecture: 'ARM' },
  0x22: { name: 'GPPTITS', architecture: 'ARM' },
  0x23: { name: 'X86IoApic' },
  0x24: { name: 'X86Pit' },
  0x25: { name: 'LoongArchPchPic', architecture: 'LoongArch' },
  0x30: { name: 'PPPTGlobal', architecture: 'ARM' },
  0xe1: { name: 'VirtioBlk' },
  0xe2: { name: 'VirtioNet' },
  0xe3: { name: 'VirtioConsole' },
};
/** The emu_types tsvisor models, each as the platform device that every VM has, at its fixed ports. */
const MODELLED_EMU_TYPES: Readonly<Record<number, { kind: DeviceKind; model: string; base: number; length: number; describe: string }>> = {
  0x2: { kind: 'uart-16550', model: '16550A UART', base: COM1_PORT, length: UART_REGISTER_COUNT, describe: 'COM1, a 16550A UART at I/O ports 0x3f8-0x3ff' },
  0x3: { kind: 'fw-cfg', model: 'QEMU firmware configuration', base: FW_CFG_PORT, length: FW_CFG_PORT_COUNT, describe: 'QEMU\'s fw_cfg at I/O ports 0x510-0x511' },
  // AxVisor's entry spans 0x40-0x61: the PIT's four ports and port 0x61, which gates channel 2.
  0x24: { kind: 'pit', model: '8254 PIT', base: PIT_BASE_PORT, length: SYSTEM_CONTROL_PORT_B + 1 - PIT_BASE_PORT, describe: 'the 8254 PIT at I/O ports 0x40-0x43, with port 0x61' },
};
const SUPPORTED_EMU_TYPES =
  '0x2 (Console: COM1, a 16550A UART at I/O port 0x3f8), 0x3 (FwCfg: QEMU\'s fw_cfg at I/O port 0x510), 0x23 (X86IoApic, at its base_gpa) and 0x24 (X86Pit: the 8254 at I/O port 0x40)';
/** What a config asks for with the emu_types tsvisor does not model, and what to do instead. */
const UNMODELLED_ADVICE: Readonly<Record<number, string>> = {
  0xe1: 'AxVisor\'s virtio-mmio block device: tsvisor has no virtio devices. Load what the guest needs from its image or a multiboot module.',
  0xe2: 'AxVisor\'s virtio-mmio network device: tsvisor has no virtio devices and no network.',
  0xe3: 'AxVisor\'s virtio-mmio console: tsvisor has no virtio devices. The guest\'s console is COM1 (I/O port 0x3f8).',
};

const INTERRUPT_MODES: Readonly<Record<string, InterruptMode>> = {
  no_irq: 'none',
  no: 'none',
  none: 'none',
  emu: 'emulated',
  emulated: 'emulated',
  passthrough: 'passthrough',
  pt: 'passthrough',
};

export interface DevicesSpec {
  readonly devices: readonly DeviceSpec[];
  readonly interruptMode: InterruptMode;
}

export function readDevices(
  source: ConfigSource,
  regions: readonly MemoryRegionSpec[],
  extensions: Pick<TsvisorSection, 'debugExits' | 'pcTestdev' | 'fwCfgFiles'>,
): DevicesSpec {
  const table = source.table('devices');
  const platform: DeviceSpec[] = PLATFORM_DEVICES.flatMap((device) => {
    if (device.kind === 'debug-exit') return extensions.debugExits.filter((debugExit) => debugExit.origin === 'platform');
    if (device.kind === 'fw-cfg' && extensions.fwCfgFiles.length > 0) return [{ ...device, fwCfgFiles: extensions.fwCfgFiles }];
    return [device];
  });
  const listed: DeviceSpec[] = [...extensions.debugExits.filter((debugExit) => debugExit.origin !== 'platform'), ...extensions.pcTestdev];
  source.array(source.required(table, 'devices', 'emu_devices'), 'devices.emu_devices').forEach((entry, index) =>
    addEmulated(source, platform, listed, entry, `devices.emu_devices[${index}]`),
  );
  source.array(source.required(table, 'devices', 'passthrough_devices'), 'devices.passthrough_devices').forEach((entry, index) =>
    addPassthrough(source, listed, entry, `devices.passthrough_devices[${index}]`),
  );
  if (!listed.some((device) => device.kind === 'local-apic')) {
    // Every x86 vCPU has a Local APIC; newer AxVisor configs leave it out.
    platform.push({ kind: 'local-apic', name: LOCAL_APIC.name, bus: 'mmio', base: LOCAL_APIC.hostAddress, length: DEFAULT_PLATFORM_DEVICE_LENGTH, irq: undefined, origin: 'platform' });
  }
  // The platform's devices come first, so that a clash is reported at the config entry that causes it.
  const devices = [...platform, ...listed];
  checkPlacement(source, devices, regions);
  readPassthroughRanges(source, table, devices);
  return { devices, interruptMode: readOptions(source, table) };
}

function addEmulated(source: ConfigSource, platform: DeviceSpec[], listed: DeviceSpec[], entry: unknown, path: string): void {
  const [nameValue, baseValue, lengthValue, irqValue, typeValue, configValue] = source.tuple(entry, path, ['name', 'base_gpa', 'length', 'irq_id', 'emu_type', 'config_list']);
  const name = source.string(nameValue, `${path}[0]`);
  const base = source.integer(baseValue, `${path}[1]`);
  const length = source.integer(lengthValue, `${path}[2]`, { min: 1 });
  const irq = source.integer(irqValue, `${path}[3]`);
  const code = source.integer(typeValue, `${path}[4]`, { max: 0xff });
  source.array(configValue, `${path}[5]`).forEach((value, i) => source.integer(value, `${path}[5][${i}]`, { max: 2n ** 64n - 1n }));
  const type = EMU_TYPES[code];
  if (!type) {
    const known = Object.entries(EMU_TYPES).map(([value, { name: typeName }]) => `${hex(Number(value))} ${typeName}`);
    throw source.error(`${path}[4]`, `unknown emu_type ${hex(code)}: the known codes are ${known.join(', ')}.`, `tsvisor models ${SUPPORTED_EMU_TYPES}.`);
  }
  if (type.architecture) {
    throw source.error(`${path}[4]`, `emu_type ${hex(code)} (${type.name}) is a device of ${type.architecture}, not of x86.`, `Remove it; on x86 tsvisor models ${SUPPORTED_EMU_TYPES}.`);
  }
  if (type.name === 'X86IoApic') return addIoApic(source, listed, name, base, length, path);
  const modelled = MODELLED_EMU_TYPES[code];
  if (!modelled) {
    const lacks = UNMODELLED_ADVICE[code] ?? 'a device this version of tsvisor does not model.';
    throw source.error(`${path}[4]`, `emu_type ${hex(code)} (${type.name}) is ${lacks}`, `Remove the entry; tsvisor models ${SUPPORTED_EMU_TYPES}.`);
  }
  if (base !== modelled.base || length > modelled.length) {
    const where = base < IO_PORT_LIMIT ? `I/O ports ${hex(base)}-${hex(base + length - 1)}` : `MMIO ${hex(base)}-${hex(base + length - 1)}`;
    throw source.error(path, `tsvisor's ${type.name} is ${modelled.describe}; one at ${where} is not supported.`, `Use base ${hex(modelled.base)} and length ${modelled.length}, or remove the entry (the device is always there).`);
  }
  // The entry names a device every VM has: it may rename it and choose its interrupt line. An
  // irq_id of 0 keeps the PC's line: AxVisor's x86 configs give 0 for COM1 and the PIT alike.
  const index = platform.findIndex((device) => device.kind === modelled.kind);
  const device = platform[index] as DeviceSpec;
  platform[index] = { ...device, name: `${name} (${modelled.model})`, irq: irq === 0 ? device.irq : irq, origin: path };
}

/** emu_type 0x23: the IO APIC, emulated at base_gpa, as a passthrough entry naming it would be. */
function addIoApic(source: ConfigSource, listed: DeviceSpec[], name: string, base: number, length: number, path: string): void {
  if (length !== IO_APIC_LENGTH || base % IO_APIC_LENGTH !== 0 || base < IO_PORT_LIMIT) {
    throw source.error(path, `an IO APIC takes one 4 KiB MMIO page; this entry gives ${hex(base)} with length ${hex(length)}.`, 'Give a page-aligned base_gpa (0xfec0_0000 on a PC) and length 0x1000.');
  }
  const duplicate = listed.find((device) => device.kind === 'io-apic');
  if (duplicate) throw source.error(path, `the IO APIC is listed twice (also as ${duplicate.origin}).`, 'Keep one entry.');
  listed.push({ kind: 'io-apic', name: `${name} (IO APIC)`, bus: 'mmio', base, length, irq: undefined, origin: path });
}

function addPassthrough(source: ConfigSource, devices: DeviceSpec[], entry: unknown, path: string): void {
  const fields = source.tuple(entry, path, ['name', 'base_gpa', 'base_hpa', 'length', 'irq_id'], 1);
  const name = source.string(fields[0], `${path}[0]`);
  const [baseGpa, baseHpa, length, irq] = [1, 2, 3, 4].map((field) =>
    fields[field] === undefined ? 0 : source.integer(fields[field], `${path}[${field}]`),
  ) as [number, number, number, number];
  const normalized = name.toLowerCase().replace(/[^a-z]/g, '');
  const emulated =
    PASSTHROUGH_EMULATED.find((device) => baseHpa === device.hostAddress) ??
    PASSTHROUGH_EMULATED.find((device) => device.aliases.includes(normalized));
  if (!emulated) {
    throw source.error(
      path,
      `tsvisor cannot pass the host device "${name}" (${hex(baseHpa)}) through: a userspace VMM has no access to host devices.`,
      'Remove the entry. tsvisor emulates the x86 platform devices a passthrough entry may name: the IO APIC (0xfec00000), the Local APIC (0xfee00000) and the HPET (0xfed00000).',
    );
  }
  const duplicate = devices.find((device) => device.kind === emulated.kind);
  if (duplicate) {
    throw source.error(path, `the ${emulated.name} is listed twice (also as ${duplicate.origin}).`, 'Keep one entry.');
  }
  devices.push({
    kind: emulated.kind,
    name: emulated.name,
    bus: 'mmio',
    base: baseGpa === 0 && baseHpa === 0 ? emulated.hostAddress : baseGpa,
    length: length === 0 ? DEFAULT_PLATFORM_DEVICE_LENGTH : length,
    irq,
    origin: path,
  });
}

/**
 * Devices must not overlap each other, guest RAM, or the range KVM needs for real mode.
 * Sorted and searched, not compared pairwise: [tsvisor] debug_exit alone can list tens of
 * thousands of devices.
 */
function checkPlacement(source: ConfigSource, devices: readonly DeviceSpec[], regions: readonly MemoryRegionSpec[]): void {
  const where = (device: DeviceSpec) => (device.origin === 'platform' ? 'devices' : device.origin);
  for (const bus of ['io', 'mmio'] as const) {
    const clashing = firstOverlap(devices.filter((device) => device.bus === bus).map((device) => ({ device, gpa: device.base, size: device.length })));
    if (clashing) {
      const [{ device }, { device: clash }] = clashing;
      throw source.error(
        where(device),
        `${device.name} at ${describeRange(device)} overlaps ${clash.name} at ${describeRange(clash)}${clash.origin === 'platform' ? ', which every tsvisor VM has' : ` (${clash.origin})`}.`,
        'Move the device to free addresses.',
      );
    }
  }
  // The regions are disjoint: the one that can overlap a device is the last to start before the device ends.
  const sortedRegions = [...regions].sort((a, b) => a.gpa - b.gpa);
  for (const device of devices) {
    if (device.bus !== 'mmio') continue;
    const region = lastStartingAtOrBelow(sortedRegions, device.base + device.length - 1);
    if (region && overlaps({ gpa: device.base, size: device.length }, region)) {
      throw source.error(where(device), `${device.name} at ${describeRange(device)} overlaps guest memory ${region.keyPath} (${span(region)}).`, 'Move the device, or end the memory region below it.');
    }
  }
}

/** passthrough_addresses and passthrough_ports: fine where tsvisor emulates what is there, an error elsewhere. */
function readPassthroughRanges(source: ConfigSource, table: Table, devices: readonly DeviceSpec[]): void {
  for (const [key, bus, unit] of [['passthrough_addresses', 'mmio', 'MMIO'], ['passthrough_ports', 'io', 'I/O ports']] as const) {
    if (table[key] === undefined) continue;
    // A bus's devices are disjoint (checkPlacement): the one that can cover a range is the last to start at or below it.
    const sorted = devices.filter((device) => device.bus === bus).map((device) => ({ device, gpa: device.base })).sort((a, b) => a.gpa - b.gpa);
    source.array(table[key], `devices.${key}`).forEach((entry, index) => {
      const path = `devices.${key}[${index}]`;
      const [baseValue, lengthValue] = source.tuple(entry, path, ['base', 'length']);
      const base = source.integer(baseValue, `${path}[0]`);
      const length = source.integer(lengthValue, `${path}[1]`, { min: 1 });
      const candidate = lastStartingAtOrBelow(sorted, base)?.device;
      const covering = candidate && base + length <= candidate.base + candidate.length ? candidate : undefined;
      if (!covering) {
        throw source.error(path, `tsvisor cannot pass host ${unit} ${hex(base)}-${hex(base + length - 1)} through: a userspace VMM has no access to host devices.`, 'Remove the entry; tsvisor emulates COM1, the IO APIC, the Local APIC and the HPET where they are listed.');
      }
      source.warn(path, `${unit} ${hex(base)}-${hex(base + length - 1)} belong to ${covering.name}, which tsvisor emulates rather than passes through.`);
    });
  }
}

function readOptions(source: ConfigSource, table: Table): InterruptMode {
  const interruptMode = table.interrupt_mode === undefined ? 'emulated' : source.choice(table.interrupt_mode, 'devices.interrupt_mode', INTERRUPT_MODES);
  if (interruptMode === 'passthrough') {
    source.warn('devices.interrupt_mode', 'tsvisor emulates the interrupt controllers, so interrupts are delivered as with "emulated".');
  }
  if (table.excluded_devices !== undefined) {
    const lists = source.array(table.excluded_devices, 'devices.excluded_devices');
    lists.forEach((list, i) => source.array(list, `devices.excluded_devices[${i}]`).forEach((item, j) => source.string(item, `devices.excluded_devices[${i}][${j}]`)));
    if (lists.length > 0) source.warn('devices.excluded_devices', 'names host device-tree nodes to hide from a guest, which has no meaning for a tsvisor VM: ignored.');
  }
  if (table.address_space_policy !== undefined) {
    const policies = { virtualized: 'virtualized', virtual: 'virtualized', passthrough: 'passthrough', pt: 'passthrough' } as const;
    if (source.choice(table.address_space_policy, 'devices.address_space_policy', policies) === 'passthrough') {
      throw source.error(
        'devices.address_space_policy',
        '"passthrough" asks for AxVisor\'s host address space: every host physical address outside guest RAM and the emulated devices mapped into the guest at the same address. A userspace VMM has no access to host physical memory.',
        'Use "virtualized" (the default): the guest sees its memory_regions and tsvisor\'s devices, nothing of the host.',
      );
    }
  }
  return interruptMode;
}

/** "I/O ports 0x3f8-0x3ff" or "MMIO 0xfec00000-0xfec00fff". */
export function describeRange(device: Pick<DeviceSpec, 'bus' | 'base' | 'length'>): string {
  const span = `${hex(device.base)}-${hex(device.base + device.length - 1)}`;
  return device.bus === 'io' ? `I/O ports ${span}` : `MMIO ${span}`;
}
