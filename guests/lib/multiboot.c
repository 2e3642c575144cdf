#include "multiboot.h"

#include <stddef.h>

/* Saved by lib/boot/multiboot.S from EAX and EBX. */
extern uint32_t multiboot_saved_magic, multiboot_saved_info;

uint32_t boot_magic(void) { return multiboot_saved_magic; }

const struct multiboot_info *boot_info(void) { return multiboot_pointer(multiboot_saved_info); }

const struct multiboot_mmap_entry *multiboot_mmap_first(const struct multiboot_info *info) {
    if (!(info->flags & MULTIBOOT_INFO_MMAP) || info->mmap_length < sizeof(struct multiboot_mmap_entry)) return NULL;
    return multiboot_pointer(info->mmap_addr);
}

/* Section 3.3: each entry's size field counts the bytes after itself. */
const struct multiboot_mmap_entry *multiboot_mmap_next(const struct multiboot_info *info,
                                                       const struct multiboot_mmap_entry *entry) {
    uintptr_t next = (uintptr_t)entry + sizeof entry->size + entry->size;
    uintptr_t end = (uintptr_t)info->mmap_addr + info->mmap_length;
    if (next + sizeof(struct multiboot_mmap_entry) > end) return NULL;
    return (const struct multiboot_mmap_entry *)next;
}
