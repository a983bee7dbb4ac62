/*
 * guestmem.h: guest physical memory as a set of regions, with checked (gpa, len) translation:
 * the one GPA -> host translation, for a running VM's RAM (vm_mem.h) as for a snapshot.
 */
#ifndef CORE_GUESTMEM_H
#define CORE_GUESTMEM_H

#include "err.h"
#include "gpa.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUESTMEM_MAX_REGIONS 64

struct guestmem_region {
	gpa_t gpa;
	uint64_t size_bytes; /* > 0, and gpa + size_bytes - 1 does not wrap */
	uint8_t *hva;
	void *owned; /* mapping or buffer to release on close, NULL when the caller owns it */
	size_t owned_bytes;
	bool owned_is_mmap;
};

/*
 * The regions are kept sorted by gpa and never overlap. The object is small and has no hidden
 * state, so translation is safe from several threads once the set stops changing.
 */
struct guestmem {
	unsigned nr_regions;
	struct guestmem_region regions[GUESTMEM_MAX_REGIONS];
};

void guestmem_init(struct guestmem *gm);
/* Release the mappings and buffers the set owns; the set is empty afterwards. */
void guestmem_close(struct guestmem *gm);

/* Add caller-owned host memory at gpa. -EINVAL for size 0 or a range wrapping past 2^64,
 * -EEXIST when it overlaps another region, -ENOSPC when the table is full. */
int guestmem_add(struct guestmem *gm, gpa_t gpa, void *hva, uint64_t size_bytes, struct err *e);

/*
 * Add size_bytes of a file, starting at file_offset, at gpa (size_bytes 0: the rest of the file).
 * The file is mapped privately (writes by the caller never reach it); files that cannot be
 * mapped (e.g. /proc/PID/mem, where the offset is the VMM's host address) are read into a buffer
 * instead, which makes a snapshot of a running VMM's memory.
 */
int guestmem_add_file(struct guestmem *gm, const char *path, uint64_t file_offset, gpa_t gpa,
		      uint64_t size_bytes, struct err *e);

/* A piece of a memory file: the next size_bytes of the file go to gpa. */
struct guestmem_layout {
	gpa_t gpa;
	uint64_t size_bytes;
};

/*
 * A Firecracker-style memory file: regions stored back to back from file offset 0, so the
 * file offset of a region is the sum of the sizes before it (not its gpa).
 */
int guestmem_add_file_layout(struct guestmem *gm, const char *path,
			     const struct guestmem_layout *layout, unsigned nr, struct err *e);

/*
 * Host pointer for [gpa, gpa + len), or NULL when the range is not entirely inside one region
 * (or wraps past 2^64). len 0 asks only that gpa is inside a region.
 */
static inline uint8_t *guestmem_ptr(const struct guestmem *gm, gpa_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct guestmem_region *r = &gm->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			return NULL; /* sorted: no later region can hold it */
		off = gpa - r->gpa;
		if (off >= r->size_bytes)
			continue;
		/* off < size, so the subtraction cannot wrap, and neither can gpa + len here */
		if (len > r->size_bytes - off)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

/* The index of the region holding gpa, or GUESTMEM_NO_REGION. */
#define GUESTMEM_NO_REGION GUESTMEM_MAX_REGIONS
static inline unsigned guestmem_region_of(const struct guestmem *gm, gpa_t gpa)
{
	for (unsigned i = 0; i < gm->nr_regions; i++)
		if (gpa >= gm->regions[i].gpa &&
		    gpa - gm->regions[i].gpa < gm->regions[i].size_bytes)
			return i;
	return GUESTMEM_NO_REGION;
}

/*
 * guestmem_ptr, asking region first (from guestmem_region_of: e.g. the region of a queue's
 * rings, where the driver's buffers usually are too). The answer is guestmem_ptr's: regions never
 * overlap, so a range inside region is in no other; only the walk is saved when it is there.
 */
static inline uint8_t *guestmem_ptr_near(const struct guestmem *gm, unsigned region, gpa_t gpa,
					 uint64_t len)
{
	if (region < gm->nr_regions) {
		const struct guestmem_region *r = &gm->regions[region];
		uint64_t off = gpa - r->gpa;

		/*
		 * off < size: gpa is in the region (below it, off wraps past every size, as
		 * gpa + size cannot wrap), and size - off cannot wrap, as in guestmem_ptr.
		 */
		if (off < r->size_bytes && len <= r->size_bytes - off)
			return r->hva + off;
	}
	return guestmem_ptr(gm, gpa, len);
}

/* True when gpa + len wraps past 2^64 (a range no memory can hold). */
static inline bool guestmem_range_wraps(gpa_t gpa, uint64_t len)
{
	return len > 0 && gpa + (len - 1) < gpa;
}

/* Copy in or out; -EFAULT (with a message) when the range is not inside guest memory. */
int guestmem_read(const struct guestmem *gm, gpa_t gpa, void *buf, uint64_t len, struct err *e);
int guestmem_write(const struct guestmem *gm, gpa_t gpa, const void *buf, uint64_t len,
		   struct err *e);

/* Little-endian loads through guest memory (VIRTIO 1.x rings are little-endian). */
int guestmem_read_le16(const struct guestmem *gm, gpa_t gpa, uint16_t *v);
int guestmem_read_le32(const struct guestmem *gm, gpa_t gpa, uint32_t *v);
int guestmem_read_le64(const struct guestmem *gm, gpa_t gpa, uint64_t *v);

#endif
