/* halt-loop: halts with interrupts on, and each time it is woken counts the wake in the
 * dword at 0x7004 and halts again. Used to see a halted vCPU sleep and wake on a notify, and
 * to measure how long that takes. */
    .set WAKES, 0x7004

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    xorw    %ax, %ax
    movw    %ax, %ds
    sti
1:  hlt
    incl    WAKES
    jmp     1b
