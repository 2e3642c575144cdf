/* vcpu-core: the vCPU core as the SDM has it, on two vCPUs, with the Local APIC away from its
 * default base (configs/vcpu-core-x86_64.toml puts it at 0xfee10000).
 *
 *   - IA32_APIC_BASE names the configured base, and the APIC answers there, not at 0xfee00000;
 *   - INIT followed at once by a SIPI, no delay, starts an AP (SDM vol. 3A, 9.4.4.1 asks for
 *     10 ms; the SIPI is latched, so nothing is lost without it);
 *   - an AP restarts 100 times with INIT and SIPI, each time from a halt;
 *   - a SIPI to a running AP is ignored (it keeps running, from where it was);
 *   - a TSC deadline of 2^64 - 1 never fires and reads back; 0 disarms; a near one fires once;
 *   - the HPET keeps interrupting the AP while vCPU 0, its BSP flag cleared, waits for a SIPI
 *     after an INIT the AP sent it; the AP then restarts vCPU 0 with a SIPI, and vCPU 0 reports.
 * Powers off when every check passed. */
#include <stdint.h>

#include "ap-start.h"
#include "apic.h"
#include "exit.h"
#include "hpet.h"
#include "idt.h"
#include "ioapic.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define CONFIGURED_APIC_BASE 0xfee10000u
#define AP_APIC_ID 1
#define MS 1000000ULL /* ns */

#define VECTOR_DEADLINE 0x41
#define VECTOR_HPET     0x50
#define VECTOR_SPURIOUS 0xff
#define TIMER_MODE_TSC_DEADLINE (2u << 17) /* LVT timer bits 18:17 */
#define RESTARTS 100
#define HPET_PERIOD_MS 4
#define PARKED_WINDOW_MS 100

/* HPET pins the test leaves alone: the legacy-replacement pins and COM1's. */
#define AVOIDED_PINS ((1u << 0) | (1u << 2) | (1u << IOAPIC_PIN_COM1) | (1u << 8))
#define ALL_PINS ((1u << IOAPIC_PINS) - 1)

static uint8_t ap_stack[16384] __attribute__((aligned(16)));
static uint8_t bsp_stack[16384] __attribute__((aligned(16)));

static volatile unsigned ap_entries;  /* every time an AP entry began */
static volatile uint64_t ap_spins;    /* the spinning AP's progress */
static volatile unsigned deadline_ticks;
static volatile unsigned hpet_ticks;
static volatile unsigned parked_ticks = ~0u; /* HPET ticks the AP saw while vCPU 0 was parked */
static volatile int hpet_timer = -1;

static void deadline_handler(struct interrupt_frame *frame) {
    (void)frame;
    deadline_ticks++;
    apic_eoi();
}

static void hpet_handler(struct interrupt_frame *frame) {
    (void)frame;
    hpet_ticks++;
    apic_eoi();
}

static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* Sleeps in hlt, with interrupts open, until the TSC passes `ns` from now. */
static void settle(uint64_t ns) {
    uint64_t end = rdtsc() + tsc_from_ns(ns);
    while (rdtsc() < end) {
        __asm__ volatile("sti" ::: "memory");
        cpu_relax();
        __asm__ volatile("cli" ::: "memory");
    }
}

/* ---- AP entries (lib/ap-start: 64-bit mode, own stack, IF clear) ---- */

/* Checks in, then halts with interrupts off: only INIT moves it on. */
static void ap_park(uint32_t apic_id) {
    (void)apic_id;
    ap_entries++;
    ap_start_check_in();
    for (;;) __asm__ volatile("cli; hlt");
}

/* Checks in, then runs without end, counting. */
static void ap_spin(uint32_t apic_id) {
    (void)apic_id;
    ap_entries++;
    ap_start_check_in();
    for (;;) {
        ap_spins++;
        cpu_relax();
    }
}

static void bsp_resume(uint32_t apic_id);

