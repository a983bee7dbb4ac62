/* test_dma.c: the DMA registry, the IOVA allocator and address arithmetic; unit and property tests
 * (vfio-property-tests.md sections 1 address safety, 3 DMA mapping, 8 edge cases). */
#include "check.h"
#include "dma.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096ull

static struct dma_map fresh(const struct dma_range *r, size_t n)
{
	struct dma_map dm;
	struct err e = { 0 };

	if (dma_map_init(&dm, r, n, PG | (2ull << 20) | (1ull << 30), &e))
		printf("# init: %s\n", e.msg);
	return dm;
}

/* Record [iova, iova + size) of anonymous memory with no host address (most cases here). */
static int map_anon(struct dma_map *dm, uint64_t iova, uint64_t size_bytes, struct err *e)
{
	return dma_map_add(dm, dma_iova(iova), size_bytes, NULL, DMA_BACKING_ANON, e);
}

TEST(map_basics)
{
	struct dma_range r[] = { { { 0 }, { 0xfedfffff } },
				 { { 0xfef00000 }, { 0x7fffffffffull } } };
	struct dma_map dm = fresh(r, 2);
	struct err e = { 0 };
	struct dma_mapping out;
	char buf[1];

	CHECK_EQ_I(map_anon(&dm, 0x1000, 0x2000, &e), 0);
	CHECK_EQ_I(map_anon(&dm, 0x3000, 0x1000, &e), 0); /* adjacent */
	CHECK_EQ_I(map_anon(&dm, 0x0000, 0x1000, &e), 0); /* adjacent */
	CHECK_EQ_U(dm.total_bytes, 0x4000);
	CHECK_EQ_I(map_anon(&dm, 0x2000, 0x1000, &e), -EEXIST);
	CHECK(strstr(e.msg, "overlaps the mapping at 0x1000-0x2fff") != NULL);
	CHECK_EQ_I(map_anon(&dm, 0x0, 0x10000, &e), -EEXIST);
	CHECK_EQ_I(map_anon(&dm, 0x5000, 0, &e), -EINVAL);
	CHECK_EQ_I(map_anon(&dm, 0x5800, 0x1000, &e), -EINVAL);
	CHECK_EQ_I(map_anon(&dm, 0x5000, 0x800, &e), -EINVAL);
	CHECK_EQ_I(dma_map_add(&dm, dma_iova(0x5000), 0x1000, buf + 1, DMA_BACKING_ANON, &e),
		   -EINVAL);
	CHECK_EQ_I(map_anon(&dm, 0xfee00000, 0x1000, &e), -ERANGE);
	CHECK(strstr(e.msg, "outside the valid IOVA ranges (0x0-0xfedfffff, 0xfef00000-") != NULL);
	CHECK_EQ_I(map_anon(&dm, 0xfedff000, 0x2000, &e), -ERANGE);
	CHECK_EQ_I(map_anon(&dm, 0xfffffffffffff000ull, 0x2000, &e), -EOVERFLOW);
	CHECK(dma_map_find(&dm, dma_iova(0x2fff)) &&
	      dma_map_find(&dm, dma_iova(0x2fff))->iova.v == 0x1000);
	CHECK(dma_map_find(&dm, dma_iova(0x4000)) == NULL);
	CHECK_EQ_I(dma_map_remove(&dm, dma_iova(0x1000), 0x1000, &out, &e), -ENOENT);
	CHECK(strstr(e.msg, "is 0x2000 bytes, not 0x1000") != NULL);
	CHECK_EQ_I(dma_map_remove(&dm, dma_iova(0x2000), 0x1000, &out, &e), -ENOENT);
	CHECK_EQ_I(dma_map_remove(&dm, dma_iova(0x1000), 0x2000, &out, &e), 0);
	CHECK_EQ_U(out.iova.v, 0x1000);
	CHECK_EQ_U(dm.total_bytes, 0x2000);
	CHECK_EQ_I(dma_map_check(&dm, &e), 0);
	dma_map_fini(&dm);
}

