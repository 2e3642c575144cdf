/* The application processor's way in: INIT-SIPI-SIPI starts an AP in real mode at
 * CS:IP = (vector << 8):0000, so this code sits on a page boundary below 1 MiB (its page
 * number is the SIPI vector, ap_trampoline_vector()). It takes the AP through the boot GDT
 * (lib/boot/long-mode.S: below 64 KiB, reachable with DS = 0) into 32-bit protected mode,
 * then into long mode on the BSP's page tables (ap_boot_cr3), and calls ap_main() on
 * ap_boot_stack. Flat real-mode kernels only: the image runs where it is linked. */
#include "boot.h"

    .code16
    .section .text.ap_trampoline, "ax"
    .balign 4096
    .globl ap_trampoline
ap_trampoline:
    cli
    xorw    %ax, %ax
    movw    %ax, %ds
    lgdtl   boot_gdt_descriptor
    movl    %cr0, %eax
    andl    $0x9fffffff, %eax           /* CD and NW off (INIT leaves them set): caching on */
    orl     $CR0_PE, %eax
    movl    %eax, %cr0
    ljmpl   $BOOT_CS32, $ap_protected_mode

    .code32
ap_protected_mode:
    movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movw    %ax, %fs
    movw    %ax, %gs
    movl    %cr4, %eax
    orl     $CR4_PAE, %eax
    movl    %eax, %cr4
    movl    ap_boot_cr3, %eax
    movl    %eax, %cr3
    movl    $MSR_EFER, %ecx
    rdmsr
    orl     $EFER_LME, %eax
    wrmsr
    movl    %cr0, %eax
    orl     $CR0_PG, %eax
    movl    %eax, %cr0
    ljmpl   $BOOT_CS64, $ap_long_mode

    .code64
ap_long_mode:
    movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movq    ap_boot_stack(%rip), %rsp
    xorl    %ebp, %ebp
    call    ap_main
1:  cli
    hlt
    jmp     1b

/* Filled in by the BSP before it sends the SIPIs. */
    .data
    .balign 8
    .globl ap_boot_cr3, ap_boot_stack
ap_boot_cr3:   .quad 0
ap_boot_stack: .quad 0
