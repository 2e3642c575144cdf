/* arceos-path's C side: the console (console.c), the checks' bookkeeping (report.c), the
 * GDT, TSS and IDT (cpu.c). Self-contained: the kernel is linked in the high half with
 * -mcmodel=large, so it cannot link lib/'s objects (built for the low 2 GiB); it takes only
 * lib/'s header-only pieces (io.h, cpu.h, multiboot.h). */
#ifndef ARCEOS_PATH_KERNEL_H
#define ARCEOS_PATH_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arceos.h"

/* ArceOS's phys_to_virt: the high-half alias of a physical address. */
static inline uint64_t phys_to_virt(uint64_t paddr) { return paddr + PHYS_VIRT_OFFSET; }

/* console.c: COM1 as ArceOS's uart_16550 drives it. */
void console_init(void);
bool console_ready(void);
void console_putc(char c);
void console_puts(const char *s);
/* %s %c %u %x with an optional 0 flag, a width and l/ll. */
void console_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* report.c: one "<check>: ok|FAIL" line per check; expect_equal prints a mismatch's values
 * (before its FAIL line). The end: the summary "N passed, M failed", then a power-off when
 * M is 0, else the debug-exit port with M (status (M << 1) | 1, which never reads as 0). */
void report(const char *name, bool ok);
bool expect_equal(const char *what, uint64_t actual, uint64_t expected);
__attribute__((noreturn)) void finish(void);
/* For the exception handler: the failure it reports is one more. */
__attribute__((noreturn)) void fail_and_finish(const char *line);

/* cpu.c: axcpu's init_trap. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};

struct descriptor_register {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

#define GDT_ENTRIES 9 /* seven segment descriptors, then the TSS's 16 bytes */
#define IDT_VECTORS 256
extern uint64_t gdt[GDT_ENTRIES];

void gdt_init(void); /* lgdt, CS reloaded, ltr */
void idt_init(void); /* lidt */
const void *tss_address(void);
const void *idt_address(void);

/* What the interrupt handlers saw. */
#define MAX_TICKS 8
extern volatile unsigned timer_ticks, spurious_interrupts, error_interrupts;
extern volatile uint64_t tick_tsc[MAX_TICKS];
extern volatile uint64_t lapic_base; /* the Local APIC's virtual address, for the EOI */

void *memset(void *destination, int value, size_t size);

#endif
