/* mb-direct: a Multiboot kernel in an ELF32 file, booted by tsvisor itself with no BIOS:
 * tsvisor loads the PT_LOAD segments at their physical addresses and enters e_entry in the
 * machine state of Multiboot 0.6.96 section 3.2 (the header has no a.out kludge, so the ELF
 * headers rule, section 3.1.3). Its config gives it 16 MiB of RAM from 0, a reserved 1 MiB
 * hole after it, build/ramdisk.bin as the ramdisk at 0x800000 and the command line
 * "mb-direct". It checks the boot information a direct boot leaves, module included. */
#include <stdint.h>

#include "idt.h"
#include "kernel.h"
#include "multiboot.h"
#include "serial.h"
#include "string.h"
#include "test.h"

#define RAM_SIZE 0x1000000ULL
#define HOLE_BASE 0x1000000ULL
#define HOLE_SIZE 0x100000ULL
#define RAMDISK_ADDRESS 0x800000
static const char ramdisk[] = "tsvisor ramdisk\n"; /* guests/build/ramdisk.bin */
#define RAMDISK_SIZE (sizeof ramdisk - 1)

static bool flags_ok(const struct multiboot_info *info) {
    uint32_t wanted = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS | MULTIBOOT_INFO_MMAP |
                      MULTIBOOT_INFO_BOOT_LOADER_NAME;
    return expect_equal("flags bits 0, 2, 3, 6, 9", info->flags & wanted, wanted);
}

static bool has_region(const struct multiboot_info *info, uint64_t base, uint64_t length, uint32_t type) {
    for (const struct multiboot_mmap_entry *entry = multiboot_mmap_first(info); entry;
         entry = multiboot_mmap_next(info, entry))
        if (entry->base_addr == base && entry->length == length && entry->type == type) return true;
    return false;
}

static bool memory_map_ok(const struct multiboot_info *info) {
    bool ok = expect_equal("RAM entry {0, 16 MiB} present", has_region(info, 0, RAM_SIZE, MULTIBOOT_MEMORY_AVAILABLE), 1);
    ok &= expect_equal("reserved entry {16 MiB, 1 MiB} present",
                       has_region(info, HOLE_BASE, HOLE_SIZE, MULTIBOOT_MEMORY_RESERVED), 1);
    return ok;
}

static bool module_ok(const struct multiboot_info *info) {
    if (!expect_equal("mods_count", info->flags & MULTIBOOT_INFO_MODS ? info->mods_count : 0, 1)) return false;
    const struct multiboot_module *module = multiboot_pointer(info->mods_addr);
    bool ok = expect_equal("mod_start", module->mod_start, RAMDISK_ADDRESS);
    ok &= expect_equal("mod_end", module->mod_end, RAMDISK_ADDRESS + RAMDISK_SIZE);
    ok &= expect_equal("module bytes match", memcmp(multiboot_pointer(RAMDISK_ADDRESS), ramdisk, RAMDISK_SIZE) == 0, 1);
    return ok;
}

int kmain(void) {
    idt_init();
    serial_init();
    const struct multiboot_info *info = boot_info();

    report("EAX held the Multiboot magic 0x2badb002", boot_magic() == MULTIBOOT_BOOTLOADER_MAGIC);
    report("Multiboot flags 0, 2, 3, 6, 9", flags_ok(info));
    report("the memory map has RAM [0, 16 MiB) and a reserved [16 MiB, 17 MiB)", memory_map_ok(info));
    report("one module: the 16-byte ramdisk at 0x800000", module_ok(info));
    bool strings_ok =
        expect_string("cmdline", multiboot_string(info, MULTIBOOT_INFO_CMDLINE, info->cmdline), "mb-direct");
    strings_ok &= expect_string("boot_loader_name",
                                multiboot_string(info, MULTIBOOT_INFO_BOOT_LOADER_NAME, info->boot_loader_name),
                                "tsvisor");
    report("the command line is \"mb-direct\", the boot loader \"tsvisor\"", strings_ok);

    return test_summary();
}
