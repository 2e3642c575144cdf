/* arceos-path: boots the way ArceOS helloworld boots on x86_64 (the axplat-x86-pc platform,
 * with axcpu, the percpu crate, uart_16550 and x2apic), step by step, and checks each step.
 * It prints one "<check>: ok|FAIL" line per check, then "N passed, M failed", and powers off
 * as ArceOS does (status 0) when nothing failed, else leaves through the debug-exit port
 * with the failure count (report.c).
 *
 * The path, in ArceOS's order:
 *   multiboot.S  a Multiboot 0.6.96 kernel with the a.out kludge (flags 0x00010002, loaded
 *                at 0x200000, .bss to 0x258000, entered at 0x200000) entered in 32-bit
 *                protected mode with EAX = 0x2BADB002 and EBX = the information; its
 *                temporary GDT, PAE | PGE, 1-GiB-page tables mapping 512 GiB at 0 and at
 *                0xffff800000000000, EFER = LME | NXE, CR0 = PG | WP | NE | MP | PE, a far
 *                jump to 64-bit code, the high-half boot stack, a call to rust_entry at its
 *                high-half address;
 *   rust_entry   (axplat-x86-pc's rust_entry and axruntime's rust_main, in this file) clears
 *                .bss, sets IA32_GS_BASE to the per-CPU area (percpu), runs axcpu's init_trap
 *                (GDT with a TSS, ltr, IDT, EFER read-modify-write), sets up COM1
 *                (console.c), reads CPUID 0x16 and the TSC (time::init_early), walks the
 *                memory map (mem::init, which panics without one), masks the 8259A pair,
 *                enables the Local APIC through its high-half alias as the x2apic crate does,
 *                masks every IO APIC pin (apic::init_primary), and unmasks the timer
 *                (time::init_primary; here periodic, so that it can be counted).
 * ArceOS assumes 1-GiB pages; on a host without them (CPUID 0x80000001 EDX bit 26 clear: KVM
 * on PVM, for one) it would triple-fault as paging comes on. This kernel reports that as a
 * FAIL, maps the first 4 GiB with 2-MiB pages instead (multiboot.S) and checks the rest.
 * The lines come out once COM1 is up: the multiboot contract first, then the 32-bit entry's
 * work, then rust_entry's, in that order. The multiboot information differs between
 * boots (tsvisor's own through its BIOS or booted directly, AxVisor's behind an AxVisor-style
 * BIOS: no command line, one map entry), so only what ArceOS needs of it is checked. */
#include "cpu.h"
#include "io.h"
#include "kernel.h"
#include "multiboot.h"

/* multiboot.S and kernel.ld. */
extern const uint32_t multiboot_header[8];
extern volatile uint32_t boot_has_pdpe1gb;
extern uint64_t tmp_pml4[512], tmp_pdpt[512], fallback_pd[2048];
extern char _start[], _skernel[], _edata[], _sbss[], _ebss[], boot_stack[];

/* The Local APIC's registers, offsets from its base (Intel SDM vol. 3A, "Local APIC Register
 * Address Map"), and the bits used here. */
#define LAPIC_VERSION   0x030
#define LAPIC_SVR       0x0f0
#define LAPIC_ESR       0x280
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TICR      0x380
#define LAPIC_TDCR      0x3e0
#define LVT_MASKED          (1u << 16)
#define LVT_TIMER_MODE_MASK (3u << 17)
#define LVT_TIMER_PERIODIC  (1u << 17)
#define SVR_SOFTWARE_ENABLE (1u << 8)
#define TDCR_DIVIDE_BY_1    0xb
/* The x2apic crate's LocalApicBuilder defaults, which ArceOS keeps: periodic, divide by 1,
 * 10,000,000 counts. */
#define TIMER_INITIAL_COUNT 10000000u
#define TICKS_WANTED 3

/* IA32_APIC_BASE: BSP flag (bit 8), global enable (bit 11), base 0xfee00000 (Intel SDM vol.
 * 3A, "Local APIC Status and Location"). */
#define APIC_BASE_BSP    (1ULL << 8)
#define APIC_BASE_ENABLE (1ULL << 11)
#define APIC_BASE_DEFAULT 0xfee00000ULL
/* x2apic's xapic_base(): the base field of IA32_APIC_BASE, masked as the crate masks it. */
#define XAPIC_BASE_MASK 0xffffff000ULL

/* The IO APIC (82093AA data sheet): IOREGSEL at 0, IOWIN at 0x10; register 1 is the version
 * (bits 23:16 the last redirection entry), 0x10 + 2n and 0x11 + 2n redirection entry n. */
