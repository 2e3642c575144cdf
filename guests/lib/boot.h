/* Constants shared by the boot assembly: selectors of the boot GDT (long-mode.S) and
 * control-register bits (Intel SDM vol. 3A, 2.5 "Control Registers"). */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#define BOOT_CS32 0x08 /* flat 32-bit code */
#define BOOT_DS   0x10 /* flat data */
#define BOOT_CS64 0x18 /* 64-bit code */

#define CR0_PE (1 << 0)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

#define PTE_PRESENT (1 << 0)
#define PTE_WRITE   (1 << 1)
#define PTE_LARGE   (1 << 7) /* a 2 MiB page in a page-directory entry */

#define BOOT_STACK_SIZE 0x4000

#endif
