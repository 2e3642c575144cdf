/* The entry point of a native ELF64 test kernel, which a VMM loads from its PT_LOAD
 * segments and enters at e_entry already in 64-bit mode, with its own GDT and identity page
 * tables, interrupts off and no usable stack (tsvisor's direct ELF64 boot sets RSP = 0).
 * Everything long-mode.S would do is done, so this goes straight on to start64.S, which
 * uses no stack before it has its own. */
    .code64
    .section .text.entry, "ax"
    .globl _start
_start:
    jmp     start64
