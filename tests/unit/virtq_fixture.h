/* virtq_fixture.h: a queue whose areas are separate, exactly-sized heap blocks (for the virtq
 * tests). */
#ifndef TESTS_VIRTQ_FIXTURE_H
#define TESTS_VIRTQ_FIXTURE_H

#include "check.h"
#include "guestmem.h"
#include "virtq.h"

#include <endian.h>

/*
 * Every area is its own guest memory region and its own malloc block of exactly the area's
 * size: under ASan any access by the queue code outside an area is a heap-buffer-overflow, and
 * in any build guestmem refuses ranges that leave a region.
 */
#define FX_DESC_GPA   0x100000ull
#define FX_DRIVER_GPA 0x200000ull
#define FX_DEVICE_GPA 0x300000ull
#define FX_BUF_GPA    0x1000000ull
#define FX_BUF_BYTES  0x10000ull

struct fixture {
	struct guestmem gm;
	struct virtq q;
	uint8_t *desc, *driver, *device, *buf;
	uint64_t desc_bytes, driver_bytes, device_bytes;
};

static inline void fx_free(struct fixture *f)
{
	guestmem_close(&f->gm);
	free(f->desc);
	free(f->driver);
	free(f->device);
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

/* A ready, initialized queue of the given size; returns 0 or -errno. */
static inline int fx_init(struct fixture *f, uint16_t size, bool packed, bool event_idx,
			  bool indirect)
{
	struct err e;
	int rc;

	memset(f, 0, sizeof(*f));
	guestmem_init(&f->gm);
	f->desc_bytes = 16ull * size;
	f->driver_bytes = packed ? 4 : virtq_split_avail_bytes(size);
	f->device_bytes = packed ? 4 : virtq_split_used_bytes(size);
	f->desc = calloc(1, f->desc_bytes);
	f->driver = calloc(1, f->driver_bytes);
	f->device = calloc(1, f->device_bytes);
	f->buf = calloc(1, FX_BUF_BYTES);
	if (!f->desc || !f->driver || !f->device || !f->buf)
		return -ENOMEM;
	guestmem_add(&f->gm, FX_DESC_GPA, f->desc, f->desc_bytes, NULL);
	guestmem_add(&f->gm, FX_DRIVER_GPA, f->driver, f->driver_bytes, NULL);
	guestmem_add(&f->gm, FX_DEVICE_GPA, f->device, f->device_bytes, NULL);
	guestmem_add(&f->gm, FX_BUF_GPA, f->buf, FX_BUF_BYTES, NULL);
	f->q.max_size = size;
	f->q.size = size;
	f->q.ready = true;
	f->q.packed = packed;
	f->q.event_idx = event_idx;
	f->q.indirect = indirect;
	f->q.desc_gpa = FX_DESC_GPA;
	f->q.driver_gpa = FX_DRIVER_GPA;
	f->q.device_gpa = FX_DEVICE_GPA;
	virtq_reset_state(&f->q);
	rc = virtq_init(&f->q, &f->gm, &e);
	if (rc)
		printf("# fx_init: %s\n", e.msg);
	return rc;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}
static inline uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}
static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Write a descriptor (split layout: addr len flags next; packed: addr len id flags). */
static inline void fx_desc(uint8_t *table, uint32_t i, uint64_t addr, uint32_t len, uint16_t a,
			   uint16_t b)
{
	uint8_t *p = table + 16ull * i;

	addr = htole64(addr);
	len = htole32(len);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	put16(p + 12, a);
	put16(p + 14, b);
}

/* Split helpers: publish a head in the available ring. */
static inline void fx_avail_push(struct fixture *f, uint16_t head)
{
	uint16_t idx = get16(f->driver + 2);

	put16(f->driver + 4 + 2 * (idx % f->q.size), head);
	put16(f->driver + 2, (uint16_t)(idx + 1));
}
static inline void fx_set_avail_idx(struct fixture *f, uint16_t v)
{
	put16(f->driver + 2, v);
}
static inline void fx_set_used_event(struct fixture *f, uint16_t v)
{
	put16(f->driver + 4 + 2u * f->q.size, v);
}

/* Fill bytes with random data. */
static inline void fx_random(struct prop_rng *r, uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += 8) {
		uint64_t v = prop_next(r);

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

#endif
