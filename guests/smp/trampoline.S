/* The application processors' way in: real mode -> protected mode -> long mode -> C.
 *
 * The BSP copies the bytes from ap_trampoline to ap_trampoline_end to TRAMPOLINE_BASE (a
 * page below 1 MiB, below the kernel at 0x8000), fills in the GDTR, CR3 and stack fields,
 * and sends INIT, SIPI (vector TRAMPOLINE_BASE >> 12), SIPI. The AP starts here in real mode
 * at CS:IP = (TRAMPOLINE_BASE >> 4):0000, loads the BSP's GDT (the boot GDT of
 * long-mode.S, whose selectors boot.h names), sets CR0.PE, enables PAE, EFER.LME and paging
 * on the BSP's page tables (the same steps as lib/boot/long-mode.S) and jumps to
 * ap_entry64 in the kernel image with its own stack. Every address inside the copy is
 * TRAMPOLINE_BASE + the offset from ap_trampoline, so the code depends on nothing else. */
#include "boot.h"
#include "trampoline.h"

#define AT(label) (TRAMPOLINE_BASE + ((label) - ap_trampoline))

    .section .rodata.trampoline, "a"
    .code16
    .globl ap_trampoline, ap_trampoline_end
    .globl ap_trampoline_gdtr, ap_trampoline_cr3, ap_trampoline_stack
    .globl ap_trampoline_entry_cs, ap_trampoline_entry_ip
ap_trampoline:
    cli
    cld
    /* The SDM starts the AP at CS:IP = (vector << 8):0000. Note where it really started (CS
     * in SI, IP in DI) for the BSP to check, then go on at CS = TRAMPOLINE_BASE >> 4 in any
     * case. A stack first, for the call: below the trampoline, in free memory. */
    xorw    %ax, %ax
    movw    %ax, %ss
    movw    $TRAMPOLINE_BASE, %sp
    movw    %cs, %si
    call    1f
1:  popw    %di                         /* the IP of 1b */
    subw    $(1b - ap_trampoline), %di  /* the IP of ap_trampoline */
    ljmp    $(TRAMPOLINE_BASE >> 4), $(2f - ap_trampoline)
2:  movw    $(TRAMPOLINE_BASE >> 4), %ax
    movw    %ax, %ds
    movw    %si, ap_trampoline_entry_cs - ap_trampoline
    movw    %di, ap_trampoline_entry_ip - ap_trampoline
    lgdtl   ap_trampoline_gdtr - ap_trampoline
    movl    %cr0, %eax
    andl    $0x9fffffff, %eax           /* CD and NW off: caching on (INIT leaves them set) */
    orl     $CR0_PE, %eax
    movl    %eax, %cr0
    ljmpl   $BOOT_CS32, $AT(protected_mode)

    .code32
protected_mode:
    movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movw    %ax, %fs
    movw    %ax, %gs
    movl    %cr4, %eax
    orl     $CR4_PAE, %eax
    movl    %eax, %cr4
    movl    AT(ap_trampoline_cr3), %eax
    movl    %eax, %cr3
    movl    $MSR_EFER, %ecx
    rdmsr
    orl     $EFER_LME, %eax
    wrmsr
    movl    %cr0, %eax
    orl     $CR0_PG, %eax
    movl    %eax, %cr0
    ljmpl   $BOOT_CS64, $AT(long_mode)

    .code64
long_mode:
    movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movq    AT(ap_trampoline_stack), %rsp
    xorl    %ebp, %ebp
    movabsq $ap_entry64, %rax
    jmpq    *%rax

    .balign 8
ap_trampoline_gdtr:                     /* lgdtl in real mode: 16-bit limit, 32-bit base */
    .word   0
    .long   0
    .word   0                           /* padding */
ap_trampoline_cr3:
    .quad   0
ap_trampoline_stack:
    .quad   0
ap_trampoline_entry_cs:                 /* written by the AP: where it started */
    .word   0
ap_trampoline_entry_ip:
    .word   0
ap_trampoline_end:

    .text
/* In the kernel image, in 64-bit mode, on the AP's own stack (16-byte aligned). */
ap_entry64:
    call    ap_start
1:  cli
    hlt
    jmp     1b
