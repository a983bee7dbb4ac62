/* dma.h: IOVAs, the DMA mapping registry (non-overlapping, exactly accounted) and its allocator. */
#ifndef CORE_DMA_H
#define CORE_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "guestmem.h"

/*
 * IO virtual address: what a device puts on the bus, translated by the IOMMU. A struct, so that
 * the compiler refuses a guest physical address (gpa_t), a host pointer or a bare number where
 * an IOVA is expected: dma_iova() says "this number is an IOVA" (user input, kernel reports),
 * dma_iova_from_gpa() is the one place a guest address becomes an IOVA. .v is the value, for
 * arithmetic and printing.
 */
typedef struct {
	uint64_t v;
} iova_t;

static inline iova_t dma_iova(uint64_t v)
{
	return (iova_t){ v };
}

/* A passthrough VM maps guest RAM at IOVA = GPA (what the guest's driver programs is a GPA). */
static inline iova_t dma_iova_from_gpa(gpa_t gpa)
{
	return dma_iova(gpa);
}

static inline gpa_t dma_gpa_from_iova(iova_t iova)
{
	return iova.v;
}

/* iova + off without wrapping past 2^64: false (and *out untouched) when it would. */
static inline bool dma_iova_add(iova_t iova, uint64_t off, iova_t *out)
{
	if (off > UINT64_MAX - iova.v)
		return false;
	*out = dma_iova(iova.v + off);
	return true;
}

/* Last byte of [iova, iova + size): false for size 0 or a range that wraps. */
static inline bool dma_iova_last(iova_t iova, uint64_t size, iova_t *last)
{
	return size && dma_iova_add(iova, size - 1, last);
}

/* align is a power of two. Round up fails (false) when the result would wrap. */
static inline bool dma_is_aligned(uint64_t v, uint64_t align)
{
	return (v & (align - 1)) == 0;
}

static inline bool dma_align_up(uint64_t v, uint64_t align, uint64_t *out)
{
	uint64_t r = (v + (align - 1)) & ~(align - 1);

	if (r < v)
		return false;
	*out = r;
	return true;
}

static inline bool dma_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* What memory backs a mapping. */
enum dma_backing {
	DMA_BACKING_ANON,
	DMA_BACKING_HUGE_2M,
	DMA_BACKING_HUGE_1G,
	DMA_BACKING_MEMFD,
	DMA_BACKING_FILE,
	DMA_BACKING_EXTERNAL, /* caller-owned memory (e.g. guest RAM) */
	DMA_BACKING_THP,      /* anonymous, 2 MiB-aligned, madvise(MADV_HUGEPAGE) */
};

const char *dma_backing_name(enum dma_backing b);

/* An inclusive IOVA range, as the kernel reports valid ranges. */
struct dma_range {
	iova_t start;
	iova_t last;
};

struct dma_mapping {
	iova_t iova;
	uint64_t size_bytes;
	void *hva;
	enum dma_backing backing;
};

#define DMA_MAX_RANGES 16

/*
 * The mappings of one IOMMU address space, kept sorted by IOVA. Invariants (checked by
 * dma_map_check): no two mappings overlap, each lies inside one valid range, is aligned to the
 * smallest IOMMU page size, and total_bytes is the exact sum of the sizes.
 */
struct dma_map {
	struct dma_range ranges[DMA_MAX_RANGES]; /* valid IOVA ranges, sorted, disjoint */
	size_t nranges;
	uint64_t pgsizes;   /* supported IOMMU page sizes (bitmap); the lowest bit is the minimum */
	uint64_t max_count; /* how many mappings the IOMMU still allows (0: no limit known) */
	struct dma_mapping *m;
	size_t n, cap;
	uint64_t total_bytes;
};

/*
 * Set up an empty registry. ranges may be NULL (nranges 0) for "all of [0, 2^64)"; they are
 * sorted and must not overlap (-EINVAL). pgsizes 0 means 4K.
 */
int dma_map_init(struct dma_map *dm, const struct dma_range *ranges, size_t nranges,
		 uint64_t pgsizes, struct err *e);
