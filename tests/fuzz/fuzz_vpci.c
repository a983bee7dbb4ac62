/*
 * fuzz_vpci.c: libFuzzer target: a passed-through device's config-space shadow and its MSI-X
 * vector state, driven by a malicious guest: any config space the device reports (capability
 * lists that loop, point outside, overlap), any BARs, then any sequence of accesses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msix.h"
#include "vpci.h"

/*
 * Input: 256 bytes of config space (the device's; extended space follows when byte 0x100 of
 * the input exists: up to 4096), preceded by a 32-byte header: 6 BARs as u32 size-log2 and flags
 * (byte each: low 6 bits log2 of the size, 0 = none; high bits the VPCI_BAR_ flags), the hidden
 * capability IDs (4 bytes), the MSI-X table size (u16), then 20 unused bytes. After the config
 * space: operations of 8 bytes: u8 kind, u16 offset, u8 length, u32 value.
 */
#define HDR 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct vpci_cfg c;
	static struct msix_state ms;
	struct vpci_bar bars[6];
	uint8_t cfg[VPCI_CFG_SIZE] = { 0 }, hide[5] = { 0 };
	unsigned cfg_len, table_size;
	size_t i;

	if (len < HDR + 256)
		return 0;
	memset(bars, 0, sizeof(bars));
	for (int b = 0; b < 6; b++) {
		unsigned lg = data[b] & 63, flags = data[b] >> 6;

		if (!lg || lg > 40)
			continue;
		flags = (flags & 1 ? VPCI_BAR_IO : 0) | (flags & 2 ? VPCI_BAR_64 : 0);
		if (flags & VPCI_BAR_IO && lg > 8)
			continue;
		bars[b].size = 1ull << lg;
		bars[b].flags = flags;
		bars[b].gpa =
			(0xc0000000ull >> (flags & VPCI_BAR_IO ? 16 : 0)) & ~(bars[b].size - 1);
		if (flags & VPCI_BAR_64)
			b++; /* its upper register */
	}
	memcpy(hide, data + 6, 4);
	table_size = 1 + ((data[10] | data[11] << 8) % 2048);
	cfg_len = len - HDR >= VPCI_CFG_SIZE ? VPCI_CFG_SIZE : 256;
	memcpy(cfg, data + HDR, cfg_len);
	if (vpci_cfg_init(&c, cfg, cfg_len, bars, hide, NULL, NULL))
		return 0;
	if (msix_state_init(&ms, table_size, NULL))
		return 0;
	for (i = HDR + cfg_len; i + 8 <= len && i < HDR + cfg_len + 8 * 512; i += 8) {
		unsigned kind = data[i], off = (unsigned)(data[i + 1] | data[i + 2] << 8);
		unsigned l = 1u << (data[i + 3] % 3), pass = 0;
		uint32_t v;

		memcpy(&v, data + i + 4, 4);
		off = (off % VPCI_CFG_SIZE) & ~(l - 1);
		switch (kind % 8) {
		case 0:
			vpci_cfg_read(&c, off, l, v);
			break;
		case 1:
			vpci_cfg_write(&c, off, l, v, &pass);
			/* BAR registers never pass to the device */
			if (off >= 0x10 && off < 0x28 && pass)
				abort();
			break;
		case 2:
			vpci_cfg_is_emulated(&c, off, l);
			vpci_cfg_find_cap(&c, (uint8_t)v);
			break;
		case 3:
			msix_vec_configure(&ms, off, 3, 0xfee00000u | (v & 0xff000), v, NULL);
			break;
		case 4:
			msix_vec_enable(&ms, off, NULL);
			break;
		case 5:
			msix_vec_mask(&ms, off, v & 1, NULL);
			break;
		case 6: {
			int fd;

			msix_vec_disable(&ms, off, &fd, NULL);
			break;
		}
		default:
			if (v & 1)
				msix_set_enable(&ms, v & 2);
			else
				msix_set_function_mask(&ms, v & 2);
			break;
		}
		/* the counts and states agree (checked every 16 steps: the check walks all 2048) */
		if ((i / 8) % 16 == 0 && msix_state_check(&ms, NULL))
			abort();
	}
	if (msix_state_check(&ms, NULL))
		abort();
	/* a BAR reads back an address aligned to its size (or its size mask), whatever happened */
	for (int b = 0; b < 6; b++) {
		uint32_t type = c.bar[b].flags & VPCI_BAR_IO ? 3 : 15;

		if (c.bar[b].size && (vpci_cfg_read(&c, 0x10 + 4 * (unsigned)b, 4, 0) &
				      (uint32_t)(c.bar[b].size - 1) & ~type))
			abort();
	}
	return 0;
}
