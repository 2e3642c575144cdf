/* A tiny test harness for test kernels: report each check, then a summary line
 * "N passed, M failed" whose failure count becomes the kernel's exit code (0 powers
 * off; otherwise the debug-exit status (M << 1) | 1 can never read as success). */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include <stdbool.h>

void report(const char *name, bool ok);
int test_summary(void); /* prints the summary and returns the failure count */

#endif
