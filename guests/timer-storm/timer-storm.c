/* timer-storm: two vCPUs under interrupt load. The BSP starts the AP (INIT-SIPI-SIPI,
 * lib/ap-start.h); then each CPU runs its LAPIC timer periodically at 250 Hz while the HPET's
 * periodic timer, also at 250 Hz, reaches the BSP through the IO APIC, all for 2 s of TSC
 * time, sleeping in hlt between interrupts; afterwards the AP parks in cli; hlt.
 *
 * What a guest can rely on from a periodic timer, on hardware as under KVM's own LAPIC: never
 * more interrupts than periods (no doubled or early ticks), and the timer keeps running. Ticks
 * can coalesce: IRR holds one request per vector (SDM 10.8.4), and a CPU that cannot take its
 * interrupt for longer than a period (a vCPU thread waiting for a busy host) gets one interrupt
 * for several periods; KVM's LAPIC merges them the same way. So each timer passes when
 * 1 <= ticks <= periods + 1, counted over the timer's whole life, and the guest prints its
 * figures ("  <timer>: P periods, T ticks, vector 0xV") for the test to check that every
 * missing tick is one tsvisor counted as coalesced (tsvisor run --stats).
 *
 * Lives are measured on the HPET's main counter, which follows the host's clock, not on the
 * TSC: where the host's own TSC is unstable (a nested host, the test VM), KVM keeps a vCPU's TSC
 * from jumping when the host moves or resumes it, so the guest's TSC lags the time its vCPU
 * spent descheduled (seen as 2 % fewer periods than the timers really ran). */
#include <stdint.h>

#include "ap-start.h"
#include "apic.h"
#include "hpet.h"
#include "idt.h"
#include "ioapic.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define CPUS 2
#define VECTOR_LAPIC_TIMER 0x40 /* + the CPU's APIC ID */
#define VECTOR_HPET        0x50
#define VECTOR_SPURIOUS    0xff

#define MS 1000000ULL /* ns */
#define TICK_HZ 250
#define RUN_MS 2000
/* After a timer stops, how long its CPU keeps interrupts open for a tick still pending in IRR. */
#define DRAIN_MS 20

/* HPET pins the test prefers to leave alone: the legacy-replacement pins (and never COM1's). */
#define AVOIDED_PINS ((1u << 0) | (1u << 2) | (1u << IOAPIC_PIN_COM1) | (1u << 8))
#define ALL_PINS ((1u << IOAPIC_PINS) - 1)

static uint8_t ap_stack[16384] __attribute__((aligned(16)));

static volatile unsigned lapic_ticks[CPUS];
static volatile unsigned hpet_ticks;

/* One periodic timer's life on the HPET main counter: read before and after the write that
 * started it and the one that stopped it (a vCPU may be descheduled between a read and the
 * write it brackets, for any time on a busy host), and its tick count then. */
struct timer_life {
    uint64_t start_before, start_after, stop_before, stop_after;
    unsigned ticks;
};

/* The BSP -> AP handshake, and the AP's results. */
static volatile uint32_t ap_apic_id = 0xffffffff;
static volatile bool go;
static volatile uint64_t run_end; /* TSC */
static volatile bool ap_done;
static struct timer_life ap_life;

static void lapic_timer_handler(struct interrupt_frame *frame) {
    lapic_ticks[frame->vector - VECTOR_LAPIC_TIMER]++;
    apic_eoi();
}

static void hpet_handler(struct interrupt_frame *frame) {
    (void)frame;
    hpet_ticks++;
    apic_eoi();
}

static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* The LAPIC timer clock: CPUID.16H:ECX (bus MHz), 1 GHz on tsvisor. */
static uint64_t lapic_timer_hz(void) {
    uint32_t max_leaf, eax, ebx, ecx, edx;
    cpuid(0, 0, &max_leaf, &ebx, &ecx, &edx);
    if (max_leaf < 0x16) return 1000000000ULL;
    cpuid(0x16, 0, &eax, &ebx, &ecx, &edx);
    return (ecx & 0xffff) ? (uint64_t)(ecx & 0xffff) * 1000000ULL : 1000000000ULL;
}

