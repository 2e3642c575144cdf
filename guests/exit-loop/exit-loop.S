/* exit-loop: the guest of the exit-latency benchmark (src/bench). Real mode, no set-up:
 * it executes `out %al, $0x80` as many times as the dword at offset 4 of the image says
 * (the harness writes it after loading), then ends through the debug-exit port with
 * code 0. Each iteration is one VM exit to a port no device owns. */
    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    jmp     start
    .balign 4
iterations:                         /* guest physical 0x8004: written by the harness */
    .long   1000
start:
    cli
    xorw    %ax, %ax
    movw    %ax, %ds
    movl    iterations, %ecx
1:  outb    %al, $0x80
    decl    %ecx
    jnz     1b
    movw    $0xf4, %dx
    xorl    %eax, %eax
    outl    %eax, %dx
2:  hlt
    jmp     2b
