#include "serial.h"

#include "io.h"

/* 115200 baud (divisor 1 from the 1.8432 MHz clock), 8 data bits, no parity, one stop
 * bit, FIFOs on: what firmware leaves behind on a PC. */
void serial_init(void) {
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1);
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE_AND_CLEAR);
    outb(COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
}

void serial_putc(char c) {
    while (!(inb(COM1 + UART_LSR) & LSR_THR_EMPTY)) {
    }
    outb(COM1 + UART_THR, (uint8_t)c);
}

void serial_puts(const char *s) {
    while (*s) serial_putc(*s++);
}

int serial_getc(void) {
    while (!(inb(COM1 + UART_LSR) & LSR_DATA_READY)) {
    }
    return inb(COM1 + UART_RBR);
}

static void put_unsigned(uint64_t value, unsigned base, int width, char pad) {
    char digits[24];
    int n = 0;
    do {
        unsigned digit = value % base;
        digits[n++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value);
    while (width-- > n) serial_putc(pad);
    while (n) serial_putc(digits[--n]);
}

/* A small printf: %s %c %d %i %u %x %p %%, with an optional 0 flag, a width and the l/ll
 * length modifiers. */
void serial_vprintf(const char *format, va_list args) {
    for (const char *p = format; *p; p++) {
        if (*p != '%') {
            serial_putc(*p);
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
        case 's': {
            const char *s = va_arg(args, const char *);
            serial_puts(s ? s : "(null)");
            break;
        }
        case 'c':
            serial_putc((char)va_arg(args, int));
            break;
        case 'd':
        case 'i': {
            int64_t value = longs ? va_arg(args, int64_t) : va_arg(args, int);
            if (value < 0) {
                serial_putc('-');
                value = -value;
            }
            put_unsigned((uint64_t)value, 10, width, pad);
            break;
        }
        case 'u':
            put_unsigned(longs ? va_arg(args, uint64_t) : va_arg(args, unsigned), 10, width, pad);
            break;
        case 'x':
            put_unsigned(longs ? va_arg(args, uint64_t) : va_arg(args, unsigned), 16, width, pad);
            break;
        case 'p':
            serial_puts("0x");
            put_unsigned((uint64_t)va_arg(args, void *), 16, 0, ' ');
            break;
        case '%':
            serial_putc('%');
            break;
        default:
            serial_putc('%');
            if (*p) serial_putc(*p);
            else p--;
            break;
        }
    }
}

void serial_printf(const char *format, ...) {
    va_list args;
    va_start(args, format);
    serial_vprintf(format, args);
    va_end(args);
}
