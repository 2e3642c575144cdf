/* The Multiboot 0.6.96 entry of a test kernel linked at 0x200000 (kernel.ld).
 *
 * .text.entry, which kernel.ld puts first, opens with a short jump over the header (section
 * 3.1): the image's first byte is code, as in ArceOS, so that a BIOS which jumps to
 * 0x200000 without reading the header (AxVisor's axvm-bios does) also starts the kernel. The
 * header sits a few bytes in, well inside the first 8 KiB. Built twice from this file:
 *   -DMULTIBOOT_AOUT_KLUDGE  flags bit 16: the header carries the load addresses and the
 *                            entry point (3.1.3), for flat images, which have no ELF headers;
 *   (without)                the loader takes the addresses from the ELF program headers
 *                            and enters at e_entry.
 * Both ask for memory information (flags bit 1).
 *
 * _start runs in the machine state of section 3.2: 32-bit protected mode, paging off, flat
 * segments of unknown selectors, interrupts off, EAX = 0x2BADB002, EBX = the boot
 * information's physical address, GDTR possibly invalid and ESP undefined. It keeps EAX and
 * EBX in .data (start64.S clears .bss later), loads the library's boot GDT, reloads every
 * segment register from it and goes on to long-mode.S, which needs no stack. */
#include "boot.h"
#include "multiboot.h"

#ifdef MULTIBOOT_AOUT_KLUDGE
#define HEADER_FLAGS (MULTIBOOT_HEADER_MEMORY_INFO | MULTIBOOT_HEADER_AOUT_KLUDGE)
#else
#define HEADER_FLAGS MULTIBOOT_HEADER_MEMORY_INFO
#endif

    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    jmp     multiboot_entry

    .balign 4
multiboot_header:
    .long   MULTIBOOT_HEADER_MAGIC
    .long   HEADER_FLAGS
    .long   -(MULTIBOOT_HEADER_MAGIC + HEADER_FLAGS)   /* the three fields sum to 0 */
#ifdef MULTIBOOT_AOUT_KLUDGE
    .long   multiboot_header    /* header_addr: where this header lands */
    .long   __image_start       /* load_addr: the image's first byte goes here */
    .long   __image_end         /* load_end_addr: end of .data, the last byte in the file */
    .long   __bss_end           /* bss_end_addr: the loader zeroes [load_end_addr, here) */
    .long   _start              /* entry_addr */
#endif

multiboot_entry:
    movl    %eax, multiboot_saved_magic
    movl    %ebx, multiboot_saved_info
    lgdtl   boot_gdt_descriptor
    ljmpl   $BOOT_CS32, $1f
1:  movw    $BOOT_DS, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %fs
    movw    %ax, %gs
    movw    %ax, %ss
    jmp     enter_long_mode

    .data
    .balign 4
    .globl multiboot_saved_magic, multiboot_saved_info
multiboot_saved_magic: .long 0
multiboot_saved_info:  .long 0
