/* axtest: boots the way ArceOS boots under AxVisor on x86: a flat image at 0x200000 with a
 * Multiboot header using the a.out kludge, entered by tsvisor's BIOS stub (guests/bios) in
 * 32-bit protected mode. Its config gives it 16 MiB of RAM from 0, one vCPU and the command
 * line "axtest cmdline". It checks what ArceOS reads at boot: the Multiboot information,
 * the CPUID leaves it takes the TSC frequency and the APIC ID from, the hypervisor leaf,
 * and QEMU's fw_cfg.
 *
 * Behind a user's AxVisor-style BIOS (bios_path), the information is AxVisor's own, which
 * tsvisor writes byte for byte (src/boot/axvm-bios.ts): flags 0x41 only, mem_lower 639, the
 * map at 0x6040, no command line or boot loader name. Flags of exactly 0x41 select those
 * checks in place of tsvisor's. */
#include <stdint.h>

#include "cpu.h"
#include "fw_cfg.h"
#include "idt.h"
#include "kernel.h"
#include "multiboot.h"
#include "serial.h"
#include "string.h"
#include "test.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define RAM_SIZE (16 * MiB)

/* CPUID leaf 1 ECX (Intel SDM vol. 2A, CPUID, "Feature Information Returned in the ECX
 * Register"); bit 31 is left to hypervisors, which set it. */
#define CPUID_1_ECX_X2APIC       (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
/* The first hypervisor leaf: EAX = the highest hypervisor leaf, EBX:ECX:EDX = the vendor. */
#define CPUID_HYPERVISOR_LEAF 0x40000000

/* The command line as AxVisor gives it, "axtest cmdline"; or as QEMU's (and GRUB's) multiboot
 * loaders give it, after the kernel's file name: "<path>/axtest.bin axtest cmdline" (the
 * libvirt and QEMU front ends boot this kernel so). */
static bool cmdline_ok(const char *cmdline) {
    static const char expected[] = "axtest cmdline";
    static const char file[] = "axtest.bin ";
    if (cmdline && strcmp(cmdline, expected) == 0) return true;
    const char *space = cmdline;
    while (space && *space && *space != ' ') space++;
    size_t file_length = sizeof(file) - 1;
    bool after_file = cmdline && *space == ' ' && (size_t)(space + 1 - cmdline) >= file_length &&
                      memcmp(space + 1 - file_length, file, file_length) == 0 && strcmp(space + 1, expected) == 0;
    if (!after_file) serial_printf("  cmdline: \"%s\", expected \"%s\", or it after the kernel's file\n", cmdline, expected);
    return after_file;
}

static bool memory_info_ok(const struct multiboot_info *info) {
    uint32_t wanted = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MMAP |
                      MULTIBOOT_INFO_BOOT_LOADER_NAME;
    bool ok = expect_equal("flags bits 0, 2, 6, 9", info->flags & wanted, wanted);
    ok &= expect_equal("mem_lower (KiB)", info->mem_lower, 640);
    ok &= expect_equal("mem_upper (KiB)", info->mem_upper, (RAM_SIZE - 1 * MiB) / KiB);
    return ok;
}

#define AXVM_INFO_FLAGS (MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_MMAP)
#define AXVM_INFO_ADDRESS 0x6000

/* AxVisor's information: at 0x6000, as the BIOS's patched mov ebx, imm32 said. */
static bool axvm_info_ok(const struct multiboot_info *info) {
    bool ok = expect_equal("EBX", (uint64_t)(uintptr_t)info, AXVM_INFO_ADDRESS);
    ok &= expect_equal("flags", info->flags, AXVM_INFO_FLAGS);
    ok &= expect_equal("mem_lower (KiB)", info->mem_lower, 639);
    ok &= expect_equal("mem_upper (KiB)", info->mem_upper, (RAM_SIZE - 1 * MiB) / KiB);
    ok &= expect_equal("mmap_addr", info->mmap_addr, AXVM_INFO_ADDRESS + 0x40);
    ok &= expect_equal("mmap_length", info->mmap_length, 24);
    return ok;
}