#define IO_APIC_BASE 0xfec00000ULL
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN    0x10
#define IOAPIC_VERSION  0x01
#define IOAPIC_REDTBL   0x10
#define IOAPIC_MASKED        (1u << 16)
#define IOAPIC_LEVEL         (1u << 15)
#define IOAPIC_ACTIVE_LOW    (1u << 13)

/* CPUID leaf 1 (Intel SDM vol. 2A, CPUID): EDX bit 9 an on-chip APIC, ECX bit 21 x2APIC,
 * EBX[31:24] the initial APIC ID. */
#define CPUID_1_EDX_APIC   (1u << 9)
#define CPUID_1_ECX_X2APIC (1u << 21)

/* ArceOS's TIMER_FREQUENCY (axconfig.toml), its TSC rate when CPUID 0x16 says nothing; and
 * its LAPIC_TICKS_PER_SEC (time.rs), the timer clock it assumes: CPUID 0x16 ECX's bus clock. */
#define DEFAULT_TSC_MHZ 4000
#define DEFAULT_BUS_MHZ 1000

/* The per-CPU area (the percpu crate): IA32_GS_BASE points at it, and its first word holds
 * its own address, so that %gs:0 finds the area. In .bss, at its high-half address. */
static uint64_t percpu_area[8] __attribute__((aligned(64)));

/* What the steps before the console saw, checked once it is up. */
static struct {
    uint64_t gs_base_written, gs_base_read, gs_self;
    uint64_t efer_at_entry, efer_after_update;
    uint64_t rip, rsp;
    uint16_t ds, es, ss, cs, tr;
    struct descriptor_register gdtr, idtr;
} early;

/* A word written at one alias and read at the other. */
static volatile uint64_t alias_probe;

static uint32_t cpu_freq_mhz = DEFAULT_TSC_MHZ;
static uint32_t bus_mhz = DEFAULT_BUS_MHZ;

void rust_entry(uint32_t magic, uint32_t mbi);

/* ---- Small helpers ---------------------------------------------------------------------- */

static uint16_t read_segment(int which) {
    uint16_t value = 0;
    switch (which) {
    case 0: __asm__ volatile("mov %%ds, %0" : "=r"(value)); break;
    case 1: __asm__ volatile("mov %%es, %0" : "=r"(value)); break;
    case 2: __asm__ volatile("mov %%ss, %0" : "=r"(value)); break;
    default: __asm__ volatile("mov %%cs, %0" : "=r"(value)); break;
    }
    return value;
}

static uint32_t lapic_read(uint32_t offset) { return mmio_read32(lapic_base + offset); }
static void lapic_write(uint32_t offset, uint32_t value) { mmio_write32(lapic_base + offset, value); }
/* The x2apic crate changes fields by read-modify-write (set_*_bit, set_*_bit_range). */
static void lapic_update(uint32_t offset, uint32_t clear, uint32_t set) {
    lapic_write(offset, (lapic_read(offset) & ~clear) | set);
}

static uint64_t ioapic_base;
static uint32_t ioapic_read(uint32_t reg) {
    mmio_write32(ioapic_base + IOAPIC_IOREGSEL, reg);
    return mmio_read32(ioapic_base + IOAPIC_IOWIN);
}
static void ioapic_write(uint32_t reg, uint32_t value) {
    mmio_write32(ioapic_base + IOAPIC_IOREGSEL, reg);
    mmio_write32(ioapic_base + IOAPIC_IOWIN, value);
}

static uint64_t tsc_cycles_per_ms(void) { return (uint64_t)cpu_freq_mhz * 1000; }

/* Waits `ms` milliseconds by the TSC, with interrupts as they are. */
static void spin_ms(uint64_t ms) {
    uint64_t end = rdtsc() + ms * tsc_cycles_per_ms();
    while (rdtsc() < end) __asm__ volatile("pause");
}

/* ---- The steps before the console --------------------------------------------------------- */

/* axplat::mem::clear_bss(): zero [_sbss, _ebss). The boot stack lies below _sbss. */
static void clear_bss(void) { memset(_sbss, 0, (size_t)(_ebss - _sbss)); }

/* percpu::init_percpu_reg(0): IA32_GS_BASE = the area (Intel SDM vol. 4, MSR C000_0101H). */
static void percpu_init(void) {
    percpu_area[0] = (uint64_t)percpu_area;
    early.gs_base_written = (uint64_t)percpu_area;
    wrmsr(MSR_IA32_GS_BASE, early.gs_base_written);
    early.gs_base_read = rdmsr(MSR_IA32_GS_BASE);
    __asm__ volatile("movq %%gs:0, %0" : "=r"(early.gs_self));
}

