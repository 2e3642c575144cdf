/* arceos-path's way in: ArceOS's x86 PC entry (axplat-x86-pc src/multiboot.S with the
 * constants of src/boot.rs), instruction for instruction, plus a check ArceOS lacks.
 *
 * The kernel is linked where ArceOS links itself: at virtual PHYS_VIRT_OFFSET + 0x200000
 * (0xffff800000200000), loaded at physical 0x200000 (kernel.ld). So every address this file
 * uses before paging is on is `symbol - PHYS_VIRT_OFFSET`, as in ArceOS.
 *
 * _start is entered as Multiboot 0.6.96 section 3.2 says: 32-bit protected mode, paging off,
 * flat segments of unknown selectors, interrupts off, EAX = 0x2BADB002, EBX = the physical
 * address of the boot information, ESP undefined (no stack), GDTR possibly invalid. Whoever
 * enters it (tsvisor's BIOS stub, an AxVisor-style BIOS, or tsvisor itself) also enters at
 * the image's first byte, 0x200000: code, as ArceOS has it, with the header a few bytes in.
 *
 * bsp_entry32 loads ArceOS's temporary GDT and data segments. Then, added here (ArceOS has
 * only a FIXME), it checks CPUID 0x80000001 EDX bit 26 for the 1-GiB pages its page tables
 * use. Without them ArceOS faults at the first instruction fetch after paging comes on, with
 * no IDT: a triple fault. This kernel instead notes it (main.c reports a FAIL), points the
 * PDPT's first four entries at page directories of 2-MiB pages (the first 4 GiB, at both
 * aliases) and goes on, so that the rest of the path is still checked.
 *
 * Then it switches to IA-32e mode as the Intel SDM vol. 3A describes ("Initializing IA-32e
 * Mode"): CR4.PAE, CR3, EFER.LME, CR0.PG, then a far jump to a 64-bit code segment. ArceOS
 * writes the three registers whole, not read-modify-write, and so does this file. The 64-bit
 * code still runs at the low (identity) alias; it zeroes the segment registers, takes the
 * boot stack at its high-half address and calls rust_entry (main.c) through its high-half
 * address, so that everything from there on runs in the high half.
 */
#include "arceos.h"
#include "multiboot.h"

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    movl    %eax, %edi                  /* arg 1 of rust_entry: the magic, 0x2BADB002 */
    movl    %ebx, %esi                  /* arg 2: the multiboot information's physical address */
    jmp     bsp_entry32

/* Multiboot 0.6.96 section 3.1: within the first 8 KiB, 4-byte aligned. With flags bit 16 the
 * loader takes the addresses from here (3.1.3): the file's bytes go to [load_addr,
 * load_end_addr), [load_end_addr, bss_end_addr) is zeroed, and entry_addr is where it jumps. */
    .balign 4
    .globl multiboot_header
    .type multiboot_header, STT_OBJECT
multiboot_header:
    .long   MULTIBOOT_HEADER_MAGIC                                  /* 0x1BADB002 */
    .long   ARCEOS_MULTIBOOT_HEADER_FLAGS                           /* 0x00010002 */
    .long   -(MULTIBOOT_HEADER_MAGIC + ARCEOS_MULTIBOOT_HEADER_FLAGS)  /* checksum */
    .long   multiboot_header - PHYS_VIRT_OFFSET                     /* header_addr */
    .long   _skernel - PHYS_VIRT_OFFSET                             /* load_addr: 0x200000 */
    .long   _edata - PHYS_VIRT_OFFSET                               /* load_end_addr */
    .long   _ebss - PHYS_VIRT_OFFSET                                /* bss_end_addr: 0x258000 */
    .long   _start - PHYS_VIRT_OFFSET                               /* entry_addr: 0x200000 */
    .size multiboot_header, . - multiboot_header

bsp_entry32:
    lgdtl   (tmp_gdt_desc - PHYS_VIRT_OFFSET)   /* a 32-bit base: the GDT's physical address */
    movw    $TMP_DATA_SELECTOR, %ax
    movw    %ax, %ss
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %fs
    movw    %ax, %gs

    /* Not in ArceOS: the PDPT entries below set PS, which needs 1-GiB page support (CPUID
     * 0x80000001 EDX bit 26; Intel SDM vol. 2A, CPUID). Without it PS is a reserved bit there
     * and the first translation faults (a #PF with RSVD set). cpuid clobbers EAX-EDX; EDI and
     * ESI keep the magic and the information. */
    movl    $0x80000000, %eax
    cpuid
    cmpl    $0x80000001, %eax
    jb      no_pdpe1gb
    movl    $0x80000001, %eax
    cpuid
    btl     $CPUID_80000001_EDX_PDPE1GB, %edx
    jnc     no_pdpe1gb
    movl    $1, (boot_has_pdpe1gb - PHYS_VIRT_OFFSET)

