#include "hpet.h"

uint64_t hpet_capabilities(void) { return hpet_read(HPET_GCAP_ID); }

unsigned hpet_timer_count(void) { return HPET_CAP_NUM_TIMERS(hpet_capabilities()); }

uint32_t hpet_period_fs(void) { return HPET_CAP_PERIOD_FS(hpet_capabilities()); }

uint64_t hpet_ticks_for_ns(uint64_t ns) {
    uint64_t period = hpet_period_fs();
    if (period == 0) return 1;
    /* ns * 10^6 fs, without overflow for any wait a test kernel makes (< 5 hours). */
    uint64_t ticks = (ns * 1000000ULL + period / 2) / period;
    return ticks ? ticks : 1;
}

void hpet_enable(bool legacy_replacement) {
    uint64_t conf = hpet_read(HPET_GEN_CONF) & ~(HPET_CONF_ENABLE | HPET_CONF_LEGACY);
    hpet_write(HPET_GEN_CONF, conf | HPET_CONF_ENABLE | (legacy_replacement ? HPET_CONF_LEGACY : 0));
}

void hpet_disable(void) {
    hpet_write(HPET_GEN_CONF, hpet_read(HPET_GEN_CONF) & ~(HPET_CONF_ENABLE | HPET_CONF_LEGACY));
}

uint64_t hpet_counter(void) { return hpet_read(HPET_MAIN_COUNTER); }

void hpet_set_counter(uint64_t value) { hpet_write(HPET_MAIN_COUNTER, value); }

void hpet_timer_stop(unsigned n) {
    uint64_t conf = hpet_read(HPET_TIMER_CONF(n));
    hpet_write(HPET_TIMER_CONF(n), conf & HPET_TN_ROUTE_MASK);
}

int hpet_timer_pick_pin(unsigned n, uint32_t allowed) {
    uint32_t pins = HPET_TN_ROUTE_CAP(hpet_read(HPET_TIMER_CONF(n))) & allowed;
    for (int pin = 0; pin < 32; pin++)
        if (pins & (1u << pin)) return pin;
    return -1;
}

void hpet_timer_one_shot(unsigned n, unsigned pin, uint64_t comparator, uint64_t flags) {
    hpet_write(HPET_TIMER_CONF(n), HPET_TN_ROUTE(pin) | flags);
    hpet_write(HPET_TIMER_COMP(n), comparator);
    hpet_write(HPET_TIMER_CONF(n), HPET_TN_ROUTE(pin) | flags | HPET_TN_INT_ENABLE);
}

void hpet_timer_periodic(unsigned n, unsigned pin, uint64_t first, uint64_t period, uint64_t flags) {
    uint64_t conf = HPET_TN_ROUTE(pin) | HPET_TN_PERIODIC | flags;
    /* With Tn_VAL_SET_CNF the next comparator write sets the comparator itself (the first
     * interrupt) and clears the bit; the one after sets the period the comparator advances by
     * (the order Linux's hpet_clkevt_set_state_periodic uses). */
    hpet_write(HPET_TIMER_CONF(n), conf | HPET_TN_VAL_SET);
    hpet_write(HPET_TIMER_COMP(n), first);
    hpet_write(HPET_TIMER_COMP(n), period);
    hpet_write(HPET_TIMER_CONF(n), conf | HPET_TN_INT_ENABLE);
}
