#include "idt.h"

#include "exit.h"
#include "serial.h"

/* A 64-bit interrupt gate (Intel SDM vol. 3A, 7.14.1 "64-Bit Mode IDT", figure "64-Bit IDT
 * Gate Descriptors"): 16 bytes. An interrupt gate clears IF on entry: nothing here could
 * take a nested interrupt. */
struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;        /* 0: no Interrupt Stack Table switch */
    uint8_t attributes; /* P, DPL, type */
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
};

#define GATE_PRESENT 0x80
#define GATE_TYPE_INTERRUPT 0x0e /* Table 3-2 "System-Segment and Gate-Descriptor Types" */

/* The stubs in idt-stubs.S, by vector; they call interrupt_dispatch(). */
extern const uint64_t interrupt_stubs[IDT_VECTORS];
void interrupt_dispatch(struct interrupt_frame *frame);

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static volatile interrupt_handler handlers[IDT_VECTORS];

/* The exception a test provokes on purpose (idt_expect_exception()). */
static volatile struct {
    bool armed;
    uint8_t vector;
    uint8_t instruction_length;
    unsigned count;
    uint64_t error_code;
    uint64_t rip;
} expected;

/* Intel SDM vol. 3A, Table 7-1 "Protected-Mode Exceptions and Interrupts". */
static const char *const exception_names[IDT_EXCEPTIONS] = {
    [0] = "#DE divide error",
    [1] = "#DB debug",
    [2] = "NMI",
    [3] = "#BP breakpoint",
    [4] = "#OF overflow",
    [5] = "#BR BOUND range exceeded",
    [6] = "#UD invalid opcode",
    [7] = "#NM device not available",
    [8] = "#DF double fault",
    [9] = "coprocessor segment overrun",
    [10] = "#TS invalid TSS",
    [11] = "#NP segment not present",
    [12] = "#SS stack-segment fault",
    [13] = "#GP general protection",
    [14] = "#PF page fault",
    [16] = "#MF x87 floating-point error",
    [17] = "#AC alignment check",
    [18] = "#MC machine check",
    [19] = "#XM SIMD floating-point exception",
    [20] = "#VE virtualization exception",
    [21] = "#CP control protection",
};

struct descriptor_table_register idt_installed(void) {
    return (struct descriptor_table_register){.limit = sizeof idt - 1, .base = (uint64_t)idt};
}

void idt_load(void) {
    struct descriptor_table_register idtr = idt_installed();
    lidt(&idtr);
}

void idt_init(void) {
    /* The gates name the code segment running now: the boot GDT's and tsvisor's 64-bit
     * code selector alike. */
    uint16_t selector = read_cs();
    for (int vector = 0; vector < IDT_VECTORS; vector++) {
        uint64_t offset = interrupt_stubs[vector];
        idt[vector] = (struct idt_gate){
            .offset_low = (uint16_t)offset,
            .selector = selector,
            .attributes = GATE_PRESENT | GATE_TYPE_INTERRUPT,
            .offset_middle = (uint16_t)(offset >> 16),
            .offset_high = (uint32_t)(offset >> 32),
        };
    }
    idt_load();
}

void idt_set_handler(uint8_t vector, interrupt_handler handler) {
    if (vector >= IDT_EXCEPTIONS) handlers[vector] = handler;
}

void idt_expect_exception(uint8_t vector, uint8_t instruction_length) {
    expected.vector = vector;
    expected.instruction_length = instruction_length;
    expected.count = 0;
    expected.error_code = 0;
    expected.rip = 0;
    __asm__ volatile("" ::: "memory");
    expected.armed = true;
    __asm__ volatile("" ::: "memory");
}

struct idt_caught idt_end_expect(void) {
    __asm__ volatile("" ::: "memory");
    expected.armed = false;
    __asm__ volatile("" ::: "memory");
    return (struct idt_caught){.count = expected.count, .error_code = expected.error_code, .rip = expected.rip};
}

void interrupt_dispatch(struct interrupt_frame *frame) {
    uint64_t vector = frame->vector;
    if (vector < IDT_EXCEPTIONS) {
        if (expected.armed && vector == expected.vector) {
            expected.count++;
            expected.error_code = frame->error_code;
            expected.rip = frame->rip;
            frame->rip += expected.instruction_length;
            return;
        }
        const char *name = exception_names[vector];
        serial_printf("unexpected exception %llu (%s) at RIP 0x%llx, error code 0x%llx\n", (unsigned long long)vector,
                      name ? name : "reserved", (unsigned long long)frame->rip, (unsigned long long)frame->error_code);
        debug_exit(IDT_EXCEPTION_EXIT_CODE);
    }
    interrupt_handler handler = handlers[vector];
    if (handler) {
        handler(frame);
        return;
    }
    serial_printf("unexpected interrupt %llu at RIP 0x%llx\n", (unsigned long long)vector, (unsigned long long)frame->rip);
    debug_exit(IDT_EXCEPTION_EXIT_CODE);
}
