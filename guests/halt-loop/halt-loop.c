/* halt-loop: halts with interrupts on, and each time an interrupt ends the halt (vector 0x40,
 * which the host raises on the Local APIC: Vm.interrupt), counts the wake in the dword at
 * 0x7004 and halts again. Used to see a halted vCPU sleep until an interrupt, and to measure
 * how long waking it takes. Only an interrupt ends HLT, as on hardware: a kick does not. */
#include <stdint.h>

#include "apic.h"
#include "idt.h"
#include "kernel.h"

#define VECTOR_WAKE     0x40
#define VECTOR_SPURIOUS 0xff
#define WAKES ((volatile uint32_t *)0x7004)

static void wake_handler(struct interrupt_frame *frame) {
    (void)frame;
    apic_eoi();
}

static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

int kmain(void) {
    idt_init();
    idt_set_handler(VECTOR_WAKE, wake_handler);
    idt_set_handler(VECTOR_SPURIOUS, spurious_handler);
    apic_enable(VECTOR_SPURIOUS);
    *WAKES = 0;
    for (;;) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        *WAKES += 1;
    }
}
