/* From flat 32-bit protected mode to 64-bit long mode, then into kmain().
 *
 * Entered with flat 32-bit segments and paging off (from realmode-entry.S). Clears .bss,
 * identity-maps the low 4 GiB with 2 MiB pages (so test kernels reach RAM and MMIO
 * addresses alike), enables PAE, EFER.LME and paging (Intel SDM vol. 3A, 10.8.5
 * "Initializing IA-32e Mode"), and far-jumps to 64-bit code. kmain()'s return value is
 * handed to guest_finish(), which ends the VM. */
#include "boot.h"

    .code32
    .text
    .globl enter_long_mode
enter_long_mode:
    /* Zero .bss: the page tables and the stack live there. */
    movl    $__bss_start, %edi
    movl    $__bss_end, %ecx
    subl    %edi, %ecx
    shrl    $2, %ecx
    xorl    %eax, %eax
    cld
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories; 2048 2 MiB pages. */
    movl    $boot_pdpt + (PTE_PRESENT | PTE_WRITE), boot_pml4
    movl    $boot_pd, %eax
    orl     $(PTE_PRESENT | PTE_WRITE), %eax
    xorl    %ecx, %ecx
1:  movl    %eax, boot_pdpt(, %ecx, 8)
    addl    $0x1000, %eax
    incl    %ecx
    cmpl    $4, %ecx
    jne     1b

    xorl    %ecx, %ecx
2:  movl    %ecx, %eax
    shll    $21, %eax
    orl     $(PTE_PRESENT | PTE_WRITE | PTE_LARGE), %eax
    movl    %eax, boot_pd(, %ecx, 8)    /* the high half stays 0: every frame is below 4 GiB */
    incl    %ecx
    cmpl    $2048, %ecx
    jne     2b

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
    movq    $boot_stack_top, %rsp
    xorl    %ebp, %ebp
    call    kmain
    movl    %eax, %edi
    call    guest_finish
3:  cli
    hlt
    jmp     3b

/* The boot GDT (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors"). Placed near the start of
 * the image so that the 16-bit lgdt in realmode-entry.S can address it. */
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

    .bss
    .balign 4096
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4 * 4096
boot_stack: .skip BOOT_STACK_SIZE
boot_stack_top:
