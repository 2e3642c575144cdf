/* reboot: counts its boots, as a guest that a machine reset starts over shows them. The count
 * lives in RAM outside the image and the boot data (BOOT_RECORD), which a reset leaves as it
 * was, as QEMU's does; a magic number tells a first boot (RAM as power-on left it) from a
 * later one. Boots 1 and 2 print their number and triple-fault (an empty IDT, then ud2), which
 * a PC turns into a reset; boot 3 and later print theirs and power off. So under QEMU, or
 * tsvisor-qemu, it prints "reboot: boot 1", "... 2", "... 3" and powers off; with -no-reboot it
 * stops after boot 1. Multiboot (ELF32), so that QEMU boots the same file with -kernel. */
#include <stdint.h>

#include "exit.h"
#include "kernel.h"
#include "serial.h"

#define BOOT_RECORD 0x700000
#define BOOT_RECORD_MAGIC 0x7b007c0d
#define TRIPLE_FAULT_BOOTS 2

struct boot_record {
    uint32_t magic;
    uint32_t boots;
};

static __attribute__((noreturn)) void triple_fault(void) {
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty_idt = {0, 0};
    __asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
    __builtin_unreachable();
}

int kmain(void) {
    volatile struct boot_record *record = (volatile struct boot_record *)BOOT_RECORD;
    if (record->magic != BOOT_RECORD_MAGIC) {
        record->magic = BOOT_RECORD_MAGIC;
        record->boots = 0;
    }
    uint32_t boot = ++record->boots;
    serial_init();
    serial_printf("reboot: boot %u\n", (unsigned)boot);
    if (boot <= TRIPLE_FAULT_BOOTS) triple_fault();
    power_off();
}
