/* The console: COM1 as ArceOS drives it (axplat-x86-pc console.rs over the uart_16550
 * crate's SerialPort): its init sequence, then every byte written once the Line Status
 * Register says the transmit holding register is empty (LSR bit 5), polled. All of this
 * kernel's output goes through here. Port I/O has no addresses to alias: in/out reach the
 * same ports from the high half as from anywhere. */
#include <stdarg.h>

#include "io.h"
#include "kernel.h"

/* 16550A registers (offsets from COM1) and the bits used here. */
#define UART_THR 0 /* DLL while LCR.DLAB = 1 */
#define UART_IER 1 /* DLM while LCR.DLAB = 1 */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THR_EMPTY 0x20

static bool initialised;

/* uart_16550's SerialPort::init (the crate ArceOS's console uses): interrupts off; DLAB on;
 * divisor 3 (38400 baud); 8 data bits, no parity, one stop bit, DLAB off; FIFOs on and
 * cleared with a 14-byte receive trigger (0xc7); DTR, RTS and OUT2 (0x0b); then the
 * received-data interrupt on (IER = 0x01), which nothing here routes anywhere (the IO APIC's
 * pins are masked and the 8259A pair is masked later). */
void console_init(void) {
    outb(COM1_PORT + UART_IER, 0x00);
    outb(COM1_PORT + UART_LCR, 0x80);
    outb(COM1_PORT + UART_THR, 0x03); /* DLL */
    outb(COM1_PORT + UART_IER, 0x00); /* DLM */
    outb(COM1_PORT + UART_LCR, 0x03);
    outb(COM1_PORT + UART_FCR, 0xc7);
    outb(COM1_PORT + UART_MCR, 0x0b);
    outb(COM1_PORT + UART_IER, 0x01);
    initialised = true;
}

bool console_ready(void) { return initialised; }

void console_putc(char c) {
    while (!(inb(COM1_PORT + UART_LSR) & LSR_THR_EMPTY)) {
    }
    outb(COM1_PORT + UART_THR, (uint8_t)c);
}

void console_puts(const char *s) {
    while (*s) console_putc(*s++);
}

static void put_unsigned(uint64_t value, unsigned base, int width, char pad) {
    char digits[24];
    int n = 0;
    do {
        unsigned digit = (unsigned)(value % base);
        digits[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value);
    while (width-- > n) console_putc(pad);
    while (n) console_putc(digits[--n]);
}

void console_printf(const char *format, ...) {
    va_list args;
    va_start(args, format);
    for (const char *p = format; *p; p++) {
        if (*p != '%') {
            console_putc(*p);
            continue;
        }
        p++;
        char pad = ' ';
        if (*p == '0') {
            pad = '0';
            p++;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        int longs = 0;
        while (*p == 'l') {
            longs++;
            p++;
        }
        switch (*p) {
        case 's':
            console_puts(va_arg(args, const char *));
            break;
        case 'c':
            console_putc((char)va_arg(args, int));
            break;
        case 'u':
            put_unsigned(longs ? va_arg(args, uint64_t) : va_arg(args, unsigned), 10, width, pad);
            break;
        case 'x':
            put_unsigned(longs ? va_arg(args, uint64_t) : va_arg(args, unsigned), 16, width, pad);
            break;
        case '%':
            console_putc('%');
            break;
        default:
            console_putc('%');
            if (!*p) p--;
            else console_putc(*p);
            break;
        }
    }
    va_end(args);
}
