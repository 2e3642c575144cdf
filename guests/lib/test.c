#include "test.h"

#include "serial.h"
#include "string.h"

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

bool expect_equal(const char *what, uint64_t actual, uint64_t expected) {
    if (actual != expected) serial_printf("  %s: 0x%llx, expected 0x%llx\n", what, (unsigned long long)actual, (unsigned long long)expected);
    return actual == expected;
}

bool expect_string(const char *what, const char *actual, const char *expected) {
    bool ok = actual && strcmp(actual, expected) == 0;
    if (!ok) serial_printf("  %s: \"%s\", expected \"%s\"\n", what, actual, expected);
    return ok;
}
