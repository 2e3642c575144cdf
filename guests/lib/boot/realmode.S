/* The real-mode entry point of a flat test kernel.
 *
 * tsvisor starts the vCPU as AxVisor does: real mode, CS = 0, IP = the image's first byte,
 * interrupts off. This stub loads the boot GDT, sets CR0.PE and far-jumps into 32-bit
 * protected mode, where long-mode.S takes over. Application processors come this way too:
 * the start-up trampoline (lib/ap-start.S) far-jumps here from its low page, and the same
 * steps take them to long mode. */
#include "boot.h"

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    xorw    %ax, %ax
    movw    %ax, %ds
    lgdtl   boot_gdt_descriptor
    movl    %cr0, %eax
    orl     $CR0_PE, %eax
    movl    %eax, %cr0
    ljmpl   $BOOT_CS32, $protected_mode

    .code32
protected_mode:
    movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movw    %ax, %fs
    movw    %ax, %gs
    jmp     enter_long_mode