static bool memory_map_ok(const struct multiboot_info *info) {
    unsigned ram_entries = 0;
    uint64_t ram_bytes = 0;
    bool ok = true;
    for (const struct multiboot_mmap_entry *entry = multiboot_mmap_first(info); entry;
         entry = multiboot_mmap_next(info, entry)) {
        if (entry->type != MULTIBOOT_MEMORY_AVAILABLE) continue;
        ram_entries++;
        ram_bytes += entry->length;
        ok &= expect_equal("RAM entry base", entry->base_addr, 0);
        ok &= expect_equal("RAM entry length", entry->length, RAM_SIZE);
    }
    ok &= expect_equal("type-1 entries", ram_entries, 1);
    ok &= expect_equal("type-1 bytes in all", ram_bytes, RAM_SIZE);
    return ok;
}

/* Leaf 15H: TSC frequency = crystal Hz (ECX) * EBX / EAX; leaf 16H: base (EAX) and bus
 * (ECX) frequencies in MHz (Intel SDM vol. 2A, CPUID, leaves 15H and 16H). */
static bool frequency_leaves_ok(void) {
    uint32_t max_leaf, denominator, numerator, crystal_hz, base_mhz, bus_mhz, unused;
    cpuid(0, 0, &max_leaf, &unused, &unused, &unused);
    if (!expect_equal("CPUID.0:EAX >= 0x16", max_leaf >= 0x16, 1)) return false;
    cpuid(0x15, 0, &denominator, &numerator, &crystal_hz, &unused);
    cpuid(0x16, 0, &base_mhz, &unused, &bus_mhz, &unused);
    uint64_t tsc_mhz = denominator ? (uint64_t)crystal_hz * numerator / denominator / 1000000 : 0;
    bool ok = expect_equal("CPUID.16H:EAX != 0", base_mhz != 0, 1);
    ok &= expect_equal("CPUID.16H:EAX (MHz) vs. the CPUID.15H TSC (MHz)", base_mhz, tsc_mhz);
    ok &= expect_equal("CPUID.16H:ECX (bus MHz)", bus_mhz, 1000);
    return ok;
}

/* Leaf 1 EBX[31:24] is the initial APIC ID; leaf 0BH EDX the x2APIC ID. */
static bool apic_id_ok(void) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    bool ok = expect_equal("CPUID.1:EBX[31:24]", ebx >> 24, 0);
    cpuid(0xb, 0, &eax, &ebx, &ecx, &edx);
    ok &= expect_equal("CPUID.(0BH,0):EDX", edx, 0);
    return ok;
}

static bool hypervisor_ok(void) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    bool ok = expect_equal("CPUID.1:ECX hypervisor, x2APIC, TSC-deadline",
                           ecx & (CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_X2APIC | CPUID_1_ECX_TSC_DEADLINE),
                           CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE);
    static const char vendor[12] = "tsvisor"; /* and five NUL bytes */
    uint32_t expected[3];
    memcpy(expected, vendor, sizeof vendor);
    cpuid(CPUID_HYPERVISOR_LEAF, 0, &eax, &ebx, &ecx, &edx);
    ok &= expect_equal("CPUID.40000000H:EAX", eax, CPUID_HYPERVISOR_LEAF);
    ok &= expect_equal("CPUID.40000000H:EBX", ebx, expected[0]);
    ok &= expect_equal("CPUID.40000000H:ECX", ecx, expected[1]);
    ok &= expect_equal("CPUID.40000000H:EDX", edx, expected[2]);
    return ok;
}

/* etc/e820 holds packed little-endian {u64 address, u64 length, u32 type} entries. */
#define E820_ENTRY_SIZE 20

/* The interrupt controllers and the timer the config's passthrough_devices list answer at
 * their addresses: the Local APIC's version register (SDM 10.4.8), the IO APIC's through
 * IOREGSEL/IOWIN (82093AA 3.2.2) and the HPET's capabilities (IA-PC HPET 2.3.4). */
