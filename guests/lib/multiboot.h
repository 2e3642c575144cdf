/* Multiboot 0.6.96: the header a kernel carries (section 3.1), the magic a loader leaves in
 * EAX (section 3.2) and the boot information it leaves at EBX (section 3.3). The constants
 * are plain literals so that lib/boot/multiboot.S includes this file too. */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

/* 3.1.1: the header lies within the first 8192 bytes of the image, 4-byte aligned. */
#define MULTIBOOT_HEADER_MAGIC 0x1badb002
/* 3.1.2: header flags (bits 0-15 are requirements: a loader that cannot meet one refuses
 * to boot). The test kernels use these two. */
#define MULTIBOOT_HEADER_MEMORY_INFO 0x00000002 /* fill mem_* (and mmap_* if it can) */
#define MULTIBOOT_HEADER_AOUT_KLUDGE 0x00010000 /* the address fields (3.1.3) are valid */

/* 3.2: EAX on entry. */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002

/* 3.3: which fields of struct multiboot_info are present. */
#define MULTIBOOT_INFO_MEMORY           0x00000001 /* mem_lower, mem_upper */
#define MULTIBOOT_INFO_BOOT_DEVICE      0x00000002
#define MULTIBOOT_INFO_CMDLINE          0x00000004
#define MULTIBOOT_INFO_MODS             0x00000008
#define MULTIBOOT_INFO_AOUT_SYMS        0x00000010
#define MULTIBOOT_INFO_ELF_SHDR         0x00000020
#define MULTIBOOT_INFO_MMAP             0x00000040
#define MULTIBOOT_INFO_DRIVES           0x00000080
#define MULTIBOOT_INFO_CONFIG_TABLE     0x00000100
#define MULTIBOOT_INFO_BOOT_LOADER_NAME 0x00000200
#define MULTIBOOT_INFO_APM_TABLE        0x00000400
#define MULTIBOOT_INFO_VBE              0x00000800
#define MULTIBOOT_INFO_FRAMEBUFFER      0x00001000

/* 3.3: memory-map entry types. 1 is RAM; 3 (ACPI reclaimable), 4 (preserve on hibernation)
 * and 5 (defective RAM) have meanings too; any other value, like 2, is reserved. */
#define MULTIBOOT_MEMORY_AVAILABLE 1
#define MULTIBOOT_MEMORY_RESERVED  2

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* 3.3 "Boot information format". Addresses are 32-bit physical addresses. */
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;   /* KiB of memory from 0, at most 640 */
    uint32_t mem_upper;   /* KiB of memory from 1 MiB up to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;     /* a NUL-terminated string */
    uint32_t mods_count;
    uint32_t mods_addr;   /* mods_count struct multiboot_module */
    uint32_t syms[4];     /* a.out symbol table (flags bit 4) or ELF section headers (bit 5) */
    uint32_t mmap_length; /* bytes */
    uint32_t mmap_addr;   /* the first struct multiboot_mmap_entry */
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name; /* a NUL-terminated string */
    uint32_t apm_table;
    uint32_t vbe_control_info;
    uint32_t vbe_mode_info;
    uint16_t vbe_mode;
    uint16_t vbe_interface_seg;
    uint16_t vbe_interface_off;
    uint16_t vbe_interface_len;
    uint64_t framebuffer_addr;
    uint32_t framebuffer_pitch;
    uint32_t framebuffer_width;
    uint32_t framebuffer_height;
    uint8_t framebuffer_bpp;
    uint8_t framebuffer_type;
    uint8_t color_info[6];
} __attribute__((packed));

/* 3.3: a boot module occupies [mod_start, mod_end). */
struct multiboot_module {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;   /* a NUL-terminated string, e.g. a file name */
    uint32_t reserved;
};

/* 3.3: one memory-map entry. The spec places `size` at offset -4 of the entry proper: it
 * counts the bytes after itself (20 here) and the next entry follows at size + 4.
 * mmap_addr points at the first `size`. */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t base_addr;
    uint64_t length;
    uint32_t type; /* MULTIBOOT_MEMORY_* */
} __attribute__((packed));

/* What the loader left in EAX and EBX (saved by lib/boot/multiboot.S). */
uint32_t boot_magic(void);
const struct multiboot_info *boot_info(void);

/* The memory map, in order: NULL when there is none (flags bit 6 clear) or at its end. */
const struct multiboot_mmap_entry *multiboot_mmap_first(const struct multiboot_info *info);
const struct multiboot_mmap_entry *multiboot_mmap_next(const struct multiboot_info *info,
                                                       const struct multiboot_mmap_entry *entry);

/* A 32-bit physical address as a pointer: the low 4 GiB are identity-mapped. */
static inline const void *multiboot_pointer(uint32_t address) { return (const void *)(uintptr_t)address; }

/* A string field (cmdline, boot_loader_name) if its `flag` is set, else NULL. */
static inline const char *multiboot_string(const struct multiboot_info *info, uint32_t flag, uint32_t address) {
    return info->flags & flag ? multiboot_pointer(address) : NULL;
}

#endif
#endif
