/* unassigned: a guest that touches I/O ports and MMIO addresses where no device lives,
 * with every access size and with string I/O, and expects an unassigned bus: reads
 * return all ones, writes vanish, and the guest carries on. It also runs string I/O
 * against a real device (the UART in loopback) in both directions. */
#include <stdint.h>

#include "io.h"
#include "kernel.h"
#include "serial.h"
#include "test.h"

#define POST_PORT 0x80          /* the PC's POST-code port: no device in tsvisor */
#define COM2 0x2f8              /* no second UART */
#define UNASSIGNED_PORT 0x1234
#define UNASSIGNED_MMIO 0xd0000000ULL /* above the 16 MiB of RAM, inside the 4 GiB identity map */

static int all_bytes_are(const void *buffer, uint32_t length, uint8_t value) {
    const uint8_t *bytes = buffer;
    for (uint32_t i = 0; i < length; i++)
        if (bytes[i] != value) return 0;
    return 1;
}

int kmain(void) {
    serial_init();

    outb(POST_PORT, 0x12);
    outw(UNASSIGNED_PORT, 0xbeef);
    outl(UNASSIGNED_PORT + 4, 0xdeadbeef);
    report("out8/out16/out32 to unassigned ports", 1);
    report("in8 from an unassigned port reads 0xff", inb(COM2) == 0xff);
    report("in16 from an unassigned port reads 0xffff", inw(UNASSIGNED_PORT) == 0xffff);
    report("in32 from an unassigned port reads 0xffffffff", inl(UNASSIGNED_PORT + 4) == 0xffffffff);

    uint8_t bytes[16] = {0};
    uint16_t words[8] = {0};
    uint32_t longs[4] = {0};
    insb(UNASSIGNED_PORT, bytes, 16);
    insw(UNASSIGNED_PORT, words, 8);
    insl(UNASSIGNED_PORT, longs, 4);
    report("rep insb/insw/insl from an unassigned port read all ones",
           all_bytes_are(bytes, sizeof bytes, 0xff) && all_bytes_are(words, sizeof words, 0xff) &&
               all_bytes_are(longs, sizeof longs, 0xff));
    outsb(UNASSIGNED_PORT, "discarded", 9);
    report("rep outsb to an unassigned port", 1);

    mmio_write8(UNASSIGNED_MMIO, 0x11);
    mmio_write16(UNASSIGNED_MMIO + 2, 0x2222);
    mmio_write32(UNASSIGNED_MMIO + 4, 0x33333333);
    mmio_write64(UNASSIGNED_MMIO + 8, 0x4444444444444444ULL);
    report("MMIO writes of 1, 2, 4 and 8 bytes to an unassigned address", 1);
    report("MMIO reads of 1, 2, 4 and 8 bytes from an unassigned address read all ones",
           mmio_read8(UNASSIGNED_MMIO) == 0xff && mmio_read16(UNASSIGNED_MMIO + 2) == 0xffff &&
               mmio_read32(UNASSIGNED_MMIO + 4) == 0xffffffff && mmio_read64(UNASSIGNED_MMIO + 8) == ~0ULL);

    /* The UART in loopback mode feeds its transmitter into its own receive FIFO. */
    uint8_t echoed[4] = {0};
    outb(COM1 + UART_MCR, MCR_LOOPBACK);
    outsb(COM1 + UART_THR, "loop", 4);
    insb(COM1 + UART_RBR, echoed, 4);
    outb(COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
    report("rep outsb then rep insb through the UART in loopback", echoed[0] == 'l' && echoed[1] == 'o' &&
                                                                       echoed[2] == 'o' && echoed[3] == 'p');
    /* The FIFO takes 16 bytes at once when THR is empty. */
    outsb(COM1 + UART_THR, "rep outsb works\n", 16);

    return test_summary();
}