/* Parks vCPU 0 with an INIT, counts the HPET's ticks meanwhile, then restarts vCPU 0. */
static void ap_watch_hpet(uint32_t apic_id) {
    (void)apic_id;
    idt_load();
    apic_enable(VECTOR_SPURIOUS);
    ap_entries++;
    ap_start_check_in();
    apic_send_ipi(0, APIC_ICR_INIT | APIC_ICR_LEVEL_TRIGGER | APIC_ICR_ASSERT);
    unsigned before = hpet_ticks;
    settle(PARKED_WINDOW_MS * MS);
    parked_ticks = hpet_ticks - before;
    ap_start_prepare(bsp_resume, bsp_stack + sizeof bsp_stack);
    apic_send_ipi(0, APIC_ICR_STARTUP | AP_START_VECTOR);
    for (;;) __asm__ volatile("cli; hlt");
}

/* ---- the checks, on vCPU 0 ---- */

static void check_apic_base(void) {
    bool ok = expect_equal("APIC base from IA32_APIC_BASE", apic_base, CONFIGURED_APIC_BASE);
    ok &= expect_equal("APIC version at the configured base", apic_read(APIC_VERSION) & 0xff, 0x14);
    ok &= expect_equal("the default base answers nothing", mmio_read32(APIC_DEFAULT_BASE + APIC_VERSION), 0xffffffffu);
    report("the Local APIC is where IA32_APIC_BASE says, the configured base", ok);
}

/* INIT (assert) then SIPI at once to the AP, with `entry`; true if it checked in. */
static bool init_sipi(void (*entry)(uint32_t apic_id)) {
    ap_start_prepare(entry, ap_stack + sizeof ap_stack);
    bool sent = apic_send_ipi(AP_APIC_ID, APIC_ICR_INIT | APIC_ICR_LEVEL_TRIGGER | APIC_ICR_ASSERT);
    sent &= apic_send_ipi(AP_APIC_ID, APIC_ICR_STARTUP | AP_START_VECTOR);
    return ap_start_wait(AP_APIC_ID, 5000 * MS) && sent;
}

static void check_init_sipi_without_delay(void) {
    report("INIT followed at once by SIPI starts the AP", init_sipi(ap_park));
}

static void check_restarts(void) {
    unsigned started = 0;
    for (unsigned i = 0; i < RESTARTS; i++) started += init_sipi(ap_park);
    bool ok = expect_equal("restarts", started, RESTARTS);
    report("the AP restarts 100 times with INIT and SIPI", ok);
}

static void check_sipi_to_running_ap(void) {
    bool ok = init_sipi(ap_spin);
    unsigned entries = ap_entries;
    uint64_t spins = ap_spins;
    ok &= apic_send_ipi(AP_APIC_ID, APIC_ICR_STARTUP | AP_START_VECTOR);
    delay_ns(20 * MS);
    ok &= expect_equal("AP entries after the SIPI", ap_entries, entries);
    ok &= ap_spins > spins;
    report("a SIPI to a running AP is ignored: it keeps running", ok);
    init_sipi(ap_park); /* stop it spinning */
}

static void check_tsc_deadline(void) {
    apic_write(APIC_LVT_TIMER, TIMER_MODE_TSC_DEADLINE | VECTOR_DEADLINE);
    wrmsr(MSR_IA32_TSC_DEADLINE, ~0ULL);
    bool ok = expect_equal("IA32_TSC_DEADLINE reads back", rdmsr(MSR_IA32_TSC_DEADLINE), ~0ULL);
    settle(30 * MS);
    ok &= expect_equal("interrupts from a deadline of 2^64 - 1", deadline_ticks, 0);
    wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    ok &= expect_equal("IA32_TSC_DEADLINE after writing 0", rdmsr(MSR_IA32_TSC_DEADLINE), 0);
    wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tsc_from_ns(1 * MS));
    uint64_t end = rdtsc() + tsc_from_ns(500 * MS);
    while (deadline_ticks == 0 && rdtsc() < end) settle(1 * MS);
    settle(10 * MS);
    ok &= expect_equal("interrupts from a deadline 1 ms away", deadline_ticks, 1);
    ok &= expect_equal("IA32_TSC_DEADLINE once it fired", rdmsr(MSR_IA32_TSC_DEADLINE), 0);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
    report("TSC deadline: 2^64 - 1 never fires, 0 disarms, a near one fires once", ok);
}

