/*
 * mb-floor: the thinnest /dev/kvm VMM that boots a multiboot ELF32 kernel, the floor the
 * bench guest's exit costs (guests/build/bench.elf32) are measured against, next to
 * tsvisor and QEMU booting the very same file. exit-floor does the same for a flat
 * real-mode image; this one generalises it to the multiboot path so that one guest serves
 * all three VMMs.
 *
 * It gives the guest 16 MiB of RAM and KVM's supported CPUID (the guest enables long mode
 * itself, and KVM refuses EFER.LME unless CPUID advertises LM), loads the ELF's PT_LOAD
 * segments at their physical addresses, writes a multiboot information with only the
 * memory sizes and the command line, and enters the kernel in 32-bit flat protected mode
 * (Multiboot 0.6.96 section 3.2). The exit loop does as little as possible: COM1 output
 * goes to stdout, the line status register always reads "transmitter empty", other port
 * and MMIO reads return all ones, writes are dropped, and a write to the debug-exit port
 * 0xf4 ends the run.
 *
 * Usage: mb-floor <kernel.elf32> <cmdline>
 * Exit status: 0 when the guest writes 0 to port 0xf4, else the value written (at most 255);
 * 2 if the guest halts (nothing can wake it: there is no interrupt controller);
 * 3 on any error (no /dev/kvm, a failed ioctl, a bad ELF, an unexpected exit).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_SIZE (16u << 20)
/* The same TSS address as tsvisor and exit-floor: 3 pages KVM needs below 4 GiB, outside RAM. */
#define TSS_ADDRESS 0xfffbd000
/* The multiboot information where tsvisor puts it, and the command line right after it,
 * below 0x7000: the guest library may copy an AP start-up trampoline to that page. */
#define MBI_ADDRESS 0x6000
#define CMDLINE_ADDRESS 0x6100
#define CMDLINE_END 0x7000
#define MBI_FLAGS_MEMORY (1u << 0)
#define MBI_FLAGS_CMDLINE (1u << 2)
#define MEM_LOWER_KIB 640
#define MEM_UPPER_KIB ((RAM_SIZE >> 10) - 1024)
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002

#define COM1_DATA 0x3f8
#define COM1_LSR 0x3fd
#define LSR_TRANSMITTER_EMPTY 0x60 /* THR empty and transmitter idle: the guest never waits */
#define DEBUG_EXIT_PORT 0xf4

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define SEGMENT_CODE 0xb /* execute/read, accessed */
#define SEGMENT_DATA 0x3 /* read/write, accessed */

#define EXIT_HALTED 2
#define EXIT_ERROR 3

static void fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("mb-floor: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(EXIT_ERROR);
}

static void fail_errno(const char *what) {
    fail("%s: %s", what, strerror(errno));
}

/* Reads the whole file: kernels are small, and one buffer makes the bounds checks simple. */
static uint8_t *read_file(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) fail("%s: %s", path, strerror(errno));
    uint8_t *data = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!data) fail("%s: out of memory", path);
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("%s: %s", path, strerror(errno));
        if (n == 0) break;
        done += (size_t)n;
    }
    close(fd);
    *size = done;
    return data;
}

/* Copies the PT_LOAD segments to their physical addresses and returns the entry point.
 * The .bss tails need no clearing: the RAM is a fresh anonymous mapping. */
