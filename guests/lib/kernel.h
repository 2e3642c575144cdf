/* The entry point every C test kernel defines. lib/boot/start64.S calls it in 64-bit mode
 * with the low 4 GiB identity-mapped (by long-mode.S, or by the VMM for an ELF64 kernel);
 * its return value goes to guest_finish() (0 powers off). */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

int kmain(void);

#endif
