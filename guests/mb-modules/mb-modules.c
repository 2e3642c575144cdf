/* mb-modules: a Multiboot kernel (ELF32, as QEMU's -kernel takes it) that prints the module
 * list its loader gave it (Multiboot 0.6.96 section 3.3: mods_count and mods_addr, each entry
 * mod_start, mod_end, string, reserved), so that tsvisor's list can be compared with QEMU's.
 * It prints what two loaders that place modules at addresses of their own choosing have in
 * common, and no address:
 *   cmdline="<the kernel's command line>"
 *   mods_count=<N>
 *   module <i>: size=<bytes> fnv1a=<FNV-1a 32 of its bytes> string="<its string>" head="<its
 *       first bytes, \xNN for any byte outside printable ASCII>"
 *   layout: page-aligned=<yes|no> after-kernel=<yes|no> in-order=<yes|no>
 * (page-aligned: every mod_start is a multiple of 4 KiB; after-kernel: every module starts at
 * or after the end of the kernel's memory image; in-order: each module starts at or after the
 * end of the one before, as QEMU's loader lays them out). It ends by writing mods_count to
 * the debug-exit port 0xf4: status (N << 1) | 1. */
#include <stdbool.h>
#include <stdint.h>

#include "exit.h"
#include "idt.h"
#include "kernel.h"
#include "multiboot.h"
#include "serial.h"

#define PAGE_SIZE 4096
#define HEAD_BYTES 24
#define FNV_OFFSET_BASIS 0x811c9dc5u
#define FNV_PRIME 0x01000193u

extern char __bss_end[]; /* kernel.ld: the end of the kernel's memory image */

/* FNV-1a, 32-bit: enough to tell two modules' bytes apart in a comparison. */
static uint32_t fnv1a(const uint8_t *bytes, uint32_t length) {
    uint32_t hash = FNV_OFFSET_BASIS;
    for (uint32_t i = 0; i < length; i++) hash = (hash ^ bytes[i]) * FNV_PRIME;
    return hash;
}

static void print_escaped(const uint8_t *bytes, uint32_t length) {
    for (uint32_t i = 0; i < length; i++) {
        uint8_t byte = bytes[i];
        if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') serial_putc((char)byte);
        else serial_printf("\\x%x%x", byte >> 4, byte & 0xf);
    }
}

static const char *yes_no(bool value) { return value ? "yes" : "no"; }

int kmain(void) {
    idt_init();
    serial_init();
    const struct multiboot_info *info = boot_info();

    const char *cmdline = multiboot_string(info, MULTIBOOT_INFO_CMDLINE, info->cmdline);
    serial_printf("cmdline=\"%s\"\n", cmdline ? cmdline : "");
    uint32_t count = info->flags & MULTIBOOT_INFO_MODS ? info->mods_count : 0;
    serial_printf("mods_count=%u\n", count);

    const struct multiboot_module *modules = multiboot_pointer(info->mods_addr);
    bool page_aligned = true, after_kernel = true, in_order = true;
    for (uint32_t i = 0; i < count; i++) {
        const struct multiboot_module *module = &modules[i];
        uint32_t size = module->mod_end - module->mod_start;
        const uint8_t *bytes = multiboot_pointer(module->mod_start);
        serial_printf("module %u: size=%u fnv1a=0x%x string=\"%s\" head=\"", i, size, fnv1a(bytes, size),
                      (const char *)multiboot_pointer(module->string));
        print_escaped(bytes, size < HEAD_BYTES ? size : HEAD_BYTES);
        serial_puts("\"\n");
        page_aligned &= module->mod_start % PAGE_SIZE == 0;
        after_kernel &= module->mod_start >= (uintptr_t)__bss_end;
        if (i > 0) in_order &= module->mod_start >= modules[i - 1].mod_end;
    }
    serial_printf("layout: page-aligned=%s after-kernel=%s in-order=%s\n", yes_no(page_aligned), yes_no(after_kernel),
                  yes_no(in_order));
    debug_exit(count);
}
