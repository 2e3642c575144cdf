/* triple-fault: loads an empty IDT and raises #UD. The CPU cannot deliver the exception,
 * nor the #DF that follows, and shuts down (a triple fault): tsvisor must stop the VM,
 * print a register dump and exit non-zero. */
#include <stdint.h>

#include "kernel.h"
#include "serial.h"

int kmain(void) {
    serial_init();
    serial_puts("about to triple fault\n");
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty_idt = {0, 0};
    __asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
    return 1; /* not reached */
}
