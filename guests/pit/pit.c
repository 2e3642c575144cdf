/* pit: the legacy timers and interrupt controller every PC has, as kernels meet them at boot.
 *
 *   - The 8254 PIT (Intel 82C54 data sheet) at ports 0x40-0x43 and channel 2's gate and output
 *     through port 0x61: the TSC calibrated against channel 2 in mode 0, as Linux's
 *     pit_calibrate_tsc does, and checked against the frequency CPUID 0x15/0x16 gives; a
 *     counter latch and a read-back of count and status; channel 2's square wave seen on
 *     port 0x61 bit 5; channel 0 in mode 2 at 1 kHz interrupting through IO APIC pin 2 (ISA
 *     IRQ 0, as the interrupt source override routes it).
 *   - The 8259A pair (ports 0x20/0x21, 0xa0/0xa1): the ICW1-4 initialisation Linux and ArceOS
 *     send, the masks read back, and the IRR and ISR read through OCW3.
 * Waits are bounded with the TSC; passing lines hold no measured figures. */
#include <stdbool.h>
#include <stdint.h>

#include "apic.h"
#include "idt.h"
#include "io.h"
#include "ioapic.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define PIT_CHANNEL0 0x40
#define PIT_CHANNEL2 0x42
#define PIT_CONTROL  0x43
#define PORT_B       0x61
#define PORT_B_GATE2   0x01 /* channel 2's gate */
#define PORT_B_SPEAKER 0x02 /* speaker data: kept off */
#define PORT_B_OUT2    0x20 /* channel 2's OUT, read-only */

/* Control words (data sheet, "Control Word Format"): channel << 6 | access << 4 | mode << 1. */
#define PIT_SELECT(channel) ((channel) << 6)
#define PIT_ACCESS_LATCH 0x00
#define PIT_ACCESS_LOHI  0x30
#define PIT_MODE(mode)   ((mode) << 1)
#define PIT_READ_BACK    0xc0
#define PIT_READ_BACK_NO_COUNT  0x20
#define PIT_READ_BACK_NO_STATUS 0x10
#define PIT_READ_BACK_CHANNEL(channel) (2 << (channel))

#define PIT_HZ 1193182ULL
#define MS 1000000ULL /* ns */

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA    0x21
#define PIC_SLAVE_COMMAND  0xa0
#define PIC_SLAVE_DATA     0xa1
#define PIC_OCW3_READ_IRR  0x0a
#define PIC_OCW3_READ_ISR  0x0b

#define VECTOR_PIT      0x60
#define VECTOR_SPURIOUS 0xff
#define IOAPIC_PIN_PIT  2
#define BSP_APIC_ID     0

static volatile unsigned pit_ticks;

static void pit_handler(struct interrupt_frame *frame) {
    (void)frame;
    pit_ticks++;
    apic_eoi();
}

static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

static void pit_load(unsigned port, uint16_t count) {
    outb(port, count & 0xff);
    outb(port, count >> 8);
}

static uint16_t pit_read(unsigned port) {
    uint8_t low = inb(port);
    return (uint16_t)(low | inb(port) << 8);
}

/* Channel 2 in mode 0 with its gate low: counting waits for the gate, OUT is low. */
static void channel2_arm(uint16_t count) {
    outb(PORT_B, inb(PORT_B) & ~(PORT_B_GATE2 | PORT_B_SPEAKER));
    outb(PIT_CONTROL, PIT_SELECT(2) | PIT_ACCESS_LOHI | PIT_MODE(0));
    pit_load(PIT_CHANNEL2, count);
}

/* When channel 2's OUT went high, `count` PIT clocks after its gate went on, in TSC ticks from
 * the gate: the fewest and the most it can have been. The gate's write and each poll of port
 * 0x61 are exits, and a busy host may stall the vCPU in any of them, so the TSC brackets each
 * access; the bracket is as narrow as the host lets it be. Both 0 on a timeout. */
