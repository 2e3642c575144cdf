/**
 * AxVisor's contract with a user's BIOS (its axvm-bios), as AxVisor's x86 boot code keeps it
 * (virtualization/axvm, arch/x86_64/boot: load_multiboot_info and the multiboot patch):
 *
 *   - the multiboot information is at 0x6000: flags 0x41 (bit 0, mem_lower/mem_upper valid;
 *     bit 6, a memory map), mem_lower 639, mem_upper the KiB of main memory above 1 MiB, and a
 *     memory map of one entry at 0x6040: all of main memory (the first region that is not
 *     MAP_RESERVED), available;
 *   - the BIOS learns where it is from its own code: bytes 0x3c-0x3f of the image are the
 *     immediate of a `mov ebx, imm32` whose opcode (0xbb) is byte 0x3b, and AxVisor writes
 *     0x6000 there before the BIOS runs. The BIOS then jumps to the kernel with EBX set.
 *
 * tsvisor does the same, byte for byte, for a BIOS from bios_path that has the opcode there.
 * A BIOS without it is loaded unchanged (config/boot-section.ts warns): AxVisor would refuse it.
 */
import type { GuestRange } from './boot-plan.js';

/** The `mov ebx, imm32` AxVisor patches: its opcode byte, and the offset of its immediate in the image. */
export const MOV_EBX_IMM32_OPCODE = 0xbb;
export const AXVM_BIOS_EBX_IMM_OFFSET = 0x3c;
/** The smallest image that holds the patched instruction. */
export const AXVM_BIOS_MIN_SIZE = AXVM_BIOS_EBX_IMM_OFFSET + 4;

export const AXVM_MULTIBOOT_INFO_ADDRESS = 0x6000;
const MEMORY_MAP_OFFSET = 0x40; // the entry at 0x6040
const INFO_FLAGS = (1 << 0) | (1 << 6);
const MEM_LOWER_KIB = 639;
const MEMORY_MAP_ENTRY_SIZE = 24; // u32 size (20), u64 base, u64 length, u32 type
const MEMORY_AVAILABLE = 1;
const ONE_MiB = 0x10_0000;

/** Whether `image` has AxVisor's patch site: the opcode of `mov ebx, imm32` at byte 0x3b. */
export function hasAxvmPatchSite(image: Uint8Array): boolean {
  return image.length >= AXVM_BIOS_MIN_SIZE && image[AXVM_BIOS_EBX_IMM_OFFSET - 1] === MOV_EBX_IMM32_OPCODE;
}

/** The multiboot information AxVisor writes at 0x6000 (with its memory map at 0x6040), for `mainMemory`. */
export function buildAxvmMultibootInfo(mainMemory: GuestRange): Uint8Array {
  const bytes = new Uint8Array(MEMORY_MAP_OFFSET + MEMORY_MAP_ENTRY_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, INFO_FLAGS, true);
  view.setUint32(4, MEM_LOWER_KIB, true);
  view.setUint32(8, Math.floor(Math.max(mainMemory.size - ONE_MiB, 0) / 1024), true); // mem_upper
  view.setUint32(44, MEMORY_MAP_ENTRY_SIZE, true); // mmap_length
  view.setUint32(48, AXVM_MULTIBOOT_INFO_ADDRESS + MEMORY_MAP_OFFSET, true); // mmap_addr
  view.setUint32(MEMORY_MAP_OFFSET, MEMORY_MAP_ENTRY_SIZE - 4, true);
  view.setBigUint64(MEMORY_MAP_OFFSET + 4, BigInt(mainMemory.base), true);
  view.setBigUint64(MEMORY_MAP_OFFSET + 12, BigInt(mainMemory.size), true);
  view.setUint32(MEMORY_MAP_OFFSET + 20, MEMORY_AVAILABLE, true);
  return bytes;
}