/* axcpu's init_trap: the GDT and TSS, the IDT, and init_syscall's Efer::update, which reads
 * EFER, adds SCE and writes it back. */
static void init_trap(void) {
    gdt_init();
    idt_init();
    early.efer_at_entry = rdmsr(MSR_IA32_EFER);
    wrmsr(MSR_IA32_EFER, early.efer_at_entry | EFER_SCE);
    early.efer_after_update = rdmsr(MSR_IA32_EFER);
    __asm__ volatile("sgdt %0" : "=m"(early.gdtr));
    __asm__ volatile("sidt %0" : "=m"(early.idtr));
    __asm__ volatile("str %0" : "=r"(early.tr));
}

/* ---- The checks --------------------------------------------------------------------------- */

static bool header_ok(void) {
    const uint32_t *h = multiboot_header;
    bool ok = expect_equal("magic", h[0], MULTIBOOT_HEADER_MAGIC);
    ok &= expect_equal("flags", h[1], ARCEOS_MULTIBOOT_HEADER_FLAGS);
    ok &= expect_equal("magic + flags + checksum", (uint32_t)(h[0] + h[1] + h[2]), 0);
    ok &= expect_equal("header_addr", h[3], (uint64_t)multiboot_header - PHYS_VIRT_OFFSET);
    ok &= expect_equal("header offset < 8 KiB", h[3] - h[4] < 8192, 1);
    ok &= expect_equal("load_addr", h[4], KERNEL_BASE_PADDR);
    ok &= expect_equal("load_end_addr", h[5], (uint64_t)_edata - PHYS_VIRT_OFFSET);
    ok &= expect_equal("bss_end_addr", h[6], KERNEL_BSS_END_PADDR);
    ok &= expect_equal("entry_addr", h[7], KERNEL_BASE_PADDR);
    ok &= expect_equal("_start", (uint64_t)_start, PHYS_VIRT_OFFSET + KERNEL_BASE_PADDR);
    return ok;
}

/* mem::init: the multiboot crate reads the information and the map through phys_to_virt,
 * and ArceOS unwraps memory_regions(), so a missing map is a panic. It keeps the available
 * ranges as RAM; the kernel must be inside one. */
static bool memory_map_ok(uint32_t mbi) {
    if (!expect_equal("EBX (the information) nonzero", mbi != 0, 1)) return false;
    const struct multiboot_info *info = (const struct multiboot_info *)phys_to_virt(mbi);
    if (!expect_equal("flags bit 6 (mmap_*)", (info->flags & MULTIBOOT_INFO_MMAP) != 0, 1)) return false;
    unsigned available = 0, holding_kernel = 0, entries = 0;
    uint64_t at = info->mmap_addr, end = (uint64_t)info->mmap_addr + info->mmap_length;
    while (at + sizeof(struct multiboot_mmap_entry) <= end && entries < 64) {
        const struct multiboot_mmap_entry *entry = (const struct multiboot_mmap_entry *)phys_to_virt(at);
        entries++;
        if (entry->type == MULTIBOOT_MEMORY_AVAILABLE) {
            available++;
            if (entry->base_addr <= KERNEL_BASE_PADDR && entry->base_addr + entry->length >= KERNEL_BSS_END_PADDR) holding_kernel++;
        }
        at += (uint64_t)entry->size + 4; /* section 3.3: size counts the bytes after itself */
    }
    bool ok = expect_equal("available entries >= 1", available >= 1, 1);
    ok &= expect_equal("available entries holding [0x200000, 0x258000)", holding_kernel, 1);
    return ok;
}

/* ArceOS needs 1-GiB pages and does not check for them. Without them multiboot.S maps the
 * first 4 GiB with 2-MiB pages instead and goes on (so the rest is still checked), and this
 * check fails: ArceOS itself would have triple-faulted. */
static bool pdpe1gb_ok(void) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(0x80000001, 0, &eax, &ebx, &ecx, &edx);
    uint32_t has = (edx >> CPUID_80000001_EDX_PDPE1GB) & 1;
    bool ok = expect_equal("CPUID 0x80000001 EDX bit 26", has, 1);
    ok &= expect_equal("what the 32-bit entry found", boot_has_pdpe1gb, has);
    if (!boot_has_pdpe1gb)
        console_puts("  ArceOS's page tables would fault at the first fetch after paging comes on; "
                     "this kernel mapped the first 4 GiB with 2-MiB pages instead\n");
    return ok;
}

