/* The application processors' start-up trampoline (ap-start.h): real mode -> long mode ->
 * the entry function ap_start() (ap-start.c) was given.
 *
 * INIT-SIPI-SIPI starts an AP in real mode at CS:IP = (vector << 8):0000 (Intel SDM vol. 3A,
 * 9.4.3 "MP Initialization Protocol Algorithm for MP Systems"), so ap_start() copies the
 * bytes from ap_start_trampoline to ap_start_trampoline_end to AP_START_PAGE, whose page
 * number is the vector; every address inside the copy is AT(label). There the AP notes the
 * EDX, CS and IP it started with, for ap_start_cs_ip(), turns caching back on (INIT leaves CR0.CD
 * and CR0.NW set, 9.1.1 Table 9-1) and far-jumps to _start, the real-mode entry of the kernel
 * image (lib/boot/realmode.S): from there it boots as the BSP did, through the boot GDT and
 * long-mode.S, which goes on at long_mode_next, pointed at ap_start_long_mode by ap_start().
 * Only that last step, in the image, is the AP's own: the stack ap_start() chose, and C. */
#include "ap-start.h"
#include "boot.h"

#define AT(label) (AP_START_PAGE + ((label) - ap_start_trampoline))

    .section .rodata.ap_start, "a"
    .code16
    .globl ap_start_trampoline, ap_start_trampoline_end, ap_start_entry_cs, ap_start_entry_ip, ap_start_entry_edx
ap_start_trampoline:
    xorw    %ax, %ax
    movw    %ax, %ds
    movl    %edx, AT(ap_start_entry_edx)
    movw    %ax, %ss
    movw    $AP_START_PAGE, %sp         /* a stack for the call: below the page, free */
    movw    %cs, AT(ap_start_entry_cs)
    call    1f
1:  popw    %ax                         /* the IP of 1b */
    subw    $(1b - ap_start_trampoline), %ax
    movw    %ax, AT(ap_start_entry_ip)
    movl    %cr0, %eax
    andl    $~(CR0_CD | CR0_NW), %eax
    movl    %eax, %cr0
    ljmp    $0, $_start

    .balign 4
ap_start_entry_edx:                     /* written by the AP: what it started with */
    .long   0
ap_start_entry_cs:
    .word   0
ap_start_entry_ip:
    .word   0
ap_start_trampoline_end:

/* In the kernel image, from long-mode.S: 64-bit mode, flat segments, no stack yet. */
    .text
    .code64
    .globl ap_start_long_mode
ap_start_long_mode:
    movq    ap_start_stack_top(%rip), %rsp
    xorl    %ebp, %ebp
    call    ap_start_main               /* which does not return */
