/* echo: reads one line from COM1 (polling LSR.DR) and prints it back, then powers off.
 * Shows that host input reaches the guest's UART. */
#include "kernel.h"
#include "serial.h"

#define LINE_MAX 80

int kmain(void) {
    char line[LINE_MAX + 1];
    int length = 0;
    serial_init();
    serial_puts("echo> ");
    for (;;) {
        int c = serial_getc();
        if (c == '\n' || c == '\r' || length == LINE_MAX) break;
        line[length++] = (char)c;
    }
    line[length] = 0;
    serial_printf("you typed: %s\n", line);
    return 0;
}
