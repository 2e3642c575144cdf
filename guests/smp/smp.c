/* smp: brings up the application processors with the SDM's INIT-SIPI-SIPI sequence (Intel
 * SDM vol. 3A, "Typical BSP Initialization Sequence" / "Typical AP Initialization
 * Sequence" in the multiple-processor management chapter) and sends IPIs between all CPUs.
 *
 * The BSP learns the CPU count from fw_cfg and starts the APs with ap_start() (lib/ap-start.h)
 * one at a time, each on its own stack, waiting for each to check in after it printed, so
 * that "cpu <n> online" comes out in order. Every AP enables its local APIC, sets its
 * logical ID (flat model, LDR bit n) and waits for orders in hlt with interrupts on (an
 * order comes with a wake-up IPI). Then: fixed IPIs BSP -> each AP and each AP -> BSP
 * (physical), a logical flat-model IPI, broadcasts (all excluding self, all including
 * self), a lowest-priority IPI (exactly one CPU takes it), logical cluster-model IPIs and
 * a SIPI to a running AP (ignored); then an INIT to a running AP resets it, and INIT-SIPI-SIPI
 * starts it again as from power-on. At the end the APs
 * park (cli; hlt) and the BSP prints the summary and ends the VM while it still runs (a
 * last running vCPU halting with IF = 0 would be an error to tsvisor). */
#include "ap-start.h"
#include "apic.h"
#include "fw_cfg.h"
#include "idt.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define MAX_CPUS 16
#define AP_STACK_SIZE 0x4000
#define SPURIOUS_VECTOR 0xff
#define ERROR_VECTOR 0xfe

#define VECTOR_TO_AP       0x40
#define VECTOR_TO_BSP      0x50 /* + the sending AP's ID */
#define VECTOR_LOGICAL     0x60
#define VECTOR_ALL_BUT     0x61
#define VECTOR_ALL         0x62
#define VECTOR_LOWEST      0x63
#define VECTOR_AFTER_SIPI  0x64
#define VECTOR_CLUSTER_LOW 0x65
#define VECTOR_CLUSTER_LAST 0x66
#define VECTOR_AFTER_INIT  0x67
#define VECTOR_WAKE        0x70 /* wakes an AP from hlt to look at its command */

#define MS 1000000ull /* nanoseconds */

enum command { COMMAND_NONE, COMMAND_SEND_TO_BSP, COMMAND_CLUSTER, COMMAND_PARK };

static unsigned cpu_count;
static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));

/* Per CPU, by APIC ID. */
static volatile unsigned boot_count[MAX_CPUS];
static volatile bool parked[MAX_CPUS];
static volatile uint32_t ap_apic_id_register[MAX_CPUS];
static volatile uint64_t ap_apic_base[MAX_CPUS];
static volatile uint32_t ap_svr_at_start[MAX_CPUS];
static volatile uint16_t ap_entry_cs[MAX_CPUS], ap_entry_ip[MAX_CPUS];
static volatile uint32_t ap_entry_edx[MAX_CPUS];
static volatile uint32_t command[MAX_CPUS];
static volatile unsigned ipi_count[MAX_CPUS][256];
static volatile unsigned error_count, spurious_count;

static volatile int print_lock;

