/* The COM1 16550 UART at I/O port 0x3f8, polled (no interrupts). */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

#include <stdarg.h>
#include <stdint.h>

#define COM1 0x3f8
/* Register offsets from the 16550A data sheet. */
#define UART_RBR 0 /* receive buffer (read, DLAB = 0) */
#define UART_THR 0 /* transmit holding (write, DLAB = 0) */
#define UART_DLL 0 /* divisor latch low (DLAB = 1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor latch high (DLAB = 1) */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_AND_CLEAR 0x07
#define MCR_DTR_RTS_OUT2 0x0b
#define MCR_LOOPBACK 0x10
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
int serial_getc(void); /* waits for a byte */
void serial_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
void serial_vprintf(const char *format, va_list args);

#endif