static uint64_t lapic_timer_count(void) { return lapic_timer_hz() / TICK_HZ; }

static void lapic_timer_start(unsigned cpu, struct timer_life *life) {
    apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_1);
    apic_write(APIC_LVT_TIMER, APIC_TIMER_PERIODIC | (VECTOR_LAPIC_TIMER + cpu));
    life->start_before = hpet_counter();
    apic_write(APIC_TIMER_INITIAL, (uint32_t)lapic_timer_count());
    life->start_after = hpet_counter();
}

/* Masking its LVT entry ends its interrupts (a masked tick is not a lost one). */
static void lapic_timer_stop(unsigned cpu, struct timer_life *life) {
    life->stop_before = hpet_counter();
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | (VECTOR_LAPIC_TIMER + cpu));
    life->stop_after = hpet_counter();
    apic_write(APIC_TIMER_INITIAL, 0);
}

/* Sleeps in hlt (the timers wake it) until the TSC reaches `until`. Called with IF clear. */
static void sleep_until(uint64_t until) {
    while (rdtsc() < until) __asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* Stops the clock on a timer's life: a tick pending when it stopped still arrives, then counts.
 * It spins with interrupts open: with the timer stopped, nothing may come to end a hlt. */
static void finish_life(struct timer_life *life, volatile unsigned *ticks) {
    uint64_t until = rdtsc() + tsc_from_ns(DRAIN_MS * MS);
    __asm__ volatile("sti" ::: "memory");
    while (rdtsc() < until) cpu_relax();
    __asm__ volatile("cli" ::: "memory");
    life->ticks = *ticks;
}

/* The fewest and the most whole periods the timer can have run. */
static unsigned fewest_periods(const struct timer_life *life, uint64_t period_ns) {
    return (unsigned)((life->stop_before - life->start_after) / hpet_ticks_for_ns(period_ns));
}
static unsigned most_periods(const struct timer_life *life, uint64_t period_ns) {
    return (unsigned)((life->stop_after - life->start_before) / hpet_ticks_for_ns(period_ns));
}

/* Passes with at least one tick and no more ticks than periods. */
static void report_timer(const char *name, const struct timer_life *life, uint64_t period_ns) {
    unsigned most = most_periods(life, period_ns);
    bool ok = life->ticks >= 1 && life->ticks <= most;
    if (!ok) serial_printf("  %u ticks in at most %u periods: a periodic timer gives at least one and at most one a period\n", life->ticks, most);
    report(name, ok);
}

static void print_figures(const char *name, const struct timer_life *life, uint64_t period_ns, unsigned vector) {
    serial_printf("  %s: %u-%u periods, %u ticks, vector 0x%x\n", name, fewest_periods(life, period_ns), most_periods(life, period_ns), life->ticks, vector);
}

/* The AP, from ap_start(): 64-bit mode, its own stack, IF clear. */
static void ap_main(uint32_t initial_apic_id) {
    (void)initial_apic_id;
    idt_load();
    apic_enable(VECTOR_SPURIOUS);
    ap_apic_id = apic_id();
    ap_start_check_in();
    while (!__atomic_load_n(&go, __ATOMIC_SEQ_CST)) cpu_relax();
    lapic_timer_start(1, &ap_life);
    sleep_until(run_end);
    lapic_timer_stop(1, &ap_life);
    finish_life(&ap_life, &lapic_ticks[1]);
    __atomic_store_n(&ap_done, true, __ATOMIC_SEQ_CST);
    for (;;) __asm__ volatile("cli; hlt");
}

static bool start_ap(void) {
    bool ok = expect_equal("AP started (IPIs sent, AP checked in)", ap_start(1, ap_main, ap_stack + sizeof ap_stack, 1000 * MS), 1);
    ok &= expect_equal("AP's APIC ID", ap_apic_id, 1);
    return ok;
}

/* The HPET's periodic timer 0 (or the first periodic-capable one), TICK_HZ, edge, to the BSP. */
static int hpet_start(struct timer_life *life) {
    uint64_t cap = hpet_capabilities();
    if (cap == 0 || cap == ~0ULL) return -1;
    unsigned timers = HPET_CAP_NUM_TIMERS(cap);
    for (unsigned n = 0; n < timers; n++) {
        if (!(hpet_read(HPET_TIMER_CONF(n)) & HPET_TN_PERIODIC_CAP)) continue;
        int pin = hpet_timer_pick_pin(n, ALL_PINS & ~AVOIDED_PINS);
        if (pin < 0) pin = hpet_timer_pick_pin(n, ALL_PINS & ~(1u << IOAPIC_PIN_COM1));
        if (pin < 0) continue;
        ioapic_route((unsigned)pin, VECTOR_HPET, 0, 0);
        hpet_disable();
        hpet_set_counter(0);
        uint64_t period = hpet_ticks_for_ns(1000000000ULL / TICK_HZ);
        hpet_timer_periodic(n, (unsigned)pin, period, period, 0);
        life->start_before = 0; /* halted at 0 until enabled */
        hpet_enable(false);
        life->start_after = hpet_counter();
        return (int)n;
    }
    return -1;
}

int kmain(void) {
    idt_init();
    serial_init();
    for (unsigned cpu = 0; cpu < CPUS; cpu++) idt_set_handler(VECTOR_LAPIC_TIMER + cpu, lapic_timer_handler);
    idt_set_handler(VECTOR_HPET, hpet_handler);
    idt_set_handler(VECTOR_SPURIOUS, spurious_handler);
    apic_enable(VECTOR_SPURIOUS);

    bool ap = start_ap();
    report("cpu 1 started", ap);

    struct timer_life lapic_life, hpet_life;
    int hpet_timer = hpet_start(&hpet_life);
    if (hpet_timer < 0) serial_printf("  no HPET timer could run periodically\n");
    lapic_timer_start(0, &lapic_life);
    run_end = rdtsc() + tsc_from_ns(RUN_MS * MS);
    __atomic_store_n(&go, true, __ATOMIC_SEQ_CST);

    sleep_until(run_end);
    lapic_timer_stop(0, &lapic_life);
    if (hpet_timer >= 0) {
        hpet_life.stop_before = hpet_counter();
        hpet_timer_stop((unsigned)hpet_timer);
        hpet_life.stop_after = hpet_counter();
    }
    finish_life(&lapic_life, &lapic_ticks[0]);
    hpet_life.ticks = hpet_ticks;
    ioapic_mask_all();

    if (ap) {
        uint64_t end = rdtsc() + tsc_from_ns(500 * MS);
        while (!__atomic_load_n(&ap_done, __ATOMIC_SEQ_CST) && rdtsc() < end) cpu_relax();
        if (!ap_done) serial_printf("  cpu 1 did not finish its run\n");
    }
    hpet_disable(); /* the AP's life is measured on the main counter too */

    uint64_t period_ns = 1000000000ULL / TICK_HZ;
    report_timer("cpu 0 lapic ticks", &lapic_life, period_ns);
    if (ap && ap_done) report_timer("cpu 1 lapic ticks", &ap_life, period_ns);
    else report("cpu 1 lapic ticks", false);
    if (hpet_timer >= 0) report_timer("cpu 0 hpet ticks", &hpet_life, period_ns);
    else report("cpu 0 hpet ticks", false);

    print_figures("cpu 0 lapic", &lapic_life, period_ns, VECTOR_LAPIC_TIMER);
    if (ap && ap_done) print_figures("cpu 1 lapic", &ap_life, period_ns, VECTOR_LAPIC_TIMER + 1);
    if (hpet_timer >= 0) {
        char name[] = "cpu 0 hpet timer 0";
        name[sizeof name - 2] = (char)('0' + hpet_timer);
        print_figures(name, &hpet_life, period_ns, VECTOR_HPET);
    }
    return test_summary();
}