static void tsc_ticks_for(uint16_t count, uint64_t *fewest, uint64_t *most) {
    channel2_arm(count);
    uint8_t gate_on = (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2;
    uint64_t gate_before = rdtsc();
    outb(PORT_B, gate_on);
    uint64_t gate_after = rdtsc();
    uint64_t limit = gate_after + tsc_from_ns(1000 * MS);
    uint64_t low_since = gate_after; /* OUT was still low at this time or later */
    for (;;) {
        uint64_t before = rdtsc();
        bool high = inb(PORT_B) & PORT_B_OUT2;
        uint64_t after = rdtsc();
        if (high) {
            *fewest = low_since - gate_after;
            *most = after - gate_before;
            return;
        }
        low_since = before;
        if (after > limit) {
            *fewest = *most = 0;
            return;
        }
    }
}

/* Linux's pit_calibrate_tsc: 50 ms of channel 2 against the TSC. Where the exits are quick the
 * bracket is microseconds wide, so +-5 % tells a wrong PIT clock or count from a right one. */
static void check_calibration(void) {
    uint16_t count = (uint16_t)(PIT_HZ * 50 / 1000); /* 59659 clocks: 50 ms */
    uint64_t fewest, most;
    tsc_ticks_for(count, &fewest, &most);
    uint64_t expected = tsc_hz() / 1000 * 50;
    bool ok = expected != 0 && most != 0 && fewest * 100 <= expected * 105 && most * 100 >= expected * 95;
    if (!ok) {
        serial_printf("  OUT went high %llu-%llu TSC ticks after the gate; CPUID 0x15/0x16 give %llu for 50 ms\n",
                      (unsigned long long)fewest, (unsigned long long)most, (unsigned long long)expected);
    }
    report("the TSC calibrated against channel 2 agrees with CPUID 0x15/0x16 (+-5 %)", ok);
}

/* PIT clocks in `tsc` TSC ticks, widened by 5 % and 100 clocks each way: the TSC may run some
 * percent off the clock that drives the PIT (an emulated CPU's does), and an access is an exit. */
static void pit_clocks_between(uint64_t tsc_lo, uint64_t tsc_hi, uint64_t *lo, uint64_t *hi) {
    uint64_t low = tsc_to_us(tsc_lo) * PIT_HZ / 1000000, high = tsc_to_us(tsc_hi) * PIT_HZ / 1000000;
    low = low * 95 / 100;
    *lo = low > 100 ? low - 100 : 0;
    *hi = high * 105 / 100 + 100;
}

/* Whether a counter that counted down from `from` can read `to` after between `lo` and `hi` of
 * its clocks: mode 0 wraps from 0 to 0xffff, so the clocks are known modulo 65536. A window of
 * 65536 clocks or more (a vCPU stalled for 55 ms by a busy host) holds every count. */
static bool counted_between(uint16_t from, uint16_t to, uint64_t lo, uint64_t hi) {
    if (hi - lo >= 65536) return true;
    uint64_t clocks = lo - lo % 65536 + (uint16_t)(from - to);
    if (clocks < lo) clocks += 65536;
    return clocks <= hi;
}

/* A latched count holds still until it is read, and then the counter reads on. Both counts are
 * checked against the time the TSC brackets each access with, not against the delays asked
 * for: a busy host may stall the vCPU for longer than the delays. */
static void check_latch_and_read_back(void) {
    channel2_arm(0xffff);
    uint64_t gate_before = rdtsc();
    outb(PORT_B, inb(PORT_B) | PORT_B_GATE2);
    uint64_t gate_after = rdtsc();
    delay_ns(2 * MS);
    uint64_t latch_before = rdtsc();
    outb(PIT_CONTROL, PIT_SELECT(2) | PIT_ACCESS_LATCH);
    uint64_t latch_after = rdtsc();
    delay_ns(2 * MS);
    uint64_t read_before = rdtsc();
    uint16_t latched = pit_read(PIT_CHANNEL2);
    uint16_t live = pit_read(PIT_CHANNEL2);
    uint64_t read_after = rdtsc();
    uint64_t lo, hi;
    /* The latched count: from 0xffff for the time between the gate and the latch. */
    pit_clocks_between(latch_before - gate_after, latch_after - gate_before, &lo, &hi);
    bool ok = counted_between(0xffff, latched, lo, hi);
    if (!ok) serial_printf("  latched 0x%x after %llu-%llu clocks from 0xffff\n", latched, (unsigned long long)lo, (unsigned long long)hi);
    /* The live count: on from the latched one for the time between the latch and the reads,
     * 2 ms at least, so a latch that did not hold (the live count read twice) fails. */
    pit_clocks_between(read_before - latch_after, read_after - latch_before, &lo, &hi);
    bool live_ok = counted_between(latched, live, lo, hi);
    if (!live_ok) serial_printf("  live 0x%x after %llu-%llu clocks from the latched 0x%x\n", live, (unsigned long long)lo, (unsigned long long)hi, latched);
    report("a counter latch holds the count until it is read", ok && live_ok);
    outb(PORT_B, inb(PORT_B) & ~PORT_B_GATE2);

    /* Read-back of a count the gate holds (mode 0 counts only while GATE is high), so that a
     * slow CPU reads the same: status OUT low (not at terminal count), null count 0 (the
     * count is loaded), access lo/hi (3), mode 0, binary; and the count as written. */
    channel2_arm(0x1234);
    delay_ns(1 * MS);
    outb(PIT_CONTROL, PIT_READ_BACK | PIT_READ_BACK_CHANNEL(2));
    uint8_t status = inb(PIT_CHANNEL2);
    uint16_t count = pit_read(PIT_CHANNEL2);
    ok = expect_equal("status byte", status, 0x30);
    ok &= expect_equal("read-back count", count, 0x1234);
    report("a read-back gives channel 2's status and count", ok);
}

/* Mode 3 at 1 kHz on channel 2: OUT is a square wave, seen to change on port 0x61 bit 5. */
static void check_square_wave(void) {
    outb(PORT_B, inb(PORT_B) & ~(PORT_B_GATE2 | PORT_B_SPEAKER));
    outb(PIT_CONTROL, PIT_SELECT(2) | PIT_ACCESS_LOHI | PIT_MODE(3));
    pit_load(PIT_CHANNEL2, (uint16_t)(PIT_HZ / 1000));
    outb(PORT_B, inb(PORT_B) | PORT_B_GATE2);
    unsigned changes = 0;
    uint8_t last = inb(PORT_B) & PORT_B_OUT2;
    uint64_t end = rdtsc() + tsc_from_ns(20 * MS);
    while (rdtsc() < end) {
        uint8_t now = inb(PORT_B) & PORT_B_OUT2;
        if (now != last) changes++;
        last = now;
    }
    outb(PORT_B, inb(PORT_B) & ~PORT_B_GATE2);
    /* 20 periods are 40 changes. Every read is an exit, so changes may be missed, never added:
     * an emulated CPU (the test VM) samples slowly, and a few changes show the wave. */
    bool ok = changes >= 4 && changes <= 42;
    if (!ok) serial_printf("  OUT changed %u times in 20 ms\n", changes);
    report("channel 2 in mode 3 is a square wave on port 0x61 bit 5", ok);
}

/* Channel 2's count, latched: channel 2 as a stopwatch on the PIT's own clock. */
static uint16_t channel2_latched(void) {
    outb(PIT_CONTROL, PIT_SELECT(2) | PIT_ACCESS_LATCH);
    return pit_read(PIT_CHANNEL2);
}

/* Channel 0, mode 2 at about 1 kHz, interrupting on IO APIC pin 2, for 100 ms. Ticks the vCPU
 * cannot take in time coalesce, on hardware as under tsvisor (a slow or busy host, the test
 * VM's emulated CPU): the guest checks that ticks come and are not made up, and prints the
 * periods its window held, so that the test can account for every one with --stats (ticks,
 * plus the coalesced ones tsvisor counts). The window is timed on the PIT's own clock, with
 * channel 2 counting down from 65536 (mode 2, gate on): an emulated CPU's TSC may run some
 * percent off the host's clock, which drives the PIT. The TSC only says how often channel 2
 * wrapped. */
static void check_channel0_interrupts(void) {
    const uint16_t count = (uint16_t)(PIT_HZ / 1000);
    idt_set_handler(VECTOR_PIT, pit_handler);
    ioapic_route(IOAPIC_PIN_PIT, VECTOR_PIT, BSP_APIC_ID, 0);
    outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
    outb(PIT_CONTROL, PIT_SELECT(2) | PIT_ACCESS_LOHI | PIT_MODE(2));
    pit_load(PIT_CHANNEL2, 0);
    pit_ticks = 0;
    uint64_t start = rdtsc();
    uint16_t watch_start = channel2_latched();
    outb(PIT_CONTROL, PIT_SELECT(0) | PIT_ACCESS_LOHI | PIT_MODE(2));
    pit_load(PIT_CHANNEL0, count);
    uint64_t end = start + tsc_from_ns(100 * MS);
    while (rdtsc() < end) __asm__ volatile("sti; hlt; cli" ::: "memory");
    outb(PIT_CONTROL, PIT_SELECT(0) | PIT_ACCESS_LOHI | PIT_MODE(0)); /* stops it: waits for a count */
    uint16_t watch_stop = channel2_latched();
    uint64_t stopped = rdtsc();
    unsigned ticks = pit_ticks;
    ioapic_set_masked(IOAPIC_PIN_PIT, 1);
    outb(PORT_B, inb(PORT_B) & ~PORT_B_GATE2);
    /* Clocks from the first latch to the second: exact modulo 65536, the wraps from the TSC. */
    uint64_t within = (uint16_t)(watch_start - watch_stop);
    uint64_t tsc_clocks = tsc_to_us(stopped - start) * PIT_HZ / 1000000;
    uint64_t wraps = tsc_clocks > within ? (tsc_clocks - within + 32768) / 65536 : 0;
    uint64_t periods = (wraps * 65536 + within) / count;
    /* Channel 0 ran from its load, after the first latch, to the stop, before the second. */
    unsigned fewest = periods > 1 ? (unsigned)periods - 2 : 0, most = (unsigned)periods + 1;
    bool ok = ticks >= 1 && ticks <= most;
    if (!ok) serial_printf("  %u ticks\n", ticks);
    report("channel 0 in mode 2 at 1 kHz interrupts through IO APIC pin 2, never more often", ok);
    serial_printf("  channel 0: %u-%u periods, %u ticks, vector 0x%x\n", fewest, most, ticks, VECTOR_PIT);
}

/* The 8259A pair as Linux's init_8259A and ArceOS program it, then masked. */
static void check_pic(void) {
    outb(PIC_MASTER_COMMAND, 0x11); /* ICW1: edge, cascade, ICW4 follows */
    outb(PIC_MASTER_DATA, 0x20);    /* ICW2: vectors 0x20-0x27 */
    outb(PIC_MASTER_DATA, 0x04);    /* ICW3: a slave on IR2 */
    outb(PIC_MASTER_DATA, 0x01);    /* ICW4: 8086 mode */
    outb(PIC_SLAVE_COMMAND, 0x11);
    outb(PIC_SLAVE_DATA, 0x28);
    outb(PIC_SLAVE_DATA, 0x02);     /* ICW3: its cascade identity */
    outb(PIC_SLAVE_DATA, 0x01);
    bool ok = expect_equal("master IMR after ICW1-4", inb(PIC_MASTER_DATA), 0x00);
    ok &= expect_equal("slave IMR after ICW1-4", inb(PIC_SLAVE_DATA), 0x00);
    outb(PIC_MASTER_DATA, 0xff);
    outb(PIC_SLAVE_DATA, 0xff);
    ok &= expect_equal("master IMR", inb(PIC_MASTER_DATA), 0xff);
    ok &= expect_equal("slave IMR", inb(PIC_SLAVE_DATA), 0xff);
    outb(PIC_MASTER_DATA, 0xfb); /* all but the cascade */
    ok &= expect_equal("master IMR 0xfb", inb(PIC_MASTER_DATA), 0xfb);
    outb(PIC_MASTER_DATA, 0xff);
    report("the 8259A pair takes ICW1-4 and keeps its masks", ok);

    outb(PIC_MASTER_COMMAND, PIC_OCW3_READ_ISR);
    ok = expect_equal("master ISR", inb(PIC_MASTER_COMMAND), 0);
    outb(PIC_MASTER_COMMAND, PIC_OCW3_READ_IRR);
    outb(PIC_SLAVE_COMMAND, PIC_OCW3_READ_ISR);
    ok &= expect_equal("slave ISR", inb(PIC_SLAVE_COMMAND), 0);
    report("OCW3 reads the in-service registers: nothing in service", ok);
}

int kmain(void) {
    idt_init();
    serial_init();
    idt_set_handler(VECTOR_SPURIOUS, spurious_handler);
    apic_enable(VECTOR_SPURIOUS);
    ioapic_mask_all();

    check_pic();
    check_calibration();
    check_latch_and_read_back();
    check_square_wave();
    check_channel0_interrupts();
    return test_summary();
}
