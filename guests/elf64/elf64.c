/* elf64: a native ELF64 kernel that tsvisor loads from its PT_LOAD segments and enters at
 * e_entry already in 64-bit mode, with its own GDT (64-bit code at 0x18) and page tables
 * identity-mapping [0, max(4 GiB, end of RAM)). Its config gives it 32 MiB of RAM from 0.
 * It checks the long-mode state it was handed, walks the page tables it found, and checks
 * that an IDT of its own is the one loaded. */
#include <stdint.h>

#include "boot.h"
#include "cpu.h"
#include "idt.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define VMM_CS64 0x18               /* tsvisor's 64-bit code selector for ELF64 kernels */
#define RAM_LAST_PAGE 0x1fff000ULL  /* the last 4 KiB of the 32 MiB */
#define LOCAL_APIC 0xfee00000ULL
#define NOT_MAPPED (~0ULL)
#define PTE_FRAME 0x000ffffffffff000ULL /* bits 51:12: a table's or a page's frame */

static bool long_mode_ok(void) {
    bool ok = expect_equal("EFER.LMA, LME", rdmsr(MSR_EFER) & (EFER_LMA | EFER_LME), EFER_LMA | EFER_LME);
    ok &= expect_equal("CR0.PG, PE", read_cr0() & (CR0_PG | CR0_PE), CR0_PG | CR0_PE);
    ok &= expect_equal("CR4.PAE", read_cr4() & CR4_PAE, CR4_PAE);
    return ok;
}

static bool ram_end_ok(void) {
    const uint64_t pattern = 0x0123456789abcdefULL;
    volatile uint64_t *last_page = (volatile uint64_t *)RAM_LAST_PAGE;
    *last_page = pattern;
    return expect_equal("read back at 0x1fff000", *last_page, pattern);
}

/* The physical address `linear` maps to, from the 4-level page tables at CR3 (Intel SDM
 * vol. 3A, 5.5 "4-Level Paging"): PML4, PDPT, PD and PT entries, each level indexing 9
 * bits of the address; PS (bit 7) in a PDPT or PD entry maps a 1 GiB or 2 MiB page. The
 * tables are reached through the identity map they describe. */
static uint64_t translate(uint64_t linear) {
    uint64_t table = read_cr3() & PTE_FRAME;
    for (unsigned shift = 39;; shift -= 9) { /* 39: PML4, 30: PDPT, 21: PD, 12: PT */
        uint64_t entry = ((const uint64_t *)table)[(linear >> shift) & 511];
        if (!(entry & PTE_PRESENT)) return NOT_MAPPED;
        if (shift == 12 || ((shift == 30 || shift == 21) && (entry & PTE_LARGE))) {
            uint64_t offset_mask = (1ULL << shift) - 1; /* also drops a large page's PAT bit 12 */
            return (entry & PTE_FRAME & ~offset_mask) | (linear & offset_mask);
        }
        table = entry & PTE_FRAME;
    }
}

static bool idt_loaded_ok(void) {
    struct descriptor_table_register loaded = sidt(), installed = idt_installed();
    bool ok = expect_equal("IDTR base", loaded.base, installed.base);
    ok &= expect_equal("IDTR limit", loaded.limit, installed.limit);
    return ok;
}

int kmain(void) {
    idt_init();
    serial_init();

    report("long mode: EFER.LMA and LME, CR0.PG and PE, CR4.PAE", long_mode_ok());
    report("CS is the 64-bit code selector 0x18", expect_equal("CS", read_cs(), VMM_CS64));
    report("the last page of RAM (0x1fff000) is mapped and writable", ram_end_ok());
    report("the page tables at CR3 identity-map 0xfee00000",
           expect_equal("0xfee00000 maps to", translate(LOCAL_APIC), LOCAL_APIC));
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    report("the initial APIC ID is 0", expect_equal("CPUID.1:EBX[31:24]", ebx >> 24, 0));
    report("the IDT loaded is the one idt_init() installed", idt_loaded_ok());

    return test_summary();
}
