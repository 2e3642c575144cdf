/**
 * Everything tsvisor writes into guest memory before vCPU 0 starts, besides the images:
 * the multiboot information (and, for a user's AxVisor BIOS, its address patched into the
 * BIOS), the boot GDT and page tables, and the built-in BIOS's parameters. What to write was decided by the config layer (the BootSpec); this carries
 * it out.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import { AXVM_MULTIBOOT_INFO_ADDRESS, buildAxvmMultibootInfo } from './axvm-bios.js';
import type { BootSpec } from './boot-plan.js';
import { buildBootTables } from './boot-tables.js';
import { BUILTIN_BIOS_ADDRESS, writeBiosParameters } from './builtin-bios.js';
import { buildMultibootInfo, type MultibootInputs } from './multiboot-info.js';

export function writeBootData(memory: GuestMemory, boot: BootSpec, multiboot: MultibootInputs): void {
  if (boot.axvmBios) {
    // AxVisor's information, and its address patched into the BIOS's mov ebx, imm32.
    memory.write(AXVM_MULTIBOOT_INFO_ADDRESS, buildAxvmMultibootInfo(boot.axvmBios.mainMemory));
    memory.write32(boot.axvmBios.patchAddress, AXVM_MULTIBOOT_INFO_ADDRESS);
  } else if (boot.multibootInfo) memory.write(boot.multibootInfo.base, buildMultibootInfo(multiboot, boot.multibootInfo));
  if (boot.bootTables) memory.write(boot.bootTables.base, buildBootTables(boot.cpuMode === 'long' ? 'long' : 'protected', boot.bootTables));
  if (boot.firmware === 'builtin-bios') {
    writeBiosParameters(memory, BUILTIN_BIOS_ADDRESS, boot.kernelEntry, boot.multibootInfo?.base ?? 0);
  }
}