static uint32_t load_elf32(const char *path, uint8_t *ram) {
    size_t size;
    uint8_t *file = read_file(path, &size);
    Elf32_Ehdr ehdr;
    if (size < sizeof ehdr) fail("%s: too short for an ELF header", path);
    memcpy(&ehdr, file, sizeof ehdr);
    if (memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0) fail("%s: not an ELF file", path);
    if (ehdr.e_ident[EI_CLASS] != ELFCLASS32 || ehdr.e_ident[EI_DATA] != ELFDATA2LSB || ehdr.e_machine != EM_386)
        fail("%s: not a little-endian ELF32 i386 file", path);
    if (ehdr.e_phentsize != sizeof(Elf32_Phdr)) fail("%s: unexpected program header size %u", path, ehdr.e_phentsize);
    if ((uint64_t)ehdr.e_phoff + (uint64_t)ehdr.e_phnum * sizeof(Elf32_Phdr) > size)
        fail("%s: program headers past the end of the file", path);

    int loaded = 0;
    for (unsigned i = 0; i < ehdr.e_phnum; i++) {
        Elf32_Phdr phdr;
        memcpy(&phdr, file + ehdr.e_phoff + i * sizeof phdr, sizeof phdr);
        if (phdr.p_type != PT_LOAD) continue;
        uint64_t start = phdr.p_paddr, end = start + phdr.p_memsz;
        if (phdr.p_filesz > phdr.p_memsz) fail("%s: segment %u has filesz > memsz", path, i);
        if ((uint64_t)phdr.p_offset + phdr.p_filesz > size) fail("%s: segment %u past the end of the file", path, i);
        if (end > RAM_SIZE)
            fail("%s: segment %u [%#llx, %#llx) does not fit in %u MiB of RAM", path, i, (unsigned long long)start,
                 (unsigned long long)end, RAM_SIZE >> 20);
        if (start < CMDLINE_END && end > MBI_ADDRESS)
            fail("%s: segment %u [%#llx, %#llx) overlaps the multiboot information at [%#x, %#x)", path, i,
                 (unsigned long long)start, (unsigned long long)end, MBI_ADDRESS, CMDLINE_END);
        memcpy(ram + start, file + phdr.p_offset, phdr.p_filesz);
        loaded++;
    }
    if (!loaded) fail("%s: no PT_LOAD segment", path);
    if (ehdr.e_entry >= RAM_SIZE) fail("%s: entry point %#x outside RAM", path, ehdr.e_entry);
    free(file);
    return ehdr.e_entry;
}

/* Multiboot 0.6.96 section 3.3: flags, mem_lower, mem_upper, boot_device (not flagged),
 * cmdline. The structure ends there as far as the guest can tell: no later flag is set. */
static void write_multiboot_info(uint8_t *ram, const char *cmdline) {
    size_t length = strlen(cmdline);
    if (length >= CMDLINE_END - CMDLINE_ADDRESS)
        fail("command line too long: %zu bytes, at most %d", length, CMDLINE_END - CMDLINE_ADDRESS - 1);
    memcpy(ram + CMDLINE_ADDRESS, cmdline, length + 1);
    uint32_t info[] = {MBI_FLAGS_MEMORY | MBI_FLAGS_CMDLINE, MEM_LOWER_KIB, MEM_UPPER_KIB, 0, CMDLINE_ADDRESS};
    memcpy(ram + MBI_ADDRESS, info, sizeof info);
}

/* KVM fails with E2BIG when the buffer is too small for every leaf: grow until it fits. */
static struct kvm_cpuid2 *supported_cpuid(int kvm) {
    for (uint32_t entries = 64;; entries *= 2) {
        struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + entries * sizeof(struct kvm_cpuid_entry2));
        if (!cpuid) fail("out of memory");
        cpuid->nent = entries;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) return cpuid;
        if (errno != E2BIG || entries >= 4096) fail_errno("KVM_GET_SUPPORTED_CPUID");
        free(cpuid);
    }
}

static struct kvm_segment flat_segment(uint8_t type) {
    return (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .type = type, .present = 1, .s = 1, .db = 1, .g = 1};
}

/* The multiboot machine state (section 3.2): flat 4 GiB segments, protected mode without
 * paging, interrupts off. The selectors and GDTR are left as KVM's reset values: the
 * guest must load its own GDT before it reloads a segment register, and ours does. */