TEST(init_rejects_bad_ranges)
{
	struct dma_range overlap[] = { { { 0 }, { 0x1fff } }, { { 0x1000 }, { 0x2fff } } };
	struct dma_range empty[] = { { { 0x2000 }, { 0x1000 } } };
	struct dma_map dm;
	struct err e = { 0 };

	CHECK_EQ_I(dma_map_init(&dm, overlap, 2, 0, &e), -EINVAL);
	CHECK_EQ_I(dma_map_init(&dm, empty, 1, 0, &e), -EINVAL);
	CHECK_EQ_I(dma_map_init(&dm, NULL, 0, 0, &e), 0);
	CHECK_EQ_U(dma_map_min_page(&dm), 4096);
	CHECK_EQ_U(dm.ranges[0].last.v, UINT64_MAX);
}

TEST(alloc_basics)
{
	struct dma_range r[] = { { { 0x1000 }, { 0xfedfffff } },
				 { { 0xfef00000 }, { 0xffffffffffffull } } };
	struct dma_map dm = fresh(r, 2);
	struct err e = { 0 };
	iova_t iova;

	CHECK_EQ_I(dma_map_alloc(&dm, 0x1000, 0, dma_iova(UINT64_MAX), &iova, &e), 0);
	CHECK_EQ_U(iova.v, 0x1000);
	CHECK_EQ_I(dma_map_alloc(&dm, 2 << 20, 2 << 20, dma_iova(UINT64_MAX), &iova, &e), 0);
	CHECK_EQ_U(iova.v, 2 << 20);
	REQUIRE(dma_map_add(&dm, dma_iova(2 << 20), 2 << 20, NULL, DMA_BACKING_HUGE_2M, &e) == 0);
	CHECK_EQ_I(dma_map_alloc(&dm, 2 << 20, 2 << 20, dma_iova(UINT64_MAX), &iova, &e), 0);
	CHECK_EQ_U(iova.v, 4 << 20);
	/* A 28-bit DMA mask (QEMU's edu): nothing above 256 MiB. */
	CHECK_EQ_I(dma_map_alloc(&dm, 1 << 28, 0, dma_iova((1 << 28) - 1), &iova, &e), -ENOSPC);
	CHECK_EQ_I(dma_map_alloc(&dm, 1 << 20, 0, dma_iova((1 << 28) - 1), &iova, &e), 0);
	CHECK(iova.v + (1 << 20) - 1 <= (1 << 28) - 1);
	/* Skips the hole between the ranges. */
	CHECK_EQ_I(dma_map_alloc(&dm, 0x200000, 0x100000000ull, dma_iova(UINT64_MAX), &iova, &e),
		   0);
	CHECK_EQ_U(iova.v, 0x100000000ull);
	CHECK_EQ_I(dma_map_alloc(&dm, 0, 0, dma_iova(UINT64_MAX), &iova, &e), -EINVAL);
	CHECK_EQ_I(dma_map_alloc(&dm, 0x1000, 3, dma_iova(UINT64_MAX), &iova, &e), -EINVAL);
	CHECK_EQ_I(dma_map_alloc(&dm, 0x800, 0, dma_iova(UINT64_MAX), &iova, &e), -EINVAL);
	dm.max_count = 1;
	CHECK_EQ_I(dma_map_alloc(&dm, 0x1000, 0, dma_iova(UINT64_MAX), &iova, &e), -ENOSPC);
	CHECK_EQ_I(map_anon(&dm, 0x1000, 0x1000, &e), -ENOSPC);
	dma_map_fini(&dm);
}

