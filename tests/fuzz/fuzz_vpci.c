/*
 * fuzz_vpci.c: libFuzzer target: a passed-through device's config-space shadow and its MSI-X
 * vector state, driven by a malicious guest: any config space the device reports (capability
 * lists that loop, point outside, overlap), any BARs, then any sequence of accesses.
 */
#include <errno.h>
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

/*
 * The vector states as msix.h states the transitions, kept beside the library's and compared with
 * it after every operation: the vector touched, its error and the two counts, in constant time.
 * msix_state_check's walk of all 2048 vectors (the stray write to another vector) runs every
 * 128 operations and at the end: walked every 16, it took 75% of the time.
 */
static struct {
	uint8_t state[MSIX_MAX_VECTORS];
	uint32_t table_size, nconfigured, nenabled;
} model;

#define MODEL_FD 3 /* the eventfd every configure gives */

/* What the operation (kind 3 configure, 4 enable, 5 mask, 6 disable) must return and do. */
static int model_step(unsigned kind, uint32_t idx)
{
	uint8_t *st;

	if (idx >= model.table_size)
		return -ERANGE;
	st = &model.state[idx];
	switch (kind) {
	case 3:
		if (*st == MSIX_VEC_ENABLED)
			return -EBUSY;
		model.nconfigured += *st == MSIX_VEC_UNCONFIGURED;
		*st = MSIX_VEC_CONFIGURED;
		return 0;
	case 4:
		if (*st == MSIX_VEC_UNCONFIGURED)
			return -ENOENT;
		if (*st == MSIX_VEC_ENABLED)
			return -EALREADY;
		*st = MSIX_VEC_ENABLED;
		model.nenabled++;
		return 0;
	case 6:
		if (*st == MSIX_VEC_UNCONFIGURED)
			return -ENOENT;
		model.nenabled -= *st == MSIX_VEC_ENABLED;
		model.nconfigured--;
		*st = MSIX_VEC_UNCONFIGURED;
		return 0;
	}
	return 0; /* mask: any vector of the table */
}

/* The library agrees with the model about vector idx and the counts. */
static void model_compare(const struct msix_state *ms, uint32_t idx, int rc, int want)
{
	if (rc != want || ms->nconfigured != model.nconfigured || ms->nenabled != model.nenabled)
		abort();
	if (idx < model.table_size &&
	    (ms->vec[idx].state != model.state[idx] ||
	     ms->vec[idx].eventfd != (model.state[idx] == MSIX_VEC_UNCONFIGURED ? -1 : MODEL_FD)))
		abort();
}

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
	memset(&model, 0, sizeof(model));
	model.table_size = table_size;
	for (i = HDR + cfg_len; i + 8 <= len && i < HDR + cfg_len + 8 * 512; i += 8) {
		unsigned kind = data[i], off = (unsigned)(data[i + 1] | data[i + 2] << 8);
		unsigned l = 1u << (data[i + 3] % 3), pass = 0;
		int rc = 0, want = 0;
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
			want = model_step(3, off);
			rc = msix_vec_configure(&ms, off, MODEL_FD, 0xfee00000u | (v & 0xff000), v,
						NULL);
			break;
		case 4:
			want = model_step(4, off);
			rc = msix_vec_enable(&ms, off, NULL);
			break;
		case 5:
			want = model_step(5, off);
			rc = msix_vec_mask(&ms, off, v & 1, NULL);
			if (!rc && ms.vec[off].masked != (v & 1))
				abort();
			break;
		case 6: {
			int fd = -1;

			want = model_step(6, off);
			rc = msix_vec_disable(&ms, off, &fd, NULL);
			if (!rc && fd != MODEL_FD)
				abort(); /* the eventfd given back is the one configured */
			break;
		}
		default:
			if (v & 1)
				msix_set_enable(&ms, v & 2);
			else
				msix_set_function_mask(&ms, v & 2);
			break;
		}
		model_compare(&ms, off, rc, want);
		if ((i / 8) % 128 == 0 && msix_state_check(&ms, NULL))
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
