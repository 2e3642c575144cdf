/* An IDT for 64-bit test kernels, all 256 vectors.
 *
 * Exceptions (vectors 0-31): an unexpected one becomes a line on COM1, "unexpected exception
 * <vector> (<name>) at RIP <rip>, error code <code>", and a debug exit with
 * IDT_EXCEPTION_EXIT_CODE, instead of the triple fault an empty IDT gives. A test that
 * provokes one on purpose announces it first with idt_expect_exception().
 *
 * Interrupts (vectors 32-255): idt_set_handler() installs a C handler; a vector without one
 * prints "unexpected interrupt <vector> at RIP <rip>" and debug-exits with
 * IDT_EXCEPTION_EXIT_CODE. Every gate is an interrupt gate: IF is clear while a handler runs
 * (no nesting), and the stub saves and restores every general-purpose register and returns
 * with iretq. A handler of a LAPIC interrupt writes the EOI itself.
 *
 * One table for all CPUs: the BSP calls idt_init(), an AP calls idt_load(). */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include <stdbool.h>

#include "cpu.h"

#define IDT_EXCEPTIONS 32
#define IDT_VECTORS 256
/* tsvisor exits with (0x7f << 1) | 1 = 255: no test kernel's failure count comes near. */
#define IDT_EXCEPTION_EXIT_CODE 0x7f

/* What a handler receives: the registers the stub saved, the vector, the error code (0 where
 * the CPU pushes none) and the CPU's interrupt frame (Intel SDM vol. 3A, 7.14.2 "64-Bit Mode
 * Stack Frame"). Changes to it take effect on return (iretq reloads RIP, RFLAGS, ...). */
struct interrupt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t ss;
};

typedef void (*interrupt_handler)(struct interrupt_frame *frame);

void idt_init(void); /* builds the IDT and loads it: call it first in kmain() */
void idt_load(void); /* loads the IDT idt_init() built (on an AP) */
struct descriptor_table_register idt_installed(void); /* what idt_init() loaded */

/* Installs `handler` for `vector` (32-255); NULL puts back the "unexpected interrupt" exit.
 * Safe to call before or after idt_init(). */
void idt_set_handler(uint8_t vector, interrupt_handler handler);

/* Expecting an exception: the next exception `vector` (0-31) does not end the VM; the
 * handler records it and resumes at the faulting RIP + `instruction_length` (skipping the
 * faulting instruction: wrmsr and rdmsr are 2 bytes). Any other exception is still fatal.
 * It stays armed (and counts) until idt_end_expect(). For the CPU that calls it (one
 * expectation at a time, machine-wide). */
void idt_expect_exception(uint8_t vector, uint8_t instruction_length);

struct idt_caught {
    unsigned count;      /* how many times the expected exception happened */
    uint64_t error_code; /* of the last one */
    uint64_t rip;        /* of the last one (the faulting instruction) */
};
/* Disarms the expectation and says what was caught since idt_expect_exception(). */
struct idt_caught idt_end_expect(void);

#endif