/* Section 8: the very top of the address space is usable, one byte past it overflows. */
TEST(edge_max_address)
{
	struct dma_map dm = fresh(NULL, 0);
	struct err e = { 0 };
	uint64_t top = UINT64_MAX - PG + 1;
	iova_t iova;

	CHECK_EQ_I(map_anon(&dm, top, PG, &e), 0);
	CHECK(dma_map_find(&dm, dma_iova(UINT64_MAX)) != NULL);
	CHECK_EQ_I(map_anon(&dm, top, 2 * PG, &e), -EOVERFLOW);
	CHECK_EQ_I(map_anon(&dm, top - PG, 2 * PG, &e), -EEXIST);
	CHECK_EQ_I(map_anon(&dm, 0, UINT64_MAX - PG + 1, &e), 0);
	CHECK_EQ_I(dma_map_alloc(&dm, PG, 0, dma_iova(UINT64_MAX), &iova, &e), -ENOSPC);
	CHECK_EQ_I(dma_map_check(&dm, &e), 0);
	CHECK_EQ_I(dma_map_remove(&dm, dma_iova(top), PG, NULL, &e), 0);
	CHECK_EQ_I(dma_map_alloc(&dm, PG, 0, dma_iova(UINT64_MAX), &iova, &e), 0);
	CHECK_EQ_U(iova.v, top);
	dma_map_fini(&dm);
}

/* --- reference model for the property tests: a plain unsorted list ------------------------ */
struct ref {
	uint64_t iova[512];
	uint64_t size[512];
	size_t n;
};

static bool ref_overlaps(const struct ref *r, uint64_t a, uint64_t s)
{
	for (size_t i = 0; i < r->n; i++)
		if (a <= r->iova[i] + (r->size[i] - 1) && r->iova[i] <= a + (s - 1))
			return true;
	return false;
}

static bool in_ranges(const struct dma_map *dm, uint64_t a, uint64_t s)
{
	for (size_t i = 0; i < dm->nranges; i++)
		if (a >= dm->ranges[i].start.v && a + (s - 1) <= dm->ranges[i].last.v)
			return true;
	return false;
}

/* Random valid ranges inside a small universe of `pages` pages, or the whole space. */
static size_t random_ranges(struct prop_rng *r, struct dma_range *out, uint64_t pages)
{
	size_t n = 0;
	uint64_t p = 0;

	if (prop_below(r, 4) == 0)
		return 0;
	while (n < 3 && p < pages) {
		uint64_t start = p + prop_below(r, 8), len = 1 + prop_below(r, pages / 2);

		if (start >= pages)
			break;
		if (start + len > pages)
			len = pages - start;
		out[n++] = (struct dma_range){ { start * PG }, { (start + len) * PG - 1 } };
		p = start + len + 1;
	}
	return n;
}

static uint64_t random_iova(struct prop_rng *r, uint64_t pages)
{
	switch (prop_below(r, 16)) {
	case 0:
		return UINT64_MAX - PG * prop_below(r, 4) + 1; /* near the top */
	case 1:
		return prop_below(r, pages) * PG + prop_below(r, PG); /* misaligned */
	default:
		return prop_below(r, pages) * PG;
	}
}

static uint64_t random_size(struct prop_rng *r)
{
	switch (prop_below(r, 16)) {
	case 0:
		return 0;
	case 1:
		return PG * (1 + prop_below(r, 4)) + 1 + prop_below(r, PG - 1); /* misaligned */
	case 2:
		return UINT64_MAX - prop_below(r, 2) * PG; /* huge */
	default:
		return PG * (1 + prop_below(r, 8));
	}
}

/*
 * Section 3: random operation sequences against the reference model. After every step the
 * registry's invariants hold (no overlaps, exact accounting, ranges, alignment), and it accepts
 * exactly what the model says is acceptable, with the expected error otherwise.
 */
