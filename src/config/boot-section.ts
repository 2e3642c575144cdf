/**
 * How the VM boots, from [kernel]: bios_path, enable_bios, boot_protocol, entry_point and
 * cmdline, and the kernel image's own format. The result is a BootSpec and the list of
 * images with the guest ranges their bytes go to, checked against RAM and each other.
 *
 * A BIOS boot (bios_path, or enable_bios = true, as AxVisor does it) starts vCPU 0 in real
 * mode at entry_point, in the BIOS; tsvisor writes the multiboot information at 0x6000,
 * where AxVisor puts it. A direct boot lets tsvisor enter the kernel itself, as its format
 * says: a multiboot kernel in 32-bit protected mode, an ELF64 kernel in long mode, an ELF32
 * kernel in protected mode, a flat image in real mode at entry_point.
 */
import { existsSync } from 'node:fs';
import type { BootSpec, CpuMode, KernelFormat } from '../boot/boot-plan.js';
import { AXVM_BIOS_EBX_IMM_OFFSET, AXVM_BIOS_MIN_SIZE, MOV_EBX_IMM32_OPCODE, hasAxvmPatchSite } from '../boot/axvm-bios.js';
import { bootTablesRange } from '../boot/boot-tables.js';
import { BUILTIN_BIOS_ADDRESS, BUILTIN_BIOS_PATH } from '../boot/builtin-bios.js';
import { isElf, parseElf } from '../boot/elf.js';
import { ImageFormatError, flatSegments, type ImageFile, type ImageSegment } from '../boot/image-format.js';
import { MULTIBOOT_INFO_AREA, MultibootInfoTooLarge, buildMultibootInfo, multibootInputsOf } from '../boot/multiboot-info.js';
import { MULTIBOOT_SEARCH_LIMIT, findMultibootHeader, kludgeSegments } from '../boot/multiboot-header.js';
import { REAL_MODE_LIMIT } from '../boot/real-mode.js';
import { TsvisorError, hex } from '../errors.js';
import { describeImageSource } from '../images/image-source.js';
import { readImage, readImageRange } from '../images/read-image.js';
import type { ConfigSource, Table } from './config-source.js';
import { checkPlacement, type BootArea, type LocatedImage } from './images.js';
import { MODULES_KEY } from './multiboot-modules.js';
import type { ImageSpec, MemoryRegionSpec } from './vm-spec.js';

type Protocol = 'direct' | 'multiboot' | 'bios' | 'uefi';

const PROTOCOLS: Readonly<Record<string, Protocol>> = {
  direct: 'direct',
  kernel: 'direct',
  multiboot: 'multiboot',
  bios: 'bios',
  'axvm-bios': 'bios',
  uefi: 'uefi',
  efi: 'uefi',
};

/** The boot page tables for an ELF64 kernel map at most one PDPT's worth: 512 GiB. */
const MAX_IDENTITY_MAPPED = 512 * 2 ** 30;
const FOUR_GIB = 2 ** 32;
/** Addresses above this cannot be guest physical addresses on x86-64. */
const ADDRESS_LIMIT = 2n ** 52n;

interface KernelPlan {
  readonly format: KernelFormat;
  readonly segments: ImageSegment[];
  readonly entry: number;
}