/* The HPET's first periodic-capable timer, every HPET_PERIOD_MS, to the AP; its number, or -1. */
static int hpet_to_ap(void) {
    uint64_t cap = hpet_capabilities();
    if (cap == 0 || cap == ~0ULL) return -1;
    for (unsigned n = 0; n < HPET_CAP_NUM_TIMERS(cap); n++) {
        if (!(hpet_read(HPET_TIMER_CONF(n)) & HPET_TN_PERIODIC_CAP)) continue;
        int pin = hpet_timer_pick_pin(n, ALL_PINS & ~AVOIDED_PINS);
        if (pin < 0) continue;
        ioapic_route((unsigned)pin, VECTOR_HPET, AP_APIC_ID, 0);
        hpet_disable();
        hpet_set_counter(0);
        uint64_t period = hpet_ticks_for_ns(HPET_PERIOD_MS * MS);
        hpet_timer_periodic(n, (unsigned)pin, period, period, 0);
        hpet_enable(false);
        return (int)n;
    }
    return -1;
}

static void check_hpet_while_parked(void) {
    hpet_timer = hpet_to_ap();
    if (hpet_timer < 0) {
        report("the HPET interrupts the AP while vCPU 0 waits for a SIPI", false);
        guest_finish((uint32_t)test_summary());
    }
    /* Without the BSP flag an INIT makes vCPU 0 wait for a SIPI (SDM vol. 3A, 9.1), not run
     * from the reset vector. */
    wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) & ~(uint64_t)APIC_BASE_BSP);
    ap_start_prepare(ap_watch_hpet, ap_stack + sizeof ap_stack);
    apic_send_ipi(AP_APIC_ID, APIC_ICR_INIT | APIC_ICR_LEVEL_TRIGGER | APIC_ICR_ASSERT);
    apic_send_ipi(AP_APIC_ID, APIC_ICR_STARTUP | AP_START_VECTOR);
    for (;;) cpu_relax(); /* until the AP's INIT */
}

/* vCPU 0 again, started by the AP's SIPI through the trampoline: a fresh Local APIC. */
static void bsp_resume(uint32_t apic_id) {
    (void)apic_id;
    idt_load();
    apic_enable(VECTOR_SPURIOUS);
    wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_BSP);
    hpet_timer_stop((unsigned)hpet_timer);
    hpet_disable();
    ioapic_mask_all();
    bool ok = parked_ticks != ~0u && parked_ticks >= 2;
    if (!ok) serial_printf("  %u HPET ticks in %u ms while vCPU 0 was parked\n", parked_ticks, PARKED_WINDOW_MS);
    report("the HPET interrupts the AP while vCPU 0 waits for a SIPI", ok);
    guest_finish((uint32_t)test_summary());
}

int kmain(void) {
    idt_init();
    serial_init();
    idt_set_handler(VECTOR_DEADLINE, deadline_handler);
    idt_set_handler(VECTOR_HPET, hpet_handler);
    idt_set_handler(VECTOR_SPURIOUS, spurious_handler);
    apic_enable(VECTOR_SPURIOUS);

    check_apic_base();
    check_init_sipi_without_delay();
    check_restarts();
    check_sipi_to_running_ap();
    check_tsc_deadline();
    check_hpet_while_parked(); /* ends the run from bsp_resume() */
    return test_summary();
}
