/* The entry stubs of idt.c's gates, one per vector 0-255.
 *
 * In 64-bit mode the CPU pushes SS, RSP, RFLAGS, CS and RIP, and for some exceptions an
 * error code (Intel SDM vol. 3A, 7.14.2 "64-Bit Mode Stack Frame"; which ones: Table 7-1
 * "Protected-Mode Exceptions and Interrupts", the "Error Code" column: 8, 10-14, 17, 21).
 * Each stub pushes a zero where the CPU pushes no error code, then its vector, so that every
 * vector reaches interrupt_common with the same frame:
 *   [rsp] vector, error code, RIP, CS, RFLAGS, RSP, SS.
 * interrupt_common saves every general-purpose register on top (struct interrupt_frame in
 * idt.h), calls interrupt_dispatch(frame), restores them and returns with iretq. The test
 * kernels use no SSE/x87 (-mgeneral-regs-only), so there is no other state to save. */
    .code64
    .text
    .altmacro
    .macro interrupt_stub vector
interrupt_stub_\vector:
    .if !(\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21)
    pushq   $0
    .endif
    pushq   $\vector
    jmp     interrupt_common
    .endm

    .set vector, 0
    .rept 256
    interrupt_stub %vector
    .set vector, vector + 1
    .endr

interrupt_common:
    pushq   %rax
    pushq   %rbx
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    pushq   %rbp
    pushq   %r8
    pushq   %r9
    pushq   %r10
    pushq   %r11
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, %rdi          /* the frame, the handler's argument */
    movq    %rsp, %rbx          /* callee-saved: the frame again after the call */
    andq    $-16, %rsp          /* the ABI's call alignment */
    cld
    call    interrupt_dispatch
    movq    %rbx, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %r11
    popq    %r10
    popq    %r9
    popq    %r8
    popq    %rbp
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rbx
    popq    %rax
    addq    $16, %rsp           /* the vector and the error code */
    iretq

/* The stubs' addresses, by vector, for idt_init(). */
    .macro stub_address vector
    .quad   interrupt_stub_\vector
    .endm

    .section .rodata
    .balign 8
    .globl interrupt_stubs
interrupt_stubs:
    .set vector, 0
    .rept 256
    stub_address %vector
    .set vector, vector + 1
    .endr