export function readBoot(
  source: ConfigSource,
  kernel: Table,
  located: readonly LocatedImage[],
  regions: readonly MemoryRegionSpec[],
): { boot: BootSpec; images: ImageSpec[] } {
  const enableBios = kernel.enable_bios === undefined ? undefined : source.boolean(kernel.enable_bios, 'kernel.enable_bios');
  const protocol = kernel.boot_protocol === undefined ? undefined : source.choice(kernel.boot_protocol, 'kernel.boot_protocol', PROTOCOLS);
  const cmdline = kernel.cmdline === undefined ? '' : source.string(kernel.cmdline, 'kernel.cmdline');
  const configBios = located.find((image) => image.role === 'bios');
  const kernelImage = located.find((image) => image.role === 'kernel') as LocatedImage;

  if (protocol === 'uefi' || kernel.uefi_firmware_path !== undefined) {
    // AxVisor's UEFI boot loads OVMF (uefi_firmware_path) at bios_load_addr, 0xffc00000 in its
    // configs, and starts vCPU 0 at the reset vector 0xfffffff0.
    const key = kernel.uefi_firmware_path !== undefined ? 'kernel.uefi_firmware_path' : 'kernel.boot_protocol';
    throw source.error(
      key,
      'this config boots through UEFI, as AxVisor does with OVMF loaded at bios_load_addr and vCPU 0 started at the reset vector 0xfffffff0; tsvisor has no UEFI boot (no pflash, no firmware tables, no PCI for OVMF to find).',
      'Boot the kernel through a BIOS (boot_protocol = "multiboot" with enable_bios = true, entry_point = 0x8000, and no uefi_firmware_path) or directly (boot_protocol = "direct").',
    );
  }
  if (protocol === 'direct' && (enableBios === true || configBios)) {
    throw source.error(
      'kernel.boot_protocol',
      `"direct" boot enters the kernel without firmware, but ${enableBios === true ? 'enable_bios = true' : 'bios_path'} asks for a BIOS.`,
      `Remove one of them: ${enableBios === true ? 'set enable_bios = false' : 'remove bios_path'}, or choose boot_protocol = "multiboot".`,
    );
  }
  if (protocol === 'bios' && enableBios === false) {
    throw source.error('kernel.enable_bios', `enable_bios = false contradicts boot_protocol = ${JSON.stringify(kernel.boot_protocol)}.`, 'Remove one of them.');
  }
  const viaBios = protocol === 'bios' || enableBios === true || (configBios !== undefined && enableBios !== false);
  if (configBios && !viaBios) source.warn('kernel.bios_path', 'is not loaded: enable_bios = false boots the kernel directly.');

  const others = located.filter((image) => image.role === 'ramdisk' || image.role === 'dtb' || image.role === 'module').map((image) => flatImage(source, image));
  let boot: BootSpec;
  let images: ImageSpec[];
  if (viaBios) {
    const bios = configBios ? flatImage(source, configBios) : builtinBios(source, kernel);
    // AxVisor loads the kernel as it is; tsvisor's own BIOS can also start multiboot and ELF32 kernels from their headers.
    const plan = configBios ? rawPlan(source, kernelImage) : planKernel(source, kernelImage, 'auto', { viaBios: true });
    const entryPoint = realModeEntry(source, kernel);
    const axvmBios = configBios ? axvmBiosContract(source, configBios, bios, regions) : undefined;
    boot = {
      method: 'bios',
      firmware: configBios ? 'config-bios' : 'builtin-bios',
      kernelFormat: plan.format,
      cpuMode: 'real',
      entryPoint,
      kernelEntry: plan.entry,
      cmdline,
      multibootInfo: MULTIBOOT_INFO_AREA,
      bootTables: undefined,
      ...(axvmBios ? { axvmBios } : {}),
    };
    images = [bios, kernelSpec(kernelImage, plan), ...others];
  } else {
    const plan = planKernel(source, kernelImage, protocol === 'multiboot' ? 'multiboot' : protocol === 'direct' ? 'direct' : 'auto', { viaBios: false });
    const kernelOnly = [kernelSpec(kernelImage, plan)];
    const cpuMode: CpuMode = plan.format === 'flat' ? 'real' : plan.format === 'elf64' ? 'long' : 'protected';
    const entryPoint = cpuMode === 'real' ? realModeEntry(source, kernel) : plan.entry;
    if (cpuMode !== 'real') {
      // The image's own entry point wins; an entry_point outside the image is surely a mistake worth a word.
      const configured = source.integer(source.required(kernel, 'kernel', 'entry_point'), 'kernel.entry_point', { max: 2n ** 64n - 1n });
      if (!plan.segments.some((segment) => configured >= segment.gpa && configured < segment.gpa + segment.memSize)) {
        source.warn('kernel.entry_point', `${hex(configured)} is outside the kernel and is not used: tsvisor enters the ${plan.format} kernel at its own entry point, ${hex(plan.entry)}.`);
      }
    }
    // A loop, not Math.max(...): a spread of 130,000 regions overflows the stack.
    const ramEnd = regions.reduce((end, region) => Math.max(end, region.gpa + region.size), 0);
    if (cpuMode === 'long' && ramEnd > MAX_IDENTITY_MAPPED) {
      throw source.error('kernel.memory_regions', `guest RAM ends at ${hex(ramEnd)}, beyond the 512 GiB tsvisor's boot page tables map for an ELF64 kernel.`, 'Keep RAM below 512 GiB, or boot through a BIOS.');
    }
    boot = {
      method: 'direct',
      firmware: 'none',
      kernelFormat: plan.format,
      cpuMode,
      entryPoint,
      kernelEntry: plan.entry,
      cmdline,
      multibootInfo: plan.format === 'multiboot' ? MULTIBOOT_INFO_AREA : undefined,
      bootTables: cpuMode === 'real' ? undefined : bootTablesRange(cpuMode, ramEnd),
    };
    images = [...kernelOnly, ...others];
  }

  const areas: BootArea[] = [];
  if (boot.multibootInfo) {
    areas.push({ name: 'the multiboot information tsvisor writes', keyPath: 'kernel.memory_regions', ...boot.multibootInfo });
    checkMultibootInfoSize(source, boot, images, regions);
  }
  checkModules(source, boot, images);
  if (boot.bootTables) areas.push({ name: 'the GDT and page tables tsvisor writes', keyPath: 'kernel.memory_regions', ...boot.bootTables });
  checkPlacement(source, images, areas, regions);
  if (boot.cpuMode === 'real') checkRealModeEntry(source, boot, images);
  return { boot, images };
}