/* The registers as multiboot.S wrote them. CR0.ET (bit 4) is fixed at 1 on every processor
 * since the i486, whatever is written. EFER.LMA was set by the processor when paging came on
 * with LME set. */
static bool control_registers_ok(void) {
    bool ok = expect_equal("CR0 (ET aside)", read_cr0() & ~0x10ULL, BOOT_CR0);
    ok &= expect_equal("CR4", read_cr4(), BOOT_CR4);
    ok &= expect_equal("EFER", early.efer_at_entry, EFER_LME | EFER_LMA | EFER_NXE);
    ok &= expect_equal("CR3", read_cr3(), (uint64_t)tmp_pml4 - PHYS_VIRT_OFFSET);
    return ok;
}

/* The tables as multiboot.S built them, but for the accessed and dirty bits (5 and 6), which
 * the processor sets as it walks them. */
#define PTE_ACCESSED_DIRTY 0x60ULL
static bool page_tables_ok(void) {
    uint64_t pdpt_entry = ((uint64_t)tmp_pdpt - PHYS_VIRT_OFFSET) | PTE_PRESENT | PTE_WRITABLE;
    bool ok = expect_equal("PML4[0]", tmp_pml4[0] & ~PTE_ACCESSED_DIRTY, pdpt_entry);
    ok &= expect_equal("PML4[256]", tmp_pml4[256] & ~PTE_ACCESSED_DIRTY, pdpt_entry);
    unsigned others = 0, wrong = 0;
    for (unsigned i = 0; i < 512; i++) {
        if (i != 0 && i != 256 && tmp_pml4[i]) others++;
        uint64_t expected = (uint64_t)i << 30 | PTE_PRESENT | PTE_WRITABLE | PTE_HUGE;
        if (!boot_has_pdpe1gb) /* multiboot.S's fallback: 2-MiB pages under the first 4 GiB */
            expected = i < 4 ? ((uint64_t)fallback_pd - PHYS_VIRT_OFFSET + i * 4096) | PTE_PRESENT | PTE_WRITABLE : 0;
        if ((tmp_pdpt[i] & ~PTE_ACCESSED_DIRTY) != expected) wrong++;
    }
    if (!boot_has_pdpe1gb)
        for (unsigned i = 0; i < 2048; i++)
            if ((fallback_pd[i] & ~PTE_ACCESSED_DIRTY) != ((uint64_t)i << 21 | PTE_PRESENT | PTE_WRITABLE | PTE_HUGE)) wrong++;
    ok &= expect_equal("other PML4 entries in use", others, 0);
    ok &= expect_equal("PDPT (and fallback) entries not as built", wrong, 0);
    volatile uint64_t *high = &alias_probe;
    volatile uint64_t *low = (volatile uint64_t *)((uint64_t)&alias_probe - PHYS_VIRT_OFFSET);
    *high = 0x0123456789abcdefULL;
    ok &= expect_equal("written at the high alias, read at the low", *low, 0x0123456789abcdefULL);
    *low = 0xfedcba9876543210ULL;
    ok &= expect_equal("written at the low alias, read at the high", *high, 0xfedcba9876543210ULL);
    return ok;
}

static bool high_half_ok(void) {
    uint64_t stack_base = (uint64_t)boot_stack;
    bool ok = expect_equal("RIP in the kernel's high-half text", early.rip >= (uint64_t)_skernel && early.rip < (uint64_t)_edata, 1);
    ok &= expect_equal("RSP on the high-half boot stack",
                       early.rsp > stack_base && early.rsp <= stack_base + BOOT_STACK_SIZE, 1);
    ok &= expect_equal("DS", early.ds, 0);
    ok &= expect_equal("ES", early.es, 0);
    ok &= expect_equal("SS", early.ss, 0);
    return ok;
}

static bool gs_base_ok(void) {
    bool ok = expect_equal("per-CPU area in the high half", early.gs_base_written >= PHYS_VIRT_OFFSET, 1);
    ok &= expect_equal("IA32_GS_BASE read back", early.gs_base_read, early.gs_base_written);
    ok &= expect_equal("%gs:0", early.gs_self, early.gs_base_written);
    return ok;
}

