/* vcpu-plug: starts every CPU the machine has, as fw_cfg's FW_CFG_MAX_CPUS counts them, and
 * keeps trying those that do not answer: a CPU that is not plugged in (libvirt's
 * <vcpu current='1'>2</vcpu>, QEMU's -smp 1,maxcpus=2) takes no INIT or start-up IPI, and
 * answers once it is (tsvisor domain <socket> setvcpus 2 --live).
 *
 * Prints "vcpu-plug: <max> cpus, <boot> at boot" (FW_CFG_NB_CPUS), then "cpu <n> absent" for
 * each AP that did not answer its first INIT-SIPI-SIPI and "cpu <n> online" when one does.
 * With every CPU online it prints "all cpus online" and powers off (status 0); after a minute
 * of trying it prints "gave up" and ends with debug-exit code 1 (status 3). */
#include "ap-start.h"
#include "apic.h"
#include "exit.h"
#include "fw_cfg.h"
#include "kernel.h"
#include "serial.h"

#define MAX_CPUS 8
#define AP_STACK_SIZE 0x4000
#define SPURIOUS_VECTOR 0xff
#define MS 1000000ull
/* One INIT-SIPI-SIPI round takes a little over 10 ms; the AP then has this long to check in. */
#define CHECK_IN_TIMEOUT (50 * MS)
/* Between rounds (an IPI to a CPU that is not plugged in may fail at once). */
#define ROUND_PAUSE (50 * MS)
#define ROUNDS 600

static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile bool online[MAX_CPUS];

static void ap_main(uint32_t id) {
    if (id < MAX_CPUS) online[id] = true;
    ap_start_check_in();
    for (;;) __asm__ volatile("cli; hlt");
}

int kmain(void) {
    serial_init();
    if (!fw_cfg_present()) {
        serial_printf("no fw_cfg\n");
        return 1;
    }
    fw_cfg_select(FW_CFG_MAX_CPUS);
    unsigned cpus = fw_cfg_read_u16();
    fw_cfg_select(FW_CFG_NB_CPUS);
    unsigned at_boot = fw_cfg_read_u16();
    serial_printf("vcpu-plug: %u cpus, %u at boot\n", cpus, at_boot);
    if (cpus > MAX_CPUS) {
        serial_printf("this test takes at most %u CPUs\n", MAX_CPUS);
        return 1;
    }
    apic_enable(SPURIOUS_VECTOR);

    for (unsigned round = 0; round < ROUNDS; round++) {
        unsigned missing = 0;
        for (uint32_t id = 1; id < cpus; id++) {
            if (online[id]) continue;
            if (ap_start(id, ap_main, &ap_stacks[id][AP_STACK_SIZE], CHECK_IN_TIMEOUT)) {
                serial_printf("cpu %u online\n", id);
            } else {
                if (round == 0) serial_printf("cpu %u absent\n", id);
                missing++;
            }
        }
        if (missing == 0) {
            serial_printf("all cpus online\n");
            return 0;
        }
        delay_ns(ROUND_PAUSE);
    }
    serial_printf("gave up\n");
    return 1;
}
