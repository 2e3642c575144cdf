/* A tiny 32-bit multiboot kernel, as hobby-OS and test-kernel projects start: it talks on
 * COM1 and ends the emulator through the isa-debug-exit device the Makefile adds.
 *
 * Its command line (the multiboot one: QEMU passes "<kernel file> <-append>") chooses what
 * it does:
 *   (no "test")  print a greeting and power off (ACPI PM1a control, port 0x604: status 0);
 *   "test"       run its self-tests, one line each, and exit through isa-debug-exit with
 *                EXIT_SUCCESS or EXIT_FAILURE, which the emulator turns into status
 *                (code << 1) | 1: 33 or 35, what `make test` checks;
 *   "inject-failure" beside "test" makes one test fail, to show the harness noticing. */
#include <stdbool.h>
#include <stdint.h>

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4     /* -device isa-debug-exit,iobase=0xf4,iosize=0x04 */
#define EXIT_SUCCESS 0x10        /* status 33 */
#define EXIT_FAILURE 0x11        /* status 35 */
#define PM1A_CONTROL 0x604       /* ACPI PM1a control, where SeaBIOS puts it on QEMU's PC (and tsvisor has it) */
/* SLP_EN with sleep type 0: soft off (S5) on QEMU's PC. */
#define PM1A_SOFT_OFF 0x2000
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define MULTIBOOT_INFO_MEMORY 0x1
#define MULTIBOOT_INFO_CMDLINE 0x4

/* The first fields of the boot information (Multiboot 0.6.96 section 3.3). */
struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t value) { __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t value) { __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static void serial_init(void) {
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB, to set the divisor */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8 bits, no parity, one stop bit */
    outb(COM1 + 2, 0xc7); /* FIFOs on and cleared */
}

static void serial_putc(char c) {
    while (!(inb(COM1 + 5) & 0x20)) {} /* wait for the transmitter to empty */
    outb(COM1, (uint8_t)c);
}

static void serial_puts(const char *s) {
    while (*s) serial_putc(*s++);
}

/* Unsigned decimal into `out` (at least 11 bytes); returns it. */
static char *utoa(uint32_t value, char *out) {
    char digits[10];
    int count = 0;
    do digits[count++] = (char)('0' + value % 10); while (value /= 10);
    for (int i = 0; i < count; i++) out[i] = digits[count - 1 - i];
    out[count] = '\0';
    return out;
}

static bool streq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

/* Whether the space-separated `line` holds `word`. */
static bool has_word(const char *line, const char *word) {
    while (*line) {
        while (*line == ' ') line++;
        const char *w = word;
        while (*line && *line != ' ' && *line == *w) line++, w++;
        if (*w == '\0' && (*line == ' ' || *line == '\0')) return true;
        while (*line && *line != ' ') line++;
    }
    return false;
}

static __attribute__((noreturn)) void exit_emulator(uint32_t code) {
    outl(DEBUG_EXIT_PORT, code);
    for (;;) __asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void power_off(void) {
    outw(PM1A_CONTROL, PM1A_SOFT_OFF);
    for (;;) __asm__ volatile("cli; hlt");
}

static uint32_t passed, failed;

static void check(const char *name, bool ok) {
    serial_puts(name);
    serial_puts(ok ? "... [ok]\n" : "... [failed]\n");
    if (ok) passed++;
    else failed++;
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
    serial_init();
    const char *cmdline = magic == MULTIBOOT_BOOTLOADER_MAGIC && (info->flags & MULTIBOOT_INFO_CMDLINE) ? (const char *)info->cmdline : "";
    if (!has_word(cmdline, "test")) {
        serial_puts("Hello from the example kernel!\n");
        power_off();
    }

    char number[11];
    check("boot::multiboot_magic", magic == MULTIBOOT_BOOTLOADER_MAGIC);
    /* -m 32M: 31 MiB above the first; QEMU reports 128 KiB less (31616 KiB), tsvisor all of it. */
    check("boot::memory_above_1_mib_at_least_30_mib",
          magic == MULTIBOOT_BOOTLOADER_MAGIC && (info->flags & MULTIBOOT_INFO_MEMORY) && info->mem_upper >= 30 * 1024);
    check("lib::utoa", streq(utoa(0, number), "0") && streq(utoa(4096, number), "4096") && streq(utoa(4294967295u, number), "4294967295"));
    check("lib::has_word", has_word("a test b", "test") && !has_word("testing", "test") && !has_word("", "test"));
    if (has_word(cmdline, "inject-failure")) check("harness::injected_failure", false);
    serial_puts(utoa(passed, number));
    serial_puts(" passed, ");
    serial_puts(utoa(failed, number));
    serial_puts(" failed\n");
    exit_emulator(failed ? EXIT_FAILURE : EXIT_SUCCESS);
}
