/* bios: tsvisor's built-in BIOS stub, which boots a Multiboot kernel the way AxVisor's x86
 * guests are booted: the VMM loads this image at 0x8000 and the kernel where it asks to be,
 * writes the kernel's entry point and the boot information's address into the parameter
 * block below, and starts vCPU 0 here in real mode (CS = 0, IP = 0x8000). The stub enters
 * flat 32-bit protected mode and jumps to the kernel in the machine state of Multiboot
 * 0.6.96 section 3.2: EAX = 0x2BADB002, EBX = the boot information, paging and interrupts
 * off, flat 32-bit code and data segments.
 *
 * The VMM relies on this layout (offsets from the image's first byte, at 0x8000):
 *   0   a 2-byte short jmp over the parameter block
 *   4   "TSVB", to recognise the stub
 *   8   u32: the kernel's entry point, physical (written by the VMM)
 *   12  u32: the Multiboot information's physical address (written by the VMM)
 * Assembly only: it shares nothing with lib/.
 *
 * Built a second time with -DAXVISOR_STYLE as build/axvm-style-bios.bin: a stand-in for
 * AxVisor's own axvm-bios, with its contract: the kernel entry (0x200000) is built in, and
 * the multiboot information's address is the immediate of a `mov ebx, imm32` whose opcode
 * is byte 0x3b, which the VMM patches (src/boot/axvm-bios.ts). Given as bios_path, it is
 * loaded and patched as AxVisor would. */
    .set CR0_PE, 0x1
    .set CODE32, 0x08                   /* the selectors of the GDT below */
    .set DATA, 0x10
    .set MULTIBOOT_BOOTLOADER_MAGIC, 0x2badb002
    .set STACK_SIZE, 256

    .code16
    .section .text.entry, "ax"
    .globl _start
_start:
    jmp     start                       /* short (EB rel8): start is 16 bytes on */
#ifndef AXVISOR_STYLE
    .org    _start + 4, 0
    .ascii  "TSVB"
kernel_entry:   .long 0
multiboot_info: .long 0
#endif

start:
    cli
    xorw    %ax, %ax                    /* DS is unknown: lgdt reads DS:offset */
    movw    %ax, %ds
    lgdtl   gdt_descriptor              /* a 32-bit base; the offset is below 64 KiB */
    movl    %cr0, %eax
    orl     $CR0_PE, %eax
    movl    %eax, %cr0
    ljmpl   $CODE32, $protected_mode    /* CS from the new GDT; real mode ends here */

    .code32
protected_mode:
    movw    $DATA, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %fs
    movw    %ax, %gs
    movw    %ax, %ss
    /* Multiboot leaves ESP undefined; a small stack of our own is kinder than 0. */
    movl    $stack_top, %esp
#ifdef AXVISOR_STYLE
    movl    $MULTIBOOT_BOOTLOADER_MAGIC, %eax
    /* AxVisor's patch site: the opcode of mov ebx, imm32 at byte 0x3b, its immediate at 0x3c,
     * where the VMM writes the multiboot information's address. 0 until it does, so a VMM
     * that does not patch shows (the kernel finds no information). */
    .org    _start + 0x3b, 0x90
    movl    $0, %ebx
    ljmpl   $CODE32, $0x200000          /* where AxVisor loads the kernel */
#else
    movl    multiboot_info, %ebx
    movl    $MULTIBOOT_BOOTLOADER_MAGIC, %eax
    jmp     *kernel_entry
#endif

/* Flat 4 GiB segments with base 0 (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors"): G = 1,
 * D/B = 1 (32-bit), present, DPL 0; type 0xa is execute/read code, 0x2 read/write data. */
    .balign 8, 0
gdt:
    .quad   0                           /* null */
    .quad   0x00cf9a000000ffff          /* 0x08: code, 32-bit */
    .quad   0x00cf92000000ffff          /* 0x10: data */
gdt_end:
gdt_descriptor:
    .word   gdt_end - gdt - 1
    .long   gdt

/* The stack lives in the image itself, as zero bytes: a flat binary carries no .bss. */
    .balign 16, 0
    .fill   STACK_SIZE, 1, 0
stack_top:
