/* flood: prints numbered 64-byte lines on COM1 (1024 of them, 64 KiB; fw_cfg's opt/flood/lines,
 * a decimal string, asks for more: npm run soak floods so), then ends through the debug-exit port, so that a test can stop reading tsvisor's output and see the guest held
 * back, not tsvisor (test/guests/flood.test.ts). Line n is "flood <n, six digits> " and 50
 * letters starting at 'a' + n % 26, then "\n": a lost, doubled or reordered byte shows.
 *
 * Both halves fill the 16-byte transmit FIFO with one rep outsb (one exit) whenever THR is
 * empty, as a FIFO-aware driver does (the data sheet allows 1 to 16 characters then). The
 * first half learns that THR is empty from the THR-empty interrupt, through the IO APIC's
 * pin 4, and sleeps in hlt in between, as an interrupt-driven driver (Linux's 8250) does; the
 * second polls LSR for it. While the host's output is full, tsvisor holds the transmitter
 * busy: the first half sleeps until THR-empty comes back once the host has drained, the
 * second spins on LSR. */
#include <stdbool.h>
#include <stdint.h>

#include "apic.h"
#include "exit.h"
#include "fw_cfg.h"
#include "idt.h"
#include "io.h"
#include "ioapic.h"
#include "kernel.h"
#include "serial.h"

#define FLOOD_LINES 1024 /* unless opt/flood/lines says otherwise */
#define LINE_BYTES 64
#define PREFIX_BYTES 13 /* "flood 000000 " */
#define FLOOD_EXIT_CODE 0x2a /* tsvisor exits with (0x2a << 1) | 1 = 85 */

#define VECTOR_THR_EMPTY 0x44
#define VECTOR_SPURIOUS 0xff
#define BSP_APIC_ID 0

#define UART_FIFO_BYTES 16
#define IER_THRE 0x02
#define IIR_ID_MASK 0x0f
#define IIR_THRE 0x02

static char line[LINE_BYTES];
static unsigned lines = FLOOD_LINES;

static void format_line(unsigned n) {
    const char *prefix = "flood ";
    for (unsigned i = 0; i < 6; i++) line[i] = prefix[i];
    for (unsigned i = 0, value = n % 1000000; i < 6; i++, value /= 10) line[11 - i] = (char)('0' + value % 10);
    line[12] = ' ';
    for (unsigned i = PREFIX_BYTES; i < LINE_BYTES - 1; i++) line[i] = (char)('a' + (n + i - PREFIX_BYTES) % 26);
    line[LINE_BYTES - 1] = '\n';
}

/* The interrupt-driven half: the line being sent, how much of it is out, and whether the half is done. */
static volatile unsigned irq_line;
static volatile unsigned irq_sent;
static volatile bool irq_done;

static void thr_empty_handler(struct interrupt_frame *frame) {
    (void)frame;
    /* Reading IIR while it reports THR empty clears that interrupt; the FIFO is then empty. */
    if ((inb(COM1 + UART_IIR) & IIR_ID_MASK) == IIR_THRE && !irq_done) {
        unsigned room = UART_FIFO_BYTES;
        while (room > 0 && !irq_done) {
            unsigned count = LINE_BYTES - irq_sent < room ? LINE_BYTES - irq_sent : room;
            outsb(COM1 + UART_THR, line + irq_sent, count);
            room -= count;
            irq_sent += count;
            if (irq_sent == LINE_BYTES) {
                irq_sent = 0;
                if (++irq_line == lines / 2) irq_done = true;
                else format_line(irq_line);
            }
        }
        if (irq_done) outb(COM1 + UART_IER, 0);
    }
    apic_eoi();
}

/* The polled half: waits for THR empty, then loads up to a FIFO's worth. */
static void send_polled(const char *bytes, unsigned count) {
    while (count > 0) {
        while (!(inb(COM1 + UART_LSR) & LSR_THR_EMPTY)) cpu_relax();
        unsigned chunk = count < UART_FIFO_BYTES ? count : UART_FIFO_BYTES;
        outsb(COM1 + UART_THR, bytes, chunk);
        bytes += chunk;
        count -= chunk;
    }
}

static void spurious_handler(struct interrupt_frame *frame) {
    (void)frame; /* no EOI for the spurious vector (SDM 10.9) */
}

/* The line count fw_cfg asks for, or FLOOD_LINES. */
static unsigned line_count(void) {
    struct fw_cfg_file file;
    if (!fw_cfg_present() || !fw_cfg_find_file("opt/flood/lines", &file)) return FLOOD_LINES;
    char text[16] = {0};
    fw_cfg_select(file.select);
    fw_cfg_read(text, file.size < sizeof(text) - 1 ? file.size : sizeof(text) - 1);
    unsigned count = 0;
    for (char *c = text; *c >= '0' && *c <= '9'; c++) count = count * 10 + (unsigned)(*c - '0');
    return count >= 2 ? count : FLOOD_LINES;
}

int kmain(void) {
    idt_init();
    serial_init(); /* FIFOs on; MCR.OUT2 gates the UART's interrupt onto the bus, as on a PC */
    lines = line_count();
    idt_set_handler(VECTOR_THR_EMPTY, thr_empty_handler);
    idt_set_handler(VECTOR_SPURIOUS, spurious_handler);
    apic_enable(VECTOR_SPURIOUS);

    format_line(0);
    ioapic_route(IOAPIC_PIN_COM1, VECTOR_THR_EMPTY, BSP_APIC_ID, 0);
    outb(COM1 + UART_IER, IER_THRE); /* THR is empty: the first interrupt comes at once */
    while (!irq_done) __asm__ volatile("sti; hlt; cli" ::: "memory");
    ioapic_set_masked(IOAPIC_PIN_COM1, 1);

    for (unsigned n = lines / 2; n < lines; n++) {
        format_line(n);
        send_polled(line, LINE_BYTES);
    }
    debug_exit(FLOOD_EXIT_CODE);
}
