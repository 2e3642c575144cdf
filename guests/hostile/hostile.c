/* hostile: a guest that attacks tsvisor's devices from every vCPU, for issue 15's "a guest
 * cannot crash tsvisor". Each CPU runs `rounds` operations chosen by its own xorshift64
 * generator (seed ^ a per-CPU constant, so a run is reproducible):
 *   - port reads and writes of 1, 2 and 4 bytes to any port, and string I/O (rep ins/outs,
 *     1 to 16 elements, either direction);
 *   - MMIO reads and writes of 1, 2, 4 and 8 bytes, aligned or not, to the Local APIC, the IO
 *     APIC and the HPET pages and to unassigned addresses between 16 MiB and 4 GiB;
 *   - Local APIC, IO APIC and HPET register writes with random values;
 *   - IPIs with random vectors (illegal ones below 16 too) and destinations, shorthands and
 *     logical modes;
 *   - MSR reads of random indices and writes of random values to MSRs that cannot break the
 *     guest's own footing (a #GP for a missing MSR is expected and skipped).
 * The BSP also sends INIT to each AP now and then and starts it again (INIT-SIPI-SIPI); the
 * AP goes on with its remaining rounds.
 *
 * What stays out, so that the guest keeps its footing and can end itself: writes to COM1 (the
 * verdict goes there), to the debug-exit and power-off ports, to fw_cfg's DMA ports (they would
 * write guest RAM) and to port 0x92 (fast A20 and reset); RAM below 16 MiB; delivery modes
 * that reset or interrupt unmaskably (NMI, INIT, SMI, ExtINT: forced to fixed in the LVT, the
 * ICR, the IO APIC's redirection entries, and the HPET's FSB delivery is kept off); the MSRs
 * the guest itself depends on. Interrupts stay disabled (IF = 0): whatever the random
 * programming raises stays pending, as it would on a PC, and the guest's exception vectors
 * never see a device interrupt.
 *
 * Parameters from fw_cfg files (tsvisor.fw_cfg): opt/hostile/seed and opt/hostile/rounds,
 * decimal strings (defaults 1 and 20000). Once the APs are started the BSP prints
 *   hostile: <started> of <n> cpus started
 * and at the end
 *   hostile: seed <s>, <n> cpus, <rounds> rounds each: done (<gp> #GP, <restarts> restarts)
 * and powers off (status 0). */
#include "ap-start.h"
#include "apic.h"
#include "cpu.h"
#include "fw_cfg.h"
#include "hpet.h"
#include "idt.h"
#include "io.h"
#include "ioapic.h"
#include "kernel.h"
#include "serial.h"
#include "string.h"

#define MAX_CPUS 8
#define AP_STACK_SIZE 0x4000
#define MS 1000000ull
#define SIXTEEN_MIB 0x1000000ull
#define FOUR_GIB 0x100000000ull

static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
static uint64_t seed = 1;
static uint32_t rounds = 20000;
static unsigned cpu_count;
/* Per CPU: the rounds left, and whether it finished them. */
static volatile uint32_t left[MAX_CPUS];
static volatile bool done[MAX_CPUS];
static volatile uint64_t generator[MAX_CPUS];
static uint8_t string_buffers[MAX_CPUS][64];

static uint64_t next(unsigned cpu) {
    uint64_t x = generator[cpu];
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    generator[cpu] = x;
    return x;
}

/* Ports a write may not touch: COM1, debug-exit, power-off, fw_cfg DMA, fast A20/reset. */
static bool write_forbidden(uint16_t port, unsigned width) {
    for (unsigned byte = 0; byte < width; byte++) {
        uint16_t p = (uint16_t)(port + byte);
        if ((p >= 0x3f8 && p <= 0x3ff) || (p >= 0xf4 && p <= 0xf7) || p == 0x604 || p == 0x605 || (p >= 0x514 && p <= 0x51b) || p == 0x92 || p == 0xcf9 || p == 0x64)
            return true;
    }
    return false;
}

