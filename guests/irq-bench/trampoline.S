/* The AP start-up trampoline of guests/smp, built into this kernel as it is: the copy-to-
 * TRAMPOLINE_BASE real-mode code that takes an AP into long mode and calls ap_start() on the
 * stack the BSP chose (see ../smp/trampoline.S and ../smp/trampoline.h). */
#include "../smp/trampoline.S"