static bool gdt_ok(void) {
    uint64_t low = gdt[TSS_SELECTOR >> 3], high = gdt[(TSS_SELECTOR >> 3) + 1];
    uint64_t tss_base = (low >> 16 & 0xffffff) | (low >> 56 & 0xff) << 24 | high << 32;
    bool ok = expect_equal("GDTR base", early.gdtr.base, (uint64_t)gdt);
    ok &= expect_equal("GDTR limit", early.gdtr.limit, GDT_ENTRIES * 8 - 1);
    ok &= expect_equal("CS", early.cs, KCODE64_SELECTOR);
    ok &= expect_equal("TR", early.tr, TSS_SELECTOR);
    ok &= expect_equal("TSS descriptor type (busy)", low >> 40 & 0xf, 0xb);
    ok &= expect_equal("TSS descriptor base", tss_base, (uint64_t)tss_address());
    return ok;
}

static bool idt_ok(void) {
    bool ok = expect_equal("IDTR base", early.idtr.base, (uint64_t)idt_address());
    ok &= expect_equal("IDTR limit", early.idtr.limit, IDT_VECTORS * 16 - 1);
    ok &= expect_equal("IDT in the high half", early.idtr.base >= PHYS_VIRT_OFFSET, 1);
    return ok;
}

static bool efer_update_ok(void) {
    return expect_equal("EFER after the update", early.efer_after_update, EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
}

/* COM1 reads back what console_init() wrote: the divisor through DLAB, then LCR, IER, MCR;
 * IIR with FIFOs on and nothing pending (0xc1); LSR with the transmitter empty. */
static bool console_ok(void) {
    outb(COM1_PORT + 3, 0x83);
    uint32_t divisor = inb(COM1_PORT + 0) | (uint32_t)inb(COM1_PORT + 1) << 8;
    outb(COM1_PORT + 3, 0x03);
    bool ok = expect_equal("divisor latch", divisor, 3);
    ok &= expect_equal("LCR", inb(COM1_PORT + 3), 0x03);
    ok &= expect_equal("IER", inb(COM1_PORT + 1), 0x01);
    ok &= expect_equal("MCR", inb(COM1_PORT + 4), 0x0b);
    ok &= expect_equal("IIR", inb(COM1_PORT + 2), 0xc1);
    ok &= expect_equal("LSR THR empty", inb(COM1_PORT + 5) & 0x20, 0x20);
    return ok;
}

/* apic.rs's cpu_has_x2apic() and current_local_apic_id(), and the APIC itself. */
static bool cpuid_1_ok(void) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    bool ok = expect_equal("EDX bit 9 (APIC)", edx & CPUID_1_EDX_APIC, CPUID_1_EDX_APIC);
    ok &= expect_equal("ECX bit 21 (x2APIC)", ecx & CPUID_1_ECX_X2APIC, 0);
    ok &= expect_equal("EBX[31:24] (initial APIC ID)", ebx >> 24, 0);
    return ok;
}

/* time::init_early: raw_cpuid's processor_base_frequency(), CPUID 0x16 EAX in MHz; ArceOS
 * keeps its 4000 MHz default when the leaf is missing or 0. */
static bool cpuid_16_ok(void) {
    uint32_t max_leaf, base_mhz, unused, reference_mhz;
    cpuid(0, 0, &max_leaf, &unused, &unused, &unused);
    if (!expect_equal("CPUID 0 EAX >= 0x16", max_leaf >= 0x16, 1)) return false;
    cpuid(0x16, 0, &base_mhz, &unused, &reference_mhz, &unused);
    if (base_mhz) cpu_freq_mhz = base_mhz;
    if (reference_mhz) bus_mhz = reference_mhz;
    return expect_equal("CPUID 0x16 EAX (MHz) nonzero", base_mhz != 0, 1);
}

/* time::init_early's INIT_TICK, and every current_ticks() after it. */
static bool rdtsc_ok(void) {
    uint64_t first = rdtsc();
    uint64_t second = rdtsc();
    return expect_equal("second RDTSC > first", second > first, 1);
}

static bool apic_base_ok(void) {
    return expect_equal("IA32_APIC_BASE", rdmsr(MSR_IA32_APIC_BASE), APIC_BASE_DEFAULT | APIC_BASE_ENABLE | APIC_BASE_BSP);
}

/* apic::init_primary: "Disable 8259A interrupt controllers". */
static bool pic_masked_ok(void) {
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    bool ok = expect_equal("master IMR (0x21)", inb(0x21), 0xff);
    ok &= expect_equal("slave IMR (0xa1)", inb(0xa1), 0xff);
    return ok;
}

