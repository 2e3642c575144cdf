/* Starting application processors with INIT-SIPI-SIPI (ap-start.h): the BSP's sequence, the
 * hand-over of the entry function and stack to the AP, and its check-in. The trampoline the
 * AP runs first is ap-start.S. */
#include "ap-start.h"

#include "apic.h"
#include "string.h"

#define MS 1000000ull /* nanoseconds */
#define US 1000ull

#define NOBODY 0xffffffffu /* no APIC ID: no AP has checked in */

/* ap-start.S: the trampoline, its fields, and its 64-bit continuation in the image. */
extern const uint8_t ap_start_trampoline[], ap_start_trampoline_end[];
extern const uint8_t ap_start_entry_cs[], ap_start_entry_ip[], ap_start_entry_edx[];
void ap_start_long_mode(void);
/* lib/boot/long-mode.S: where an AP goes on once in long mode. */
extern void (*long_mode_next)(void);

/* For the AP being started: ap_start_long_mode takes its stack, ap_start_main() its entry. */
void *volatile ap_start_stack_top;
static void (*volatile next_entry)(uint32_t apic_id);
/* The APIC ID of the last AP to check in. */
static volatile uint32_t checked_in = NOBODY;

static uint32_t initial_apic_id(void) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    return ebx >> 24;
}

/* A 16-bit field of the trampoline's copy at AP_START_PAGE. */
static volatile uint16_t *in_page(const uint8_t *field) {
    return (volatile uint16_t *)(uintptr_t)(AP_START_PAGE + (field - ap_start_trampoline));
}

/* On the AP, from ap_start_long_mode, on its own stack. */
__attribute__((noreturn)) void ap_start_main(void);
void ap_start_main(void) {
    next_entry(initial_apic_id());
    for (;;) __asm__ volatile("cli; hlt");
}

void ap_start_check_in(void) { __atomic_store_n(&checked_in, initial_apic_id(), __ATOMIC_SEQ_CST); }

struct ap_start_cs_ip ap_start_cs_ip(void) {
    volatile uint32_t *edx = (volatile uint32_t *)(uintptr_t)(AP_START_PAGE + (ap_start_entry_edx - ap_start_trampoline));
    return (struct ap_start_cs_ip){.cs = *in_page(ap_start_entry_cs), .ip = *in_page(ap_start_entry_ip), .edx = *edx};
}

void ap_start_prepare(void (*entry)(uint32_t apic_id), void *stack_top) {
    memcpy((void *)(uintptr_t)AP_START_PAGE, ap_start_trampoline, (size_t)(ap_start_trampoline_end - ap_start_trampoline));
    long_mode_next = ap_start_long_mode; /* start64 was the BSP's, which came by long ago */
    ap_start_stack_top = stack_top;
    next_entry = entry;
    __atomic_store_n(&checked_in, NOBODY, __ATOMIC_SEQ_CST);
}

bool ap_start_wait(uint32_t apic_id, uint64_t timeout_ns) {
    uint64_t end = rdtsc() + tsc_from_ns(timeout_ns);
    while (__atomic_load_n(&checked_in, __ATOMIC_SEQ_CST) != apic_id && rdtsc() < end) cpu_relax();
    return __atomic_load_n(&checked_in, __ATOMIC_SEQ_CST) == apic_id;
}

bool ap_start(uint32_t apic_id, void (*entry)(uint32_t apic_id), void *stack_top, uint64_t timeout_ns) {
    ap_start_prepare(entry, stack_top);

    /* Intel SDM vol. 3A, 9.4.4.1 "Typical BSP Initialization Sequence", step 15, to one AP:
     * INIT, 10 ms, SIPI, 200 us, SIPI, 200 us. The INIT is a level-triggered assert followed
     * by the INIT level de-assert that older APICs need and later ones do without (12.6.1
     * "Interrupt Command Register (ICR)"). */
    uint8_t destination = (uint8_t)apic_id;
    bool sent = apic_send_ipi(destination, APIC_ICR_INIT | APIC_ICR_LEVEL_TRIGGER | APIC_ICR_ASSERT);
    sent &= apic_send_ipi(destination, APIC_ICR_INIT | APIC_ICR_LEVEL_TRIGGER);
    delay_ns(10 * MS);
    sent &= apic_send_ipi(destination, APIC_ICR_STARTUP | AP_START_VECTOR);
    delay_ns(200 * US);
    sent &= apic_send_ipi(destination, APIC_ICR_STARTUP | AP_START_VECTOR);
    delay_ns(200 * US);
    return ap_start_wait(apic_id, timeout_ns) && sent;
}
