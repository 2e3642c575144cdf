/* Instructions that read the processor's identity and state (Intel SDM vol. 2A/2B: CPUID,
 * RDMSR, WRMSR, RDTSC, MOV from CR, SIDT/LIDT), for checks in 64-bit test kernels. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include <stdint.h>

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *eax, uint32_t *ebx, uint32_t *ecx,
                         uint32_t *edx) {
    __asm__ volatile("cpuid" : "=a"(*eax), "=b"(*ebx), "=c"(*ecx), "=d"(*edx) : "a"(leaf), "c"(subleaf));
}

static inline uint64_t rdmsr(uint32_t msr) {
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return (uint64_t)high << 32 | low;
}

static inline void wrmsr(uint32_t msr, uint64_t value) {
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

static inline uint64_t rdtsc(void) {
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t)high << 32 | low;
}

static inline uint64_t read_cr0(void) {
    uint64_t value;
    __asm__ volatile("mov %%cr0, %0" : "=r"(value));
    return value;
}

static inline uint64_t read_cr3(void) {
    uint64_t value;
    __asm__ volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}

static inline uint64_t read_cr4(void) {
    uint64_t value;
    __asm__ volatile("mov %%cr4, %0" : "=r"(value));
    return value;
}

static inline uint16_t read_cs(void) {
    uint16_t value;
    __asm__ volatile("mov %%cs, %0" : "=r"(value));
    return value;
}

/* The operand of LGDT/LIDT/SGDT/SIDT in 64-bit mode: a 16-bit limit, then a 64-bit base. */
struct descriptor_table_register {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static inline void lidt(const struct descriptor_table_register *idtr) { __asm__ volatile("lidt %0" : : "m"(*idtr)); }

static inline struct descriptor_table_register sidt(void) {
    struct descriptor_table_register idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    return idtr;
}

#endif
