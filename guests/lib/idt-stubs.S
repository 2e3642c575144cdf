/* The entry stubs of idt.c's exception gates, one per vector 0-31.
 *
 * In 64-bit mode the CPU pushes SS, RSP, RFLAGS, CS and RIP, and for some exceptions an
 * error code (Intel SDM vol. 3A, 7.14.2 "64-Bit Mode Stack Frame"; which ones: Table 7-1
 * "Protected-Mode Exceptions and Interrupts", the "Error Code" column: 8, 10-14, 17, 21).
 * Each stub pushes a zero where the CPU pushes no error code, then its vector, so that every
 * exception reaches exception_handler() with the same frame:
 *   [rsp] vector, error code, RIP, CS, RFLAGS, RSP, SS.
 * The handler ends the VM, so nothing here returns (no register saving, no iretq). */
    .code64
    .text
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_stub_\vector:
    .if !(\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21)
    pushq   $0
    .endif
    pushq   $\vector
    jmp     exception_common
    .endr

exception_common:
    movq    %rsp, %rdi          /* the frame, the handler's argument */
    andq    $-16, %rsp          /* the ABI's call alignment */
    cld
    call    exception_handler
1:  cli
    hlt
    jmp     1b

/* The stubs' addresses, by vector, for idt_init(). */
    .section .rodata
    .balign 8
    .globl exception_stubs
exception_stubs:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad   exception_stub_\vector
    .endr
