/* ioapic: the IO APIC (Intel 82093AA) at 0xfec00000, with COM1 on pin 4 as its interrupt
 * source. Checks the identification registers, the redirection table's reset state and
 * read/write behaviour, then delivers COM1's interrupts through it: THR-empty edges (and an
 * edge raised while the pin is masked), THR-empty as a level interrupt with Remote IRR and
 * EOI, the same level interrupt asserted while the Local APIC is software-disabled and
 * delivered once it is enabled, and received-data interrupts for the bytes the host feeds to
 * COM1 ("ping\n" from the test). Every wait is bounded with the TSC: a missing interrupt is a FAIL line, not a hang.
 * Passing lines hold no measured figures. */
#include <stdint.h>

#include "apic.h"
#include "idt.h"
#include "io.h"
#include "ioapic.h"
#include "kernel.h"
#include "serial.h"
#include "string.h"
#include "test.h"

#define VECTOR_HEARTBEAT 0x30 /* the LAPIC timer: wakes hlt so that waits end */
#define VECTOR_EDGE      0x44 /* COM1 THR-empty, edge */
#define VECTOR_LEVEL     0x45 /* COM1 THR-empty, level */
#define VECTOR_RX        0x46 /* COM1 received data, edge */
#define VECTOR_ARMED     0x47 /* COM1 THR-empty, level, asserted before the APIC is enabled */
#define VECTOR_SPURIOUS  0xff

#define BSP_APIC_ID 0
#define EXPECTED_VERSION 0x00170011u /* max redirection entry 23, version 0x11 */

/* 16550 bits the shared serial.h does not name. */
#define IER_RDA  0x01
#define IER_THRE 0x02
#define IIR_ID_MASK 0x0f
#define IIR_THRE 0x02

#define MS 1000000ULL /* ns */

/* ---- what the handlers saw ---- */

static volatile unsigned edge_count;
static volatile uint8_t edge_iir;

static volatile unsigned level_count;
static volatile unsigned level_quiet_at; /* the invocation that quiets the UART */
static volatile unsigned level_irr_seen; /* invocations that read Remote IRR set */

#define RX_MAX 32
static volatile char rx_text[RX_MAX + 1];
static volatile unsigned rx_length;
static volatile unsigned rx_interrupts;
static volatile bool rx_line_done;

static volatile unsigned armed_count;

static volatile unsigned heartbeats;

static void heartbeat_handler(struct interrupt_frame *frame) {
    (void)frame;
    heartbeats++;
    apic_eoi();
}

static void spurious_handler(struct interrupt_frame *frame) {
    (void)frame; /* no EOI for the spurious vector (SDM 10.9) */
}

/* Edge THR-empty: reading IIR while it reports THR empty clears that source, and so the line. */
static void edge_handler(struct interrupt_frame *frame) {
    (void)frame;
    edge_iir = inb(COM1 + UART_IIR);
    edge_count++;
    apic_eoi();
}

/* Level THR-empty: Remote IRR must be set while the interrupt is in service. The UART stays
 * asserted (IER keeps THRE and IIR is not read) until invocation `level_quiet_at`, so until
 * then every EOI must bring the interrupt back. */
static void level_handler(struct interrupt_frame *frame) {
    (void)frame;
    unsigned n = ++level_count;
    if (ioapic_read_entry(IOAPIC_PIN_COM1) & IOAPIC_REMOTE_IRR) level_irr_seen++;
    if (n >= level_quiet_at) outb(COM1 + UART_IER, 0);
    apic_eoi();
}

/* The level interrupt asserted while the APIC was disabled: quiet the UART, then EOI, so that
 * the pin is deasserted by the time the EOI clears Remote IRR and nothing comes back. */
static void armed_handler(struct interrupt_frame *frame) {
    (void)frame;
    armed_count++;
    outb(COM1 + UART_IER, 0);
    apic_eoi();
}

static void rx_handler(struct interrupt_frame *frame) {
    (void)frame;
    rx_interrupts++;
    while (inb(COM1 + UART_LSR) & LSR_DATA_READY) {
        char c = (char)inb(COM1 + UART_RBR);
        if (c == '\n' || c == '\r') rx_line_done = true;
        else if (!rx_line_done && rx_length < RX_MAX) rx_text[rx_length++] = c;
    }
    apic_eoi();
}

/* ---- waits ---- */

/* Spins with interrupts enabled until *counter reaches `target` or `timeout_ns` pass. */
static bool spin_until(volatile unsigned *counter, unsigned target, uint64_t timeout_ns) {
    uint64_t end = rdtsc() + tsc_from_ns(timeout_ns);
    local_irq_enable();
    while (*counter < target && rdtsc() < end) cpu_relax();
    local_irq_disable();
    return *counter >= target;
}

