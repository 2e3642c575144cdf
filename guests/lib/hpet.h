/* The High Precision Event Timer (IA-PC HPET Specification 1.0a): a main counter that
 * counts up at a fixed period, and comparators ("timers") that raise an interrupt when the
 * counter reaches them. tsvisor puts it at 0xfed00000 when the config lists it; its
 * interrupts go to IO APIC pins (2.3 "Register Descriptions"; 2.3.9.2 legacy replacement). */
#ifndef GUEST_HPET_H
#define GUEST_HPET_H

#include <stdbool.h>
#include <stdint.h>

#define HPET_BASE 0xfed00000ULL

/* 2.3.1 "Register Overview": offsets of the 64-bit registers. */
#define HPET_GCAP_ID        0x000 /* general capabilities and ID */
#define HPET_GEN_CONF       0x010 /* general configuration */
#define HPET_GINTR_STA      0x020 /* general interrupt status (write 1 to clear) */
#define HPET_MAIN_COUNTER   0x0f0
#define HPET_TIMER_CONF(n)  (0x100 + 0x20 * (n)) /* Tn_CONF_CAP */
#define HPET_TIMER_COMP(n)  (0x108 + 0x20 * (n)) /* Tn_COMPARATOR */
#define HPET_TIMER_FSB(n)   (0x110 + 0x20 * (n)) /* Tn_FSB_INT_ROUTE */

/* GCAP_ID (2.3.4). */
#define HPET_CAP_REV_ID(cap)        ((uint32_t)(cap) & 0xff)
#define HPET_CAP_NUM_TIMERS(cap)    ((unsigned)(((cap) >> 8) & 0x1f) + 1) /* NUM_TIM_CAP is the last timer's number */
#define HPET_CAP_COUNT_SIZE_64      (1ULL << 13)
#define HPET_CAP_LEGACY_ROUTE       (1ULL << 15)
#define HPET_CAP_VENDOR_ID(cap)     ((uint32_t)((cap) >> 16) & 0xffff)
#define HPET_CAP_PERIOD_FS(cap)     ((uint32_t)((cap) >> 32)) /* femtoseconds per count */
#define HPET_MAX_PERIOD_FS          100000000u                 /* 100 ns: 0x05F5E100 */

/* GEN_CONF (2.3.5). */
#define HPET_CONF_ENABLE     (1ULL << 0)
#define HPET_CONF_LEGACY     (1ULL << 1) /* timer 0 -> IO APIC pin 2, timer 1 -> pin 8 */

/* Tn_CONF_CAP (2.3.8). */
#define HPET_TN_LEVEL        (1ULL << 1)  /* Tn_INT_TYPE_CNF: 1 level, 0 edge */
#define HPET_TN_INT_ENABLE   (1ULL << 2)  /* Tn_INT_ENB_CNF */
#define HPET_TN_PERIODIC     (1ULL << 3)  /* Tn_TYPE_CNF */
#define HPET_TN_PERIODIC_CAP (1ULL << 4)  /* Tn_PER_INT_CAP (read-only) */
#define HPET_TN_SIZE_64_CAP  (1ULL << 5)  /* Tn_SIZE_CAP (read-only) */
#define HPET_TN_VAL_SET      (1ULL << 6)  /* Tn_VAL_SET_CNF */
#define HPET_TN_32BIT        (1ULL << 8)  /* Tn_32MODE_CNF */
#define HPET_TN_ROUTE_SHIFT  9            /* Tn_INT_ROUTE_CNF, bits 13:9 */
#define HPET_TN_ROUTE_MASK   (0x1fULL << HPET_TN_ROUTE_SHIFT)
#define HPET_TN_ROUTE(pin)   ((uint64_t)(pin) << HPET_TN_ROUTE_SHIFT)
#define HPET_TN_FSB_ENABLE   (1ULL << 14)
#define HPET_TN_FSB_CAP      (1ULL << 15)
#define HPET_TN_ROUTE_CAP(conf) ((uint32_t)((conf) >> 32)) /* bit n: IO APIC pin n allowed */

static inline uint64_t hpet_read(uint32_t offset) { return *(volatile uint64_t *)(HPET_BASE + offset); }
static inline void hpet_write(uint32_t offset, uint64_t value) { *(volatile uint64_t *)(HPET_BASE + offset) = value; }
static inline uint32_t hpet_read32(uint32_t offset) { return *(volatile uint32_t *)(HPET_BASE + offset); }
static inline void hpet_write32(uint32_t offset, uint32_t value) { *(volatile uint32_t *)(HPET_BASE + offset) = value; }

uint64_t hpet_capabilities(void);
unsigned hpet_timer_count(void);
uint32_t hpet_period_fs(void);
/* Main counter ticks in `ns` nanoseconds (rounded to nearest; at least 1). */
uint64_t hpet_ticks_for_ns(uint64_t ns);

void hpet_enable(bool legacy_replacement); /* starts the main counter */
void hpet_disable(void);                   /* halts it and clears legacy replacement */
uint64_t hpet_counter(void);
void hpet_set_counter(uint64_t value);     /* only while halted */

/* Disables timer n's interrupt and periodic mode, keeping nothing but the route. */
void hpet_timer_stop(unsigned n);
/* The lowest IO APIC pin in timer n's route capability that is in `allowed` (a mask of pins),
 * or -1. */
int hpet_timer_pick_pin(unsigned n, uint32_t allowed);
/* A one-shot interrupt when the main counter reaches `comparator`, through IO APIC pin `pin`
 * (ignored for timers 0 and 1 under legacy replacement); `flags` may add HPET_TN_LEVEL. */
void hpet_timer_one_shot(unsigned n, unsigned pin, uint64_t comparator, uint64_t flags);
/* A periodic interrupt every `period` ticks, the first at `first` (set with Tn_VAL_SET_CNF:
 * the comparator, then the period). Call it with the main counter halted. */
void hpet_timer_periodic(unsigned n, unsigned pin, uint64_t first, uint64_t period, uint64_t flags);

#endif
