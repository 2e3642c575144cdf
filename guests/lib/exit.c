#include "exit.h"

#include "io.h"
#include "serial.h"

static __attribute__((noreturn)) void halt_forever(void) {
    for (;;) __asm__ volatile("cli; hlt");
}

void debug_exit(uint32_t code) {
    outl(DEBUG_EXIT_PORT, code);
    halt_forever(); /* not reached under tsvisor: the write ends the VM */
}

void power_off(void) {
    outw(POWER_OFF_PORT, POWER_OFF_VALUE);
    halt_forever();
}

void guest_finish(uint32_t code) {
    if (code == 0) power_off();
    debug_exit(code);
}