static void lock(volatile int *l) {
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) cpu_relax();
}
static void unlock(volatile int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* Handlers: the APIC ID register says which CPU took it. */
static void on_ipi(struct interrupt_frame *frame) {
    uint32_t id = apic_id();
    if (id < MAX_CPUS) ipi_count[id][frame->vector & 0xff]++;
    apic_eoi();
}

static void on_spurious(struct interrupt_frame *frame) {
    (void)frame;
    __atomic_add_fetch(&spurious_count, 1, __ATOMIC_RELAXED);
}

static void on_error(struct interrupt_frame *frame) {
    (void)frame;
    __atomic_add_fetch(&error_count, 1, __ATOMIC_RELAXED);
    apic_eoi();
}

/* Enables this CPU's APIC: spurious vector, error LVT, flat logical ID 1 << id. */
static void apic_setup(uint32_t id) {
    apic_enable(SPURIOUS_VECTOR);
    apic_write(APIC_LVT_ERROR, ERROR_VECTOR);
    apic_write(APIC_DFR, 0xffffffff);
    apic_write(APIC_LDR, (1u << id) << 24);
}

/* The cluster model: DFR[31:28] = 0; LDR[31:28] the cluster (id / 2), LDR[27:24] a member
 * bit (1 << id % 2): clusters of two CPUs. */
#define CLUSTER_DESTINATION(cluster, members) ((uint8_t)((cluster) << 4 | (members)))
static void apic_cluster_model(uint32_t id) {
    apic_write(APIC_DFR, 0x0fffffff);
    apic_write(APIC_LDR, (uint32_t)CLUSTER_DESTINATION(id / 2, 1u << id % 2) << 24);
}

/* The AP side: `id` is its CPUID initial APIC ID. */
static void ap_main(uint32_t id) {
    if (id >= MAX_CPUS) for (;;) __asm__ volatile("cli; hlt");
    __atomic_add_fetch(&boot_count[id], 1, __ATOMIC_SEQ_CST);
    idt_load();
    struct ap_start_cs_ip entry = ap_start_cs_ip();
    ap_entry_cs[id] = entry.cs;
    ap_entry_ip[id] = entry.ip;
    ap_entry_edx[id] = entry.edx;
    ap_svr_at_start[id] = apic_read(APIC_SVR);
    ap_apic_id_register[id] = apic_read(APIC_ID);
    ap_apic_base[id] = rdmsr(MSR_IA32_APIC_BASE);
    apic_setup(id);

    if (boot_count[id] == 1) { /* a restart (INIT-SIPI-SIPI again) is checked, not printed */
        lock(&print_lock);
        serial_printf("cpu %u online\n", id);
        unlock(&print_lock);
    }
    ap_start_check_in();

    /* Wait in hlt, not spinning: the host has fewer CPUs than this VM may have vCPUs. Looking
     * with IF = 0 and then "sti; hlt" (hlt in the STI shadow) loses no wake-up. */
    for (;;) {
        local_irq_disable();
        while (command[id] == COMMAND_NONE) __asm__ volatile("sti; hlt; cli" ::: "memory");
        switch (command[id]) {
        case COMMAND_SEND_TO_BSP:
            apic_send_ipi(0, APIC_ICR_ASSERT | APIC_ICR_FIXED | (VECTOR_TO_BSP + id));
            break;
        case COMMAND_CLUSTER:
            apic_cluster_model(id);
            break;
        case COMMAND_PARK:
            parked[id] = true;
            for (;;) __asm__ volatile("cli; hlt");
        }
        command[id] = COMMAND_NONE;
    }
}

/* The BSP side. */

static void give_command(uint32_t id, enum command what) {
    command[id] = what;
    apic_send_ipi((uint8_t)id, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_WAKE);
}

/* Waits with interrupts on until *flag is set or `timeout_ns` passed. */
static bool wait_flag(volatile bool *flag, uint64_t timeout_ns) {
    uint64_t end = rdtsc() + tsc_from_ns(timeout_ns);
    local_irq_enable();
    while (!*flag && rdtsc() < end) cpu_relax();
    local_irq_disable();
    return *flag;
}

/* Waits with interrupts on until `vector`'s count summed over the CPUs in `mask` reaches
 * `expected`, or `timeout_ns` passed; then waits `settle_ns` more for stragglers. */
static unsigned count_on(uint32_t mask, uint8_t vector) {
    unsigned sum = 0;
    for (unsigned id = 0; id < cpu_count; id++)
        if (mask >> id & 1) sum += ipi_count[id][vector];
    return sum;
}

static void wait_count(uint32_t mask, uint8_t vector, unsigned expected, uint64_t timeout_ns, uint64_t settle_ns) {
    uint64_t end = rdtsc() + tsc_from_ns(timeout_ns);
    local_irq_enable();
    while (count_on(mask, vector) < expected && rdtsc() < end) cpu_relax();
    delay_ns(settle_ns);
    local_irq_disable();
}

/* Every CPU in `mask` took `vector` exactly once, every other CPU never. */
static bool exactly_once_on(uint32_t mask, uint8_t vector) {
    bool ok = true;
    for (unsigned id = 0; id < cpu_count; id++) {
        unsigned expected = mask >> id & 1;
        if (ipi_count[id][vector] != expected) {
            serial_printf("  cpu %u took vector 0x%x %u times, expected %u\n", id, vector, ipi_count[id][vector], expected);
            ok = false;
        }
    }
    return ok;
}

/* CPUID.01H:EAX: the processor signature, which reset leaves in EDX (SDM vol. 3A, 9.1.1 Table 9-1). */
static uint32_t processor_signature(void) {
    uint32_t eax, ebx, ecx, edx;
    cpuid(1, 0, &eax, &ebx, &ecx, &edx);
    return eax;
}

/* AP `id` began at the SIPI's page, CS:IP = 0x0700:0000, with EDX = the processor signature. */
static bool started_at_sipi_page(uint32_t id) {
    bool ok = expect_equal("AP entry CS", ap_entry_cs[id], AP_START_VECTOR << 8);
    ok &= expect_equal("AP entry IP", ap_entry_ip[id], 0);
    ok &= expect_equal("AP entry EDX", ap_entry_edx[id], processor_signature());
    return ok;
}

static uint32_t all_cpus_mask(void) { return (1u << cpu_count) - 1; }
static uint32_t ap_mask(void) { return all_cpus_mask() & ~1u; }

int kmain(void) {
    serial_init();
    idt_init();
    for (int vector = 0x20; vector < ERROR_VECTOR; vector++) idt_set_handler((uint8_t)vector, on_ipi);
    idt_set_handler(ERROR_VECTOR, on_error);
    idt_set_handler(SPURIOUS_VECTOR, on_spurious);

    if (!fw_cfg_present()) {
        serial_printf("no fw_cfg\n");
        return 1;
    }
    fw_cfg_select(FW_CFG_NB_CPUS);
    cpu_count = fw_cfg_read_u16();
    serial_printf("fw_cfg: %u CPUs\n", cpu_count);
    if (cpu_count < 2 || cpu_count > 8) {
        serial_printf("this test needs 2 to 8 CPUs\n");
        return 1;
    }

    apic_setup(0);
    serial_printf("cpu 0 online\n");

    bool all_started = true;
    for (uint32_t id = 1; id < cpu_count; id++) {
        if (!ap_start(id, ap_main, &ap_stacks[id][AP_STACK_SIZE], 3000 * MS)) {
            serial_printf("  cpu %u did not check in\n", id);
            all_started = false;
        }
    }
    report("every AP started with INIT, SIPI, SIPI and checked in", all_started);
    if (!all_started) return test_summary();

    bool ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) ok &= started_at_sipi_page(id);
    report("each AP started in real mode at CS:IP = 0x0700:0000 (SIPI vector 0x07), EDX = CPUID.01H:EAX", ok);

    delay_ns(10 * MS); /* time for a wrongly honoured second SIPI to show */
    ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) ok &= expect_equal("boot count", boot_count[id], 1);
    report("the second SIPI of INIT-SIPI-SIPI started no AP twice", ok);

    ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) ok &= expect_equal("APIC ID register", ap_apic_id_register[id], id << 24);
    report("each AP's APIC ID register holds its CPUID initial APIC ID", ok);

    ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) {
        ok &= expect_equal("AP IA32_APIC_BASE", ap_apic_base[id], APIC_DEFAULT_BASE | APIC_BASE_GLOBAL_ENABLE);
        ok &= expect_equal("AP SVR at start", ap_svr_at_start[id], 0xff);
    }
    ok &= expect_equal("BSP IA32_APIC_BASE", rdmsr(MSR_IA32_APIC_BASE), 0xfee00900);
    report("IA32_APIC_BASE: BSP flag on the BSP only; each AP starts software-disabled", ok);

    /* BSP -> each AP, fixed, physical destination. */
    for (uint32_t id = 1; id < cpu_count; id++) apic_send_ipi((uint8_t)id, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_TO_AP);
    wait_count(ap_mask(), VECTOR_TO_AP, cpu_count - 1, 1000 * MS, 10 * MS);
    report("a fixed IPI from the BSP reaches each AP once (physical destination)", exactly_once_on(ap_mask(), VECTOR_TO_AP));

    /* Each AP -> BSP. */
    for (uint32_t id = 1; id < cpu_count; id++) give_command(id, COMMAND_SEND_TO_BSP);
    ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) {
        wait_count(1, (uint8_t)(VECTOR_TO_BSP + id), 1, 1000 * MS, 0);
    }
    delay_ns(10 * MS);
    for (uint32_t id = 1; id < cpu_count; id++) ok &= exactly_once_on(1, (uint8_t)(VECTOR_TO_BSP + id));
    report("a fixed IPI from each AP reaches the BSP once", ok);

    /* Logical, flat model: the BSP and the last AP. */
    uint32_t logical = 1u | 1u << (cpu_count - 1);
    apic_send_ipi((uint8_t)logical, APIC_ICR_ASSERT | APIC_ICR_FIXED | APIC_ICR_LOGICAL | VECTOR_LOGICAL);
    wait_count(logical, VECTOR_LOGICAL, 2, 1000 * MS, 10 * MS);
    report("a logical flat-model IPI reaches exactly the CPUs in its mask", exactly_once_on(logical, VECTOR_LOGICAL));

    apic_send_ipi(0, APIC_ICR_ALL_EXCLUDING | APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_ALL_BUT);
    wait_count(ap_mask(), VECTOR_ALL_BUT, cpu_count - 1, 1000 * MS, 10 * MS);
    report("an all-excluding-self broadcast reaches every AP, not the BSP", exactly_once_on(ap_mask(), VECTOR_ALL_BUT));

    apic_send_ipi(0, APIC_ICR_ALL_INCLUDING | APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_ALL);
    wait_count(all_cpus_mask(), VECTOR_ALL, cpu_count, 1000 * MS, 10 * MS);
    report("an all-including-self broadcast reaches every CPU", exactly_once_on(all_cpus_mask(), VECTOR_ALL));

    apic_send_ipi(0xff, APIC_ICR_ASSERT | APIC_ICR_LOWEST_PRIORITY | APIC_ICR_LOGICAL | VECTOR_LOWEST);
    wait_count(all_cpus_mask(), VECTOR_LOWEST, 1, 1000 * MS, 20 * MS);
    unsigned takers = count_on(all_cpus_mask(), VECTOR_LOWEST);
    report("a lowest-priority IPI to every CPU is taken by exactly one", expect_equal("CPUs that took it", takers, 1));

    /* Logical, cluster model: cluster 0 members 0 and 1 (CPUs 0 and 1); the last CPU alone. */
    apic_cluster_model(0);
    ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) {
        give_command(id, COMMAND_CLUSTER);
        uint64_t end = rdtsc() + tsc_from_ns(1000 * MS);
        while (command[id] != COMMAND_NONE && rdtsc() < end) cpu_relax();
        ok &= expect_equal("cluster command done", command[id], COMMAND_NONE);
    }
    uint32_t last = cpu_count - 1;
    apic_send_ipi(CLUSTER_DESTINATION(0, 3), APIC_ICR_ASSERT | APIC_ICR_FIXED | APIC_ICR_LOGICAL | VECTOR_CLUSTER_LOW);
    apic_send_ipi(CLUSTER_DESTINATION(last / 2, 1u << last % 2),
                  APIC_ICR_ASSERT | APIC_ICR_FIXED | APIC_ICR_LOGICAL | VECTOR_CLUSTER_LAST);
    wait_count(3, VECTOR_CLUSTER_LOW, 2, 1000 * MS, 0);
    wait_count(1u << last, VECTOR_CLUSTER_LAST, 1, 1000 * MS, 10 * MS);
    ok &= exactly_once_on(3, VECTOR_CLUSTER_LOW);
    ok &= exactly_once_on(1u << last, VECTOR_CLUSTER_LAST);
    report("logical cluster-model IPIs reach exactly the CPUs their cluster and members name", ok);

    /* A SIPI to an AP that runs: ignored. */
    for (uint32_t id = 1; id < cpu_count; id++) apic_send_ipi((uint8_t)id, APIC_ICR_STARTUP | AP_START_VECTOR);
    delay_ns(20 * MS);
    for (uint32_t id = 1; id < cpu_count; id++) apic_send_ipi((uint8_t)id, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_AFTER_SIPI);
    wait_count(ap_mask(), VECTOR_AFTER_SIPI, cpu_count - 1, 1000 * MS, 10 * MS);
    ok = exactly_once_on(ap_mask(), VECTOR_AFTER_SIPI);
    for (uint32_t id = 1; id < cpu_count; id++) ok &= expect_equal("boot count", boot_count[id], 1);
    report("a SIPI to a running AP is ignored", ok);

    /* INIT to a running AP (SDM vol. 3A, 9.1 and Table 9-1): it resets, APIC included, and
     * waits for a SIPI; INIT-SIPI-SIPI starts it again from the SIPI's page, as the first time. */
    ok = ap_start(1, ap_main, &ap_stacks[1][AP_STACK_SIZE], 3000 * MS);
    ok &= expect_equal("boot count after the restart", boot_count[1], 2);
    ok &= started_at_sipi_page(1);
    ok &= expect_equal("AP SVR after INIT", ap_svr_at_start[1], 0xff);
    apic_send_ipi(1, APIC_ICR_ASSERT | APIC_ICR_FIXED | VECTOR_AFTER_INIT);
    wait_count(2, VECTOR_AFTER_INIT, 1, 1000 * MS, 10 * MS);
    ok &= exactly_once_on(2, VECTOR_AFTER_INIT);
    report("INIT resets a running AP: INIT-SIPI-SIPI starts it again at 0x0700:0000, EDX = CPUID.01H:EAX, APIC reset", ok);

    apic_write(APIC_ESR, 0);
    ok = expect_equal("BSP ESR", apic_read(APIC_ESR), 0);
    ok &= expect_equal("error interrupts", error_count, 0);
    ok &= expect_equal("spurious interrupts", spurious_count, 0);
    report("no APIC error or spurious interrupt", ok);

    for (uint32_t id = 1; id < cpu_count; id++) give_command(id, COMMAND_PARK);
    ok = true;
    for (uint32_t id = 1; id < cpu_count; id++) ok &= wait_flag(&parked[id], 1000 * MS);
    report("every AP parked", ok);
    return test_summary();
}
