/* irq-bench: interrupt costs and latencies as a guest sees them, in TSC cycles (tsvisor
 * bench, src/bench/interrupt-latency.ts). On vCPU 0, with vCPU 1 not yet started:
 *
 *   rdtsc           two back-to-back rdtsc: the clock's own cost, which every timed sample
 *                   below includes once (rdtsc traps on some hosts, such as kvm_pvm).
 *   eoi             N writes of 0 to the LAPIC EOI register (a 32-bit MMIO write at 0xb0,
 *                   no interrupt in service), IF = 0: cycles per write, the mean of a plain
 *                   loop; and the median of writes timed one by one.
 *   self-ipi        N times: ICR low = self shorthand | fixed | vector, IF = 1; the handler
 *                   writes the EOI and sets a flag; from before the ICR write until the flag
 *                   is seen: cycles per round trip (mean and median), and the median of its
 *                   first part, ICR write to the handler's entry.
 *   timer-lateness  the LAPIC timer in TSC-deadline mode at 1 kHz for N ticks, the deadline
 *                   re-armed from the handler (previous deadline + 1 ms), the CPU sleeping in
 *                   hlt between ticks as an idle OS does; lateness = rdtsc() in the handler -
 *                   the deadline. A deadline already past when re-armed is moved to now + 1 ms
 *                   (counted as skipped); a tick taken before its deadline counts as early.
 *
 * Then the BSP starts vCPU 1 (INIT-SIPI-SIPI, lib/ap-start.h) and measures:
 *
 *   ipi-latency     vCPU 0 records rdtsc and writes the ICR (fixed, physical destination 1);
 *                   vCPU 1's handler records rdtsc (KVM keeps the vCPUs' TSCs in step): the
 *                   difference, per sample. mode=spin: vCPU 1 spins in a pause loop with
 *                   IF = 1; mode=halt: it sleeps in sti; hlt (the BSP waits 500 us before
 *                   each sample, so that it is asleep).
 *   ipi-roundtrip   mode=spin ping-pong, on vCPU 0's clock only: vCPU 0 sends, vCPU 1's
 *                   handler sends a fixed IPI back, vCPU 0's handler records rdtsc.
 *
 * Every measurement prints exactly one line, "irq-bench <name> key=value ...", integers only;
 * cycle figures come with tsc_khz to convert them. The counts come from a parameter block the
 * harness writes into guest RAM at IRQ_BENCH_PARAMS before the VM runs (magic "IRQB"); without
 * one the defaults below apply (a run of about 2-3 s). Any failure (a lost interrupt, vCPU 1
 * not starting) prints "irq-bench error what=<...> ..." and debug-exits with 1 (status 3);
 * success powers off (status 0). */
#include <stdbool.h>
#include <stdint.h>

#include "ap-start.h"
#include "apic.h"
#include "exit.h"
#include "fw_cfg.h"
#include "idt.h"
#include "kernel.h"
#include "serial.h"

/* The parameter block: below the AP start-up page (AP_START_PAGE, 0x7000) and the kernel
 * (0x8000), in RAM that nothing else uses for a real-mode kernel. */
#define IRQ_BENCH_PARAMS 0x5000
#define IRQ_BENCH_MAGIC  0x42515249u /* "IRQB" little-endian */
struct irq_bench_params {
    uint32_t magic;
    uint32_t eoi_iterations;
    uint32_t self_ipi_iterations;
    uint32_t timer_ticks;
    uint32_t ipi_samples; /* per IPI measurement */
};

#define DEFAULT_EOI_ITERATIONS      20000
#define DEFAULT_SELF_IPI_ITERATIONS 5000
#define DEFAULT_TIMER_TICKS         1000
#define DEFAULT_IPI_SAMPLES         1000
#define MAX_SAMPLES                 20000 /* per-sample arrays; larger counts are clamped */

#define VECTOR_SELF     0x40
#define VECTOR_TIMER    0x41
#define VECTOR_TO_AP    0x42
#define VECTOR_TO_BSP   0x43
#define VECTOR_WAKE     0x44 /* wakes vCPU 1 out of hlt when its mode changes; not counted */
#define VECTOR_ERROR    0xfe
#define VECTOR_SPURIOUS 0xff

#define MS 1000000ull /* ns */
#define TIMER_HZ 1000
#define HALT_SETTLE_NS (500 * 1000ull)
#define SPIN_SETTLE_NS (20 * 1000ull)
#define WAIT_LIMIT_NS (2000 * MS) /* for any one interrupt: longer means it was lost */

