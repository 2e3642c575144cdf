/*
 * exit-floor: the thinnest VMM loop on /dev/kvm, the floor tsvisor's exit costs are
 * measured against. It sets a vCPU up the way tsvisor does (1 MiB of RAM, the same TSS
 * address, KVM's supported CPUID with x2APIC cleared, real mode at 0x8000), loads a flat
 * image there, writes the iteration count at 0x8004 (the exit-loop guest reads it), and
 * runs until the guest writes to the debug-exit port 0xf4. Every other I/O exit is
 * ignored; MMIO or anything else ends the run with an error.
 *
 * Usage: exit-floor <image> <iterations>
 * Prints: exits=<I/O exits> ns_per_exit=<wall time from the first KVM_RUN / iterations>
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE 0x100000
#define LOAD_ADDRESS 0x8000
#define ITERATIONS_ADDRESS 0x8004
#define TSS_ADDRESS 0xfffbd000
#define DEBUG_EXIT_PORT 0xf4
#define MAX_CPUID_ENTRIES 256
#define CPUID_1_ECX_X2APIC (1u << 21)

static void die(const char *what) {
    perror(what);
    exit(2);
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <image> <iterations>\n", argv[0]);
        return 2;
    }
    uint32_t iterations = (uint32_t)strtoul(argv[2], NULL, 0);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("open /dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDRESS) < 0) die("KVM_SET_TSS_ADDR");

    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED) die("mmap");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

    FILE *image = fopen(argv[1], "rb");
    if (!image) die(argv[1]);
    fread(ram + LOAD_ADDRESS, 1, RAM_SIZE - LOAD_ADDRESS, image);
    fclose(image);
    memcpy(ram + ITERATIONS_ADDRESS, &iterations, sizeof iterations);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");

    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = MAX_CPUID_ENTRIES;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
    for (uint32_t i = 0; i < cpuid->nent; i++)
        if (cpuid->entries[i].function == 1) cpuid->entries[i].ecx &= ~CPUID_1_ECX_X2APIC;
    if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    sregs.cs.selector = 0;
    sregs.cs.base = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = LOAD_ADDRESS, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

    uint64_t exits = 0;
    double start = now_ns();
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        if (run->exit_reason != KVM_EXIT_IO) {
            fprintf(stderr, "exit-floor: unexpected exit reason %u\n", run->exit_reason);
            return 2;
        }
        exits++;
        if (run->io.port == DEBUG_EXIT_PORT) break;
    }
    double elapsed = now_ns() - start;
    printf("exits=%llu ns_per_exit=%.1f\n", (unsigned long long)exits, elapsed / iterations);
    return 0;
}