/* Lets interrupts in for `ns` nanoseconds. */
static void settle(uint64_t ns) {
    uint64_t end = rdtsc() + tsc_from_ns(ns);
    local_irq_enable();
    while (rdtsc() < end) cpu_relax();
    local_irq_disable();
}

/* ---- the register checks ---- */

static void check_reset_masks(void) {
    bool ok = true;
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t entry = ioapic_read_entry(pin);
        if (!(entry & IOAPIC_MASKED)) {
            serial_printf("  pin %u: entry 0x%llx, mask bit clear\n", pin, (unsigned long long)entry);
            ok = false;
        }
    }
    report("every redirection entry masked at reset", ok);
}

static void check_version(void) {
    bool ok = expect_equal("IOAPICVER", ioapic_read(IOAPIC_VER), EXPECTED_VERSION);
    ioapic_write(IOAPIC_VER, 0);
    ok &= expect_equal("IOAPICVER after writing 0 (read-only)", ioapic_read(IOAPIC_VER), EXPECTED_VERSION);
    report("IO APIC version register", ok);
}

static void check_id_and_arbitration(void) {
    uint32_t original = ioapic_read(IOAPIC_ID);
    bool ok = expect_equal("IOAPICID reserved bits at start", original & ~IOAPIC_ID_MASK, 0);
    ioapic_write(IOAPIC_ID, 0x0a000000);
    ok &= expect_equal("IOAPICID after writing 0x0a000000", ioapic_read(IOAPIC_ID), 0x0a000000);
    ioapic_write(IOAPIC_ID, 0xffffffff);
    ok &= expect_equal("IOAPICID after writing 0xffffffff (bits 27:24 only)", ioapic_read(IOAPIC_ID), 0x0f000000);
    report("IO APIC ID register", ok);

    /* 82093AA 3.2.3: the arbitration ID is loaded from the ID when the ID is written, and
     * IOAPICARB itself is read-only. */
    ioapic_write(IOAPIC_ID, 0x05000000);
    ok = expect_equal("IOAPICARB after writing ID 5", ioapic_read(IOAPIC_ARB), 0x05000000);
    ioapic_write(IOAPIC_ARB, 0x0c000000);
    ok &= expect_equal("IOAPICARB after writing it (read-only)", ioapic_read(IOAPIC_ARB), 0x05000000);
    ok &= expect_equal("IOAPICID after writing IOAPICARB", ioapic_read(IOAPIC_ID), 0x05000000);
    report("IO APIC arbitration register", ok);
    ioapic_write(IOAPIC_ID, original);
}

/* Two patterns over every entry, each with every writable field set one way or the other
 * and both read-only bits (delivery status, Remote IRR) written as 1: they must read back 0,
 * nothing being in flight. The mask bit stays set, so that nothing is delivered. */
static void check_entry_read_write(void) {
    bool ok = true;
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
            uint64_t fields = pass == 0 ? IOAPIC_VECTOR(0x20 + pin) | IOAPIC_DELIVERY_LOWEST | IOAPIC_DEST_LOGICAL |
                                              IOAPIC_ACTIVE_LOW | IOAPIC_LEVEL | IOAPIC_DESTINATION(0xa0 + pin)
                                        : IOAPIC_VECTOR(0xf0 - pin) | IOAPIC_DELIVERY_FIXED | IOAPIC_DESTINATION(pin);
            fields |= IOAPIC_MASKED;
            ioapic_write_entry(pin, fields | IOAPIC_READ_ONLY_BITS);
            uint64_t back = ioapic_read_entry(pin);
            if (back != fields) {
                serial_printf("  pin %u: wrote 0x%llx, read 0x%llx, expected 0x%llx\n", pin,
                              (unsigned long long)(fields | IOAPIC_READ_ONLY_BITS), (unsigned long long)back,
                              (unsigned long long)fields);
                ok = false;
            }
        }
    }
    /* The halves separately: the high half's write leaves the low half alone and back. */
    ioapic_write_entry(7, IOAPIC_MASKED | IOAPIC_VECTOR(0x77));
    ioapic_write(IOAPIC_REDTBL(7) + 1, 0x3c000000);
    ok &= expect_equal("pin 7 after writing its high half", ioapic_read_entry(7),
                       IOAPIC_MASKED | IOAPIC_VECTOR(0x77) | IOAPIC_DESTINATION(0x3c));
    ioapic_write(IOAPIC_REDTBL(7), (uint32_t)(IOAPIC_MASKED | IOAPIC_VECTOR(0x78)));
    ok &= expect_equal("pin 7 after writing its low half", ioapic_read_entry(7),
                       IOAPIC_MASKED | IOAPIC_VECTOR(0x78) | IOAPIC_DESTINATION(0x3c));
    report("redirection entries read back, read-only bits unchanged", ok);
    ioapic_mask_all();
}

/* ---- COM1 interrupts ---- */

static void check_edge(void) {
    /* (a) Unmasked: enabling THRE raises the line at once (transmission is instantaneous). */
    ioapic_route(IOAPIC_PIN_COM1, VECTOR_EDGE, BSP_APIC_ID, 0);
    outb(COM1 + UART_IER, IER_THRE);
    bool arrived = spin_until(&edge_count, 1, 200 * MS);
    settle(10 * MS);
    outb(COM1 + UART_IER, 0);
    bool ok = expect_equal("THR-empty interrupt arrived", arrived, 1);
    ok &= expect_equal("interrupts", edge_count, 1);
    ok &= expect_equal("IIR in the handler (bits 3:0)", edge_iir & IIR_ID_MASK, IIR_THRE);
    report("edge: THR-empty interrupt delivered once", ok);

    /* Masked: the edge is not delivered... */
    edge_count = 0;
    edge_iir = 0;
    ioapic_set_masked(IOAPIC_PIN_COM1, 1);
    outb(COM1 + UART_IER, IER_THRE);
    settle(20 * MS);
    report("edge: masked edge not delivered", expect_equal("interrupts while masked", edge_count, 0));

    /* ...until the entry is unmasked, once (tsvisor latches it; the guest contract). */
    ioapic_set_masked(IOAPIC_PIN_COM1, 0);
    arrived = spin_until(&edge_count, 1, 200 * MS);
    settle(10 * MS);
    outb(COM1 + UART_IER, 0);
    ok = expect_equal("interrupt after unmasking arrived", arrived, 1);
    ok &= expect_equal("interrupts", edge_count, 1);
    ok &= expect_equal("IIR in the handler (bits 3:0)", edge_iir & IIR_ID_MASK, IIR_THRE);
    report("edge: latched edge delivered once on unmask", ok);
    ioapic_set_masked(IOAPIC_PIN_COM1, 1);
}

static void check_level(void) {
    /* (b) Level-triggered, the handler quiets the UART before its EOI: one interrupt, Remote
     * IRR set while in service and clear after the EOI. */
    ioapic_route(IOAPIC_PIN_COM1, VECTOR_LEVEL, BSP_APIC_ID, IOAPIC_LEVEL);
    level_quiet_at = 1;
    outb(COM1 + UART_IER, IER_THRE);
    bool arrived = spin_until(&level_count, 1, 200 * MS);
    settle(10 * MS);
    bool ok = expect_equal("level interrupt arrived", arrived, 1);
    ok &= expect_equal("handler invocations that read Remote IRR set", level_irr_seen, 1);
    report("level: Remote IRR set in the handler", ok);
    ok = expect_equal("interrupts", level_count, 1);
    ok &= expect_equal("Remote IRR after the EOI", (ioapic_read_entry(IOAPIC_PIN_COM1) & IOAPIC_REMOTE_IRR) != 0, 0);
    report("level: one interrupt, Remote IRR clear after EOI", ok);

    /* The handler leaves the UART asserted twice: each EOI must bring the interrupt back,
     * and the third invocation quiets it. */
    level_count = 0;
    level_irr_seen = 0;
    level_quiet_at = 3;
    outb(COM1 + UART_IER, IER_THRE);
    arrived = spin_until(&level_count, 3, 200 * MS);
    settle(10 * MS);
    outb(COM1 + UART_IER, 0); /* in case the handler never got to quiet it */
    ok = expect_equal("third level interrupt arrived", arrived, 1);
    ok &= expect_equal("interrupts", level_count, 3);
    ok &= expect_equal("handler invocations that read Remote IRR set", level_irr_seen, 3);
    ok &= expect_equal("Remote IRR after the last EOI", (ioapic_read_entry(IOAPIC_PIN_COM1) & IOAPIC_REMOTE_IRR) != 0, 0);
    report("level: still-asserted line delivered again after each EOI", ok);
    ioapic_set_masked(IOAPIC_PIN_COM1, 1);
}

