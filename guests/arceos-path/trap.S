/* The entry stubs of the IDT's gates (cpu.c): vectors 0-31, the exceptions, and 0xf0-0xf2,
 * the Local APIC's timer, spurious and error vectors in ArceOS's apic.rs.
 *
 * In 64-bit mode the CPU aligns RSP to 16 bytes, then pushes SS, RSP, RFLAGS, CS and RIP, and
 * for some exceptions an error code (Intel SDM vol. 3A, "64-Bit Mode Stack Frame"; which
 * ones: the "Error Code" column of "Protected-Mode Exceptions and Interrupts": 8, 10-14, 17,
 * 21, 29, 30). Each stub pushes a zero where the CPU pushes none, then its vector, so that
 * every gate reaches trap_common with one frame (struct trap_frame in cpu.h):
 *   vector, error code, RIP, CS, RFLAGS, RSP, SS.
 * trap_common saves the general-purpose registers on top, calls trap_dispatch(frame),
 * restores them and returns with iretq. The kernel has no SSE or x87 state to save
 * (-mgeneral-regs-only). All in the high half, like everything after the entry. */
    .code64
    .text
    .altmacro
    .macro trap_stub vector
trap_stub_\vector:
    .if !(\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21 || \vector == 29 || \vector == 30)
    pushq   $0
    .endif
    pushq   $\vector
    jmp     trap_common
    .endm

    .set vector, 0
    .rept 32
    trap_stub %vector
    .set vector, vector + 1
    .endr
    trap_stub 0xf0
    trap_stub 0xf1
    trap_stub 0xf2

trap_common:
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
    movq    %rsp, %rdi          /* the frame: trap_dispatch's argument */
    movq    %rsp, %rbx          /* callee-saved: the frame again after the call */
    andq    $-16, %rsp          /* the ABI's alignment at a call */
    cld
    movabsq $trap_dispatch, %rax
    call    *%rax
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

/* The stubs' addresses for cpu.c: 32 exceptions, then 0xf0, 0xf1, 0xf2. */
    .macro stub_address vector
    .quad   trap_stub_\vector
    .endm

    .section .rodata
    .balign 8
    .globl trap_stubs
trap_stubs:
    .set vector, 0
    .rept 32
    stub_address %vector
    .set vector, vector + 1
    .endr
    stub_address 0xf0
    stub_address 0xf1
    stub_address 0xf2
