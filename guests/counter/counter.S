/* counter: counts forever in guest memory, with no exits: the dword at 0x7000 goes up as
 * long as the vCPU runs. Used to see a vCPU stop while the VM is paused, go on after resume,
 * and leave KVM_RUN when it is kicked. */
    .set COUNTER, 0x7000

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    xorw    %ax, %ax
    movw    %ax, %ds
1:  incl    COUNTER
    jmp     1b
