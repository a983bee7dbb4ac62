/* dma.c: the DMA mapping registry and IOVA allocator (pure bookkeeping: no ioctls here). */
#include "dma.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dma_backing_name(enum dma_backing b)
{
	switch (b) {
	case DMA_BACKING_ANON:
		return "anon";
	case DMA_BACKING_HUGE_2M:
		return "2M";
	case DMA_BACKING_HUGE_1G:
		return "1G";
	case DMA_BACKING_MEMFD:
		return "memfd";
	case DMA_BACKING_FILE:
		return "file";
	case DMA_BACKING_EXTERNAL:
		return "external";
	case DMA_BACKING_THP:
		return "thp";
	}
	return "?";
}

static int range_order(const void *a, const void *b)
{
	const struct dma_range *x = a, *y = b;

	return x->start.v < y->start.v ? -1 : x->start.v > y->start.v;
}

int dma_map_init(struct dma_map *dm, const struct dma_range *ranges, size_t nranges,
		 uint64_t pgsizes, struct err *e)
{
	memset(dm, 0, sizeof(*dm));
	if (nranges > DMA_MAX_RANGES)
		return err_set(e, EINVAL, "%zu IOVA ranges: at most %d are supported", nranges,
			       DMA_MAX_RANGES);
	if (nranges == 0) {
		dm->ranges[0] = (struct dma_range){ dma_iova(0), dma_iova(UINT64_MAX) };
		dm->nranges = 1;
	} else {
		memcpy(dm->ranges, ranges, nranges * sizeof(*ranges));
		dm->nranges = nranges;
		qsort(dm->ranges, nranges, sizeof(*ranges), range_order);
	}
	for (size_t i = 0; i < dm->nranges; i++) {
		if (dm->ranges[i].start.v > dm->ranges[i].last.v)
			return err_set(e, EINVAL, "IOVA range 0x%" PRIx64 "-0x%" PRIx64 " is empty",
				       dm->ranges[i].start.v, dm->ranges[i].last.v);
		if (i && dm->ranges[i].start.v <= dm->ranges[i - 1].last.v)
			return err_set(e, EINVAL, "IOVA ranges overlap at 0x%" PRIx64,
				       dm->ranges[i].start.v);
	}
	dm->pgsizes = pgsizes ? pgsizes : 4096;
	return 0;
}

void dma_map_fini(struct dma_map *dm)
{
	free(dm->m);
	dm->m = NULL;
	dm->n = dm->cap = 0;
	dm->total_bytes = 0;
}

static uint64_t map_last(const struct dma_mapping *m)
{
	return m->iova.v + (m->size_bytes - 1);
}

/* Index of the first mapping whose iova is greater than iova. */
static size_t upper_bound(const struct dma_map *dm, iova_t iova)
{
	size_t lo = 0, hi = dm->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dm->m[mid].iova.v <= iova.v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct dma_mapping *dma_map_find(const struct dma_map *dm, iova_t iova)
{
	size_t i = upper_bound(dm, iova);

	if (i == 0)
		return NULL;
	return map_last(&dm->m[i - 1]) >= iova.v ? &dm->m[i - 1] : NULL;
}

static void ranges_text(const struct dma_map *dm, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < dm->nranges && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s0x%" PRIx64 "-0x%" PRIx64,
					i ? ", " : "", dm->ranges[i].start.v, dm->ranges[i].last.v);
}

int dma_map_check_add(const struct dma_map *dm, iova_t iova, uint64_t size_bytes, const void *hva,
		      struct err *e)
{
	uint64_t pg = dma_map_min_page(dm);
	iova_t last;
	size_t i;

	if (size_bytes == 0)
		return err_set(e, EINVAL, "size is zero");
	if (!dma_iova_last(iova, size_bytes, &last))
		return err_set(e, EOVERFLOW,
			       "iova 0x%" PRIx64 " + size 0x%" PRIx64 " wraps past 2^64", iova.v,
			       size_bytes);
	if (!dma_is_aligned(iova.v, pg) || !dma_is_aligned(size_bytes, pg))
		return err_set(e, EINVAL,
			       "iova 0x%" PRIx64 " size 0x%" PRIx64
			       " is not aligned to the IOMMU page size 0x%" PRIx64,
			       iova.v, size_bytes, pg);
	if (hva && !dma_is_aligned((uintptr_t)hva, pg))
		return err_set(e, EINVAL, "host address %p is not aligned to 0x%" PRIx64, hva, pg);
	for (i = 0; i < dm->nranges; i++)
		if (iova.v >= dm->ranges[i].start.v && last.v <= dm->ranges[i].last.v)
			break;
	if (i == dm->nranges) {
		char r[256];

		ranges_text(dm, r, sizeof(r));
		return err_set(e, ERANGE,
			       "0x%" PRIx64 "-0x%" PRIx64 " is outside the valid IOVA ranges (%s)",
			       iova.v, last.v, r);
	}
	i = upper_bound(dm, iova);
	if (i > 0 && map_last(&dm->m[i - 1]) >= iova.v)
		i--;
	else if (i == dm->n || dm->m[i].iova.v > last.v)
		i = SIZE_MAX;
	if (i != SIZE_MAX)
		return err_set(e, EEXIST,
			       "0x%" PRIx64 "-0x%" PRIx64 " overlaps the mapping at 0x%" PRIx64
			       "-0x%" PRIx64,
			       iova.v, last.v, dm->m[i].iova.v, map_last(&dm->m[i]));
	if (dm->max_count && dm->n >= dm->max_count)
		return err_set(e, ENOSPC, "the IOMMU allows no more than %" PRIu64 " mappings",
			       dm->max_count);
	return 0;
}

