/**
 * A QEMU machine as a tsvisor config document: the same plain document the TOML reader
 * produces (integers as bigints), which config/load-config.ts's vmSpecOf checks and resolves
 * as it does a file's, so that both front ends make their VmSpecs through the same code.
 * With the document comes, for each key path, the option that set it, for errors.
 *
 * QEMU's PC, as tsvisor builds it: RAM from 0 (above 4 GiB past QEMU's low-memory limit),
 * COM1, the PIC pair, the PIT (with its interrupt: emu_type 0x24), the IO APIC and the HPET
 * at their PC addresses, fw_cfg, and the devices -device adds.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isElf, parseElf } from '../boot/elf.js';
import { ImageFormatError, type ImageSegment } from '../boot/image-format.js';
import { findMultibootHeader, kludgeSegments } from '../boot/multiboot-header.js';
import { parseInitrd } from './initrd-option.js';
import type { QemuMachine } from './invocation.js';
import { QemuError } from './qemu-error.js';

/** A flat image loads and starts at 0x8000 in real mode, as tsvisor's flat guests and AxVisor's configs have it. */
const FLAT_LOAD_ADDRESS = 0x8000;
/** With -bios, as AxVisor boots: the BIOS at 0x8000, started there in real mode, the kernel as it is at 0x200000. */
const BIOS_LOAD_ADDRESS = 0x8000;
const BIOS_KERNEL_ADDRESS = 0x20_0000;
const PAGE = 0x1000;
const FOUR_GIB = 2 ** 32;
/**
 * QEMU 7.2's low-memory limits (hw/i386/pc_piix.c, pc_q35.c): RAM from this size up is split,
 * the part past `lowmem` placed at 4 GiB, clear of the PCI hole and the PC's MMIO devices.
 */
const LOW_MEMORY = { pc: { threshold: 0xe000_0000, lowmem: 0xc000_0000 }, q35: { threshold: 0xb000_0000, lowmem: 0x8000_0000 } } as const;
/** RAM: read, write, execute (axvmconfig flags); MAP_ALLOC. */
const RAM_FLAGS = 0x7n;
const MAP_ALLOC = 0n;
const IO_APIC = 0xfec0_0000n;
const HPET = 0xfed0_0000n;
const PLATFORM_PAGE = 0x1000n;
/** axvmconfig's X86Pit emu_type, with AxVisor's range 0x40-0x61. */
const PIT_ENTRY = ['x86-pit', 0x40n, 0x22n, 0n, 0x24n, []] as const;

export type ConfigDocument = Record<string, Record<string, unknown>>;

export interface QemuConfig {
  readonly document: ConfigDocument;
  /** The option that set each key path, for errors about it. */
  readonly optionOf: ReadonlyMap<string, string>;
}

export function qemuConfig(machine: QemuMachine): QemuConfig {
  const optionOf = new Map<string, string>();
  const setBy = (option: string | undefined, ...paths: string[]) => option !== undefined && paths.forEach((path) => optionOf.set(path, option));
  const { written } = machine;
  if (machine.kernel === undefined) {
    throw new QemuError(undefined, 'no -kernel given: tsvisor boots a kernel image given with -kernel (multiboot, ELF or flat); it has no BIOS to boot disks with.');
  }
  const kernelBytes = readKernel(machine.kernel);
  const placement =
    machine.bios === undefined
      ? kernelPlacement(kernelBytes)
      : { load: BIOS_KERNEL_ADDRESS, entry: BIOS_LOAD_ADDRESS, end: BIOS_KERNEL_ADDRESS + kernelBytes.length, multiboot: false };

  const kernel: Record<string, unknown> = {
    entry_point: BigInt(placement.entry),
    image_location: 'memory',
    kernel_path: resolve(machine.kernel),
    kernel_load_addr: BigInt(placement.load),
    memory_regions: memoryRegions(machine),
  };
  setBy(written.kernel, 'kernel.kernel_path', 'kernel.kernel_load_addr', 'kernel.entry_point');
  setBy(written.memory, 'kernel.memory_regions');
  // QEMU's multiboot loader (hw/i386/multiboot.c) gives the kernel "<kernel file> <-append>".
  if (placement.multiboot) kernel.cmdline = `${machine.kernel} ${machine.append ?? ''}`;
  else if (machine.append !== undefined) kernel.cmdline = machine.append;
  setBy(written.append ?? written.kernel, 'kernel.cmdline');
  if (machine.bios !== undefined) {
    readBios(machine.bios);
    kernel.bios_path = resolve(machine.bios);
    kernel.bios_load_addr = BigInt(BIOS_LOAD_ADDRESS);
    setBy(written.bios, 'kernel.bios_path', 'kernel.bios_load_addr', 'kernel.entry_point');
  }

  const tsvisor: Record<string, unknown> = { debug_exit: machine.debugExits.map(({ iobase, iosize }) => [BigInt(iobase), BigInt(iosize)]) };
  machine.debugExits.forEach(({ option }, index) => setBy(option, `tsvisor.debug_exit[${index}]`));
  if (machine.pcTestdev) tsvisor.pc_testdev = true;
  if (machine.fwCfgFiles.length > 0) {
    tsvisor.fw_cfg = machine.fwCfgFiles.map(({ file }) => ({ ...file }));
    machine.fwCfgFiles.forEach(({ option }, index) => setBy(option, `tsvisor.fw_cfg[${index}]`));
  }
  if (machine.cpuFeatures.length > 0) {
    tsvisor.cpu_features = machine.cpuFeatures.map(({ name, enabled }) => `${enabled ? '+' : '-'}${name}`);
    setBy(written.cpu, 'tsvisor.cpu_features');
  }
  if (machine.cpus < machine.maxCpus) {
    tsvisor.current_cpus = BigInt(machine.cpus);
    setBy(written.smp, 'tsvisor.current_cpus');
  }
  const modules = machine.initrd === undefined ? [] : moduleEntries(machine.initrd, placement.end);
  if (modules.length > 0) {
    tsvisor.modules = modules;
    setBy(written.initrd, 'tsvisor.modules');
  }
  setBy(written.smp, 'base.cpu_num');
  setBy(written.name, 'base.name');

  const document: ConfigDocument = {
    base: { id: 1n, name: machine.name ?? basename(machine.kernel), vm_type: 1n, cpu_num: BigInt(machine.maxCpus) },
    kernel,
    devices: {
      emu_devices: [PIT_ENTRY],
      passthrough_devices: [
        ['IO APIC', IO_APIC, IO_APIC, PLATFORM_PAGE, 0n],
        ['HPET', HPET, HPET, PLATFORM_PAGE, 0n],
      ],
    },
    tsvisor,
  };
  return { document, optionOf };
}

