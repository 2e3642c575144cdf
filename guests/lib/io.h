/* Port I/O and MMIO accessors for test kernels. The volatile asm keeps every access an
 * access: each one is a VM exit that tsvisor handles, which is the point. */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t value) { __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t value) { __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }

static inline uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static inline uint16_t inw(uint16_t port) {
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}
static inline uint32_t inl(uint16_t port) {
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

/* String I/O: one instruction, `count` elements, one exit with count > 1. */
static inline void outsb(uint16_t port, const void *buffer, uint32_t count) {
    __asm__ volatile("rep outsb" : "+S"(buffer), "+c"(count) : "d"(port) : "memory");
}
static inline void insb(uint16_t port, void *buffer, uint32_t count) {
    __asm__ volatile("rep insb" : "+D"(buffer), "+c"(count) : "d"(port) : "memory");
}
static inline void insw(uint16_t port, void *buffer, uint32_t count) {
    __asm__ volatile("rep insw" : "+D"(buffer), "+c"(count) : "d"(port) : "memory");
}
static inline void insl(uint16_t port, void *buffer, uint32_t count) {
    __asm__ volatile("rep insl" : "+D"(buffer), "+c"(count) : "d"(port) : "memory");
}

static inline void mmio_write8(uint64_t address, uint8_t value) { *(volatile uint8_t *)address = value; }
static inline void mmio_write16(uint64_t address, uint16_t value) { *(volatile uint16_t *)address = value; }
static inline void mmio_write32(uint64_t address, uint32_t value) { *(volatile uint32_t *)address = value; }
static inline void mmio_write64(uint64_t address, uint64_t value) { *(volatile uint64_t *)address = value; }
static inline uint8_t mmio_read8(uint64_t address) { return *(volatile uint8_t *)address; }
static inline uint16_t mmio_read16(uint64_t address) { return *(volatile uint16_t *)address; }
static inline uint32_t mmio_read32(uint64_t address) { return *(volatile uint32_t *)address; }
static inline uint64_t mmio_read64(uint64_t address) { return *(volatile uint64_t *)address; }

#endif
