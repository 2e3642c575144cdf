/**
 * How a VM boots, as plain data the config layer resolves and the boot layer carries out:
 * which firmware runs, the kernel's format, the mode and address vCPU 0 starts at, and the
 * boot structures tsvisor writes into guest memory.
 */

export type KernelFormat = 'multiboot' | 'elf64' | 'elf32' | 'flat';
export type CpuMode = 'real' | 'protected' | 'long';

export interface GuestRange {
  readonly base: number;
  readonly size: number;
}

export interface BootSpec {
  /** 'bios': vCPU 0 starts in real mode at entry_point, in a BIOS that starts the kernel (AxVisor's way); 'direct': tsvisor enters the kernel itself. */
  readonly method: 'bios' | 'direct';
  readonly firmware: 'config-bios' | 'builtin-bios' | 'none';
  readonly kernelFormat: KernelFormat;
  readonly cpuMode: CpuMode;
  /** Where vCPU 0 starts. */
  readonly entryPoint: number;
  /** Where the kernel starts, once the BIOS (or tsvisor) hands over. */
  readonly kernelEntry: number;
  /** The kernel command line ('' when none is set). */
  readonly cmdline: string;
  /** Where tsvisor writes the multiboot information, for boots that pass it. */
  readonly multibootInfo: GuestRange | undefined;
  /** Where tsvisor writes its GDT (and page tables, for long mode), for direct boots into protected or long mode. */
  readonly bootTables: GuestRange | undefined;
  /**
   * A user's BIOS with AxVisor's patch site (boot/axvm-bios.ts): where the immediate of its
   * `mov ebx, imm32` is, and the main memory AxVisor's multiboot information describes. The
   * information is then AxVisor's, not tsvisor's richer one.
   */
  readonly axvmBios?: { readonly patchAddress: number; readonly mainMemory: GuestRange };
}