/**
 * A user's BIOS and AxVisor's contract with it (boot/axvm-bios.ts): with `mov ebx, imm32` at
 * byte 0x3b, its immediate gets the multiboot information's address, as AxVisor patches it.
 * Without it the BIOS runs unchanged, with a warning; one too short to hold the instruction
 * at all is an error, as in AxVisor.
 */
function axvmBiosContract(source: ConfigSource, located: LocatedImage, bios: ImageSpec, regions: readonly MemoryRegionSpec[]): BootSpec['axvmBios'] {
  if (located.size < AXVM_BIOS_MIN_SIZE) {
    throw source.error(
      located.keyPath,
      `the BIOS ${describeImageSource(located.source)} is ${located.size} bytes: AxVisor gives its BIOS the multiboot information's address in bytes ${hex(AXVM_BIOS_EBX_IMM_OFFSET)}-${hex(AXVM_BIOS_MIN_SIZE - 1)} (the immediate of mov ebx, imm32), beyond this image.`,
      'Give the axvm-bios image (or one with mov ebx, imm32 at byte 0x3b), or boot with enable_bios = true and tsvisor\'s own BIOS.',
    );
  }
  // Only the bytes up to the patch site are read: the BIOS's size is checked against RAM before it is loaded.
  const bytes = readImageRange(located.source, 0, AXVM_BIOS_MIN_SIZE);
  if (!hasAxvmPatchSite(bytes)) {
    const found = bytes[AXVM_BIOS_EBX_IMM_OFFSET - 1] as number;
    source.warn(
      located.keyPath,
      `byte 0x3b of the BIOS is ${hex(found)}, not ${hex(MOV_EBX_IMM32_OPCODE)} (mov ebx, imm32), so tsvisor cannot patch in the multiboot information's address (0x6000) as AxVisor does; the BIOS runs unchanged and must find it there itself.`,
    );
    return undefined;
  }
  const main = regions.find((region) => region.mapType !== 'reserved') as MemoryRegionSpec;
  const base = (bios.segments[0] as { gpa: number }).gpa;
  return { patchAddress: base + AXVM_BIOS_EBX_IMM_OFFSET, mainMemory: { base: main.gpa, size: main.size } };
}

/** A BIOS, ramdisk, DTB or multiboot module: the whole file at its configured address. */
function flatImage(source: ConfigSource, image: LocatedImage): ImageSpec {
  const gpa = guestAddress(source, image.loadAddress, image.addressKey);
  const module = image.moduleString === undefined ? {} : { moduleString: image.moduleString };
  return { role: image.role, keyPath: image.keyPath, addressKey: image.addressKey, source: image.source, size: image.size, segments: flatSegments(image.size, gpa), ...module };
}

/**
 * The multiboot modules, where the kernel learns of them: the multiboot information's
 * addresses are 32-bit (Multiboot 0.6.96 section 3.3), so each module must lie below 4 GiB.
 * [tsvisor] modules that no multiboot information lists (a kernel without a multiboot header,
 * or AxVisor's own information for its BIOS) are loaded all the same, with a warning.
 */