/* A level pin asserted before the Local APIC is enabled. Software-disabled (SVR bit 8 clear),
 * the APIC accepts no fixed interrupt (SDM 10.4.7.2), so the IO APIC's message finds nobody
 * and Remote IRR, which is set when a Local APIC accepts the message (82093AA 3.2.4 bit 14),
 * stays clear. Once the APIC is enabled the still-asserted pin must be delivered, once.
 * Nothing is printed while the UART holds the pin asserted: a write to THR would drop and
 * raise it again, which is another way to have it sent. */
static void check_level_armed_before_apic_enable(void) {
    apic_write(APIC_SVR, VECTOR_SPURIOUS); /* software-disable */
    ioapic_route(IOAPIC_PIN_COM1, VECTOR_ARMED, BSP_APIC_ID, IOAPIC_LEVEL);
    outb(COM1 + UART_IER, IER_THRE); /* asserts pin 4 at once, and keeps it asserted */
    settle(20 * MS);
    unsigned while_disabled = armed_count;
    bool irr_while_disabled = (ioapic_read_entry(IOAPIC_PIN_COM1) & IOAPIC_REMOTE_IRR) != 0;

    apic_enable(VECTOR_SPURIOUS);
    bool arrived = spin_until(&armed_count, 1, 200 * MS);
    settle(10 * MS);
    outb(COM1 + UART_IER, 0); /* in case the handler never ran */
    ioapic_set_masked(IOAPIC_PIN_COM1, 1);

    bool ok = expect_equal("interrupts while the APIC is disabled", while_disabled, 0);
    ok &= expect_equal("Remote IRR while the APIC is disabled", irr_while_disabled, 0);
    report("level armed before APIC enable: nothing accepted, Remote IRR clear", ok);
    ok = expect_equal("interrupt after enabling the APIC arrived", arrived, 1);
    ok &= expect_equal("interrupts", armed_count, 1);
    ok &= expect_equal("Remote IRR after the EOI", (ioapic_read_entry(IOAPIC_PIN_COM1) & IOAPIC_REMOTE_IRR) != 0, 0);
    report("level armed before APIC enable: delivered once it is enabled", ok);
}

/* The LAPIC timer, periodic every 10 ms: something to end each hlt with. */
static void heartbeat_start(void) {
    apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_1);
    apic_write(APIC_LVT_TIMER, APIC_TIMER_PERIODIC | VECTOR_HEARTBEAT);
    apic_write(APIC_TIMER_INITIAL, 10000000); /* 10 ms at the 1 GHz timer clock */
}

static void heartbeat_stop(void) {
    apic_write(APIC_TIMER_INITIAL, 0);
    apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED | VECTOR_HEARTBEAT);
}

static void check_received_data(void) {
    /* (c) The test sends "ping\n" once it sees the prompt; the kernel sleeps in hlt until the
     * handler has read the whole line, or 5 s have passed. */
    ioapic_route(IOAPIC_PIN_COM1, VECTOR_RX, BSP_APIC_ID, 0);
    heartbeat_start();
    serial_puts("waiting for a line on COM1\n");
    outb(COM1 + UART_IER, IER_RDA);
    uint64_t end = rdtsc() + tsc_from_ns(5000 * MS);
    while (!rx_line_done && rdtsc() < end) __asm__ volatile("sti; hlt; cli" ::: "memory");
    outb(COM1 + UART_IER, 0);
    heartbeat_stop();
    ioapic_set_masked(IOAPIC_PIN_COM1, 1);

    char text[RX_MAX + 1];
    unsigned length = rx_length;
    for (unsigned i = 0; i < length; i++) {
        char c = rx_text[i];
        text[i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    text[length] = 0;
    serial_printf("received: %s\n", text);
    bool ok = expect_equal("a whole line arrived", rx_line_done, 1);
    ok &= expect_string("text", text, "ping");
    ok &= expect_equal("received-data interrupts > 0", rx_interrupts > 0, 1);
    report("received-data interrupts", ok);
}

int kmain(void) {
    idt_init();
    serial_init(); /* MCR = DTR | RTS | OUT2: OUT2 gates the UART's IRQ onto the bus on a PC */
    idt_set_handler(VECTOR_HEARTBEAT, heartbeat_handler);
    idt_set_handler(VECTOR_EDGE, edge_handler);
    idt_set_handler(VECTOR_LEVEL, level_handler);
    idt_set_handler(VECTOR_RX, rx_handler);
    idt_set_handler(VECTOR_ARMED, armed_handler);
    idt_set_handler(VECTOR_SPURIOUS, spurious_handler);
    apic_enable(VECTOR_SPURIOUS);

    check_reset_masks();
    check_version();
    check_id_and_arbitration();
    check_entry_read_write();
    check_edge();
    check_level();
    check_level_armed_before_apic_enable();
    check_received_data();
    return test_summary();
}