paging_on:
    /* ArceOS's ENTRY32_COMMON, after the data segments. */
    movl    $BOOT_CR4, %eax             /* PAE | PGE */
    movl    %eax, %cr4
    leal    (tmp_pml4 - PHYS_VIRT_OFFSET), %eax
    movl    %eax, %cr3
    movl    $MSR_IA32_EFER, %ecx
    movl    $0, %edx
    movl    $BOOT_EFER, %eax            /* LME | NXE */
    wrmsr
    movl    $BOOT_CR0, %eax             /* PE | MP | NE | WP | PG: paging on, IA-32e mode active */
    movl    %eax, %cr0
    ljmpl   $TMP_CODE64_SELECTOR, $(bsp_entry64 - PHYS_VIRT_OFFSET)

    .code64
bsp_entry64:
    /* ENTRY64_COMMON: null selectors; 64-bit mode ignores the data segments' bases and limits. */
    xorw    %ax, %ax
    movw    %ax, %ss
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %fs
    movw    %ax, %gs
    movabsq $boot_stack, %rsp           /* high-half addresses from here on */
    addq    $BOOT_STACK_SIZE, %rsp
    movabsq $rust_entry, %rax           /* rust_entry(magic, mbi): EDI, ESI */
    call    *%rax
.Lhlt:
    hlt
    jmp     .Lhlt

/* No 1-GiB pages (boot_has_pdpe1gb stays 0): PDPT entries 0-3 become the four 2-MiB page
 * directories of fallback_pd, 4-511 not present; then on as ArceOS goes. The PML4 is
 * unchanged, so both aliases still reach the first 4 GiB: RAM, the IO APIC and the Local
 * APIC. Still 32-bit code with paging off, without a stack, and EDI/ESI kept. */
    .code32
no_pdpe1gb:
    movl    $(tmp_pdpt - PHYS_VIRT_OFFSET), %ebx
    movl    $(fallback_pd - PHYS_VIRT_OFFSET + (PTE_PRESENT | PTE_WRITABLE)), %eax
    movl    $4, %ecx
1:  movl    %eax, (%ebx)
    movl    $0, 4(%ebx)
    addl    $0x1000, %eax
    addl    $8, %ebx
    loop    1b
    movl    $(508 * 2), %ecx
    xorl    %eax, %eax
2:  movl    %eax, (%ebx)
    addl    $4, %ebx
    loop    2b
    jmp     paging_on

    .section .rodata
    .balign 8
tmp_gdt_desc:
    .word   tmp_gdt_end - tmp_gdt - 1           /* limit */
    .long   tmp_gdt - PHYS_VIRT_OFFSET          /* base, physical */

    .data
/* Whether the check above passed, for main.c to report. In .data: rust_entry clears .bss. */
    .balign 4
    .globl boot_has_pdpe1gb
boot_has_pdpe1gb:
    .long   0

/* ArceOS's temporary GDT (Intel SDM vol. 3A, "Segment Descriptors"): flat, DPL 0, G = 1;
 * type 0xb is execute/read code (accessed), 0x3 read/write data (accessed); the 64-bit code
 * segment has L = 1, D = 0. */
    .balign 16
    .globl tmp_gdt
tmp_gdt:
    .quad   0x0000000000000000          /* 0x00: null */
    .quad   0x00cf9b000000ffff          /* 0x08: code, 32-bit */
    .quad   0x00af9b000000ffff          /* 0x10: code, 64-bit */
    .quad   0x00cf93000000ffff          /* 0x18: data */
tmp_gdt_end:

/* The temporary page tables (Intel SDM vol. 3A, "4-Level Paging and 5-Level Paging"): PML4
 * entries 0 (virtual 0) and 256 (virtual 0xffff800000000000) both point at one PDPT whose
 * 512 entries map 1-GiB pages (PS = 1) over the first 512 GiB of physical memory. So
 * physical P is reachable at P and at PHYS_VIRT_OFFSET + P: the identity alias keeps the
 * code that turns paging on running, and the high-half alias is where the kernel lives.
 * (ArceOS has a PDPT for each half, with the same entries; one shared table is the same
 * mapping.) */
    .balign 4096
    .globl tmp_pml4, tmp_pdpt
tmp_pml4:
    .quad   tmp_pdpt - PHYS_VIRT_OFFSET + (PTE_PRESENT | PTE_WRITABLE)
    .zero   8 * 255
    .quad   tmp_pdpt - PHYS_VIRT_OFFSET + (PTE_PRESENT | PTE_WRITABLE)
    .zero   8 * 255
tmp_pdpt:
    .set    i, 0
    .rept   512
    .quad   (i << 30) | (PTE_PRESENT | PTE_WRITABLE | PTE_HUGE)
    .set    i, i + 1
    .endr

/* Only without 1-GiB pages: 2048 2-MiB pages over the first 4 GiB (page-directory entries
 * with PS set, which every x86-64 processor supports). */
    .balign 4096
    .globl fallback_pd
fallback_pd:
    .set    i, 0
    .rept   2048
    .quad   (i << 21) | (PTE_PRESENT | PTE_WRITABLE | PTE_HUGE)
    .set    i, i + 1
    .endr

/* The boot stack: ArceOS's BOOT_STACK, in .bss.stack, which kernel.ld places before _sbss so
 * that clearing .bss (rust_entry's first act) leaves the stack it runs on alone. */
    .section .bss.stack, "aw", @nobits
    .balign 4096
    .globl boot_stack
boot_stack:
    .skip   BOOT_STACK_SIZE
