/* Constants shared by the boot assembly (lib/boot) and C: selectors of the boot GDT
 * (lib/boot/long-mode.S) and architectural bits (Intel SDM vol. 3A, 2.5 "Control
 * Registers", 2.2.1 "Extended Feature Enable Register"; 5.5 "4-Level Paging"). Plain hex
 * literals, so that as and C read them alike (and unsigned where bit 31 is set). */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#define BOOT_CS32 0x08 /* flat 32-bit code */
#define BOOT_DS   0x10 /* flat data */
#define BOOT_CS64 0x18 /* 64-bit code */

#define CR0_PE   0x00000001
#define CR0_NW   0x20000000 /* not write-through; set after INIT */
#define CR0_CD   0x40000000 /* cache disable; set after INIT */
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100
#define EFER_LMA 0x00000400 /* set by the CPU once paging is on with LME */

#define PTE_PRESENT 0x001
#define PTE_WRITE   0x002
#define PTE_LARGE   0x080 /* a 2 MiB page in a PD entry, a 1 GiB page in a PDPT entry */

#define BOOT_STACK_SIZE 0x4000

#endif