/* Nothing before the kernel touches the Local APIC (no firmware sets it up, unlike SeaBIOS
 * under QEMU), so it is as reset leaves it: SVR 0xff, software-disabled (Intel SDM vol. 3A,
 * "Spurious-Interrupt Vector Register"). */
static uint32_t svr_at_entry;
static bool lapic_version_ok(void) {
    svr_at_entry = lapic_read(LAPIC_SVR);
    bool ok = expect_equal("base address in the high half", lapic_base, PHYS_VIRT_OFFSET + APIC_BASE_DEFAULT);
    ok &= expect_equal("version (bits 7:0)", lapic_read(LAPIC_VERSION) & 0xff, 0x14);
    ok &= expect_equal("SVR", svr_at_entry, 0xff);
    return ok;
}

/* The x2apic crate's LocalApic::enable() in xAPIC mode, field by field in its order:
 * remap_lvt_entries (timer, error and spurious vectors), configure_timer (periodic mode,
 * divide by 1, the initial count), enable_timer (clear the timer's mask),
 * disable_local_interrupt_pins (LINT0 = LINT1 = 0), software_enable (SVR bit 8, last).
 * Until that last step the APIC is software-disabled (SVR is 0xff at reset), and then the
 * mask bit of every LVT entry stays set whatever is written (Intel SDM vol. 3A, "Local APIC
 * State After It Has Been Software Disabled"): so the timer, error, LINT0 and LINT1 entries
 * all read back masked. ArceOS's time::init_primary unmasks the timer again afterwards. */
static uint64_t ticr_written_tsc;
static void lapic_enable(void) {
    lapic_update(LAPIC_LVT_TIMER, 0xff, APIC_TIMER_VECTOR);
    lapic_update(LAPIC_LVT_ERROR, 0xff, APIC_ERROR_VECTOR);
    lapic_update(LAPIC_SVR, 0xff, APIC_SPURIOUS_VECTOR);
    lapic_update(LAPIC_LVT_TIMER, LVT_TIMER_MODE_MASK, LVT_TIMER_PERIODIC);
    lapic_update(LAPIC_TDCR, 0xf, TDCR_DIVIDE_BY_1);
    ticr_written_tsc = rdtsc();
    lapic_write(LAPIC_TICR, TIMER_INITIAL_COUNT);
    lapic_update(LAPIC_LVT_TIMER, LVT_MASKED, 0);
    lapic_write(LAPIC_LVT_LINT0, 0);
    lapic_write(LAPIC_LVT_LINT1, 0);
    lapic_update(LAPIC_SVR, 0, SVR_SOFTWARE_ENABLE);
}

static bool lapic_enabled_ok(void) {
    /* Written while software-disabled, the entries keep their masks (the error entry's from
     * reset, since nothing unmasks it); an APIC software-enabled before (by firmware) would
     * take the writes as they are. */
    uint32_t masked = svr_at_entry & SVR_SOFTWARE_ENABLE ? 0 : LVT_MASKED;
    bool ok = expect_equal("SVR", lapic_read(LAPIC_SVR), SVR_SOFTWARE_ENABLE | APIC_SPURIOUS_VECTOR);
    ok &= expect_equal("LVT timer", lapic_read(LAPIC_LVT_TIMER), masked | LVT_TIMER_PERIODIC | APIC_TIMER_VECTOR);
    ok &= expect_equal("LVT error", lapic_read(LAPIC_LVT_ERROR) | (LVT_MASKED & ~masked), LVT_MASKED | APIC_ERROR_VECTOR);
    ok &= expect_equal("LVT LINT0", lapic_read(LAPIC_LVT_LINT0), masked);
    ok &= expect_equal("LVT LINT1", lapic_read(LAPIC_LVT_LINT1), masked);
    ok &= expect_equal("TDCR", lapic_read(LAPIC_TDCR), TDCR_DIVIDE_BY_1);
    ok &= expect_equal("TICR", lapic_read(LAPIC_TICR), TIMER_INITIAL_COUNT);
    return ok;
}

/* apic::init_primary's IO APIC part, through phys_to_virt(0xfec00000): every pin masked, to
 * vector 0x20 + pin and the boot CPU's APIC ID; pins 10 and up level-triggered, active low. */
