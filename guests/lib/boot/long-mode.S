/* From flat 32-bit protected mode to 64-bit long mode, then on to start64.S.
 *
 * Entered with flat 32-bit segments and paging off (from realmode.S or multiboot.S). The
 * page tables are built at assembly time (they identity-map the low 4 GiB with 2 MiB pages,
 * so test kernels reach RAM and MMIO addresses alike): code running before paging is on may
 * be emulated instruction by instruction by KVM, so this part does as little as it can.
 * It enables PAE, EFER.LME and paging (Intel SDM vol. 3A, 10.8.5 "Initializing IA-32e
 * Mode"), far-jumps to 64-bit code and continues at long_mode_next: start64, which runs
 * kmain(), for the BSP; for the application processors that come this way later, the AP
 * entry ap_start() (lib/ap-start.c) puts there. Uses no stack: the multiboot entry arrives
 * without one. */
#include "boot.h"

    .code32
    .text
    .globl enter_long_mode
enter_long_mode:
    movl    %cr4, %eax
    orl     $CR4_PAE, %eax
    movl    %eax, %cr4
    movl    $boot_pml4, %eax
    movl    %eax, %cr3
    movl    $MSR_EFER, %ecx
    rdmsr
    orl     $EFER_LME, %eax
    wrmsr
    movl    %cr0, %eax
    orl     $CR0_PG, %eax
    movl    %eax, %cr0
    ljmpl   $BOOT_CS64, $long_mode

    .code64
long_mode:
    movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    jmpq    *long_mode_next(%rip)

/* Where 64-bit code goes on. In .data, not .bss: it is read before start64 clears .bss. */
    .data
    .balign 8
    .globl long_mode_next
long_mode_next:
    .quad start64

/* The boot GDT (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors"). flat.ld places it right
 * after the real-mode entry, where the 16-bit lgdt in realmode.S can address it;
 * multiboot.S loads it with a 32-bit lgdt from anywhere. */
    .section .boot.data, "a"
    .balign 8
    .globl boot_gdt_descriptor
boot_gdt:
    .quad 0                             /* null */
    .quad 0x00cf9a000000ffff            /* 0x08: code, 32-bit, base 0, limit 4 GiB */
    .quad 0x00cf92000000ffff            /* 0x10: data, base 0, limit 4 GiB */
    .quad 0x00af9a000000ffff            /* 0x18: code, 64-bit (L = 1) */
boot_gdt_end:
boot_gdt_descriptor:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

/* Identity map of the low 4 GiB: PML4[0] -> PDPT; PDPT[0..3] -> four page directories of
 * 512 2 MiB pages each (Intel SDM vol. 3A, 5.5 "4-Level Paging"). */
    .data
    .balign 4096
boot_pml4:
    .quad boot_pdpt + (PTE_PRESENT | PTE_WRITE)
    .fill 511, 8, 0
boot_pdpt:
    .quad boot_pd + 0x0000 + (PTE_PRESENT | PTE_WRITE)
    .quad boot_pd + 0x1000 + (PTE_PRESENT | PTE_WRITE)
    .quad boot_pd + 0x2000 + (PTE_PRESENT | PTE_WRITE)
    .quad boot_pd + 0x3000 + (PTE_PRESENT | PTE_WRITE)
    .fill 508, 8, 0
boot_pd:
    .set frame, 0
    .rept 2048
    .quad (frame << 21) | (PTE_PRESENT | PTE_WRITE | PTE_LARGE)
    .set frame, frame + 1
    .endr