static uint32_t mmio_read32(uint64_t address) { return *(volatile uint32_t *)address; }
static void mmio_write32(uint64_t address, uint32_t value) { *(volatile uint32_t *)address = value; }

static bool platform_devices_ok(void) {
    bool ok = expect_equal("Local APIC version at 0xfee00030", mmio_read32(0xfee00030), 0x00050014);
    mmio_write32(0xfec00000, 1); /* IOREGSEL: IOAPICVER */
    ok &= expect_equal("IO APIC version at 0xfec00010", mmio_read32(0xfec00010), 0x00170011);
    uint32_t hpet = mmio_read32(0xfed00000);
    ok &= expect_equal("HPET vendor, legacy-capable, 64-bit counter", hpet & 0xffffa000, 0x8086a000);
    return ok;
}

static bool fw_cfg_ok(void) {
    if (!expect_equal("fw_cfg signature \"QEMU\"", fw_cfg_present(), 1)) return false;
    fw_cfg_select(FW_CFG_NB_CPUS);
    bool ok = expect_equal("fw_cfg CPUs", fw_cfg_read_u16(), 1);
    fw_cfg_select(FW_CFG_RAM_SIZE);
    ok &= expect_equal("fw_cfg RAM size", fw_cfg_read_u64(), RAM_SIZE);
    struct fw_cfg_file e820;
    if (!expect_equal("fw_cfg file etc/e820 listed", fw_cfg_find_file("etc/e820", &e820), 1)) return false;
    ok &= expect_equal("etc/e820 size", e820.size, E820_ENTRY_SIZE);
    fw_cfg_select(e820.select);
    ok &= expect_equal("etc/e820 address", fw_cfg_read_u64(), 0);
    ok &= expect_equal("etc/e820 length", fw_cfg_read_u64(), RAM_SIZE);
    ok &= expect_equal("etc/e820 type", fw_cfg_read_u32(), MULTIBOOT_MEMORY_AVAILABLE);
    return ok;
}

int kmain(void) {
    idt_init();
    serial_init();
    const struct multiboot_info *info = boot_info();

    report("EAX held the Multiboot magic 0x2badb002", boot_magic() == MULTIBOOT_BOOTLOADER_MAGIC);
    if (info->flags == AXVM_INFO_FLAGS) {
        report("AxVisor's information at 0x6000: flags 0x41, mem_lower 639 KiB, mem_upper 15 MiB, its map at 0x6040",
               axvm_info_ok(info));
        report("the memory map has one RAM entry, [0, 16 MiB)", memory_map_ok(info));
    } else {
        report("Multiboot flags 0, 2, 6, 9; mem_lower 640 KiB, mem_upper 15 MiB", memory_info_ok(info));
        report("the memory map has one RAM entry, [0, 16 MiB)", memory_map_ok(info));
        report("the command line is \"axtest cmdline\"",
               cmdline_ok(multiboot_string(info, MULTIBOOT_INFO_CMDLINE, info->cmdline)));
        report("the boot loader name is \"tsvisor\"",
               expect_string("boot_loader_name",
                             multiboot_string(info, MULTIBOOT_INFO_BOOT_LOADER_NAME, info->boot_loader_name), "tsvisor"));
    }
    report("CPUID 16H: base frequency = the 15H TSC frequency, bus 1000 MHz", frequency_leaves_ok());
    report("the initial APIC ID is 0 (CPUID 1 and 0BH)", apic_id_ok());
    report("CPUID: hypervisor and TSC-deadline bits set, x2APIC clear, vendor \"tsvisor\"", hypervisor_ok());
    report("fw_cfg: signature, 1 CPU, 16 MiB of RAM, etc/e820 with one RAM entry", fw_cfg_ok());
    report("the IO APIC, Local APIC and HPET answer at 0xfec00000, 0xfee00000, 0xfed00000", platform_devices_ok());

    return test_summary();
}
