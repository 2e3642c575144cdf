#include "ioapic.h"

#include "io.h"

uint32_t ioapic_read(uint32_t reg) {
    mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
    return mmio_read32(IOAPIC_BASE + IOAPIC_IOWIN);
}

void ioapic_write(uint32_t reg, uint32_t value) {
    mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, reg);
    mmio_write32(IOAPIC_BASE + IOAPIC_IOWIN, value);
}

uint64_t ioapic_read_entry(unsigned pin) {
    uint32_t low = ioapic_read(IOAPIC_REDTBL(pin));
    uint32_t high = ioapic_read(IOAPIC_REDTBL(pin) + 1);
    return (uint64_t)high << 32 | low;
}

void ioapic_write_entry(unsigned pin, uint64_t entry) {
    ioapic_write(IOAPIC_REDTBL(pin) + 1, (uint32_t)(entry >> 32));
    ioapic_write(IOAPIC_REDTBL(pin), (uint32_t)entry);
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t apic_id, uint64_t flags) {
    ioapic_write_entry(pin, IOAPIC_VECTOR(vector) | IOAPIC_DELIVERY_FIXED | IOAPIC_DESTINATION(apic_id) | flags);
}

void ioapic_set_masked(unsigned pin, int masked) {
    uint32_t low = ioapic_read(IOAPIC_REDTBL(pin));
    if (masked) low |= (uint32_t)IOAPIC_MASKED;
    else low &= ~(uint32_t)IOAPIC_MASKED;
    ioapic_write(IOAPIC_REDTBL(pin), low);
}

void ioapic_mask_all(void) {
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) ioapic_write_entry(pin, IOAPIC_MASKED);
}