static bool ioapic_ok(void) {
    ioapic_base = phys_to_virt(IO_APIC_BASE);
    uint32_t last = (ioapic_read(IOAPIC_VERSION) >> 16) & 0xff;
    uint32_t apic_id, unused;
    cpuid(1, 0, &unused, &apic_id, &unused, &unused);
    apic_id >>= 24;
    for (uint32_t pin = 0; pin <= last; pin++) {
        uint32_t low = (IO_APIC_VECTOR_BASE + pin) | IOAPIC_MASKED | (pin >= 10 ? IOAPIC_LEVEL | IOAPIC_ACTIVE_LOW : 0);
        ioapic_write(IOAPIC_REDTBL + 2 * pin, low);
        ioapic_write(IOAPIC_REDTBL + 2 * pin + 1, apic_id << 24);
    }
    bool ok = expect_equal("last redirection entry", last, 23);
    unsigned wrong = 0;
    for (uint32_t pin = 0; pin <= last && pin < 240; pin++) {
        uint32_t low = (IO_APIC_VECTOR_BASE + pin) | IOAPIC_MASKED | (pin >= 10 ? IOAPIC_LEVEL | IOAPIC_ACTIVE_LOW : 0);
        if (ioapic_read(IOAPIC_REDTBL + 2 * pin) != low || ioapic_read(IOAPIC_REDTBL + 2 * pin + 1) != apic_id << 24) wrong++;
    }
    ok &= expect_equal("entries not read back as written", wrong, 0);
    return ok;
}

/* time::init_primary unmasks the timer (enable_timer, a read-modify-write); here it stays
 * periodic, as the builder configured it, and the boot CPU halts until it has ticked three
 * times (each tick's handler writes the EOI), for at most 2 s of TSC time. `sti; hlt` is one
 * asm statement: STI's interrupt shadow keeps an interrupt from slipping in before HLT. The
 * timer counts from the TICR write at the 0x16 bus clock, so the third tick cannot come
 * before three periods after it (with 5 % for the MHz rounding). */
static bool timer_ok(void) {
    lapic_update(LAPIC_LVT_TIMER, LVT_MASKED, 0);
    uint32_t lvt = lapic_read(LAPIC_LVT_TIMER);
    uint64_t deadline = rdtsc() + 2000 * tsc_cycles_per_ms();
    for (;;) {
        __asm__ volatile("cli" ::: "memory");
        if (timer_ticks >= TICKS_WANTED || rdtsc() >= deadline) break;
        __asm__ volatile("sti; hlt" ::: "memory");
    }
    unsigned ticks = timer_ticks;
    lapic_write(LAPIC_ESR, 0); /* a write latches the errors seen since the last one */
    uint32_t esr = lapic_read(LAPIC_ESR);
    bool ok = expect_equal("LVT timer unmasked", lvt, LVT_TIMER_PERIODIC | APIC_TIMER_VECTOR);
    ok &= expect_equal("ticks within 2 s >= 3", ticks >= TICKS_WANTED, 1);
    if (ticks >= TICKS_WANTED) {
        uint64_t period_ns = (uint64_t)TIMER_INITIAL_COUNT * 1000 / bus_mhz;
        uint64_t earliest = TICKS_WANTED * period_ns * cpu_freq_mhz / 1000 * 95 / 100;
        uint64_t elapsed = tick_tsc[TICKS_WANTED - 1] - ticr_written_tsc;
        if (!expect_equal("third tick no sooner than 3 periods after TICR", elapsed >= earliest, 1))
            console_printf("  (%llu TSC cycles, at least %llu expected)\n", (unsigned long long)elapsed, (unsigned long long)earliest);
        ok &= elapsed >= earliest;
    }
    ok &= expect_equal("spurious interrupts", spurious_interrupts, 0);
    ok &= expect_equal("error interrupts", error_interrupts, 0);
    ok &= expect_equal("ESR", esr, 0);
    return ok;
}

/* x2apic's disable_timer (set the mask bit). A tick raised just before the write may still be
 * pending; it is let in during the first millisecond, then 50 ms (five periods) pass with
 * interrupts on and no tick. */
static bool timer_masked_ok(void) {
    lapic_update(LAPIC_LVT_TIMER, 0, LVT_MASKED);
    uint32_t lvt = lapic_read(LAPIC_LVT_TIMER);
    __asm__ volatile("sti" ::: "memory");
    spin_ms(1);
    unsigned before = timer_ticks;
    spin_ms(50);
    unsigned after = timer_ticks;
    __asm__ volatile("cli" ::: "memory");
    bool ok = expect_equal("LVT timer masked", lvt, LVT_MASKED | LVT_TIMER_PERIODIC | APIC_TIMER_VECTOR);
    ok &= expect_equal("ticks in 50 ms masked", after - before, 0);
    return ok;
}

