/* boot_priv.h: what the boot_*.c files share and nothing else needs. */
#ifndef CORE_BOOT_PRIV_H
#define CORE_BOOT_PRIV_H

#include <string.h>

#include "boot.h"

static inline uint16_t boot_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t boot_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t boot_get64(const uint8_t *p)
{
	return boot_get32(p) | (uint64_t)boot_get32(p + 4) << 32;
}

static inline void boot_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void boot_put32(uint8_t *p, uint32_t v)
{
	boot_put16(p, (uint16_t)v);
	boot_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

/* boot_elf.c */
int boot_elf_probe(const uint8_t *k, size_t size, int *has_pvh);
int boot_elf_load(const struct vm_ram *ram, const struct boot_image *img, struct boot_info *info,
		  struct err *e);
/* boot_bzimage.c */
int boot_bzimage_probe(const uint8_t *k, size_t size);
/* Loads the kernel and fills the zero page's setup header (the caller adds the rest). */
int boot_bzimage_load(const struct vm_ram *ram, const struct boot_image *img,
		      struct boot_info *info, uint8_t *zero_page, uint64_t *initrd_max,
		      struct err *e);

/* Linux zero page (struct boot_params) offsets used here. */
#define ZP_ACPI_RSDP_ADDR    0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE  0x0c4
#define ZP_EXT_CMD_LINE_PTR  0x0c8
#define ZP_E820_ENTRIES	     0x1e8
#define ZP_SETUP_SECTS	     0x1f1
#define ZP_VID_MODE	     0x1fa
#define ZP_BOOT_FLAG	     0x1fe
#define ZP_JUMP		     0x200
#define ZP_HEADER	     0x202
#define ZP_VERSION	     0x206
#define ZP_TYPE_OF_LOADER    0x210
#define ZP_LOADFLAGS	     0x211
#define ZP_RAMDISK_IMAGE     0x218
#define ZP_RAMDISK_SIZE	     0x21c
#define ZP_CMD_LINE_PTR	     0x228
#define ZP_INITRD_ADDR_MAX   0x22c
#define ZP_KERNEL_ALIGNMENT  0x230
#define ZP_XLOADFLAGS	     0x236
#define ZP_CMDLINE_SIZE	     0x238
#define ZP_PREF_ADDRESS	     0x258
#define ZP_INIT_SIZE	     0x260
#define ZP_E820_TABLE	     0x2d0
#define ZP_E820_MAX	     128
#define ZP_SIZE		     0x1000

#define E820_RAM      1
#define E820_RESERVED 2

#define BZ_HDRS_MAGIC	 0x53726448u /* "HdrS" */
#define BZ_XLF_KERNEL_64 0x1
#define BZ_LOADED_HIGH	 0x1
#define BZ_MIN_PROTOCOL	 0x0206

#endif
