/* The memory functions gcc may emit calls to even in a freestanding build, and strcmp. */
#include "string.h"

#include <stdint.h>

void *memset(void *destination, int value, size_t length) {
    uint8_t *d = destination;
    while (length--) *d++ = (uint8_t)value;
    return destination;
}

void *memcpy(void *destination, const void *source, size_t length) {
    uint8_t *d = destination;
    const uint8_t *s = source;
    while (length--) *d++ = *s++;
    return destination;
}

int memcmp(const void *a, const void *b, size_t length) {
    const uint8_t *x = a, *y = b;
    for (; length; length--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}

int strcmp(const char *a, const char *b) {
    for (; *a && *a == *b; a++, b++) {
    }
    return (uint8_t)*a - (uint8_t)*b;
}
