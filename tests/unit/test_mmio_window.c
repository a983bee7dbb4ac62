/* test_mmio_window.c: unit and property tests for the 64-bit MMIO window's placement: every BAR
 * naturally aligned (PCI 3.0 6.2.5.1), none overlapping another, all inside the window, above
 * RAM and 4 GiB, below the guest's physical address width and inside one IOVA range. */
#include "check.h"
#include "mmio_window.h"

#define GIB  (1ull << 30)
#define MAXB 32

static bool in_one_range(const struct mmio_window_limits *lim, uint64_t first, uint64_t last)
{
	if (!lim->nranges)
		return true;
	for (size_t i = 0; i < lim->nranges; i++)
		if (first >= lim->ranges[i].start.v && last <= lim->ranges[i].last.v)
			return true;
	return false;
}

/* The properties of a successful plan, checked from the BARs' own sizes, not from the plan. */
static bool plan_ok(const struct mmio_window_bar *b, size_t n, const struct mmio_window_limits *lim,
		    uint64_t base, uint64_t size, const char *what)
{
	uint64_t sum = 0, top = lim->phys_bits >= 64 ? UINT64_MAX : (1ull << lim->phys_bits) - 1;

	for (size_t i = 0; i < n; i++) {
		uint64_t span = b[i].size_bytes < 4096 ? 4096 : b[i].size_bytes;

		sum += span;
		if (b[i].gpa % b[i].size_bytes || b[i].gpa % 4096) {
			CHECK_FAIL_AT("%s: BAR %zu of 0x%" PRIx64 " at 0x%" PRIx64 " not aligned",
				      what, i, b[i].size_bytes, b[i].gpa);
			return false;
		}
		if (b[i].gpa < base || b[i].gpa - base > size || size - (b[i].gpa - base) < span) {
			CHECK_FAIL_AT("%s: BAR %zu at 0x%" PRIx64 " outside [0x%" PRIx64
				      " +0x%" PRIx64 ")",
				      what, i, b[i].gpa, base, size);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			uint64_t sj = b[j].size_bytes < 4096 ? 4096 : b[j].size_bytes;

			if (b[i].gpa < b[j].gpa + sj && b[j].gpa < b[i].gpa + span) {
				CHECK_FAIL_AT("%s: BARs %zu and %zu overlap at 0x%" PRIx64, what, j,
					      i, b[i].gpa);
				return false;
			}
		}
	}
	if (size != sum) {
		CHECK_FAIL_AT("%s: window 0x%" PRIx64 " for BARs of 0x%" PRIx64 " in all", what,
			      size, sum);
		return false;
	}
	if (n && (base < lim->floor_gpa || base < (4ull << 30) || base + size - 1 > top ||
		  !in_one_range(lim, base, base + size - 1))) {
		CHECK_FAIL_AT("%s: window [0x%" PRIx64 " +0x%" PRIx64
			      ") breaks a limit (floor 0x%" PRIx64 ", %u bits)",
			      what, base, size, lim->floor_gpa, lim->phys_bits);
		return false;
	}
	return true;
}

/* The acceptance case: eight H100-class 128 GiB BARs on a host with 46 address bits. */
TEST(eight_128g_bars_fit)
{
	struct dma_range r[2] = { { { 0 }, { 0xfedfffff } },
				  { { 0xfef00000 }, { (1ull << 48) - 1 } } };
	struct mmio_window_limits lim = { 64 * GIB, 46, r, 2 };
	struct mmio_window_bar b[16];
	uint64_t base, size;
	struct err e = { 0 };

	for (int i = 0; i < 16; i++) /* each GPU: BAR1 128 GiB, BAR3 32 MiB (like an H100) */
		b[i].size_bytes = i % 2 ? 32ull << 20 : 128 * GIB;
	REQUIRE(mmio_window_plan(b, 16, &lim, &base, &size, &e) == 0);
	CHECK_EQ_U(base, 128 * GIB); /* the first 128 GiB boundary above 64 GiB of RAM */
	CHECK_EQ_U(size, 8 * 128 * GIB + 8 * (32ull << 20));
	CHECK(plan_ok(b, 16, &lim, base, size, "8 GPUs"));
	for (int i = 0; i < 16; i += 2) /* the large ones first, back to back */
		CHECK_EQ_U(b[i].gpa, base + (uint64_t)(i / 2) * 128 * GIB);
}

/* The same BARs with 40 address bits (1 TiB) cannot fit: refused, the sizes named. */
TEST(too_few_bits_refused_with_sizes)
{
	struct mmio_window_limits lim = { 8 * GIB, 40, NULL, 0 };
	struct mmio_window_bar b[9];
	uint64_t base = 1, size = 1;
	struct err e = { 0 };

	for (int i = 0; i < 8; i++)
		b[i].size_bytes = 128 * GIB;
	b[8].size_bytes = 16 << 20;
	CHECK_EQ_I(mmio_window_plan(b, 9, &lim, &base, &size, &e), -ENOSPC);
	CHECK(strstr(e.msg, "8x128G+16M") != NULL);
	CHECK(strstr(e.msg, "2^40") != NULL);
	printf("# %s\n", e.msg);
	/* with 41 bits (2 TiB) they fit, from the first 128 GiB boundary above RAM */
	lim.phys_bits = 41;
	CHECK_EQ_I(mmio_window_plan(b, 9, &lim, &base, &size, &e), 0);
	CHECK(plan_ok(b, 9, &lim, base, size, "41 bits"));
}

