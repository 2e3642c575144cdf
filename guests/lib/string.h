/* The C library's memory and string functions a test kernel uses (string.c): gcc may emit
 * calls to the first three even in a freestanding build. This header takes the place of
 * <string.h>, which a freestanding build cannot count on. */
#ifndef GUEST_STRING_H
#define GUEST_STRING_H

#include <stddef.h>

void *memset(void *destination, int value, size_t length);
void *memcpy(void *destination, const void *source, size_t length);
int memcmp(const void *a, const void *b, size_t length);
int strcmp(const char *a, const char *b);

#endif
