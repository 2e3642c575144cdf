/* The checks' bookkeeping, with the conventions of guests/lib/test.c and exit.c: a line per
 * check, a summary "N passed, M failed", then a power-off (ArceOS's own: a 16-bit write of
 * 0x2000 to port 0x604, tsvisor's ACPI PM1a control; `tsvisor run` exits 0) when nothing
 * failed, else the debug-exit port with the failure count (status (M << 1) | 1). */
#include "io.h"
#include "kernel.h"

static unsigned passed, failed;

void report(const char *name, bool ok) {
    console_printf("%s: %s\n", name, ok ? "ok" : "FAIL");
    if (ok) passed++;
    else failed++;
}

bool expect_equal(const char *what, uint64_t actual, uint64_t expected) {
    if (actual != expected) console_printf("  %s: 0x%llx, expected 0x%llx\n", what, (unsigned long long)actual, (unsigned long long)expected);
    return actual == expected;
}

static __attribute__((noreturn)) void halt_forever(void) {
    for (;;) __asm__ volatile("cli; hlt");
}

void finish(void) {
    console_printf("%u passed, %u failed\n", passed, failed);
    if (failed == 0) outw(POWER_OFF_PORT, POWER_OFF_VALUE); /* ArceOS's axplat-x86-pc power.rs */
    else outl(DEBUG_EXIT_PORT, failed);
    halt_forever(); /* not reached under tsvisor: either write ends the VM */
}

void fail_and_finish(const char *line) {
    report(line, false);
    finish();
}