/* The window skips an IOVA range too small for it (the IOMMU's aperture decides, not RAM). */
TEST(window_in_one_iova_range)
{
	struct dma_range r[2] = { { { 0 }, { 200 * GIB - 1 } },
				  { { 300 * GIB }, { (1ull << 40) - 1 } } };
	struct mmio_window_limits lim = { 4 * GIB, 46, r, 2 };
	struct mmio_window_bar b[2] = { { 128 * GIB, 0 }, { 64 * GIB, 0 } };
	uint64_t base, size;
	struct err e = { 0 };

	REQUIRE(mmio_window_plan(b, 2, &lim, &base, &size, &e) == 0);
	CHECK_EQ_U(base, 384 * GIB); /* 128 GiB + 192 GiB would cross 200 GiB; 300 GiB aligns up */
	CHECK(plan_ok(b, 2, &lim, base, size, "two ranges"));
	r[1].last.v = 500 * GIB; /* now nowhere */
	CHECK_EQ_I(mmio_window_plan(b, 2, &lim, &base, &size, &e), -ENOSPC);
	CHECK(strstr(e.msg, "IOVA range") != NULL);
}

TEST(edges)
{
	struct mmio_window_limits lim = { 4 * GIB, 36, NULL, 0 };
	struct mmio_window_bar b[2] = { { 3 * 4096, 0 }, { 16, 0 } };
	uint64_t base = 1, size = 1;
	struct err e = { 0 };

	CHECK_EQ_I(mmio_window_plan(b, 0, &lim, &base, &size, &e), 0);
	CHECK_EQ_U(size, 0);
	CHECK_EQ_I(mmio_window_plan(b, 1, &lim, &base, &size, &e), -EINVAL);
	b[0].size_bytes = 0;
	CHECK_EQ_I(mmio_window_plan(b, 1, &lim, &base, &size, &e), -EINVAL);
	/* a tiny BAR takes a page of its own (a KVM slot) */
	b[0].size_bytes = 16;
	b[1].size_bytes = 8192;
	REQUIRE(mmio_window_plan(b, 2, &lim, &base, &size, &e) == 0);
	CHECK_EQ_U(size, 8192 + 4096);
	CHECK(plan_ok(b, 2, &lim, base, size, "small"));
	/* 2^36 = 64 GiB: a 64 GiB BAR above 4 GiB of RAM does not fit, a 32 GiB one does */
	b[0].size_bytes = 64 * GIB;
	CHECK_EQ_I(mmio_window_plan(b, 1, &lim, &base, &size, &e), -ENOSPC);
	b[0].size_bytes = 32 * GIB;
	CHECK_EQ_I(mmio_window_plan(b, 1, &lim, &base, &size, &e), 0);
	CHECK_EQ_U(base, 32 * GIB);
	/* 64 bits: no wrap past the top */
	lim = (struct mmio_window_limits){ UINT64_MAX - GIB, 64, NULL, 0 };
	b[0].size_bytes = 4 * GIB;
	CHECK_EQ_I(mmio_window_plan(b, 1, &lim, &base, &size, &e), -ENOSPC);
}

/* Random BAR sets and limits: whatever is placed keeps every property. */
TEST(random_sets_keep_properties)
{
	struct prop_rng r = { prop_seed("random_sets_keep_properties") };
	uint64_t cases = prop_cases(10000), placed = 0;

	for (uint64_t c = 0; c < cases; c++) {
		struct mmio_window_bar b[MAXB];
		struct dma_range rg[4];
		struct mmio_window_limits lim;
		size_t n = (size_t)prop_below(&r, MAXB + 1), nr = (size_t)prop_below(&r, 4);
		uint64_t base, size, at = 0;
		struct err e = { 0 };
		char what[48];
		int rc;

		for (size_t i = 0; i < n; i++)
			b[i].size_bytes = 16ull << prop_below(&r, prop_below(&r, 4) ? 24 : 34);
		for (size_t i = 0; i < nr; i++) { /* sorted, disjoint */
			rg[i].start.v = at + prop_below(&r, 64) * GIB;
			rg[i].last.v = rg[i].start.v + (1 + prop_below(&r, 1024)) * GIB - 1;
			at = rg[i].last.v + 1;
		}
		lim = (struct mmio_window_limits){ (4 + prop_below(&r, 128)) * GIB,
						   36 + (unsigned)prop_below(&r, 13), rg, nr };
		rc = mmio_window_plan(b, n, &lim, &base, &size, &e);
		snprintf(what, sizeof(what), "case %" PRIu64, c);
		if (rc && rc != -ENOSPC) {
			CHECK_FAIL_AT("%s: %d %s", what, rc, e.msg);
			return;
		}
		if (!rc && !plan_ok(b, n, &lim, base, size, what))
			return;
		placed += !rc;
	}
	printf("# %" PRIu64 " of %" PRIu64 " sets placed\n", placed, cases);
	CHECK(placed > cases / 4); /* the generator is not all refusals */
}

int main(void)
{
	RUN(eight_128g_bars_fit);
	RUN(too_few_bits_refused_with_sizes);
	RUN(window_in_one_iova_range);
	RUN(edges);
	RUN(random_sets_keep_properties);
	return CHECK_MAIN_END();
}
