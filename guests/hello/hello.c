/* hello: the first guest. Prints one line over COM1 and ends through the debug-exit port
 * with a chosen code, so tsvisor exits with (21 << 1) | 1 = 43. */
#include "exit.h"
#include "kernel.h"
#include "serial.h"

#define HELLO_EXIT_CODE 21

int kmain(void) {
    serial_init();
    serial_puts("Hello from tsvisor guest\n");
    debug_exit(HELLO_EXIT_CODE);
}
