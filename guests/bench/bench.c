/* bench: the guest of the exit-latency bench suite (/tmp/bench/contract.md, "The bench
 * guest"). One multiboot ELF32 file that tsvisor (direct multiboot boot), the C floor
 * (bench/mb-floor.c) and `qemu-system-x86_64 -kernel` all boot; it times, in TSC cycles, the
 * operations that make a VM exit (or that KVM serves in the kernel) and prints one line per
 * operation on COM1.
 *
 * The multiboot command line holds space-separated key=value words (any other word, like the
 * kernel's file name QEMU puts first, is ignored):
 *   ops=a,b,c     the operations to run, in that order (default: all, in the order below);
 *                 ops=none runs nothing (boot timing)
 *   iterations=N  operations per batch (default 20000)
 *   batches=B     timed batches per operation (default 7, at most MAX_BATCHES)
 *   warmup=W      untimed operations before the batches (default 1000)
 *   tsc_khz=K     the TSC frequency, used when CPUID leaf 0x15 does not say it (QEMU)
 *
 * Operations:
 *   pio-out     outl to port 0x1234 (unassigned)
 *   pio-in      inl from port 0x1234
 *   mmio-write  32-bit write to 0xd0000000 (unassigned: RAM is 16 MiB)
 *   mmio-read   32-bit read from 0xd0000000
 *   cpuid       cpuid leaf 0
 *   eoi         32-bit write of 0 to the LAPIC EOI register, LAPIC software-enabled, IF = 0
 *   self-ipi    ICR low = self shorthand | fixed | vector, IF = 1; the handler writes the EOI
 *               and sets a flag; one op = from the ICR write until the flag is seen
 *   hlt-timer   one-shot LAPIC timer (divide by 1, so the initial count is in ns on a
 *               1 GHz APIC bus) of DELAY_NS, then sti; hlt until its handler ran; one op =
 *               from the timer write to the wake-up
 *
 * Each operation runs `warmup` times untimed, then `batches` batches of `iterations`, each
 * batch timed as a whole between two rdtsc (rdtsc itself traps on some nested hosts, so no
 * single operation is timed). Output:
 *   bench guest ready tsc_khz=<K>
 *   bench op=<name> iterations=<N> batches=<B> cycles_per_op=<mean over all batches>
 *         min=<min batch mean> median=<median batch mean> tsc_khz=<K>[ delay_ns=<D>]
 *   bench done
 * (one line each), every cycle figure rounded to the nearest integer. An operation that
 * cannot run prints "bench op=<name> error=<word>" instead (no-lapic: the LAPIC reads all
 * ones; timeout: an interrupt never came; unknown-op: a name not in the list) and the guest
 * goes on. The end is a write of 0 to the debug-exit port 0xf4 (exit status 1). */
#include <stdbool.h>
#include <stdint.h>

#include "apic.h"
#include "exit.h"
#include "idt.h"
#include "io.h"
#include "kernel.h"
#include "multiboot.h"
#include "serial.h"

#define BENCH_PORT 0x1234
#define BENCH_MMIO 0xd0000000ull

#define DEFAULT_ITERATIONS 20000
#define DEFAULT_BATCHES    7
#define DEFAULT_WARMUP     1000
#define MAX_BATCHES        1000

#define PIC_MASTER_DATA 0x21 /* the 8259s' interrupt mask registers (OCW1) */
#define PIC_SLAVE_DATA  0xa1

#define DELAY_NS 20000 /* hlt-timer's one-shot delay */

#define VECTOR_SELF     0x40
#define VECTOR_TIMER    0x41
#define VECTOR_ERROR    0xfe
#define VECTOR_SPURIOUS 0xff

/* How long an interrupt may take before the op gives up with error=timeout. */
#define WAIT_LIMIT_MS 1000
/* The TSC frequency assumed for that limit alone when nothing tells the real one. */
#define FALLBACK_TSC_KHZ 3000000
/* Spins before the wait loop starts reading the TSC (rdtsc may trap: keep it out of the
 * common case, where the interrupt has come by the first check). */
#define SPINS_PER_CLOCK_CHECK 1024

static uint64_t tsc_khz;     /* 0: unknown */
static uint64_t wait_limit;  /* TSC cycles */

