/* axcpu's init_trap for x86_64 (axcpu/src/x86_64: gdt.rs, idt.rs, trap.rs): a GDT with
 * kernel and user segments and a TSS, loaded with lgdt, CS reloaded by a far return and TR
 * by ltr; an IDT of 64-bit interrupt gates, loaded with lidt. Everything sits at its
 * high-half address, so the GDTR, IDTR and TSS bases are all above 0xffff800000000000.
 *
 * The gates: vectors 0-31 (exceptions: here all unexpected, each a FAIL and the end) and the
 * Local APIC's 0xf0 (timer: count, note the TSC, EOI), 0xf1 (spurious: count, and no EOI,
 * Intel SDM vol. 3A "Spurious Interrupt") and 0xf2 (error: count, EOI). ArceOS fills all 256
 * gates; the ones left out here are not present, so a stray vector is a #NP, reported. */
#include "cpu.h"
#include "io.h"
#include "kernel.h"

/* Segment descriptors (Intel SDM vol. 3A, "Segment Descriptors"), axcpu's values: flat,
 * G = 1; code type 0xb (execute/read, accessed), data 0x3 (read/write, accessed); 64-bit
 * code has L = 1; the user ones DPL 3. */
#define KCODE32_DESCRIPTOR 0x00cf9b000000ffffULL
#define KCODE64_DESCRIPTOR 0x00af9b000000ffffULL
#define KDATA_DESCRIPTOR   0x00cf93000000ffffULL
#define UCODE32_DESCRIPTOR 0x00cffb000000ffffULL
#define UDATA_DESCRIPTOR   0x00cff3000000ffffULL
#define UCODE64_DESCRIPTOR 0x00affb000000ffffULL

/* The 64-bit TSS (Intel SDM vol. 3A, "Task Management in 64-bit Mode"), 104 bytes. The I/O
 * map base at its size: no I/O permission bitmap, as the x86_64 crate's TaskStateSegment::new
 * sets it. */
struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "the 64-bit TSS is 104 bytes");

/* A 64-bit TSS descriptor ("TSS and LDT Descriptors in 64-bit mode"): 16 bytes, type 0x9
 * (available 64-bit TSS; ltr makes it 0xb, busy), present, DPL 0, the base in both halves. */
#define TSS_TYPE_AVAILABLE 0x9ULL
#define DESCRIPTOR_PRESENT (1ULL << 47)

/* A 64-bit interrupt gate ("64-Bit Mode IDT"): 16 bytes. Type 0xe clears IF on entry. */
struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t attributes; /* P, DPL, type */
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
};
#define GATE_INTERRUPT_DPL0 0x8e
#define GATE_INTERRUPT_DPL3 0xee /* axcpu opens #BP (3) to user mode */

#define LAPIC_EOI 0xb0

uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));

volatile unsigned timer_ticks, spurious_interrupts, error_interrupts;
volatile uint64_t tick_tsc[MAX_TICKS];
volatile uint64_t lapic_base;

/* trap.S: 32 exception stubs, then 0xf0, 0xf1, 0xf2. */
extern const uint64_t trap_stubs[35];
void trap_dispatch(struct trap_frame *frame);

const void *tss_address(void) { return &tss; }
const void *idt_address(void) { return idt; }

void gdt_init(void) {
    uint64_t base = (uint64_t)&tss;
    uint64_t limit = sizeof tss - 1;
    tss.iomap_base = sizeof tss;
    gdt[0] = 0;
    gdt[KCODE32_SELECTOR >> 3] = KCODE32_DESCRIPTOR;
    gdt[KCODE64_SELECTOR >> 3] = KCODE64_DESCRIPTOR;
    gdt[KDATA_SELECTOR >> 3] = KDATA_DESCRIPTOR;
    gdt[UCODE32_SELECTOR >> 3] = UCODE32_DESCRIPTOR;
    gdt[UDATA_SELECTOR >> 3] = UDATA_DESCRIPTOR;
    gdt[UCODE64_SELECTOR >> 3] = UCODE64_DESCRIPTOR;
    gdt[TSS_SELECTOR >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 | TSS_TYPE_AVAILABLE << 40 | DESCRIPTOR_PRESENT |
                             ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    gdt[(TSS_SELECTOR >> 3) + 1] = base >> 32;

    struct descriptor_register gdtr = {.limit = sizeof gdt - 1, .base = (uint64_t)gdt};
    __asm__ volatile("lgdt %0" : : "m"(gdtr) : "memory");
    /* CS can only change by a far transfer: a far return to the next instruction with the
     * kernel's 64-bit code selector (the x86_64 crate's CS::set_reg). */
    __asm__ volatile("pushq %[selector]\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:"
                     :
                     : [selector] "i"(KCODE64_SELECTOR)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)TSS_SELECTOR) : "memory");
}

void idt_init(void) {
    for (unsigned i = 0; i < 35; i++) {
        unsigned vector = i < 32 ? i : APIC_TIMER_VECTOR + (i - 32);
        uint64_t offset = trap_stubs[i];
        idt[vector] = (struct idt_gate){
            .offset_low = (uint16_t)offset,
            .selector = KCODE64_SELECTOR,
            .ist = 0,
            .attributes = vector == 3 ? GATE_INTERRUPT_DPL3 : GATE_INTERRUPT_DPL0,
            .offset_middle = (uint16_t)(offset >> 16),
            .offset_high = (uint32_t)(offset >> 32),
            .reserved = 0,
        };
    }
    struct descriptor_register idtr = {.limit = sizeof idt - 1, .base = (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

static void lapic_eoi(void) { mmio_write32(lapic_base + LAPIC_EOI, 0); }

void trap_dispatch(struct trap_frame *frame) {
    switch (frame->vector) {
    case APIC_TIMER_VECTOR: {
        unsigned tick = timer_ticks;
        if (tick < MAX_TICKS) tick_tsc[tick] = rdtsc();
        timer_ticks = tick + 1;
        lapic_eoi();
        return;
    }
    case APIC_SPURIOUS_VECTOR:
        spurious_interrupts++;
        return;
    case APIC_ERROR_VECTOR:
        error_interrupts++;
        lapic_eoi();
        return;
    default:
        break;
    }
    /* An exception: nothing here expects one. The console may not be set up yet. */
    if (!console_ready()) console_init();
    console_printf("  exception %llu, error code 0x%llx, at RIP 0x%llx (RSP 0x%llx)\n", (unsigned long long)frame->vector,
                   (unsigned long long)frame->error_code, (unsigned long long)frame->rip, (unsigned long long)frame->rsp);
    fail_and_finish("no unexpected exception");
}