static void set_multiboot_state(int vcpu, uint32_t entry) {
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) fail_errno("KVM_GET_SREGS");
    sregs.cs = flat_segment(SEGMENT_CODE);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(SEGMENT_DATA);
    sregs.cr0 = CR0_PE | CR0_ET;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) fail_errno("KVM_SET_SREGS");
    struct kvm_regs regs = {.rax = MULTIBOOT_BOOTLOADER_MAGIC, .rbx = MBI_ADDRESS, .rip = entry, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) fail_errno("KVM_SET_REGS");
}

/* Exit statuses are 8 bits: clamp so that a nonzero value never reads as success. */
static void debug_exit(const uint8_t *data, uint8_t size) {
    uint32_t value = 0;
    memcpy(&value, data, size < sizeof value ? size : sizeof value);
    exit(value > 255 ? 255 : (int)value);
}

static void handle_io(struct kvm_run *run) {
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    size_t bytes = (size_t)run->io.size * run->io.count;
    if (run->io.direction == KVM_EXIT_IO_OUT) {
        if (run->io.port == COM1_DATA) {
            for (uint32_t i = 0; i < run->io.count; i++) putchar_unlocked(data[i * run->io.size]);
        } else if (run->io.port == DEBUG_EXIT_PORT) {
            debug_exit(data, run->io.size);
        }
    } else {
        memset(data, run->io.port == COM1_LSR ? LSR_TRANSMITTER_EMPTY : 0xff, bytes);
    }
}

static void unexpected_exit(int vcpu, struct kvm_run *run) {
    struct kvm_regs regs;
    unsigned long long rip = ioctl(vcpu, KVM_GET_REGS, &regs) == 0 ? regs.rip : 0;
    if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
        fail("KVM_EXIT_FAIL_ENTRY, hardware reason %#llx, rip %#llx",
             (unsigned long long)run->fail_entry.hardware_entry_failure_reason, rip);
    if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
        fail("KVM_EXIT_INTERNAL_ERROR, suberror %u, rip %#llx", run->internal.suberror, rip);
    if (run->exit_reason == KVM_EXIT_SHUTDOWN) fail("KVM_EXIT_SHUTDOWN (a triple fault), rip %#llx", rip);
    fail("unexpected exit reason %u, rip %#llx", run->exit_reason, rip);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <kernel.elf32> <cmdline>\n", argv[0]);
        return EXIT_ERROR;
    }
    /* Serial output is flushed at exit (exit() flushes stdio): no write syscall per byte
     * inside the measured loop. */
    static char out_buffer[1 << 16];
    setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);

    /* TSVISOR_KVM_DEVICE names another KVM device node, as it does for tsvisor. */
    const char *device = getenv("TSVISOR_KVM_DEVICE");
    if (device == NULL || *device == '\0') device = "/dev/kvm";
    int kvm = open(device, O_RDWR | O_CLOEXEC);
    if (kvm < 0) fail_errno("open the KVM device");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) fail_errno("KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDRESS) < 0) fail_errno("KVM_SET_TSS_ADDR");

    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) fail_errno("mmap RAM");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) fail_errno("KVM_SET_USER_MEMORY_REGION");

    uint32_t entry = load_elf32(argv[1], ram);
    write_multiboot_info(ram, argv[2]);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) fail_errno("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < 0) fail_errno("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) fail_errno("mmap kvm_run");

    struct kvm_cpuid2 *cpuid = supported_cpuid(kvm);
    if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) fail_errno("KVM_SET_CPUID2");
    free(cpuid);
    set_multiboot_state(vcpu, entry);

    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            /* A signal without a handler (a stop and continue, say) interrupts KVM_RUN: run on. */
            if (errno == EINTR) continue;
            fail_errno("KVM_RUN");
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            handle_io(run);
            break;
        case KVM_EXIT_MMIO:
            if (!run->mmio.is_write) memset(run->mmio.data, 0xff, run->mmio.len);
            break;
        case KVM_EXIT_HLT:
            fputs("mb-floor: the guest halted; with no interrupt controller nothing can wake it\n", stderr);
            exit(EXIT_HALTED);
        default:
            unexpected_exit(vcpu, run);
        }
    }
}
