/**
 * tsvisor's own BIOS stub (guests/bios), used when a config says enable_bios = true without
 * a bios_path. Unlike AxVisor's, it is told where to go: tsvisor writes the kernel entry and
 * the multiboot information address into a parameter block in the image after loading it.
 */
import { fileURLToPath } from 'node:url';
import { TsvisorError, hex } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';

export const BUILTIN_BIOS_PATH = fileURLToPath(new URL('../../guests/build/bios.bin', import.meta.url));
/** Where AxVisor loads its stub, and where this one is built to run. */
export const BUILTIN_BIOS_ADDRESS = 0x8000;

/** The parameter block: "TSVB" at offset 4, then the kernel entry and the multiboot information address. */
const MAGIC_OFFSET = 4;
const MAGIC = 0x4256_5354; // "TSVB", little-endian
const KERNEL_ENTRY_OFFSET = 8;
const MULTIBOOT_INFO_OFFSET = 12;

export function writeBiosParameters(memory: GuestMemory, base: number, kernelEntry: number, multibootInfo: number): void {
  if (memory.read32(base + MAGIC_OFFSET) !== MAGIC) {
    throw new TsvisorError(
      `The built-in BIOS at ${hex(base)} has no parameter block ("TSVB" at offset 4): ${BUILTIN_BIOS_PATH} is not tsvisor's BIOS stub. Rebuild the guests with \`npm run build:guests\`.`,
    );
  }
  memory.write32(base + KERNEL_ENTRY_OFFSET, kernelEntry);
  memory.write32(base + MULTIBOOT_INFO_OFFSET, multibootInfo);
}
