/**
 * A VmSpec: the validated, resolved description of one VM. Plain data: nothing below
 * src/config/ sees TOML, and nothing here touches KVM.
 */

/** memory_regions map types (AxVisor's axvmconfig). */
export const MapType = {
  /** Fresh, zero-filled memory for the guest. */
  alloc: 0,
  /** In AxVisor, guest physical = host physical (passthrough). */
  identical: 1,
  /** No memory: a hole marked reserved in the guest's memory map. */
  reserved: 2,
} as const;
export type MapType = (typeof MapType)[keyof typeof MapType];

/** memory_regions flag bits. */
export const MemoryFlag = {
  read: 0x1,
  write: 0x2,
  execute: 0x4,
  user: 0x8,
  device: 0x10,
  uncached: 0x20,
} as const;

export interface MemoryRegionSpec {
  readonly gpa: number;
  readonly size: number;
  readonly flags: number;
  readonly mapType: MapType;
}

export interface ImageSpec {
  /** Absolute host path. */
  readonly path: string;
  /** Guest physical load address. */
  readonly loadAddress: number;
}

/** A device the config names that tsvisor does not model yet: reported, never silently dropped. */
export interface UnmodelledDeviceSpec {
  readonly keyPath: string;
  readonly name: string;
  readonly gpa: number;
  readonly length: number;
}

export interface VmSpec {
  /** The config file, absolute. */
  readonly configPath: string;
  readonly id: number;
  readonly name: string;
  readonly vmType: number;
  readonly cpuCount: number;
  readonly memoryRegions: readonly MemoryRegionSpec[];
  readonly kernel: ImageSpec;
  /** Where vCPU 0 starts (in real mode, as AxVisor starts it). */
  readonly entryPoint: number;
  readonly unmodelledDevices: readonly UnmodelledDeviceSpec[];
  /** Things the user should know that do not stop the VM. */
  readonly warnings: readonly string[];
}