TEST(prop_dma_sequences_match_model)
{
	struct prop_rng r = { prop_seed("prop_dma_sequences_match_model") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		struct dma_range rg[4];
		size_t nr = random_ranges(&r, rg, 96);
		struct dma_map dm = fresh(rg, nr);
		struct ref ref = { .n = 0 };
		struct err e = { 0 };
		unsigned steps = 1 + (unsigned)prop_below(&r, 40);

		for (unsigned s = 0; s < steps; s++) {
			unsigned op = (unsigned)prop_below(&r, 10);
			uint64_t a = random_iova(&r, 96);
			uint64_t sz = random_size(&r), sum = 0;
			int rc, want;

			if (op < 6) { /* add */
				iova_t last;

				if (!sz)
					want = -EINVAL;
				else if (!dma_iova_last(dma_iova(a), sz, &last))
					want = -EOVERFLOW;
				else if (a % PG || sz % PG)
					want = -EINVAL;
				else if (!in_ranges(&dm, a, sz))
					want = -ERANGE;
				else if (ref_overlaps(&ref, a, sz))
					want = -EEXIST;
				else
					want = 0;
				rc = map_anon(&dm, a, sz, &e);
				if (rc != want) {
					CHECK_FAIL_AT("case %" PRIu64 " add 0x%" PRIx64
						      "+0x%" PRIx64 ": %d, model %d (%s)",
						      c, a, sz, rc, want, e.msg);
					dma_map_fini(&dm);
					return;
				}
				if (!rc && ref.n < 512) {
					ref.iova[ref.n] = a;
					ref.size[ref.n++] = sz;
				} else if (!rc) {
					dma_map_remove(&dm, dma_iova(a), sz, NULL, &e);
				}
			} else if (op < 8 && ref.n) { /* remove an existing mapping */
				size_t k = prop_below(&r, ref.n);

				rc = dma_map_remove(&dm, dma_iova(ref.iova[k]), ref.size[k], NULL,
						    &e);
				if (rc) {
					CHECK_FAIL_AT("case %" PRIu64 " remove existing: %s", c,
						      e.msg);
					dma_map_fini(&dm);
					return;
				}
				ref.iova[k] = ref.iova[--ref.n];
				ref.size[k] = ref.size[ref.n];
			} else if (op <
				   9) { /* remove what is not exactly mapped: refused, no change */
				bool exact = false;
				uint64_t before = dm.total_bytes;
				size_t nbefore = dm.n;

				for (size_t k = 0; k < ref.n; k++)
					exact |= ref.iova[k] == a && ref.size[k] == sz;
				if (exact)
					continue;
				rc = dma_map_remove(&dm, dma_iova(a), sz, NULL, &e);
				if (rc != -ENOENT || dm.total_bytes != before || dm.n != nbefore) {
					CHECK_FAIL_AT("case %" PRIu64 " remove 0x%" PRIx64
						      "+0x%" PRIx64 " not mapped: %d",
						      c, a, sz, rc);
					dma_map_fini(&dm);
					return;
				}
			} else { /* find: agrees with a linear scan */
				const struct dma_mapping *m = dma_map_find(&dm, dma_iova(a));
				size_t k;

				for (k = 0; k < ref.n; k++)
					if (a >= ref.iova[k] && a - ref.iova[k] < ref.size[k])
						break;
				if ((k < ref.n) != (m != NULL) || (m && m->iova.v != ref.iova[k])) {
					CHECK_FAIL_AT("case %" PRIu64 " find 0x%" PRIx64, c, a);
					dma_map_fini(&dm);
					return;
				}
			}
			for (size_t k = 0; k < ref.n; k++)
				sum += ref.size[k];
			if (dma_map_check(&dm, &e) || dm.total_bytes != sum || dm.n != ref.n) {
				CHECK_FAIL_AT("case %" PRIu64 " step %u: %s (total 0x%" PRIx64
					      " model 0x%" PRIx64 ")",
					      c, s, e.msg, dm.total_bytes, sum);
				dma_map_fini(&dm);
				return;
			}
		}
		dma_map_fini(&dm);
	}
}

/* Section 3: adjacent mappings on either side are allowed; map, unmap, remap gives the same. */
TEST(prop_dma_adjacent_and_remap)
{
	struct prop_rng r = { prop_seed("prop_dma_adjacent_and_remap") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		struct dma_map dm = fresh(NULL, 0);
		struct err e = { 0 };
		uint64_t s1 = PG * (1 + prop_below(&r, 64)), s0 = PG * (1 + prop_below(&r, 64));
		uint64_t s2 = PG * (1 + prop_below(&r, 64));
		uint64_t a = (prop_next(&r) & ~(PG - 1)) % (UINT64_MAX - 256 * PG);
		bool ok = true;

		if (a < s0)
			a = s0;
		ok &= map_anon(&dm, a, s1, &e) == 0;
		ok &= map_anon(&dm, a + s1, s2, &e) == 0;
		ok &= map_anon(&dm, a - s0, s0, &e) == 0;
		ok &= dm.total_bytes == s0 + s1 + s2;
		ok &= map_anon(&dm, a - PG, 2 * PG, &e) == -EEXIST;
		ok &= dma_map_remove(&dm, dma_iova(a), s1, NULL, &e) == 0;
		ok &= dma_map_find(&dm, dma_iova(a)) == NULL;
		ok &= dma_map_find(&dm, dma_iova(a + s1 - 1)) == NULL;
		ok &= map_anon(&dm, a, s1, &e) == 0;
		ok &= dm.total_bytes == s0 + s1 + s2 && dm.n == 3;
		ok &= dma_map_check(&dm, &e) == 0;
		dma_map_fini(&dm);
		if (!ok) {
			CHECK_FAIL_AT("case %" PRIu64 ": a 0x%" PRIx64 " sizes 0x%" PRIx64
				      " 0x%" PRIx64 " 0x%" PRIx64 " (%s)",
				      c, a, s0, s1, s2, e.msg);
			return;
		}
	}
}

/*
 * Section 3 (allocator): in a small universe, with random ranges, mappings, alignments and a
 * limit, the allocator's answer is a valid free aligned slot and the lowest one; ENOSPC only
 * when a brute-force search finds none.
 */
TEST(prop_alloc_lowest_valid_slot)
{
	struct prop_rng r = { prop_seed("prop_alloc_lowest_valid_slot") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		struct dma_range rg[4];
		size_t nr = random_ranges(&r, rg, 128);
		struct dma_map dm = fresh(rg, nr);
		struct err e = { 0 };
		uint64_t size = PG * (1 + prop_below(&r, 12)), align = PG << prop_below(&r, 4);
		uint64_t limit = prop_below(&r, 3) ? UINT64_MAX : PG * prop_below(&r, 160) - 1;
		uint64_t brute = UINT64_MAX;
		iova_t got = { 0 };
		int rc;

		for (unsigned k = prop_below(&r, 12); k; k--) /* some random mappings */
			map_anon(&dm, prop_below(&r, 128) * PG, PG * (1 + prop_below(&r, 6)), &e);
		/* Brute force over the universe (plus the whole-space case's start). */
		for (uint64_t a = 0; a <= 160 * PG; a += align) {
			uint64_t last = a + size - 1;
			bool free_ = true;

			if (last > limit || !in_ranges(&dm, a, size))
				continue;
			for (size_t i = 0; i < dm.n && free_; i++)
				free_ = last < dm.m[i].iova.v ||
					a > dm.m[i].iova.v + dm.m[i].size_bytes - 1;
			if (free_) {
				brute = a;
				break;
			}
		}
		rc = dma_map_alloc(&dm, size, align, dma_iova(limit), &got, &e);
		if (brute != UINT64_MAX ? (rc != 0 || got.v != brute)
					: (rc == 0 && got.v <= 160 * PG)) {
			CHECK_FAIL_AT("case %" PRIu64 ": size 0x%" PRIx64 " align 0x%" PRIx64
				      " limit 0x%" PRIx64 ": rc %d got 0x%" PRIx64
				      " brute 0x%" PRIx64,
				      c, size, align, limit, rc, got.v, brute);
			dma_map_fini(&dm);
			return;
		}
		if (rc == 0 && (dma_map_add(&dm, got, size, NULL, DMA_BACKING_ANON, &e) != 0 ||
				got.v % align || got.v + size - 1 > limit)) {
			CHECK_FAIL_AT("case %" PRIu64 ": allocated 0x%" PRIx64 " unusable: %s", c,
				      got.v, e.msg);
			dma_map_fini(&dm);
			return;
		}
		dma_map_fini(&dm);
	}
}

/* Section 1: address conversions and arithmetic. */
TEST(prop_address_safety)
{
	struct prop_rng r = { prop_seed("prop_address_safety") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		uint64_t x = prop_next(&r) >> prop_below(&r, 64),
			 y = prop_next(&r) >> prop_below(&r, 64);
		uint64_t align = 1ull << prop_below(&r, 40), up = 0, expect;
		bool ok = true, ovf = __builtin_add_overflow(x, y, &expect);
		iova_t out = dma_iova(12345), last = dma_iova(0);

		/*
		 * The passthrough contract (vfio_pt.h, vfio_pt_add): guest RAM is mapped at
		 * IOVA = GPA, because the guest's driver programs GPAs into the device. So the IOVA
		 * of a GPA has the GPA's value, and the conversion back is its inverse.
		 */
		ok &= dma_iova_from_gpa(x).v == x;
		ok &= dma_gpa_from_iova(dma_iova_from_gpa(x)) == x;
		ok &= dma_iova_from_gpa(dma_gpa_from_iova(dma_iova(y))).v == y;
		/* Checked addition: fails exactly on overflow, leaving the output alone. */
		ok &= dma_iova_add(dma_iova(x), y, &out) == !ovf;
		ok &= ovf ? out.v == 12345 : out.v == expect;
		ok &= dma_iova_last(dma_iova(x), y, &last) ==
		      (y != 0 && !__builtin_add_overflow(x, y - 1, &expect));
		ok &= y == 0 || __builtin_add_overflow(x, y - 1, &expect) || last.v == x + (y - 1);
		/* Alignment: round up gives the least aligned value >= x, or fails on wrap. */
		if (dma_align_up(x, align, &up))
			ok &= dma_is_aligned(up, align) && up >= x && up - x < align;
		else
			ok &= x > UINT64_MAX - align + 1;
		ok &= dma_is_aligned(x, align) == (x % align == 0);
		if (!ok) {
			CHECK_FAIL_AT("case %" PRIu64 ": x 0x%" PRIx64 " y 0x%" PRIx64
				      " align 0x%" PRIx64,
				      c, x, y, align);
			return;
		}
	}
}

/* Section 8: zero sizes are refused everywhere. */
TEST(edge_zero_size)
{
	struct dma_map dm = fresh(NULL, 0);
	struct dma_mem mem;
	struct err e = { 0 };
	iova_t iova;

	CHECK_EQ_I(map_anon(&dm, 0, 0, &e), -EINVAL);
	CHECK_EQ_I(dma_map_alloc(&dm, 0, 0, dma_iova(UINT64_MAX), &iova, &e), -EINVAL);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_ANON, 0, NULL, &e), -EINVAL);
	CHECK_EQ_I(dma_map_remove(&dm, dma_iova(0), 0, NULL, &e), -ENOENT);
	dma_map_fini(&dm);
}

TEST(mem_backings)
{
	char path[] = "/tmp/test_dma.XXXXXX";
	struct dma_mem mem;
	struct err e = { 0 };
	int fd;

	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_ANON, 1 << 20, NULL, &e), 0);
	CHECK(mem.hva != NULL && mem.page_bytes == (uint64_t)sysconf(_SC_PAGESIZE));
	((char *)mem.hva)[(1 << 20) - 1] = 1;
	dma_mem_free(&mem);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_MEMFD, 1 << 20, NULL, &e), 0);
	CHECK(mem.fd >= 0);
	dma_mem_free(&mem);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_ANON, 1000, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "not a multiple of the 4K page size") != NULL);
	/* A file: created at the size when absent; an existing one must be big enough. */
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_FILE, 1 << 16, path, &e), -EINVAL);
	CHECK(strstr(e.msg, "smaller than") != NULL);
	unlink(path);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_FILE, 1 << 16, path, &e), 0);
	dma_mem_free(&mem);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_FILE, 1 << 16, path, &e), 0);
	dma_mem_free(&mem);
	unlink(path);
	CHECK_EQ_I(dma_backing_parse("2M"), DMA_BACKING_HUGE_2M);
	CHECK_EQ_I(dma_backing_parse("1G"), DMA_BACKING_HUGE_1G);
	CHECK_EQ_I(dma_backing_parse("/tmp/x"), DMA_BACKING_FILE);
}

