/* The AP start-up trampoline (trampoline.S), shared by the assembly and C. */
#ifndef SMP_TRAMPOLINE_H
#define SMP_TRAMPOLINE_H

/* Below the kernel (0x8000), page-aligned, free: tsvisor puts nothing there for a real-mode
 * kernel. The SIPI vector is TRAMPOLINE_BASE >> 12. */
#define TRAMPOLINE_BASE 0x7000

#ifndef __ASSEMBLER__
#include <stdint.h>

extern const uint8_t ap_trampoline[], ap_trampoline_end[];
/* The fields inside the trampoline image; write them in the copy, at
 * TRAMPOLINE_BASE + (field - ap_trampoline). */
extern const uint8_t ap_trampoline_gdtr[], ap_trampoline_cr3[], ap_trampoline_stack[];
/* Written by the AP in the copy: the CS and IP it started at (16 bits each). */
extern const uint8_t ap_trampoline_entry_cs[], ap_trampoline_entry_ip[];

void ap_start(void); /* ap_entry64 calls it on the AP's stack */
#endif

#endif
