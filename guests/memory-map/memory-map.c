/* memory-map: exercises each kind of memory region (configs/memory-map-x86_64.toml):
 *   0x0        16 MiB RAM (MAP_ALLOC), where this kernel runs;
 *   0x1000000  1 MiB read-only RAM (flags R-X), holding a copy of this kernel's image;
 *   0x1100000  1 MiB MAP_IDENTICAL RAM;
 *   0x1200000  1 MiB MAP_RESERVED: no memory at all.
 * Writes to the read-only region must leave it unchanged; the reserved hole reads as all
 * ones. tsvisor reports the first access to each such page. */
#include <stdint.h>

#include "io.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define IMAGE 0x8000ULL /* this kernel, in RAM */
#define READ_ONLY 0x1000000ULL
#define IDENTICAL 0x1100000ULL
#define RESERVED 0x1200000ULL

/* A constant of this image: its copy in the read-only region sits at the same offset. */
static const char marker[] = "tsvisor read-only marker";

static int read_only_holds_image(void) {
    uint64_t copy = READ_ONLY + ((uint64_t)marker - IMAGE);
    for (uint64_t i = 0; i < sizeof marker; i++)
        if (mmio_read8(copy + i) != (uint8_t)marker[i]) return 0;
    return 1;
}

int kmain(void) {
    serial_init();

    report("read-only RAM holds the image loaded there", read_only_holds_image());
    uint64_t copy = READ_ONLY + ((uint64_t)marker - IMAGE);
    uint8_t before = mmio_read8(READ_ONLY + 0x10);
    uint64_t before64 = mmio_read64(READ_ONLY + 0x2000);
    mmio_write8(READ_ONLY + 0x10, (uint8_t)~before);
    mmio_write8(copy, 0x55);                       /* the marker's page */
    mmio_write64(READ_ONLY + 0x2000, ~before64);   /* another page: reported */
    report("writes to read-only RAM leave it unchanged",
           mmio_read8(READ_ONLY + 0x10) == before && mmio_read64(READ_ONLY + 0x2000) == before64 && read_only_holds_image());

    for (uint64_t i = 0; i < 0x1000; i += 8) mmio_write64(IDENTICAL + i, i * 0x0101010101010101ULL);
    int identical_ok = 1;
    for (uint64_t i = 0; i < 0x1000; i += 8) identical_ok &= mmio_read64(IDENTICAL + i) == i * 0x0101010101010101ULL;
    report("MAP_IDENTICAL RAM reads back what was written", identical_ok);

    uint32_t hole = mmio_read32(RESERVED);
    mmio_write32(RESERVED + 4, 0x12345678);
    report("MAP_RESERVED memory reads as all ones and drops writes", hole == 0xffffffff && mmio_read32(RESERVED + 4) == 0xffffffff);

    return test_summary();
}