/* ---- The path ----------------------------------------------------------------------------- */

/* Called by multiboot.S at its high-half address, on the high-half boot stack, with the
 * magic (EDI) and the information's physical address (ESI). ArceOS's rust_entry goes on
 * only when the magic is right; this one goes on either way, to report it. */
void rust_entry(uint32_t magic, uint32_t mbi) {
    clear_bss();
    __asm__ volatile("leaq 0(%%rip), %0" : "=r"(early.rip));
    __asm__ volatile("movq %%rsp, %0" : "=r"(early.rsp));
    early.ds = read_segment(0);
    early.es = read_segment(1);
    early.ss = read_segment(2);
    percpu_init();
    init_trap();
    early.cs = read_segment(3);
    console_init();

    report("multiboot header: flags 0x00010002 (a.out kludge), load_addr 0x200000, bss_end_addr 0x258000, entry_addr 0x200000",
           header_ok());
    report("EAX held the Multiboot magic 0x2badb002", expect_equal("EAX", magic, MULTIBOOT_BOOTLOADER_MAGIC));
    report("the multiboot information (read at its high-half alias) has a memory map (flags bit 6) whose RAM holds the kernel",
           memory_map_ok(mbi));
    report("CPUID 0x80000001 EDX bit 26: 1-GiB pages (pdpe1gb), which ArceOS's boot page tables use", pdpe1gb_ok());
    report("32-bit entry as ArceOS's: CR4 = PAE | PGE, EFER = LME | NXE (LMA set), CR0 = PG | WP | NE | MP | PE, CR3 = its PML4",
           control_registers_ok());
    report("boot page tables: PML4 entries 0 and 256 share one PDPT, of 512 1-GiB pages where the CPU has them; memory reads alike "
           "at P and 0xffff800000000000 + P",
           page_tables_ok());
    report("running in the high half: RIP in the kernel at 0xffff800000200000+, RSP on its boot stack, null data segments",
           high_half_ok());
    report("IA32_GS_BASE holds the high-half per-CPU area, and %gs:0 reads its self pointer", gs_base_ok());
    report("GDT at its high-half address with a 64-bit TSS: CS reloaded to 0x10, ltr 0x38 marked the TSS busy", gdt_ok());
    report("IDT at its high-half address: vectors 0-31 and 0xf0-0xf2", idt_ok());
    report("EFER read-modify-write (SCE added) keeps LME, LMA and NXE", efer_update_ok());
    report("COM1 as uart_16550 sets it up: divisor 3, 8N1, FIFOs on, MCR 0x0b, IER 0x01", console_ok());
    report("CPUID 1: a Local APIC, no x2APIC (so ArceOS programs the xAPIC by MMIO), initial APIC ID 0", cpuid_1_ok());
    report("CPUID 0x16: a base frequency for ArceOS's TSC clock", cpuid_16_ok());
    report("RDTSC twice: the second reads later", rdtsc_ok());
    report("IA32_APIC_BASE = 0xfee00900: base 0xfee00000, enabled (bit 11), BSP (bit 8)", apic_base_ok());
    report("the 8259A pair masked as ArceOS masks it: 0x21 and 0xa1 read back 0xff", pic_masked_ok());
    lapic_base = phys_to_virt(rdmsr(MSR_IA32_APIC_BASE) & XAPIC_BASE_MASK);
    report("Local APIC through the high half (0xffff8000fee00000): version 0x14, SVR 0xff (software-disabled, as reset leaves it)",
           lapic_version_ok());
    lapic_enable();
    report("x2apic's LocalApic::enable(): SVR 0x1f1, TDCR 0xb, TICR 10000000; timer (periodic, 0xf0), error (0xf2), LINT0, LINT1 "
           "still masked (written while software-disabled)",
           lapic_enabled_ok());
    report("IO APIC through the high half (0xffff8000fec00000): 24 pins masked to vectors 0x20-0x37, pins 10-23 level, active low",
           ioapic_ok());
    report("the periodic timer (vector 0xf0, 10 ms) wakes a hlt loop 3 times within 2 s, no sooner than its period allows, EOI each",
           timer_ok());
    report("masking the LVT timer stops its interrupts", timer_masked_ok());
    finish();
}

/* gcc may emit calls to these even in a freestanding build. */
void *memset(void *destination, int value, size_t size) {
    void *d = destination;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(size) : "a"(value) : "memory");
    return destination;
}

void *memcpy(void *destination, const void *source, size_t size) {
    void *d = destination;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(source), "+c"(size) : : "memory");
    return destination;
}
