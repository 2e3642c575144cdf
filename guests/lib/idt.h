/* An IDT for 64-bit test kernels that turns any CPU exception (vectors 0-31) into a line on
 * COM1, "unexpected exception <vector> (<name>) at RIP <rip>, error code <code>", and a
 * debug exit with IDT_EXCEPTION_EXIT_CODE, instead of the triple fault an empty IDT gives. */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include "cpu.h"

#define IDT_EXCEPTIONS 32
/* tsvisor exits with (0x7f << 1) | 1 = 255: no test kernel's failure count comes near. */
#define IDT_EXCEPTION_EXIT_CODE 0x7f

void idt_init(void); /* builds the IDT and loads it: call it first in kmain() */
struct descriptor_table_register idt_installed(void); /* what idt_init() loaded */

#endif