/* Pages resident (by the kernel's mincore) out of the mapping's first n pages. */
static size_t resident_pages(const struct dma_mem *mem, size_t n)
{
	unsigned char vec[64];
	size_t r = 0;

	if (n > sizeof(vec) || mincore(mem->hva, n * mem->page_bytes, vec))
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	return r;
}

/* Discard gives the pages back: the kernel no longer has them resident, and they read as zero. */
TEST(mem_discard_drops_pages)
{
	enum dma_backing kinds[] = { DMA_BACKING_ANON, DMA_BACKING_MEMFD };
	char path[] = "/tmp/test_dma.XXXXXX";
	struct dma_mem mem;
	struct err e = { 0 };
	struct stat st;
	int fd;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		REQUIRE(dma_mem_alloc(&mem, kinds[k], 16 * 4096, NULL, &e) == 0);
		memset(mem.hva, 0xa5, mem.size_bytes);
		CHECK_EQ_U(resident_pages(&mem, 16), 16);
		CHECK_EQ_I(dma_mem_discard(&mem, &e), 0);
		CHECK_EQ_U(resident_pages(&mem, 16), 0);
		if (mem.fd >= 0) { /* shmem freed its blocks, not only the page table entries */
			REQUIRE(fstat(mem.fd, &st) == 0);
			CHECK_EQ_U((uint64_t)st.st_blocks, 0);
		}
		CHECK_EQ_U(((uint8_t *)mem.hva)[0], 0);
		CHECK_EQ_U(((uint8_t *)mem.hva)[mem.size_bytes - 1], 0);
		dma_mem_free(&mem);
	}
	/* A file keeps its data: refused. */
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	unlink(path);
	REQUIRE(dma_mem_alloc(&mem, DMA_BACKING_FILE, 4096, path, &e) == 0);
	memset(mem.hva, 0xa5, 4096);
	CHECK_EQ_I(dma_mem_discard(&mem, &e), -EOPNOTSUPP);
	CHECK(strstr(e.msg, "losing its data") != NULL);
	CHECK_EQ_U(((uint8_t *)mem.hva)[4095], 0xa5);
	dma_mem_free(&mem);
	unlink(path);
}

/* Hugepages: either they work, or the error names the knob. */
TEST(mem_hugepages_clear_error)
{
	struct dma_mem mem;
	struct err e = { 0 };
	uint64_t nfree, total;
	int rc;

	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_HUGE_2M, 4096, NULL, &e), -EINVAL);
	rc = dma_mem_alloc(&mem, DMA_BACKING_HUGE_1G, 1ull << 30, NULL, &e);
	if (rc == 0) {
		dma_mem_free(&mem);
	} else {
		CHECK_EQ_I(rc, -ENOMEM);
		CHECK(strstr(e.msg, "1G huge pages") != NULL);
	}
	if (dma_huge_free_pages(2 << 20, &nfree, &total) == 0 && nfree >= 1) {
		CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_HUGE_2M, 2 << 20, NULL, &e), 0);
		dma_mem_free(&mem);
	} else {
		rc = dma_mem_alloc(&mem, DMA_BACKING_HUGE_2M, 2 << 20, NULL, &e);
		CHECK_EQ_I(rc, -ENOMEM);
		CHECK(strstr(e.msg, "hugepages-2048kB") != NULL);
	}
}

/*
 * The kernel's word on the mapping that starts at hva (/proc/self/smaps): its AnonHugePages in kB
 * and whether its VmFlags carry "hg" (MADV_HUGEPAGE). -1 when no mapping starts there.
 */
static long smaps_thp_kb(const void *hva, int *advised)
{
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned long start, end;
	long kb = -1;
	bool in = false;

	*advised = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			if (in)
				break;
			in = start == (uintptr_t)hva;
		} else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
			continue;
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			*advised = strstr(line, " hg") != NULL;
		}
	}
	fclose(f);
	return kb;
}

/* THP: the mode parsed from its sysfs file; memory on a 2 MiB boundary that the kernel backs
 * with huge pages (its smaps), or a clear refusal when the host's mode is never. */
