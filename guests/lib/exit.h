/* Ending the VM from a test kernel. */
#ifndef GUEST_EXIT_H
#define GUEST_EXIT_H

#include <stdint.h>

/* QEMU's isa-debug-exit: tsvisor exits with status (code << 1) | 1. */
#define DEBUG_EXIT_PORT 0xf4
/* The power-off write QEMU guests and ArceOS use (16-bit 0x2000 to port 0x604): status 0. */
#define POWER_OFF_PORT 0x604
#define POWER_OFF_VALUE 0x2000

__attribute__((noreturn)) void debug_exit(uint32_t code);
__attribute__((noreturn)) void power_off(void);
/* kmain()'s return value ends up here: 0 powers off, anything else is a debug exit. */
__attribute__((noreturn)) void guest_finish(uint32_t code);

#endif