/* ---- the command line ---------------------------------------------------------------- */

static uint32_t iterations = DEFAULT_ITERATIONS;
static uint32_t batches = DEFAULT_BATCHES;
static uint32_t warmup = DEFAULT_WARMUP;
static uint64_t cmdline_tsc_khz;
static const char *ops_list; /* the value of ops=, up to the next space; NULL: all */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* [word, end) starts with `key` followed by '='? Then the value's first character. */
static const char *value_of(const char *word, const char *end, const char *key) {
    while (*key && word < end && *word == *key) word++, key++;
    return *key == 0 && word < end && *word == '=' ? word + 1 : NULL;
}

/* A decimal number filling [p, end) exactly, below 2^63; false otherwise. */
static bool parse_number(const char *p, const char *end, uint64_t *value) {
    if (p == end) return false;
    uint64_t n = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX >> 1) / 10) return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *value = n;
    return true;
}

static void parse_cmdline(const char *cmdline) {
    const char *p = cmdline;
    while (*p) {
        while (is_space(*p)) p++;
        const char *word = p;
        while (*p && !is_space(*p)) p++;
        const char *end = p, *value;
        uint64_t n;
        if ((value = value_of(word, end, "ops"))) {
            ops_list = value;
        } else if ((value = value_of(word, end, "iterations"))) {
            if (parse_number(value, end, &n) && n >= 1 && n <= UINT32_MAX) iterations = (uint32_t)n;
        } else if ((value = value_of(word, end, "batches"))) {
            if (parse_number(value, end, &n) && n >= 1) batches = n < MAX_BATCHES ? (uint32_t)n : MAX_BATCHES;
        } else if ((value = value_of(word, end, "warmup"))) {
            if (parse_number(value, end, &n) && n <= UINT32_MAX) warmup = (uint32_t)n;
        } else if ((value = value_of(word, end, "tsc_khz"))) {
            if (parse_number(value, end, &n)) cmdline_tsc_khz = n;
        }
    }
}

/* ---- the TSC frequency ----------------------------------------------------------------- */

/* CPUID leaf 0x15 (ECX crystal Hz * EBX / EAX), else the command line's tsc_khz, else what
 * lib/apic's tsc_hz() finds in leaf 0x16 or the hypervisor leaf; 0 if nothing says. */
static uint64_t find_tsc_khz(void) {
    uint32_t max_leaf, ebx, ecx, edx;
    cpuid(0, 0, &max_leaf, &ebx, &ecx, &edx);
    if (max_leaf >= 0x15) {
        uint32_t denominator, numerator, crystal;
        cpuid(0x15, 0, &denominator, &numerator, &crystal, &edx);
        if (denominator && numerator && crystal) return ((uint64_t)crystal * numerator / denominator + 500) / 1000;
    }
    if (cmdline_tsc_khz) return cmdline_tsc_khz;
    return (tsc_hz() + 500) / 1000;
}

static inline uint64_t tsc_now(void) {
    uint32_t low, high;
    __asm__ volatile("lfence; rdtsc" : "=a"(low), "=d"(high) : : "memory");
    return (uint64_t)high << 32 | low;
}

/* ---- the operations ------------------------------------------------------------------ */

static void op_pio_out(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) __asm__ volatile("outl %0, %1" : : "a"(0u), "Nd"((uint16_t)BENCH_PORT));
}

static void op_pio_in(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t value;
        __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"((uint16_t)BENCH_PORT));
    }
}

static void op_mmio_write(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) mmio_write32(BENCH_MMIO, 0);
}

static void op_mmio_read(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) (void)mmio_read32(BENCH_MMIO);
}

static void op_cpuid(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t eax = 0, ebx, ecx = 0, edx;
        __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
    }
}

static void op_eoi(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) apic_write(APIC_EOI, 0);
}

static volatile uint32_t interrupt_flag;
static volatile uint32_t apic_errors, spurious;

static void on_interrupt(struct interrupt_frame *frame) {
    (void)frame;
    apic_eoi();
    interrupt_flag = 1;
}

static void on_error(struct interrupt_frame *frame) {
    (void)frame;
    apic_errors++;
    apic_write(APIC_ESR, 0);
    apic_eoi();
}