TEST(mem_thp)
{
	char path[] = "/tmp/test_dma.XXXXXX", mode[32];
	struct dma_mem mem;
	struct err e = { 0 };
	int fd, advised, rc;
	long kb;

	CHECK_EQ_I(dma_backing_parse("thp"), DMA_BACKING_THP);
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "always [madvise] never\n", 23) == 23);
	close(fd);
	CHECK_EQ_I(dma_thp_mode(path, mode, sizeof(mode)), 0);
	CHECK(!strcmp(mode, "madvise"));
	fd = open(path, O_WRONLY | O_TRUNC);
	REQUIRE(fd >= 0 && write(fd, "always madvise", 14) == 14);
	close(fd);
	CHECK_EQ_I(dma_thp_mode(path, mode, sizeof(mode)), -EINVAL);
	unlink(path);
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_THP, 1000, NULL, &e), -EINVAL);
	if (dma_thp_mode(NULL, mode, sizeof(mode)))
		SKIP("no " DMA_THP_ENABLED);
	rc = dma_mem_alloc(&mem, DMA_BACKING_THP, 8 << 20, NULL, &e);
	if (!strcmp(mode, "never")) {
		CHECK_EQ_I(rc, -EOPNOTSUPP);
		CHECK(strstr(e.msg, "transparent huge pages are disabled") != NULL);
		return;
	}
	REQUIRE(rc == 0);
	CHECK_EQ_U((uintptr_t)mem.hva % (2 << 20), 0);
	CHECK_EQ_U(mem.page_bytes, 2 << 20);
	memset(mem.hva, 1, mem.size_bytes);
	kb = smaps_thp_kb(mem.hva, &advised);
	printf("# AnonHugePages of the 8 MiB THP mapping: %ld kB\n", kb);
	CHECK(advised);
	CHECK(kb > 0);
	dma_mem_free(&mem);
	/* any 4K multiple: the tail that is no whole huge page stays 4K */
	CHECK_EQ_I(dma_mem_alloc(&mem, DMA_BACKING_THP, 3 * 4096, NULL, &e), 0);
	dma_mem_free(&mem);
}

/*
 * A fork (vfio-dmamap's COMMAND) inherits none of the memory: the kernel's mincore in the child
 * finds nothing mapped there (ENOMEM), for every backing that is allocated here.
 */
TEST(mem_not_inherited_by_fork)
{
	static const enum dma_backing b[] = { DMA_BACKING_ANON, DMA_BACKING_MEMFD,
					      DMA_BACKING_THP };
	char mode[32];

	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		struct dma_mem mem;
		struct err e = { 0 };
		unsigned char vec;
		int status = -1;
		pid_t pid;

		if (b[i] == DMA_BACKING_THP &&
		    (dma_thp_mode(NULL, mode, sizeof(mode)) || !strcmp(mode, "never")))
			continue;
		REQUIRE(dma_mem_alloc(&mem, b[i], 4 << 20, NULL, &e) == 0);
		memset(mem.hva, 1, mem.size_bytes);
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(mincore(mem.hva, 4096, &vec) < 0 && errno == ENOMEM ? 0 : 1);
		REQUIRE(pid > 0);
		waitpid(pid, &status, 0);
		if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			printf("# %s memory is mapped in a forked child\n", dma_backing_name(b[i]));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK_EQ_U(((unsigned char *)mem.hva)[mem.size_bytes - 1],
			   1); /* the parent's stays */
		dma_mem_free(&mem);
	}
}

int main(void)
{
	RUN(map_basics);
	RUN(init_rejects_bad_ranges);
	RUN(alloc_basics);
	RUN(edge_max_address);
	RUN(prop_dma_sequences_match_model);
	RUN(prop_dma_adjacent_and_remap);
	RUN(prop_alloc_lowest_valid_slot);
	RUN(prop_address_safety);
	RUN(edge_zero_size);
	RUN(mem_backings);
	RUN(mem_discard_drops_pages);
	RUN(mem_hugepages_clear_error);
	RUN(mem_thp);
	RUN(mem_not_inherited_by_fork);
	return CHECK_MAIN_END();
}
