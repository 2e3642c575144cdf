/* The 64-bit start of every C test kernel: clears .bss, takes the boot stack and calls
 * kmain(), whose return value goes to guest_finish(), which ends the VM.
 *
 * Reached in long mode with flat segments and paging on, from long-mode.S or, for kernels a
 * VMM enters in 64-bit mode, straight from elf64.S. It touches no stack until .bss (which
 * holds the stack) is clear, so it needs none on entry. */
#include "boot.h"

    .code64
    .text
    .globl start64
start64:
    /* Zero .bss: an image does not cover it. */
    movq    $__bss_start, %rdi
    movq    $__bss_end, %rcx
    subq    %rdi, %rcx
    shrq    $3, %rcx
    xorl    %eax, %eax
    cld
    rep stosq
    movq    $boot_stack_top, %rsp
    xorl    %ebp, %ebp
    call    kmain
    movl    %eax, %edi
    call    guest_finish
1:  cli
    hlt
    jmp     1b

    .bss
    .balign 16
boot_stack: .skip BOOT_STACK_SIZE
boot_stack_top:
