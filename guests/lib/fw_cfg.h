/* QEMU's firmware configuration device (fw_cfg) over x86 I/O ports, as QEMU's
 * docs/specs/fw_cfg.rst describes it: write an item's 16-bit selector key to the selector
 * register, then read the item's bytes one at a time from the data register, which advances
 * through the item (and reads 0 past its end). */
#ifndef GUEST_FW_CFG_H
#define GUEST_FW_CFG_H

#include <stdbool.h>
#include <stdint.h>

#define FW_CFG_SELECTOR_PORT 0x510 /* "Selector (Control) Register": 16-bit, little-endian */
#define FW_CFG_DATA_PORT     0x511 /* "Data Register": 8-bit */

/* "Firmware Configuration Items": well-known keys. */
#define FW_CFG_SIGNATURE 0x00 /* "QEMU" */
#define FW_CFG_RAM_SIZE  0x03 /* u64, little-endian */
#define FW_CFG_NB_CPUS   0x05 /* u16, little-endian: the CPUs at boot (QEMU's -smp cpus) */
#define FW_CFG_MAX_CPUS  0x0f /* u16, little-endian: every CPU, plugged in or not (maxcpus) */
#define FW_CFG_FILE_DIR  0x19 /* the file directory: see fw_cfg_find_file() */

#define FW_CFG_FILE_NAME_SIZE 56 /* including the terminating NUL */

/* A file directory entry, decoded (the directory itself is big-endian). */
struct fw_cfg_file {
    uint32_t size;
    uint16_t select;
    char name[FW_CFG_FILE_NAME_SIZE];
};

void fw_cfg_select(uint16_t key);
/* The next bytes of the selected item. The u16/u32/u64 forms read little-endian values, as
 * the well-known items and the files QEMU writes for x86 (like etc/e820) hold them. */
void fw_cfg_read(void *buffer, uint32_t length);
uint16_t fw_cfg_read_u16(void);
uint32_t fw_cfg_read_u32(void);
uint64_t fw_cfg_read_u64(void);

bool fw_cfg_present(void); /* the signature item reads "QEMU" */
/* Looks `name` up in the file directory; on success fills *file. False without fw_cfg. */
bool fw_cfg_find_file(const char *name, struct fw_cfg_file *file);

#endif
