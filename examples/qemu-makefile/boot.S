/* The way in: a Multiboot 0.6.96 header (section 3.1) without the a.out kludge, so the loader
 * (QEMU's -kernel, or tsvisor-qemu's) reads the ELF program headers; then, in the machine
 * state of section 3.2 (32-bit protected mode, paging off, EAX the magic, EBX the boot
 * information), a stack and kmain(magic, info). */
#define MULTIBOOT_MAGIC       0x1badb002
#define MULTIBOOT_MEMORY_INFO 0x00000002 /* ask for mem_lower and mem_upper */

    .section .multiboot, "a"
    .balign 4
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_MEMORY_INFO
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_MEMORY_INFO)

    .text
    .globl _start
_start:
    movl    $stack_top, %esp
    pushl   %ebx            /* kmain(magic, info) */
    pushl   %eax
    call    kmain
1:  cli
    hlt
    jmp     1b

    .bss
    .balign 16
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