static void on_spurious(struct interrupt_frame *frame) {
    (void)frame;
    spurious++; /* no EOI for the spurious vector */
}

/* Waits, IF = 1, until a handler has set interrupt_flag; false after wait_limit cycles. The
 * TSC is read only once the interrupt is late (see SPINS_PER_CLOCK_CHECK). */
static bool wait_flag_spinning(void) {
    uint64_t started = 0;
    for (uint32_t spins = 1; !interrupt_flag; spins++) {
        if (spins % SPINS_PER_CLOCK_CHECK == 0) {
            uint64_t now = tsc_now();
            if (!started) started = now;
            else if (now - started > wait_limit) return interrupt_flag;
        }
        cpu_relax();
    }
    return true;
}

/* One self-IPI per op; IF = 1 for the whole batch. */
static bool op_self_ipi(uint32_t n) {
    bool ok = true;
    local_irq_enable();
    for (uint32_t i = 0; i < n && ok; i++) {
        interrupt_flag = 0;
        apic_write(APIC_ICR_LOW, APIC_ICR_SELF | APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_SELF);
        ok = wait_flag_spinning();
    }
    local_irq_disable();
    return ok;
}

/* One one-shot timer per op, the CPU in hlt until it fires. IF = 0 between the timer write and
 * the sti; hlt pair, so the interrupt wakes the hlt even when it came first. hlt may also end
 * for nothing; only the flag counts. A timer that never fires leaves the CPU in hlt for good:
 * nothing else is armed to wake it, and the harness ends such a run. */
static bool op_hlt_timer(uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        interrupt_flag = 0;
        apic_write(APIC_TIMER_INITIAL, DELAY_NS);
        while (!interrupt_flag) __asm__ volatile("sti; hlt; cli" ::: "memory");
    }
    return true;
}

/* ---- the LAPIC ----------------------------------------------------------------------- */

enum lapic_state { LAPIC_UNKNOWN, LAPIC_READY, LAPIC_MISSING };
static enum lapic_state lapic_state;

/* Enables the LAPIC the first time an op needs it: false when there is none (its registers
 * read all ones, as unassigned MMIO does under the C floor). */
static bool lapic_ready(void) {
    if (lapic_state == LAPIC_UNKNOWN) {
        if (apic_read(APIC_VERSION) == 0xffffffffu) {
            lapic_state = LAPIC_MISSING;
        } else {
            /* Nothing but our own two vectors while IF = 1: a BIOS (SeaBIOS under QEMU)
             * leaves the 8259 PICs unmasked with IRQ 0 at vector 8, and the PIT ticking;
             * mask them and the LAPIC's LINT0/LINT1 (ExtINT, NMI) both. */
            outb(PIC_MASTER_DATA, 0xff);
            outb(PIC_SLAVE_DATA, 0xff);
            apic_enable(VECTOR_SPURIOUS);
            apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED);
            apic_write(APIC_LVT_LINT1, APIC_LVT_MASKED);
            apic_write(APIC_TPR, 0);
            apic_write(APIC_LVT_ERROR, VECTOR_ERROR);
            apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_1);
            apic_write(APIC_LVT_TIMER, APIC_TIMER_ONE_SHOT | VECTOR_TIMER);
            lapic_state = LAPIC_READY;
        }
    }
    return lapic_state == LAPIC_READY;
}

/* ---- running and reporting ------------------------------------------------------------ */

struct op {
    const char *name;
    void (*run)(uint32_t n);  /* cannot fail */
    bool (*wait)(uint32_t n); /* or: false on a lost interrupt */
    bool lapic;
    uint32_t delay_ns; /* printed when nonzero */
};

static const struct op ops[] = {
    {"pio-out", op_pio_out, 0, false, 0},
    {"pio-in", op_pio_in, 0, false, 0},
    {"mmio-write", op_mmio_write, 0, false, 0},
    {"mmio-read", op_mmio_read, 0, false, 0},
    {"cpuid", op_cpuid, 0, false, 0},
    {"eoi", op_eoi, 0, true, 0},
    {"self-ipi", 0, op_self_ipi, true, 0},
    {"hlt-timer", 0, op_hlt_timer, true, DELAY_NS},
};
#define OP_COUNT (sizeof ops / sizeof ops[0])