static void port_access(unsigned cpu, uint64_t r) {
    uint16_t port = (r >> 8) & 7 ? (uint16_t)(r >> 16) : (uint16_t)(0x20 + ((r >> 16) & 0x5ff)); /* often the PC's own range */
    unsigned width = 1u << ((r >> 40) % 3);
    bool write = (r >> 43) & 1;
    if (write && write_forbidden(port, width)) return;
    if ((r >> 44) & 3) {
        uint32_t value = (uint32_t)(r >> 24);
        if (!write) {
            if (width == 1) (void)inb(port);
            else if (width == 2) (void)inw(port);
            else (void)inl(port);
        } else if (width == 1) outb(port, (uint8_t)value);
        else if (width == 2) outw(port, (uint16_t)value);
        else outl(port, value);
        return;
    }
    /* String I/O: 1-16 elements, forwards or backwards (DF), into or out of this CPU's buffer. */
    uint32_t count = 1 + ((r >> 46) & 15);
    bool backwards = (r >> 50) & 1;
    uint8_t *buffer = string_buffers[cpu];
    void *start = backwards ? buffer + 64 - width : buffer;
    if (backwards) __asm__ volatile("std");
    if (write) {
        if (width == 1) __asm__ volatile("rep outsb" : "+S"(start), "+c"(count) : "d"(port) : "memory");
        else if (width == 2) __asm__ volatile("rep outsw" : "+S"(start), "+c"(count) : "d"(port) : "memory");
        else __asm__ volatile("rep outsl" : "+S"(start), "+c"(count) : "d"(port) : "memory");
    } else if (width == 1) __asm__ volatile("rep insb" : "+D"(start), "+c"(count) : "d"(port) : "memory");
    else if (width == 2) __asm__ volatile("rep insw" : "+D"(start), "+c"(count) : "d"(port) : "memory");
    else __asm__ volatile("rep insl" : "+D"(start), "+c"(count) : "d"(port) : "memory");
    __asm__ volatile("cld");
}

/* A Local APIC register value with its delivery mode made fixed (LVT and ICR bits 10:8). */
static uint32_t tame_delivery(uint32_t value) { return value & ~0x700u; }

static void write_sized(uint64_t address, unsigned width, uint64_t value) {
    if (width == 1) *(volatile uint8_t *)address = (uint8_t)value;
    else if (width == 2) *(volatile uint16_t *)address = (uint16_t)value;
    else if (width == 4) *(volatile uint32_t *)address = (uint32_t)value;
    else *(volatile uint64_t *)address = value;
}

static void read_sized(uint64_t address, unsigned width) {
    if (width == 1) (void)*(volatile uint8_t *)address;
    else if (width == 2) (void)*(volatile uint16_t *)address;
    else if (width == 4) (void)*(volatile uint32_t *)address;
    else (void)*(volatile uint64_t *)address;
}

static void mmio_access(unsigned cpu, uint64_t r) {
    unsigned width = 1u << ((r >> 8) & 3);
    bool write = (r >> 10) & 1;
    uint64_t value = next(cpu);
    uint64_t address;
    switch ((r >> 11) & 3) {
    case 0: { /* the Local APIC: an aligned register with a tamed value, or any offset at any width */
        uint32_t offset = (uint32_t)(r >> 16) & 0xfff;
        address = APIC_DEFAULT_BASE + offset;
        if (write && (offset & 0xff0) >= 0x2f0 && (offset & 0xff0) <= 0x370) { /* LVT CMCI, the ICR, the other LVTs */
            if ((offset & 0xf) != 0 || width != 4) return; /* a torn ICR or LVT write could slip a mode through */
            value = tame_delivery((uint32_t)value);
        }
        break;
    }
    case 1: { /* the IO APIC: select a register, then write its window with a fixed-mode entry */
        uint32_t index = (uint32_t)(r >> 16) & 0x3f;
        ioapic_write(index, (uint32_t)(index >= 0x10 && (index & 1) == 0 ? (value & ~0x700ull) | 0x20 : value));
        return;
    }
    case 2: { /* the HPET: any register; timer configurations keep FSB delivery (bit 14) off */
        uint32_t offset = (uint32_t)(r >> 16) & 0x3ff;
        address = HPET_BASE + offset;
        if (write && offset >= 0x100 && (offset & 0x1f) < 8) {
            if ((offset & 7) != 0 || width < 4) return;
            value &= ~(1ull << 14);
        }
        break;
    }
    default: /* unassigned: anywhere from 16 MiB to 4 GiB, any alignment */
        address = SIXTEEN_MIB + (r >> 16) % (FOUR_GIB - SIXTEEN_MIB - 8);
        if ((address >= IOAPIC_BASE && address < IOAPIC_BASE + 0x1000 + 8) || (address >= HPET_BASE && address < HPET_BASE + 0x1000 + 8) ||
            (address >= APIC_DEFAULT_BASE && address < APIC_DEFAULT_BASE + 0x1000 + 8))
            return;
    }
    if (write) write_sized(address, width, value);
    else read_sized(address, width);
}

static void ipi(unsigned cpu, uint64_t r) {
    uint32_t high = (uint32_t)(r >> 8) << 24;
    uint32_t low = tame_delivery((uint32_t)(r >> 32)) & ~(1u << 15); /* fixed or lowest priority; edge */
    if ((low & 0xff) < 16 && (r & 0x300)) low |= 0x20; /* now and then an illegal vector */
    (void)cpu;
    apic_write(APIC_ICR_HIGH, high);
    apic_write(APIC_ICR_LOW, low);
}

