/* The entry point every test kernel defines. long-mode.S calls it in 64-bit mode with the
 * low 4 GiB identity-mapped; its return value goes to guest_finish() (0 powers off). */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

int kmain(void);

#endif
