#include "fw_cfg.h"

#include "io.h"
#include "string.h"

void fw_cfg_select(uint16_t key) { outw(FW_CFG_SELECTOR_PORT, key); }

void fw_cfg_read(void *buffer, uint32_t length) {
    uint8_t *bytes = buffer;
    while (length--) *bytes++ = inb(FW_CFG_DATA_PORT);
}

static uint64_t read_little_endian(unsigned size) {
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++) value |= (uint64_t)inb(FW_CFG_DATA_PORT) << (8 * i);
    return value;
}

static uint32_t read_big_endian(unsigned size) {
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++) value = value << 8 | inb(FW_CFG_DATA_PORT);
    return value;
}

uint16_t fw_cfg_read_u16(void) { return (uint16_t)read_little_endian(2); }
uint32_t fw_cfg_read_u32(void) { return (uint32_t)read_little_endian(4); }
uint64_t fw_cfg_read_u64(void) { return read_little_endian(8); }

bool fw_cfg_present(void) {
    char signature[4];
    fw_cfg_select(FW_CFG_SIGNATURE);
    fw_cfg_read(signature, sizeof signature);
    return memcmp(signature, "QEMU", sizeof signature) == 0;
}

/* fw_cfg.rst, "File Directory": a big-endian u32 count, then `count` 64-byte entries of
 * {u32 size, u16 select, u16 reserved, char name[56]}, all big-endian. Without the
 * signature check an absent device would read as a directory of 0xffffffff entries. */
bool fw_cfg_find_file(const char *name, struct fw_cfg_file *file) {
    if (!fw_cfg_present()) return false;
    fw_cfg_select(FW_CFG_FILE_DIR);
    uint32_t count = read_big_endian(4);
    while (count--) {
        file->size = read_big_endian(4);
        file->select = (uint16_t)read_big_endian(2);
        read_big_endian(2); /* reserved */
        fw_cfg_read(file->name, sizeof file->name);
        file->name[sizeof file->name - 1] = 0;
        if (strcmp(file->name, name) == 0) return true;
    }
    return false;
}
