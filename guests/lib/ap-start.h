/* Starting the application processors (APs) of a flat real-mode test kernel with
 * INIT-SIPI-SIPI (Intel SDM vol. 3A, 9.4.4.1 "Typical BSP Initialization Sequence" and
 * 9.4.4.2 "Typical AP Initialization Sequence"; 8.4.4.1 and 8.4.4.2 in older editions), so
 * that every kernel with more than one CPU starts them the same way.
 *
 * A start-up IPI starts an AP in real mode at CS:IP = (vector << 8):0000 (9.4.3), so its
 * first code must sit on a page below 1 MiB: ap_start() copies the trampoline (ap-start.S)
 * to AP_START_PAGE and names that page in the SIPIs. From there the AP boots the way the BSP
 * did, through lib/boot/realmode.S and long-mode.S (the boot GDT, the boot page tables, long
 * mode), then takes the stack it was given and calls its entry function, with interrupts off
 * and the real-mode IDTR still loaded: the entry loads an IDT first (idt_load()).
 *
 * Flat real-mode kernels only (lib/boot/flat.ld, at 0x8000): the trampoline far-jumps to
 * realmode.S's entry with CS = 0, which reaches it, and realmode.S the boot GDT, only below
 * 64 KiB. The BSP starts one AP at a time: the trampoline page and the next AP's entry and
 * stack are shared. */
#ifndef GUEST_AP_START_H
#define GUEST_AP_START_H

/* Below the kernel (0x8000) and page-aligned: tsvisor puts nothing there for a real-mode
 * kernel. Its page number is the SIPI vector. */
#define AP_START_PAGE   0x7000
#define AP_START_VECTOR (AP_START_PAGE >> 12)

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

/* On the BSP: starts the AP whose local APIC ID is `apic_id` with INIT (assert), INIT (level
 * de-assert), 10 ms, SIPI, 200 us, SIPI, 200 us, then waits up to `timeout_ns` for it to call
 * ap_start_check_in(). The AP runs entry(its initial APIC ID, CPUID.01H:EBX[31:24]) on the
 * stack that ends at `stack_top` (16-byte aligned); `entry` must not return (an AP whose
 * entry returns parks in cli; hlt). True if every IPI was accepted (the ICR's delivery status
 * went idle) and the AP checked in in time. Leaves the interrupt flag as it is. */
bool ap_start(uint32_t apic_id, void (*entry)(uint32_t apic_id), void *stack_top, uint64_t timeout_ns);

/* ap_start() in pieces, for a kernel that sends its own INIT and SIPI sequence (to any CPU,
 * the BSP included): copies the trampoline and names the entry and stack the next CPU to come
 * through it takes; then waits up to `timeout_ns` for that CPU to check in. */
void ap_start_prepare(void (*entry)(uint32_t apic_id), void *stack_top);
bool ap_start_wait(uint32_t apic_id, uint64_t timeout_ns);

/* On the AP, in its entry: tells the BSP, waiting in ap_start(), that it may go on. */
void ap_start_check_in(void);

/* On the AP, in its entry before ap_start_check_in() (the next ap_start() overwrites it):
 * the real-mode CS and IP at which this AP began, as the trampoline noted them, and the EDX
 * it began with; the SDM's start is CS = AP_START_VECTOR << 8, IP = 0, and EDX the processor
 * signature, CPUID.01H:EAX (9.1.1 Table 9-1). */
struct ap_start_cs_ip {
    uint16_t cs, ip;
    uint32_t edx;
};
struct ap_start_cs_ip ap_start_cs_ip(void);
#endif

#endif
