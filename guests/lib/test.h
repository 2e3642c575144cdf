/* A tiny test harness for test kernels: report each check, then a summary line
 * "N passed, M failed" whose failure count becomes the kernel's exit code (0 powers
 * off; otherwise the debug-exit status (M << 1) | 1 can never read as success). */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include <stdbool.h>
#include <stdint.h>

void report(const char *name, bool ok);
int test_summary(void); /* prints the summary and returns the failure count */

/* One comparison inside a check: true when actual == expected; otherwise prints
 * "  <what>: 0x<actual>, expected 0x<expected>" (before the check's FAIL line), so that a
 * FAIL comes with its reason. Combine with &= rather than &&, so that every mismatch shows. */
bool expect_equal(const char *what, uint64_t actual, uint64_t expected);
/* The same for strings; a NULL `actual` (a string that is not there) never matches. */
bool expect_string(const char *what, const char *actual, const char *expected);

#endif
