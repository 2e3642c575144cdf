#include "test.h"

#include "serial.h"

static unsigned passed, failed;

void report(const char *name, bool ok) {
    serial_printf("%s: %s\n", name, ok ? "ok" : "FAIL");
    if (ok) passed++;
    else failed++;
}

int test_summary(void) {
    serial_printf("%u passed, %u failed\n", passed, failed);
    return (int)failed;
}