static bool run_op(const struct op *op, uint32_t n) {
    if (op->run) {
        op->run(n);
        return true;
    }
    return op->wait(n);
}

static uint64_t batch_cycles[MAX_BATCHES];

static void sort(uint64_t *values, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        uint64_t value = values[i];
        uint32_t j = i;
        for (; j > 0 && values[j - 1] > value; j--) values[j] = values[j - 1];
        values[j] = value;
    }
}

static uint64_t divide_rounded(uint64_t a, uint64_t b) { return (a + b / 2) / b; }

static void bench(const struct op *op) {
    if (op->lapic && !lapic_ready()) {
        serial_printf("bench op=%s error=no-lapic\n", op->name);
        return;
    }
    bool ok = warmup == 0 || run_op(op, warmup);
    uint64_t total = 0;
    for (uint32_t b = 0; b < batches && ok; b++) {
        uint64_t start = tsc_now();
        ok = run_op(op, iterations);
        batch_cycles[b] = tsc_now() - start;
        total += batch_cycles[b];
    }
    if (!ok) {
        serial_printf("bench op=%s error=timeout\n", op->name);
        return;
    }
    sort(batch_cycles, batches);
    /* The median batch's cycles, doubled to stay exact when `batches` is even. */
    uint64_t median_twice = batches % 2 ? 2 * batch_cycles[batches / 2]
                                        : batch_cycles[batches / 2 - 1] + batch_cycles[batches / 2];
    serial_printf("bench op=%s iterations=%u batches=%u cycles_per_op=%llu min=%llu median=%llu tsc_khz=%llu", op->name,
                  iterations, batches, (unsigned long long)divide_rounded(total, (uint64_t)iterations * batches),
                  (unsigned long long)divide_rounded(batch_cycles[0], iterations),
                  (unsigned long long)divide_rounded(median_twice, 2 * (uint64_t)iterations), (unsigned long long)tsc_khz);
    if (op->delay_ns) serial_printf(" delay_ns=%u", op->delay_ns);
    serial_printf("\n");
}

static bool same(const char *name, const char *p, const char *end) {
    while (p < end && *name == *p) name++, p++;
    return p == end && *name == 0;
}

/* The ops= list: comma-separated names up to the end of the word. */
static void bench_list(const char *list) {
    const char *p = list;
    for (;;) {
        const char *name = p;
        while (*p && *p != ',' && !is_space(*p)) p++;
        if (p > name && !same("none", name, p)) {
            const struct op *found = 0;
            for (unsigned i = 0; i < OP_COUNT && !found; i++)
                if (same(ops[i].name, name, p)) found = &ops[i];
            if (found) {
                bench(found);
            } else {
                serial_puts("bench op=");
                for (const char *c = name; c < p; c++) serial_putc(*c);
                serial_puts(" error=unknown-op\n");
            }
        }
        if (*p != ',') break;
        p++;
    }
}

int kmain(void) {
    serial_init();
    idt_init();
    idt_set_handler(VECTOR_SELF, on_interrupt);
    idt_set_handler(VECTOR_TIMER, on_interrupt);
    idt_set_handler(VECTOR_ERROR, on_error);
    idt_set_handler(VECTOR_SPURIOUS, on_spurious);

    const struct multiboot_info *info = boot_info();
    if (boot_magic() == MULTIBOOT_BOOTLOADER_MAGIC && info) {
        const char *cmdline = multiboot_string(info, MULTIBOOT_INFO_CMDLINE, info->cmdline);
        if (cmdline) parse_cmdline(cmdline);
    }
    tsc_khz = find_tsc_khz();
    wait_limit = (tsc_khz ? tsc_khz : FALLBACK_TSC_KHZ) * WAIT_LIMIT_MS;

    serial_printf("bench guest ready tsc_khz=%llu\n", (unsigned long long)tsc_khz);
    if (ops_list) {
        bench_list(ops_list);
    } else {
        for (unsigned i = 0; i < OP_COUNT; i++) bench(&ops[i]);
    }
    if (lapic_state == LAPIC_READY) apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | VECTOR_TIMER);
    serial_printf("bench done\n");
    debug_exit(0);
}
