/**
 * A VmSpec: the validated, resolved description of one VM. Plain data (JSON-safe: every
 * address has passed a range check and is a number): nothing below src/config/ sees TOML,
 * and nothing here touches KVM.
 */
import type { BootSpec } from '../boot/boot-plan.js';
import type { ImageSegment } from '../boot/image-format.js';
import type { ImageSource } from '../images/image-source.js';
import type { CpuFeatureSetting } from '../boot/cpu-features.js';

/** memory_regions flag bits (axvmconfig). */
export const MemoryFlag = {
  read: 0x1,
  write: 0x2,
  execute: 0x4,
  user: 0x8,
  device: 0x10,
  uncached: 0x20,
} as const;

/** memory_regions map types, by code: 0 MAP_ALLOC, 1 MAP_IDENTICAL, 2 MAP_RESERVED. */
export const MAP_TYPES = ['alloc', 'identical', 'reserved'] as const;
export type MapType = (typeof MAP_TYPES)[number];

export interface MemoryRegionSpec {
  /** Where the region is written: "kernel.memory_regions[0]". */
  readonly keyPath: string;
  readonly gpa: number;
  readonly size: number;
  readonly flags: number;
  readonly mapType: MapType;
  /** No WRITE flag: the guest may read but not write (KVM_MEM_READONLY). */
  readonly readOnly: boolean;
}

/** 'module': a multiboot module of [tsvisor] modules (the ramdisk is one too, the first). */
export type ImageRole = 'bios' | 'kernel' | 'ramdisk' | 'dtb' | 'module';

export type { BootSpec, CpuMode, GuestRange, KernelFormat } from '../boot/boot-plan.js';
export type { ImageSegment } from '../boot/image-format.js';
export type { ImageSource } from '../images/image-source.js';

export interface ImageSpec {
  readonly role: ImageRole;
  /** The key naming the image: "kernel.kernel_path" (for the built-in BIOS, "kernel.enable_bios"). */
  readonly keyPath: string;
  /** The key whose address placed it ("kernel.kernel_load_addr"); undefined when the image's own headers did. */
  readonly addressKey: string | undefined;
  readonly source: ImageSource;
  /** The file's size in bytes. */
  readonly size: number;
  /** Where its bytes go: the whole file at its load address, or an ELF or multiboot image's segments. */
  readonly segments: readonly ImageSegment[];
  /** For a multiboot module (the ramdisk, [tsvisor] modules): its string in the multiboot information. */
  readonly moduleString?: string;
}

export type DeviceKind =
  | 'uart-16550' | 'debug-exit' | 'acpi-pm1-control' | 'fw-cfg' | 'pit' | 'system-control-port-b' | 'pic-master' | 'pic-slave' | 'elcr'
  | 'io-apic' | 'local-apic' | 'hpet'
  // QEMU's pc-testdev, one device over five ranges (devices/pc-testdev.ts).
  | 'pc-testdev-ioport' | 'pc-testdev-flush-page' | 'pc-testdev-ioport-byte' | 'pc-testdev-irq-line' | 'pc-testdev-iomem';

/** A file the guest reads through fw_cfg (tsvisor.fw_cfg): a string's bytes, or a host file's, read when the VM starts. */
export type FwCfgFileSpec =
  | { readonly name: string; readonly string: string }
  | { readonly name: string; readonly file: string };

export interface DeviceSpec {
  readonly kind: DeviceKind;
  readonly name: string;
  readonly bus: 'io' | 'mmio';
  readonly base: number;
  readonly length: number;
  /** The interrupt line the device raises, when it has one. */
  readonly irq: number | undefined;
  /** "platform" for devices every tsvisor VM has, else the config entry: "devices.passthrough_devices[0]". */
  readonly origin: string;
  /** fw_cfg only: the files the config adds to its directory, by name. */
  readonly fwCfgFiles?: readonly FwCfgFileSpec[];
}

export type InterruptMode = 'none' | 'emulated' | 'passthrough';

export interface VmSpec {
  /** The config file, absolute. */
  readonly configPath: string;
  readonly id: number;
  readonly name: string;
  /** 0 host VM, 1 RTOS / full virtualization, 2 Linux. */
  readonly vmType: number;
  readonly cpuCount: number;
  /** How many of the vCPUs the guest may start (tsvisor.current_cpus); the others are off the APIC bus. */
  readonly currentCpus: number;
  /** For each vCPU, the host CPUs it may run on (from phys_cpu_sets); undefined when not pinned. */
  readonly vcpuAffinity: readonly (readonly number[])[] | undefined;
  /** phys_cpu_ids, as given. */
  readonly physCpuIds: readonly number[] | undefined;
  readonly memoryRegions: readonly MemoryRegionSpec[];
  readonly images: readonly ImageSpec[];
  readonly boot: BootSpec;
  /** Every device of the VM, the platform's own included, on non-overlapping ranges. */
  readonly devices: readonly DeviceSpec[];
  readonly interruptMode: InterruptMode;
  /** CPU features the config turns off or asks for (tsvisor.cpu_features), by name, sorted. */
  readonly cpuFeatures: readonly CpuFeatureSetting[];
  /** Where KVM keeps its real-mode identity page table, with its TSS after it (boot/real-mode.ts): clear of every region and MMIO device. */
  readonly kvmRealModeArea: number;
  /** Things the user should know that do not stop the VM, each located in the config. */
  readonly warnings: readonly string[];
}