function checkModules(source: ConfigSource, boot: BootSpec, images: readonly ImageSpec[]): void {
  const listed = boot.multibootInfo !== undefined && boot.axvmBios === undefined;
  if (!listed) {
    if (images.some((image) => image.role === 'module')) {
      const why = boot.axvmBios ? 'AxVisor\'s multiboot information for its BIOS lists no modules' : `the ${boot.kernelFormat} kernel gets no multiboot information`;
      source.warn(MODULES_KEY, `the modules are loaded, but ${why}: the kernel must find them itself.`);
    }
    return;
  }
  for (const image of images) {
    if (image.moduleString === undefined) continue;
    const start = (image.segments[0] as { gpa: number }).gpa;
    if (start + image.size > FOUR_GIB) {
      throw source.error(
        image.addressKey as string,
        `the ${image.role} ${describeImageSource(image.source)} would end at ${hex(start + image.size)}, above 4 GiB: the multiboot information gives a module's range in 32-bit fields.`,
        'Load it below 4 GiB.',
      );
    }
  }
}

function kernelSpec(image: LocatedImage, plan: KernelPlan): ImageSpec {
  return {
    role: 'kernel',
    keyPath: image.keyPath,
    // A flat kernel sits where kernel_load_addr says; an ELF or multiboot kernel where its headers say.
    addressKey: plan.format === 'flat' ? image.addressKey : undefined,
    source: image.source,
    size: image.size,
    segments: plan.segments,
  };
}

function builtinBios(source: ConfigSource, kernel: Table): ImageSpec {
  if (kernel.bios_load_addr !== undefined) {
    const address = source.bigInteger(kernel.bios_load_addr, 'kernel.bios_load_addr', { max: 2n ** 64n - 1n });
    if (address !== BigInt(BUILTIN_BIOS_ADDRESS)) {
      throw source.error('kernel.bios_load_addr', `tsvisor's built-in BIOS runs at ${hex(BUILTIN_BIOS_ADDRESS)}, not ${hex(address)}.`, 'Remove bios_load_addr, or set bios_path to a BIOS built for that address.');
    }
  }
  if (!existsSync(BUILTIN_BIOS_PATH)) {
    throw source.error('kernel.enable_bios', `enable_bios = true uses tsvisor's built-in BIOS stub, which is not built (looked for ${BUILTIN_BIOS_PATH}).`, 'Build it with `npm install` (or `npm run build:guests`).');
  }
  const bytes = readImage({ kind: 'host', path: BUILTIN_BIOS_PATH });
  return {
    role: 'bios',
    keyPath: 'kernel.enable_bios',
    addressKey: undefined,
    source: { kind: 'host', path: BUILTIN_BIOS_PATH },
    size: bytes.length,
    segments: flatSegments(bytes.length, BUILTIN_BIOS_ADDRESS),
  };
}

/** AxVisor's way: the kernel file as it is, at kernel_load_addr, entered there by the BIOS. */
function rawPlan(source: ConfigSource, image: LocatedImage): KernelPlan {
  const gpa = guestAddress(source, image.loadAddress, image.addressKey);
  return { format: 'flat', segments: flatSegments(image.size, gpa), entry: gpa };
}

/**
 * What the kernel image is and where it goes. `want`: 'multiboot' requires a multiboot
 * header; 'direct' enters ELF images by their headers and anything else as flat, ignoring
 * a multiboot header; 'auto' takes a multiboot header first, then ELF, then flat. Behind
 * the built-in BIOS (`viaBios`) the kernel is entered in 32-bit mode, so ELF64 cannot be.
 */
