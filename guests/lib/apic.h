/* The local APIC in xAPIC mode (Intel SDM vol. 3A, chapter 12 "Advanced Programmable
 * Interrupt Controller (APIC)", formerly chapter 10), the TSC and the few instructions around
 * interrupts that test kernels need: register access at the base IA32_APIC_BASE names
 * (0xfee00000 until apic_enable() reads it), enable, EOI, IPIs through the ICR, the TSC frequency from CPUID 0x15/0x16, and delays
 * measured with rdtsc. */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "io.h"

#define APIC_DEFAULT_BASE 0xfee00000u

/* Register offsets (Table "Local APIC Register Address Map"). */
#define APIC_ID            0x020
#define APIC_VERSION       0x030
#define APIC_TPR           0x080
#define APIC_APR           0x090
#define APIC_PPR           0x0a0
#define APIC_EOI           0x0b0
#define APIC_RRD           0x0c0
#define APIC_LDR           0x0d0
#define APIC_DFR           0x0e0
#define APIC_SVR           0x0f0
#define APIC_ISR           0x100 /* 8 registers, 0x10 apart: ISR(n) = APIC_ISR + n * 0x10 */
#define APIC_TMR           0x180
#define APIC_IRR           0x200
#define APIC_ESR           0x280
#define APIC_LVT_CMCI      0x2f0
#define APIC_ICR_LOW       0x300
#define APIC_ICR_HIGH      0x310
#define APIC_LVT_TIMER     0x320
#define APIC_LVT_THERMAL   0x330
#define APIC_LVT_PERF      0x340
#define APIC_LVT_LINT0     0x350
#define APIC_LVT_LINT1     0x360
#define APIC_LVT_ERROR     0x370
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE  0x3e0

/* SVR */
#define APIC_SVR_ENABLE 0x100

/* LVT entries */
#define APIC_LVT_MASKED          0x00010000u
#define APIC_LVT_DELIVERY_STATUS 0x00001000u /* read-only: send pending */
#define APIC_TIMER_ONE_SHOT      0x00000000u /* LVT timer bits 18:17 */
#define APIC_TIMER_PERIODIC      0x00020000u
#define APIC_TIMER_TSC_DEADLINE  0x00040000u

/* Divide configuration register values (bits 0, 1 and 3). */
#define APIC_DIVIDE_1  0xb
#define APIC_DIVIDE_2  0x0
#define APIC_DIVIDE_4  0x1
#define APIC_DIVIDE_8  0x2
#define APIC_DIVIDE_16 0x3
#define APIC_DIVIDE_32 0x8
#define APIC_DIVIDE_64 0x9
#define APIC_DIVIDE_128 0xa

/* ICR low word (figure "Interrupt Command Register (ICR)"). */
#define APIC_ICR_FIXED           0x00000000u
#define APIC_ICR_LOWEST_PRIORITY 0x00000100u
#define APIC_ICR_SMI             0x00000200u
#define APIC_ICR_NMI             0x00000400u
#define APIC_ICR_INIT            0x00000500u
#define APIC_ICR_STARTUP         0x00000600u
#define APIC_ICR_LOGICAL         0x00000800u /* destination mode; 0 = physical */
#define APIC_ICR_SEND_PENDING    0x00001000u /* delivery status (read-only) */
#define APIC_ICR_ASSERT          0x00004000u /* level: 1 = assert, 0 = de-assert */
#define APIC_ICR_LEVEL_TRIGGER   0x00008000u /* trigger mode; 0 = edge */
#define APIC_ICR_SELF            0x00040000u /* destination shorthands, bits 19:18 */
#define APIC_ICR_ALL_INCLUDING   0x00080000u
#define APIC_ICR_ALL_EXCLUDING   0x000c0000u

/* MSRs */
#define MSR_IA32_APIC_BASE       0x1b
#define APIC_BASE_BSP            0x100u /* bit 8 */
#define APIC_BASE_X2APIC_ENABLE  0x400u /* bit 10 */
#define APIC_BASE_GLOBAL_ENABLE  0x800u /* bit 11 */
#define MSR_IA32_TSC_DEADLINE    0x6e0

/* CPUID.1 feature bits */
#define CPUID_1_ECX_X2APIC       (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_EDX_APIC         (1u << 9)

/* Where the local APIC's registers are: apic_enable() reads it from IA32_APIC_BASE, where the
 * VMM may have put them elsewhere than the default (tsvisor: the config's Local APIC entry). */
extern uint32_t apic_base;

static inline uint32_t apic_read(uint32_t reg) { return mmio_read32(apic_base + reg); }
static inline void apic_write(uint32_t reg, uint32_t value) { mmio_write32(apic_base + reg, value); }

/* The 256-bit ISR/TMR/IRR arrays: is `vector`'s bit set in the array at `base`? */
static inline bool apic_vector_bit(uint32_t base, uint8_t vector) {
    return (apic_read(base + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

static inline uint32_t apic_id(void) { return apic_read(APIC_ID) >> 24; }
static inline void apic_eoi(void) { apic_write(APIC_EOI, 0); }

/* Finds the APIC at the base IA32_APIC_BASE names, then SVR = bit 8 (software enable) | spurious vector. */
void apic_enable(uint8_t spurious_vector);
/* Sends an IPI: ICR high = destination << 24, then ICR low = `low` (vector | delivery mode |
 * flags); waits (bounded) until delivery status reads idle. False if it never did. */
bool apic_send_ipi(uint8_t destination, uint32_t low);

/* The TSC: its frequency in Hz from CPUID 0x15 (ECX * EBX / EAX), else 0x16 (EAX MHz), else
 * the hypervisor leaf 0x40000010 (EAX kHz); 0 if none says. Cached after the first call. */
uint64_t tsc_hz(void);
uint64_t tsc_from_ns(uint64_t ns); /* TSC ticks in `ns` nanoseconds */
uint64_t tsc_to_us(uint64_t ticks);
void delay_ns(uint64_t ns);        /* busy-waits on rdtsc */
static inline void delay_us(uint64_t us) { delay_ns(us * 1000); }

/* Interrupt flag and CR8 (the task priority class, TPR[7:4]). */
static inline void local_irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void local_irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
/* Note: on a nested host (kvm_pvm) an interrupt held while IF = 0 may come some time after
 * sti, not at the next instruction boundary: wait for it with a bounded loop, not "sti; nop". */
static inline uint64_t read_cr8(void) {
    uint64_t value;
    __asm__ volatile("mov %%cr8, %0" : "=r"(value));
    return value;
}
static inline void write_cr8(uint64_t value) { __asm__ volatile("mov %0, %%cr8" : : "r"(value) : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

#endif