#define AP_STACK_SIZE 0x4000

static uint64_t tsc_khz;
static unsigned cpu_count;

static volatile unsigned error_count, spurious_count;

/* Per-sample results, in TSC cycles (signed: a timer tick could come early). */
static int64_t samples[MAX_SAMPLES];

/* ---- helpers ------------------------------------------------------------------------- */

static int64_t cycles_to_ns(int64_t cycles) { return cycles * 1000000 / (int64_t)tsc_khz; }

/* Shell sort (Ciura's gaps, then * 2.25): a few thousand values, no recursion. */
static void sort(int64_t *values, unsigned n) {
    static const unsigned gaps[] = {1, 4, 10, 23, 57, 132, 301, 701, 1750, 3937, 8858};
    int g = (int)(sizeof gaps / sizeof gaps[0]) - 1;
    while (g > 0 && gaps[g] >= n) g--;
    for (; g >= 0; g--) {
        unsigned gap = gaps[g];
        for (unsigned i = gap; i < n; i++) {
            int64_t value = values[i];
            unsigned j = i;
            for (; j >= gap && values[j - gap] > value; j -= gap) values[j] = values[j - gap];
            values[j] = value;
        }
    }
}

/* The harness's percentile: the value at floor(fraction * n), after sorting. */
static int64_t at_fraction(const int64_t *sorted, unsigned n, unsigned per_mille) {
    unsigned index = (unsigned)((uint64_t)n * per_mille / 1000);
    return sorted[index < n ? index : n - 1];
}

static int64_t median_of(const int64_t *sorted, unsigned n) {
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static __attribute__((noreturn)) void fail(const char *what, unsigned sample) {
    serial_printf("irq-bench error what=%s sample=%u apic_errors=%u spurious=%u\n", what, sample, error_count, spurious_count);
    debug_exit(1);
}

static void on_error(struct interrupt_frame *frame) {
    (void)frame;
    __atomic_add_fetch(&error_count, 1, __ATOMIC_RELAXED);
    apic_write(APIC_ESR, 0);
    apic_eoi();
}

static void on_spurious(struct interrupt_frame *frame) {
    (void)frame;
    __atomic_add_fetch(&spurious_count, 1, __ATOMIC_RELAXED);
}

static void on_wake(struct interrupt_frame *frame) {
    (void)frame;
    apic_eoi();
}

static void apic_setup(void) {
    apic_enable(VECTOR_SPURIOUS);
    apic_write(APIC_LVT_ERROR, VECTOR_ERROR);
    apic_write(APIC_TPR, 0);
}

/* ---- eoi ---------------------------------------------------------------------------- */

/* ---- rdtsc: what two back-to-back reads differ by, the clock's own cost ------------- */

static void bench_rdtsc(void) {
    unsigned n = 2000;
    for (unsigned i = 0; i < n; i++) {
        uint64_t start = rdtsc();
        samples[i] = (int64_t)(rdtsc() - start);
    }
    sort(samples, n);
    serial_printf("irq-bench rdtsc samples=%u median_cycles=%lld tsc_khz=%llu\n", n, (long long)median_of(samples, n),
                  (unsigned long long)tsc_khz);
}

/* The mean over a plain loop of writes; then the median of as many writes timed one by one
 * (each sample includes one rdtsc's cost). */
static void bench_eoi(unsigned iterations) {
    local_irq_disable();
    for (unsigned i = 0; i < 100; i++) apic_write(APIC_EOI, 0); /* warm up */
    uint64_t start = rdtsc();
    for (unsigned i = 0; i < iterations; i++) apic_write(APIC_EOI, 0);
    uint64_t cycles = rdtsc() - start;
    unsigned n = iterations < MAX_SAMPLES ? iterations : MAX_SAMPLES;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = rdtsc();
        apic_write(APIC_EOI, 0);
        samples[i] = (int64_t)(rdtsc() - t);
    }
    sort(samples, n);
    serial_printf("irq-bench eoi iterations=%u cycles_per_op=%llu median_cycles=%lld tsc_khz=%llu\n", iterations,
                  (unsigned long long)(cycles / iterations), (long long)median_of(samples, n), (unsigned long long)tsc_khz);
}

/* ---- self-ipi ----------------------------------------------------------------------- */

