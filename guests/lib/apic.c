#include "apic.h"

uint32_t apic_base = APIC_DEFAULT_BASE;

void apic_enable(uint8_t spurious_vector) {
    apic_base = (uint32_t)(rdmsr(MSR_IA32_APIC_BASE) & 0xfffff000u);
    apic_write(APIC_SVR, APIC_SVR_ENABLE | spurious_vector);
}

bool apic_send_ipi(uint8_t destination, uint32_t low) {
    apic_write(APIC_ICR_HIGH, (uint32_t)destination << 24);
    apic_write(APIC_ICR_LOW, low);
    /* A real APIC clears the delivery status within a few bus cycles; bound it anyway. */
    for (int i = 0; i < 1000; i++) {
        if (!(apic_read(APIC_ICR_LOW) & APIC_ICR_SEND_PENDING)) return true;
        cpu_relax();
    }
    return false;
}

static uint64_t cached_tsc_hz;

uint64_t tsc_hz(void) {
    if (cached_tsc_hz) return cached_tsc_hz;
    uint32_t max_leaf, ebx, ecx, edx;
    cpuid(0, 0, &max_leaf, &ebx, &ecx, &edx);
    uint64_t hz = 0;
    if (max_leaf >= 0x15) {
        uint32_t denominator, numerator, crystal;
        cpuid(0x15, 0, &denominator, &numerator, &crystal, &edx);
        if (denominator && numerator && crystal) hz = (uint64_t)crystal * numerator / denominator;
    }
    if (!hz && max_leaf >= 0x16) {
        uint32_t base_mhz;
        cpuid(0x16, 0, &base_mhz, &ebx, &ecx, &edx);
        hz = (uint64_t)(base_mhz & 0xffff) * 1000000;
    }
    if (!hz) {
        /* The hypervisor timing leaf (VMware's, also QEMU's with vmware-cpuid-freq): EAX = TSC kHz. */
        uint32_t hv_max;
        cpuid(0x40000000, 0, &hv_max, &ebx, &ecx, &edx);
        if (hv_max >= 0x40000010 && hv_max < 0x40010000) {
            uint32_t khz;
            cpuid(0x40000010, 0, &khz, &ebx, &ecx, &edx);
            hz = (uint64_t)khz * 1000;
        }
    }
    cached_tsc_hz = hz;
    return hz;
}

uint64_t tsc_from_ns(uint64_t ns) {
    /* Split to keep ns * hz inside 64 bits for any delay up to hours. */
    uint64_t hz = tsc_hz();
    return ns / 1000000000 * hz + ns % 1000000000 * hz / 1000000000;
}

uint64_t tsc_to_us(uint64_t ticks) {
    uint64_t hz = tsc_hz();
    if (!hz) return 0;
    return ticks / hz * 1000000 + ticks % hz * 1000000 / hz;
}

void delay_ns(uint64_t ns) {
    uint64_t end = rdtsc() + tsc_from_ns(ns);
    while (rdtsc() < end) cpu_relax();
}