/* MSRs whose writes the guest survives: the TSC deadline and indices nothing implements. */
static void msr_access(unsigned cpu, uint64_t r) {
    uint32_t index = (r >> 8) & 1 ? (uint32_t)(r >> 32) : (uint32_t)((r >> 32) & 0x1fff);
    if ((r >> 9) & 1) {
        (void)rdmsr(index);
        return;
    }
    uint32_t target = (r >> 10) & 1 ? 0x6e0 /* IA32_TSC_DEADLINE */ : 0x40001000u + ((uint32_t)(r >> 40) & 0xfff);
    wrmsr(target, next(cpu));
}

static void operate(unsigned cpu) {
    uint64_t r = next(cpu);
    switch (r & 7) {
    case 0:
    case 1:
    case 2:
        port_access(cpu, r);
        break;
    case 3:
    case 4:
    case 5:
        mmio_access(cpu, r);
        break;
    case 6:
        ipi(cpu, r);
        break;
    default:
        msr_access(cpu, r);
    }
}

static void attack(unsigned cpu) {
    for (; left[cpu] > 0; left[cpu]--) operate(cpu);
    done[cpu] = true;
}

static void ap_main(uint32_t id) {
    idt_load();
    ap_start_check_in();
    if (id < MAX_CPUS) attack(id);
    for (;;) __asm__ volatile("cli; hlt");
}

static uint64_t file_number(const char *name, uint64_t fallback) {
    struct fw_cfg_file file;
    if (!fw_cfg_find_file(name, &file)) return fallback;
    char text[24] = {0};
    fw_cfg_select(file.select);
    fw_cfg_read(text, file.size < sizeof(text) - 1 ? file.size : sizeof(text) - 1);
    uint64_t value = 0;
    for (char *c = text; *c >= '0' && *c <= '9'; c++) value = value * 10 + (uint64_t)(*c - '0');
    return value;
}

int kmain(void) {
    serial_init();
    idt_init();
    if (!fw_cfg_present()) {
        serial_printf("no fw_cfg\n");
        return 1;
    }
    seed = file_number("opt/hostile/seed", 1);
    rounds = (uint32_t)file_number("opt/hostile/rounds", 20000);
    fw_cfg_select(FW_CFG_NB_CPUS);
    cpu_count = fw_cfg_read_u16();
    if (cpu_count > MAX_CPUS) cpu_count = MAX_CPUS;
    serial_printf("hostile: seed %llu, %u cpus, %u rounds each\n", (unsigned long long)seed, cpu_count, rounds);
    apic_enable(0xff);
    idt_expect_exception(13, 2); /* #GP from rdmsr or wrmsr: both 2 bytes */

    for (unsigned cpu = 0; cpu < cpu_count; cpu++) {
        generator[cpu] = (seed ^ (0x9e3779b97f4a7c15ull * (cpu + 1))) | 1;
        left[cpu] = rounds;
    }
    unsigned restarts = 0, started = 1;
    for (uint32_t id = 1; id < cpu_count; id++) started += ap_start(id, ap_main, &ap_stacks[id][AP_STACK_SIZE], 1000 * MS);
    serial_printf("hostile: %u of %u cpus started\n", started, cpu_count);
    /* The BSP attacks in slices; between them it sends INIT to an AP and starts it again. */
    while (left[0] > 0) {
        uint32_t slice = left[0] > rounds / 8 + 1 ? rounds / 8 + 1 : left[0];
        uint32_t stop_at = left[0] - slice;
        for (; left[0] > stop_at; left[0]--) operate(0);
        if (cpu_count > 1) {
            uint32_t id = 1 + (uint32_t)(next(0) % (cpu_count - 1));
            if (!done[id] && ap_start(id, ap_main, &ap_stacks[id][AP_STACK_SIZE], 1000 * MS)) restarts++;
        }
    }
    done[0] = true;
    /* The APs finish on their own; one whose APIC the attack re-addressed may miss its SIPIs. */
    for (unsigned waited = 0; waited < 2000; waited++) {
        bool all = true;
        for (unsigned cpu = 0; cpu < cpu_count; cpu++) all &= done[cpu];
        if (all) break;
        delay_ns(MS);
    }
    struct idt_caught caught = idt_end_expect();
    serial_printf("hostile: seed %llu, %u cpus, %u rounds each: done (%u #GP, %u restarts)\n", (unsigned long long)seed, cpu_count, rounds,
                  caught.count, restarts);
    return 0;
}
