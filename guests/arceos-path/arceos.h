/* arceos-path: the constants of ArceOS's x86 PC platform (axplat-x86-pc: its axconfig.toml,
 * boot.rs and multiboot.S; axcpu's GDT) that the entry assembly and the C code share. Plain
 * literals, so that multiboot.S and trap.S include this file too; kernel.ld repeats the
 * addresses, which a linker script cannot include. */
#ifndef ARCEOS_PATH_H
#define ARCEOS_PATH_H

/* axconfig.toml: phys-virt-offset, kernel-base-paddr (kernel-base-vaddr is their sum) and
 * boot-stack-size. Every kernel address is PHYS_VIRT_OFFSET + its physical address. */
#define PHYS_VIRT_OFFSET  0xffff800000000000
#define KERNEL_BASE_PADDR 0x200000
#define BOOT_STACK_SIZE   0x40000
/* Where the image's .bss ends (kernel.ld pads it to here): the multiboot header's
 * bss_end_addr, as ArceOS helloworld's build has it. */
#define KERNEL_BSS_END_PADDR 0x258000

/* boot.rs: MULTIBOOT_HEADER_FLAGS = 0x0001_0002, bits 1 (memory information, Multiboot
 * 0.6.96 section 3.1.2) and 16 (the address fields of section 3.1.3, "a.out kludge"). */
#define ARCEOS_MULTIBOOT_HEADER_FLAGS 0x00010002

/* multiboot.S's temporary GDT (.Ltmp_gdt): 32-bit code, 64-bit code, data. */
#define TMP_CODE32_SELECTOR 0x08
#define TMP_CODE64_SELECTOR 0x10
#define TMP_DATA_SELECTOR   0x18

/* The control-register values multiboot.S writes whole (not read-modify-write) in 32-bit
 * mode, from boot.rs (Intel SDM vol. 3A, "Control Registers" and "Extended Feature Enable
 * Register"): CR4 = PAE | PGE; EFER = LME | NXE; CR0 = PE | MP | NE | WP | PG. */
#define CR0_PE  0x00000001
#define CR0_MP  0x00000002
#define CR0_EM  0x00000004
#define CR0_TS  0x00000008
#define CR0_NE  0x00000020
#define CR0_WP  0x00010000
#define CR0_NW  0x20000000
#define CR0_CD  0x40000000
#define CR0_PG  0x80000000
#define CR4_PAE 0x00000020
#define CR4_PGE 0x00000080
#define EFER_SCE 0x001
#define EFER_LME 0x100
#define EFER_LMA 0x400
#define EFER_NXE 0x800
#define BOOT_CR0  0x80010023 /* PG | WP | NE | MP | PE */
#define BOOT_CR4  0xa0       /* PGE | PAE */
#define BOOT_EFER 0x900      /* NXE | LME */

/* Model-specific registers (Intel SDM vol. 4, "Model-Specific Registers"). */
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_EFER      0xc0000080
#define MSR_IA32_GS_BASE   0xc0000101

/* Page-table entry bits (Intel SDM vol. 3A, "4-Level Paging and 5-Level Paging"): a PDPTE
 * with PS set maps a 1-GiB page. */
#define PTE_PRESENT  0x001
#define PTE_WRITABLE 0x002
#define PTE_HUGE     0x080

/* CPUID 0x80000001 EDX bit 26: 1-GByte pages ("pdpe1gb"). */
#define CPUID_80000001_EDX_PDPE1GB 26

/* axcpu's GDT (axcpu/src/x86_64/gdt.rs): kernel code32/code64/data, user code32/data/code64,
 * then the 16-byte TSS descriptor. */
#define KCODE32_SELECTOR 0x08
#define KCODE64_SELECTOR 0x10
#define KDATA_SELECTOR   0x18
#define UCODE32_SELECTOR 0x23
#define UDATA_SELECTOR   0x2b
#define UCODE64_SELECTOR 0x33
#define TSS_SELECTOR     0x38

/* axplat-x86-pc's apic.rs: the Local APIC's vectors. */
#define APIC_TIMER_VECTOR    0xf0
#define APIC_SPURIOUS_VECTOR 0xf1
#define APIC_ERROR_VECTOR    0xf2
#define IO_APIC_VECTOR_BASE  0x20

/* The QEMU-style ways out that tsvisor offers: the ACPI PM1a control (a 16-bit write of
 * 0x2000 to 0x604 powers off, status 0) and isa-debug-exit (status (code << 1) | 1). */
#define POWER_OFF_PORT  0x604
#define POWER_OFF_VALUE 0x2000
#define DEBUG_EXIT_PORT 0xf4

/* COM1's I/O ports. */
#define COM1_PORT 0x3f8

#endif