void dma_map_fini(struct dma_map *dm);

static inline uint64_t dma_map_min_page(const struct dma_map *dm)
{
	return dm->pgsizes & -dm->pgsizes;
}

/*
 * Validate a request without changing anything: -EINVAL zero size or misaligned iova/size/hva,
 * -EOVERFLOW past 2^64, -ERANGE outside the valid ranges, -EEXIST overlapping a mapping,
 * -ENOSPC when the IOMMU allows no more mappings. Each with a message.
 */
int dma_map_check_add(const struct dma_map *dm, iova_t iova, uint64_t size_bytes, const void *hva,
		      struct err *e);
/* Record a mapping (after dma_map_check_add's checks). -ENOMEM on allocation failure. */
int dma_map_add(struct dma_map *dm, iova_t iova, uint64_t size_bytes, void *hva,
		enum dma_backing backing, struct err *e);
/* Remove exactly the mapping [iova, iova + size): -ENOENT when there is no such mapping. */
int dma_map_remove(struct dma_map *dm, iova_t iova, uint64_t size_bytes, struct dma_mapping *out,
		   struct err *e);
/* The mapping containing iova, or NULL. */
const struct dma_mapping *dma_map_find(const struct dma_map *dm, iova_t iova);

/*
 * Pick an IOVA for size_bytes: inside a valid range, at or below limit (inclusive last byte:
 * UINT64_MAX for none, e.g. (1 << 28) - 1 for a device with 28-bit DMA), aligned to align (a
 * power of two; raised to the minimum page), overlapping nothing. Lowest fit first.
 * -EINVAL bad arguments, -ENOSPC no room.
 */
int dma_map_alloc(const struct dma_map *dm, uint64_t size_bytes, uint64_t align, iova_t limit,
		  iova_t *out, struct err *e);

/* Verify every invariant by recomputation (for tests and debugging): 0 or -EUCLEAN + message. */
int dma_map_check(const struct dma_map *dm, struct err *e);

/*
 * Memory to map: anonymous, transparent huge pages, hugetlb 2M/1G, memfd, or a file (created at
 * size_bytes if absent, must be at least size_bytes if present). Hugetlb requests fail with
 * -ENOMEM and a message naming the sysfs knob when not enough pages of that size are free; THP
 * (anonymous on a 2 MiB boundary, MADV_HUGEPAGE) with -EOPNOTSUPP when the host's mode is never.
 */
struct dma_mem {
	enum dma_backing backing;
	void *hva;
	uint64_t size_bytes;
	uint64_t page_bytes; /* the backing's page size: the natural IOVA alignment */
	int fd;		     /* memfd/file, -1 otherwise */
};

int dma_mem_alloc(struct dma_mem *mem, enum dma_backing backing, uint64_t size_bytes,
		  const char *path, struct err *e);
void dma_mem_free(struct dma_mem *mem);
/*
 * Give the memory's pages back to the kernel, so that the next touch or pin faults in fresh,
 * zeroed pages (a benchmark's cold start). Anonymous and hugetlb: MADV_DONTNEED; memfd:
 * MADV_REMOVE (shmem keeps the pages otherwise). -EOPNOTSUPP for a file (its data would be
 * lost) or external memory; -errno from madvise, with a message.
 */
int dma_mem_discard(struct dma_mem *mem, struct err *e);
/* Parse "anon", "thp", "2M", "1G", "memfd"; anything else is a file path (DMA_BACKING_FILE). */
enum dma_backing dma_backing_parse(const char *s);
/* The host's transparent huge page mode ("always", "madvise", "never"), the bracketed word of
 * path (NULL: DMA_THP_ENABLED) into mode; -errno when it cannot be read. */
#define DMA_THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define DMA_THP_BYTES	(2ULL << 20)
int dma_thp_mode(const char *path, char *mode, size_t len);
/* Free huge pages of one size (bytes 2M or 1G) from sysfs; -errno when the size is unknown. */
int dma_huge_free_pages(uint64_t page_bytes, uint64_t *free_pages, uint64_t *total_pages);

#endif