static volatile uint32_t self_flag;
static volatile uint64_t self_entry_tsc; /* rdtsc at the handler's entry */

static void on_self(struct interrupt_frame *frame) {
    (void)frame;
    self_entry_tsc = rdtsc();
    apic_eoi();
    self_flag = 1;
}

static void bench_self_ipi(unsigned iterations) {
    uint64_t limit = tsc_from_ns(WAIT_LIMIT_NS);
    uint64_t total = 0;
    unsigned kept = 0;
    static int64_t to_handler[MAX_SAMPLES]; /* ICR write -> handler entry */
    local_irq_enable();
    for (unsigned i = 0; i < iterations + 10; i++) {
        self_flag = 0;
        __asm__ volatile("" ::: "memory");
        uint64_t start = rdtsc();
        apic_write(APIC_ICR_LOW, APIC_ICR_SELF | APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_SELF);
        while (!self_flag) {
            if (rdtsc() - start > limit) fail("self-ipi", i);
            cpu_relax();
        }
        uint64_t cycles = rdtsc() - start;
        if (i < 10) continue; /* warm up */
        total += cycles;
        if (kept < MAX_SAMPLES) {
            to_handler[kept] = (int64_t)(self_entry_tsc - start);
            samples[kept++] = (int64_t)cycles;
        }
    }
    local_irq_disable();
    sort(samples, kept);
    sort(to_handler, kept);
    serial_printf("irq-bench self-ipi iterations=%u cycles_per_op=%llu median_cycles=%lld median_to_handler_cycles=%lld tsc_khz=%llu\n",
                  iterations, (unsigned long long)(total / iterations), (long long)median_of(samples, kept),
                  (long long)median_of(to_handler, kept), (unsigned long long)tsc_khz);
}

/* ---- timer-lateness ----------------------------------------------------------------- */

static volatile unsigned timer_count, timer_target, timer_skipped, timer_early;
static volatile uint64_t timer_deadline;
static uint64_t timer_period;

static void on_timer(struct interrupt_frame *frame) {
    (void)frame;
    uint64_t now = rdtsc();
    unsigned n = timer_count;
    if (n < timer_target) {
        if (n < MAX_SAMPLES) samples[n] = (int64_t)(now - timer_deadline);
        if ((int64_t)(now - timer_deadline) < 0) timer_early++;
        timer_count = ++n;
        if (n < timer_target) {
            uint64_t next = timer_deadline + timer_period;
            if ((int64_t)(next - rdtsc()) <= 0) {
                next = rdtsc() + timer_period;
                timer_skipped++;
            }
            timer_deadline = next;
            wrmsr(MSR_IA32_TSC_DEADLINE, next);
        }
    }
    apic_eoi();
}

static void bench_timer(unsigned ticks) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    if (!(ecx & CPUID_1_ECX_TSC_DEADLINE)) fail("timer-no-tsc-deadline", 0);
    timer_period = tsc_hz() / TIMER_HZ;
    timer_target = ticks;
    timer_count = 0;
    timer_skipped = 0;
    timer_early = 0;
    local_irq_disable();
    apic_write(APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | VECTOR_TIMER);
    timer_deadline = rdtsc() + timer_period;
    wrmsr(MSR_IA32_TSC_DEADLINE, timer_deadline);
    /* hlt until the last tick. A lost tick leaves the CPU asleep; without it, a bounded
     * wait: the harness stops a VM that hangs. */
    unsigned seen = 0;
    uint64_t last = rdtsc(), limit = tsc_from_ns(WAIT_LIMIT_NS);
    while (timer_count < ticks) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        if (timer_count != seen) {
            seen = timer_count;
            last = rdtsc();
        } else if (rdtsc() - last > limit) {
            fail("timer-lateness", seen);
        }
    }
    wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | VECTOR_TIMER);

    unsigned n = ticks < MAX_SAMPLES ? ticks : MAX_SAMPLES;
    sort(samples, n);
    serial_printf("irq-bench timer-lateness mode=tsc-deadline hz=%u ticks=%u median_ns=%lld p99_ns=%lld min_ns=%lld "
                  "max_ns=%lld skipped=%u early=%u tsc_khz=%llu\n",
                  TIMER_HZ, ticks, (long long)cycles_to_ns(median_of(samples, n)), (long long)cycles_to_ns(at_fraction(samples, n, 990)),
                  (long long)cycles_to_ns(samples[0]), (long long)cycles_to_ns(samples[n - 1]), timer_skipped, timer_early,
                  (unsigned long long)tsc_khz);
}