int dma_map_add(struct dma_map *dm, iova_t iova, uint64_t size_bytes, void *hva,
		enum dma_backing backing, struct err *e)
{
	int rc = dma_map_check_add(dm, iova, size_bytes, hva, e);
	size_t i;

	if (rc)
		return rc;
	if (dm->n == dm->cap) {
		size_t cap = dm->cap ? dm->cap * 2 : 16;
		struct dma_mapping *m = realloc(dm->m, cap * sizeof(*m));

		if (!m)
			return err_set(e, ENOMEM, "DMA registry: out of memory");
		dm->m = m;
		dm->cap = cap;
	}
	i = upper_bound(dm, iova);
	memmove(&dm->m[i + 1], &dm->m[i], (dm->n - i) * sizeof(*dm->m));
	dm->m[i] = (struct dma_mapping){ iova, size_bytes, hva, backing };
	dm->n++;
	dm->total_bytes += size_bytes;
	return 0;
}

int dma_map_remove(struct dma_map *dm, iova_t iova, uint64_t size_bytes, struct dma_mapping *out,
		   struct err *e)
{
	size_t i = upper_bound(dm, iova);

	if (i == 0 || dm->m[i - 1].iova.v != iova.v)
		return err_set(e, ENOENT, "nothing is mapped at iova 0x%" PRIx64, iova.v);
	i--;
	if (dm->m[i].size_bytes != size_bytes)
		return err_set(e, ENOENT,
			       "the mapping at iova 0x%" PRIx64 " is 0x%" PRIx64
			       " bytes, not 0x%" PRIx64,
			       iova.v, dm->m[i].size_bytes, size_bytes);
	if (out)
		*out = dm->m[i];
	dm->total_bytes -= size_bytes;
	memmove(&dm->m[i], &dm->m[i + 1], (dm->n - i - 1) * sizeof(*dm->m));
	dm->n--;
	return 0;
}

/* Index of the first mapping whose last byte is at or above iova. */
static size_t first_ending_at_or_after(const struct dma_map *dm, iova_t iova)
{
	size_t i = upper_bound(dm, iova);

	return (i > 0 && map_last(&dm->m[i - 1]) >= iova.v) ? i - 1 : i;
}

int dma_map_alloc(const struct dma_map *dm, uint64_t size_bytes, uint64_t align, iova_t limit,
		  iova_t *out, struct err *e)
{
	uint64_t pg = dma_map_min_page(dm);

	if (size_bytes == 0)
		return err_set(e, EINVAL, "size is zero");
	if (align == 0)
		align = pg;
	if (!dma_is_pow2(align))
		return err_set(e, EINVAL, "alignment 0x%" PRIx64 " is not a power of two", align);
	if (align < pg)
		align = pg;
	if (!dma_is_aligned(size_bytes, pg))
		return err_set(e, EINVAL,
			       "size 0x%" PRIx64
			       " is not a multiple of the IOMMU page size 0x%" PRIx64,
			       size_bytes, pg);
	if (dm->max_count && dm->n >= dm->max_count)
		return err_set(e, ENOSPC, "the IOMMU allows no more than %" PRIu64 " mappings",
			       dm->max_count);
	for (size_t r = 0; r < dm->nranges; r++) {
		const struct dma_range *rg = &dm->ranges[r];
		iova_t cand, last;

		if (rg->start.v > limit.v)
			break;
		if (!dma_align_up(rg->start.v, align, &cand.v))
			continue;
		for (;;) {
			size_t i;

			if (!dma_iova_last(cand, size_bytes, &last) || last.v > rg->last.v ||
			    last.v > limit.v)
				break;
			i = first_ending_at_or_after(dm, cand);
			if (i == dm->n || dm->m[i].iova.v > last.v) {
				*out = cand;
				return 0;
			}
			/* Skip past the mapping in the way (its end cannot be UINT64_MAX here,
			 * since last >= its start and the range check holds). */
			if (map_last(&dm->m[i]) == UINT64_MAX ||
			    !dma_align_up(map_last(&dm->m[i]) + 1, align, &cand.v))
				break;
		}
	}
	return err_set(e, ENOSPC,
		       "no free IOVA space for 0x%" PRIx64 " bytes aligned to 0x%" PRIx64
		       " below 0x%" PRIx64,
		       size_bytes, align, limit.v);
}

int dma_map_check(const struct dma_map *dm, struct err *e)
{
	uint64_t sum = 0, pg = dma_map_min_page(dm);

	for (size_t i = 0; i < dm->n; i++) {
		const struct dma_mapping *m = &dm->m[i];
		iova_t last;
		size_t r;

		if (!dma_iova_last(m->iova, m->size_bytes, &last))
			return err_set(e, EUCLEAN, "mapping %zu: empty or wraps", i);
		if (!dma_is_aligned(m->iova.v, pg) || !dma_is_aligned(m->size_bytes, pg))
			return err_set(e, EUCLEAN, "mapping %zu: misaligned", i);
		if (i && map_last(&dm->m[i - 1]) >= m->iova.v)
			return err_set(e, EUCLEAN, "mappings %zu and %zu overlap or are unsorted",
				       i - 1, i);
		for (r = 0; r < dm->nranges; r++)
			if (m->iova.v >= dm->ranges[r].start.v && last.v <= dm->ranges[r].last.v)
				break;
		if (r == dm->nranges)
			return err_set(e, EUCLEAN, "mapping %zu: outside the valid ranges", i);
		sum += m->size_bytes;
	}
	if (sum != dm->total_bytes)
		return err_set(e, EUCLEAN, "total 0x%" PRIx64 " != sum 0x%" PRIx64, dm->total_bytes,
			       sum);
	if (dm->max_count && dm->n > dm->max_count)
		return err_set(e, EUCLEAN, "%zu mappings exceed the limit", dm->n);
	return 0;
}
