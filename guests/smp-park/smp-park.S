/* smp-park: tells the bootstrap processor from an application processor. Every vCPU starts
 * here in real mode (the BSP at boot, an AP when its start request names vector 0x08). The
 * BSP (APIC ID 0) prints "bsp" and halts with interrupts on, forever; an AP prints "ap" and
 * powers the machine off. Used to show that an AP stays parked until it is started, and that
 * any vCPU's power-off ends the whole VM. */
    .set COM1, 0x3f8
    .set POWER_OFF_PORT, 0x604
    .set POWER_OFF_VALUE, 0x2000

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    xorw    %ax, %ax
    movw    %ax, %ds
    movl    $1, %eax
    cpuid                               /* EBX[31:24]: the initial APIC ID */
    shrl    $24, %ebx
    jnz     application_processor
    movw    $bsp_message, %si
    call    print
1:  sti
    hlt
    jmp     1b

application_processor:
    movw    $ap_message, %si
    call    print
    movw    $POWER_OFF_PORT, %dx
    movw    $POWER_OFF_VALUE, %ax
    outw    %ax, %dx
2:  hlt
    jmp     2b

/* Prints the NUL-terminated string at DS:SI on COM1 (the emulated UART's THR is always empty). */
print:
    movw    $COM1, %dx
3:  lodsb
    testb   %al, %al
    jz      4f
    outb    %al, %dx
    jmp     3b
4:  ret

bsp_message: .asciz "bsp\n"
ap_message:  .asciz "ap\n"