/* ---- vCPU 1 ------------------------------------------------------------------------- */

enum ap_mode { AP_SPIN, AP_HALT };

static uint8_t ap_stack[AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t ap_mode = AP_SPIN;
static volatile bool ap_echo;            /* ping-pong: answer each VECTOR_TO_AP */
static volatile uint64_t ap_seen_tsc;    /* vCPU 1's rdtsc at its handler's entry */
static volatile unsigned ap_seen_count;  /* bumped after the EOI */
static volatile uint64_t bsp_seen_tsc;
static volatile unsigned bsp_seen_count;

static void on_to_ap(struct interrupt_frame *frame) {
    (void)frame;
    uint64_t now = rdtsc();
    if (ap_echo) apic_write(APIC_ICR_LOW, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_TO_BSP); /* ICR high: 0 */
    apic_eoi();
    ap_seen_tsc = now;
    __atomic_store_n(&ap_seen_count, ap_seen_count + 1, __ATOMIC_RELEASE);
}

static void on_to_bsp(struct interrupt_frame *frame) {
    (void)frame;
    uint64_t now = rdtsc();
    apic_eoi();
    bsp_seen_tsc = now;
    __atomic_store_n(&bsp_seen_count, bsp_seen_count + 1, __ATOMIC_RELEASE);
}

/* vCPU 1, from ap_start(): long mode, its own stack, IF = 0. It waits for IPIs in the way
 * ap_mode says, with IF = 1, for ever; the BSP ends the VM. */
static void ap_main(uint32_t apic_id) {
    (void)apic_id;
    idt_load();
    apic_setup();
    apic_write(APIC_ICR_HIGH, 0); /* echoes go to vCPU 0 */
    ap_start_check_in();
    for (;;) {
        if (__atomic_load_n(&ap_mode, __ATOMIC_ACQUIRE) == AP_HALT) {
            __asm__ volatile("sti; hlt; cli" ::: "memory");
        } else {
            local_irq_enable();
            while (__atomic_load_n(&ap_mode, __ATOMIC_ACQUIRE) == AP_SPIN) cpu_relax();
            local_irq_disable();
        }
    }
}

static void set_ap_mode(uint32_t mode) {
    __atomic_store_n(&ap_mode, mode, __ATOMIC_RELEASE);
    apic_write(APIC_ICR_HIGH, 1u << 24);
    apic_write(APIC_ICR_LOW, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_WAKE);
    delay_ns(1 * MS);
}

static void print_latencies(const char *name, const char *mode, unsigned n) {
    sort(samples, n);
    serial_printf("irq-bench %s mode=%s from=0 to=1 samples=%u median_ns=%lld p99_ns=%lld min_ns=%lld max_ns=%lld tsc_khz=%llu\n",
                  name, mode, n, (long long)cycles_to_ns(median_of(samples, n)), (long long)cycles_to_ns(at_fraction(samples, n, 990)),
                  (long long)cycles_to_ns(samples[0]), (long long)cycles_to_ns(samples[n - 1]), (unsigned long long)tsc_khz);
}

/* One-way vCPU 0 -> vCPU 1, with vCPU 1 waiting as `mode` says. */
static void bench_ipi_latency(uint32_t mode, unsigned count) {
    set_ap_mode(mode);
    uint64_t settle = tsc_from_ns(mode == AP_HALT ? HALT_SETTLE_NS : SPIN_SETTLE_NS);
    uint64_t limit = tsc_from_ns(WAIT_LIMIT_NS);
    apic_write(APIC_ICR_HIGH, 1u << 24); /* physical destination 1 */
    unsigned n = 0;
    for (unsigned i = 0; i < count + 10; i++) {
        unsigned before = __atomic_load_n(&ap_seen_count, __ATOMIC_ACQUIRE);
        uint64_t until = rdtsc() + settle;
        while (rdtsc() < until) cpu_relax();
        uint64_t start = rdtsc();
        apic_write(APIC_ICR_LOW, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_TO_AP);
        while (__atomic_load_n(&ap_seen_count, __ATOMIC_ACQUIRE) == before) {
            if (rdtsc() - start > limit) fail(mode == AP_HALT ? "ipi-latency-halt" : "ipi-latency-spin", i);
            cpu_relax();
        }
        if (i < 10) continue; /* warm up */
        if (n < MAX_SAMPLES) samples[n++] = (int64_t)(ap_seen_tsc - start);
    }
    print_latencies("ipi-latency", mode == AP_HALT ? "halt" : "spin", n);
}

/* Ping-pong, vCPU 1 spinning, vCPU 0 waiting with IF = 1: a round trip on vCPU 0's TSC. */
static void bench_ipi_roundtrip(unsigned count) {
    set_ap_mode(AP_SPIN);
    ap_echo = true;
    uint64_t settle = tsc_from_ns(SPIN_SETTLE_NS);
    uint64_t limit = tsc_from_ns(WAIT_LIMIT_NS);
    apic_write(APIC_ICR_HIGH, 1u << 24);
    unsigned n = 0;
    local_irq_enable();
    for (unsigned i = 0; i < count + 10; i++) {
        unsigned before = __atomic_load_n(&bsp_seen_count, __ATOMIC_ACQUIRE);
        uint64_t until = rdtsc() + settle;
        while (rdtsc() < until) cpu_relax();
        uint64_t start = rdtsc();
        apic_write(APIC_ICR_LOW, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_TO_AP);
        while (__atomic_load_n(&bsp_seen_count, __ATOMIC_ACQUIRE) == before) {
            if (rdtsc() - start > limit) fail("ipi-roundtrip", i);
            cpu_relax();
        }
        if (i < 10) continue;
        if (n < MAX_SAMPLES) samples[n++] = (int64_t)(bsp_seen_tsc - start);
    }
    local_irq_disable();
    ap_echo = false;
    print_latencies("ipi-roundtrip", "spin", n);
}

/* ---- main --------------------------------------------------------------------------- */

static unsigned param(uint32_t value, unsigned fallback, unsigned max) {
    if (value == 0) return fallback;
    return value < max ? value : max;
}

int kmain(void) {
    serial_init();
    idt_init();
    idt_set_handler(VECTOR_SELF, on_self);
    idt_set_handler(VECTOR_TIMER, on_timer);
    idt_set_handler(VECTOR_TO_AP, on_to_ap);
    idt_set_handler(VECTOR_TO_BSP, on_to_bsp);
    idt_set_handler(VECTOR_WAKE, on_wake);
    idt_set_handler(VECTOR_ERROR, on_error);
    idt_set_handler(VECTOR_SPURIOUS, on_spurious);

    const volatile struct irq_bench_params *given = (const volatile struct irq_bench_params *)IRQ_BENCH_PARAMS;
    bool have = given->magic == IRQ_BENCH_MAGIC;
    unsigned eoi_iterations = param(have ? given->eoi_iterations : 0, DEFAULT_EOI_ITERATIONS, 0xffffffffu);
    unsigned self_ipi_iterations = param(have ? given->self_ipi_iterations : 0, DEFAULT_SELF_IPI_ITERATIONS, 0xffffffffu);
    unsigned timer_ticks = param(have ? given->timer_ticks : 0, DEFAULT_TIMER_TICKS, MAX_SAMPLES);
    unsigned ipi_samples = param(have ? given->ipi_samples : 0, DEFAULT_IPI_SAMPLES, MAX_SAMPLES);

    tsc_khz = tsc_hz() / 1000;
    if (!tsc_khz) fail("no-tsc-frequency", 0);
    cpu_count = 1;
    if (fw_cfg_present()) {
        fw_cfg_select(FW_CFG_NB_CPUS);
        cpu_count = fw_cfg_read_u16();
    }
    if (cpu_count < 2) fail("needs-2-cpus", 0);

    apic_setup();
    bench_rdtsc();
    bench_eoi(eoi_iterations);
    bench_self_ipi(self_ipi_iterations);
    bench_timer(timer_ticks);

    if (!ap_start(1, ap_main, &ap_stack[AP_STACK_SIZE], 3000 * MS)) fail("vcpu1-start", 0);
    bench_ipi_latency(AP_SPIN, ipi_samples);
    bench_ipi_latency(AP_HALT, ipi_samples);
    bench_ipi_roundtrip(ipi_samples);

    if (error_count || spurious_count) {
        serial_printf("irq-bench error what=apic-errors sample=0 apic_errors=%u spurious=%u\n", error_count, spurious_count);
        return 1;
    }
    return 0;
}