/** RAM from 0 up to QEMU's low-memory limit, the rest from 4 GiB. */
function memoryRegions(machine: QemuMachine): bigint[][] {
  const { threshold, lowmem } = LOW_MEMORY[machine.machine];
  const below = machine.ramSize >= threshold ? lowmem : machine.ramSize;
  const regions = [[0n, BigInt(below), RAM_FLAGS, MAP_ALLOC]];
  if (machine.ramSize > below) regions.push([BigInt(FOUR_GIB), BigInt(machine.ramSize - below), RAM_FLAGS, MAP_ALLOC]);
  return regions;
}

/**
 * -initrd's modules as [tsvisor] modules, laid out as QEMU 7.2 lays them out: the first at the
 * page boundary after the kernel's memory image, each next one at the page boundary after the
 * one before, each with its whole text (file and arguments) as its string.
 */
function moduleEntries(initrd: string, kernelEnd: number): Record<string, unknown>[] {
  let next = alignUp(kernelEnd, PAGE);
  return parseInitrd(initrd).map(({ file, string }) => {
    const entry = { path: resolve(file), load_addr: BigInt(next), cmdline: string };
    next = alignUp(next + moduleSize(file), PAGE);
    return entry;
  });
}

/** A module file's size, or QEMU's message for one it cannot open. */
function moduleSize(file: string): number {
  try {
    accessSync(file, constants.R_OK);
    const stats = statSync(file);
    if (stats.isFile()) return stats.size;
  } catch {
    // QEMU's message, below
  }
  throw new QemuError(undefined, `Failed to open file '${file}'`);
}

/** The kernel's bytes, or QEMU's message for a kernel it cannot open. */
function readKernel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new QemuError(undefined, `could not open kernel file '${path}': ${strerror(error)}`);
  }
}

function readBios(path: string): void {
  try {
    readFileSync(path);
  } catch {
    throw new QemuError(undefined, `could not load PC BIOS '${path}'`);
  }
}

/**
 * Where the kernel goes and starts, as the config readers will find it (config/boot-section.ts):
 * a multiboot header first, then ELF headers, else a flat image at 0x8000. An image that
 * cannot be read so is given the flat placement, and the readers say what is wrong with it.
 */
function kernelPlacement(bytes: Uint8Array): { load: number; entry: number; end: number; multiboot: boolean } {
  // The Linux x86 boot protocol's "HdrS" at 0x202 (Documentation/arch/x86/boot.rst).
  if (new TextDecoder('latin1').decode(bytes.subarray(0x202, 0x206)) === 'HdrS') {
    throw new QemuError(undefined, 'the -kernel image is a Linux kernel (bzImage): tsvisor boots multiboot, ELF and flat kernels, not the Linux boot protocol.');
  }
  let placed: { segments: ImageSegment[]; entry: number } | undefined;
  let multiboot = false;
  try {
    const header = findMultibootHeader(bytes);
    multiboot = header !== undefined;
    if (header?.addresses) placed = kludgeSegments(header, bytes.length);
    else if (isElf(bytes)) placed = parseElf(bytes);
  } catch (error) {
    if (!(error instanceof ImageFormatError)) throw error;
  }
  if (!placed || placed.segments.length === 0) return { load: FLAT_LOAD_ADDRESS, entry: FLAT_LOAD_ADDRESS, end: FLAT_LOAD_ADDRESS + bytes.length, multiboot };
  return {
    multiboot,
    load: Math.min(...placed.segments.map((segment) => segment.gpa)),
    entry: placed.entry,
    end: Math.max(...placed.segments.map((segment) => segment.gpa + segment.memSize)),
  };
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** The C library's words for the errors opening a file meets, as QEMU prints them. */
function strerror(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const words: Record<string, string> = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory', ENOTDIR: 'Not a directory', ELOOP: 'Too many levels of symbolic links' };
  return (code && words[code]) ?? code ?? String(error);
}