function planKernel(source: ConfigSource, image: LocatedImage, want: 'multiboot' | 'direct' | 'auto', { viaBios }: { viaBios: boolean }): KernelPlan {
  const fault = (problem: string, fix: string) =>
    source.error(image.keyPath, `the kernel image ${describeImageSource(image.source)} cannot be booted: ${problem}.`, fix);
  // Only the headers are read here: the segments they give are checked against RAM before the image is loaded.
  const file: ImageFile = {
    size: image.size,
    read: (offset, length) => {
      try {
        return readImageRange(image.source, offset, length);
      } catch (error) {
        if (error instanceof TsvisorError) throw fault(error.message.replace(/\.$/, ''), 'Check the file.');
        throw error;
      }
    },
  };
  try {
    const header = want === 'direct' ? undefined : findMultibootHeader(file.read(0, Math.min(image.size, MULTIBOOT_SEARCH_LIMIT)));
    if (want === 'multiboot' && !header) {
      throw fault('boot_protocol = "multiboot", but it has no multiboot header (magic 0x1BADB002) in its first 8 KiB', 'Build it as a multiboot kernel, or set boot_protocol = "direct" to enter it as ELF or flat.');
    }
    const elf = isElf(file.read(0, Math.min(image.size, 4)));
    if (header) {
      if (header.addresses) return { format: 'multiboot', ...kludgeSegments(header, image.size) };
      if (!elf) throw fault('its multiboot header has no address fields (flags bit 16), so it must be an ELF file, and it is not', 'Set the a.out-kludge fields in the header, or build an ELF image.');
      const parsed = parseElf(file);
      return { format: 'multiboot', segments: parsed.segments, entry: parsed.entry };
    }
    if (elf) {
      const parsed = parseElf(file);
      if (parsed.elfClass === 64 && viaBios) {
        throw fault('it is an ELF64 file, and the built-in BIOS enters kernels in 32-bit protected mode', 'Boot it directly (boot_protocol = "direct", no BIOS), or build a multiboot kernel.');
      }
      return { format: parsed.elfClass === 64 ? 'elf64' : 'elf32', segments: parsed.segments, entry: parsed.entry };
    }
  } catch (error) {
    if (error instanceof ImageFormatError) throw fault(error.message, 'Rebuild the image, or point kernel_path at a multiboot, ELF or flat x86 image.');
    throw error;
  }
  // A flat image is entered at its first byte, its load address: the one entry point not read from the image.
  const gpa = guestAddress(source, image.loadAddress, image.addressKey);
  return { format: 'flat', segments: flatSegments(image.size, gpa), entry: gpa };
}

/** entry_point for a real-mode start: below 1 MiB. */
function realModeEntry(source: ConfigSource, kernel: Table): number {
  const entryPoint = source.integer(source.required(kernel, 'kernel', 'entry_point'), 'kernel.entry_point', { max: 2n ** 64n - 1n });
  if (entryPoint >= REAL_MODE_LIMIT) {
    throw source.error(
      'kernel.entry_point',
      `${hex(entryPoint)} is above 1 MiB: this boot starts vCPU 0 in real mode at entry_point, as AxVisor does, and real mode reaches only the first MiB.`,
      'Point entry_point at the BIOS (bios_path, or enable_bios = true) or at real-mode code below 0x100000; a multiboot or ELF kernel can also boot directly (boot_protocol = "direct").',
    );
  }
  return entryPoint;
}

/** A real-mode start must land in the image that runs first: the BIOS, or a flat kernel. */
function checkRealModeEntry(source: ConfigSource, boot: BootSpec, images: readonly ImageSpec[]): void {
  const first = images.find((image) => image.role === (boot.method === 'bios' ? 'bios' : 'kernel')) as ImageSpec;
  const inside = first.segments.some((segment) => boot.entryPoint >= segment.gpa && boot.entryPoint < segment.gpa + segment.memSize);
  if (!inside) {
    const what = `the ${first.role === 'bios' ? 'BIOS' : 'kernel'} image`;
    throw source.error('kernel.entry_point', `${hex(boot.entryPoint)} is not inside ${what}: vCPU 0 would start on zeroed memory.`, `Point it into ${what}.`);
  }
}

function guestAddress(source: ConfigSource, address: bigint, key: string): number {
  if (address >= ADDRESS_LIMIT) throw source.error(key, `${hex(address)} is beyond any guest physical address.`, 'Use an address inside a memory region.');
  return Number(address);
}

/** The command line and the modules' strings share the multiboot information's 8 KiB: the error names the larger. */
function checkMultibootInfoSize(source: ConfigSource, boot: BootSpec, images: readonly ImageSpec[], memoryRegions: readonly MemoryRegionSpec[]): void {
  try {
    buildMultibootInfo(multibootInputsOf({ memoryRegions, boot, images }));
  } catch (error) {
    if (!(error instanceof MultibootInfoTooLarge)) throw error;
    const modules = images.filter((image) => image.role === 'module');
    const moduleText = modules.reduce((total, image) => total + Buffer.byteLength(image.moduleString ?? ''), 0);
    if (modules.length === 0 || Buffer.byteLength(boot.cmdline) >= moduleText) {
      throw source.error('kernel.cmdline', `${error.message} (0x6000-0x7fff).`, 'Shorten the command line.');
    }
    throw source.error(MODULES_KEY, `${error.message} (0x6000-0x7fff), with ${modules.length} modules and ${moduleText} bytes of their strings.`, 'Give fewer modules, or shorter strings (cmdline).');
  }
}
