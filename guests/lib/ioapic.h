/* The IO APIC (Intel 82093AA I/O Advanced Programmable Interrupt Controller data sheet):
 * two memory-mapped registers, IOREGSEL at offset 0x00 and IOWIN at 0x10, through which the
 * indirect registers are read and written (3.1 "Memory Mapped Registers for Accessing IOAPIC
 * Registers", 3.2 "IOAPIC Registers"). tsvisor puts it at 0xfec00000 when the config lists
 * it, with 24 redirection entries, COM1 on pin 4. */
#ifndef GUEST_IOAPIC_H
#define GUEST_IOAPIC_H

#include <stdint.h>

#define IOAPIC_BASE 0xfec00000ULL
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN    0x10

/* The indirect registers. */
#define IOAPIC_ID  0x00 /* bits 27:24 the IO APIC's ID */
#define IOAPIC_VER 0x01 /* bits 23:16 the maximum redirection entry, 7:0 the version */
#define IOAPIC_ARB 0x02 /* bits 27:24 the arbitration ID (read-only) */
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin)) /* the low half; the high half follows */

#define IOAPIC_ID_SHIFT 24
#define IOAPIC_ID_MASK  0x0f000000u
#define IOAPIC_VER_VERSION(ver) ((ver) & 0xff)
#define IOAPIC_VER_MAX_ENTRY(ver) (((ver) >> 16) & 0xff)

/* A redirection entry (3.2.4 "IOREDTBL[23:0]"), as one 64-bit value. */
#define IOAPIC_VECTOR(v)        ((uint64_t)(v) & 0xff)
#define IOAPIC_DELIVERY_FIXED   (0ULL << 8)
#define IOAPIC_DELIVERY_LOWEST  (1ULL << 8)
#define IOAPIC_DELIVERY_SMI     (2ULL << 8)
#define IOAPIC_DELIVERY_NMI     (4ULL << 8)
#define IOAPIC_DELIVERY_INIT    (5ULL << 8)
#define IOAPIC_DELIVERY_EXTINT  (7ULL << 8)
#define IOAPIC_DEST_LOGICAL     (1ULL << 11) /* 0: physical (APIC ID) */
#define IOAPIC_DELIVERY_STATUS  (1ULL << 12) /* read-only: send pending */
#define IOAPIC_ACTIVE_LOW       (1ULL << 13)
#define IOAPIC_REMOTE_IRR       (1ULL << 14) /* read-only: level interrupt accepted, no EOI yet */
#define IOAPIC_LEVEL            (1ULL << 15) /* 0: edge */
#define IOAPIC_MASKED           (1ULL << 16)
#define IOAPIC_DESTINATION(d)   ((uint64_t)((d) & 0xff) << 56)
#define IOAPIC_READ_ONLY_BITS   (IOAPIC_DELIVERY_STATUS | IOAPIC_REMOTE_IRR)

#define IOAPIC_PINS 24
#define IOAPIC_PIN_COM1 4

uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t value);

/* A whole redirection entry. The write goes high half first, so that the low half, with
 * the mask bit, takes effect last. */
uint64_t ioapic_read_entry(unsigned pin);
void ioapic_write_entry(unsigned pin, uint64_t entry);

/* A fixed interrupt `vector` to the CPU with APIC ID `apic_id` (physical destination);
 * `flags` adds IOAPIC_LEVEL, IOAPIC_ACTIVE_LOW, IOAPIC_MASKED. */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t apic_id, uint64_t flags);
/* Sets or clears the mask bit of an entry, keeping the rest. */
void ioapic_set_masked(unsigned pin, int masked);
/* Masks every entry (their reset state), with vector 0 and destination 0. */
void ioapic_mask_all(void);

#endif
