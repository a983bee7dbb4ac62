/* test_vpci.c: property tests for guest BAR placement and the config-space shadow
 * (vfio-property-tests.md sections 2, 4, 6 and 7). Each property runs over PROPTEST_CASES
 * (default 10,000) random cases from a printed, replayable PROPTEST_SEED. */
#include "check.h"
#include "msix.h"
#include "vpci.h"

#define GIB (1ull << 30)

/* The layout mvm-run uses: 32-bit hole below 4 GiB, 64-bit window above RAM. */
static void std_alloc(struct vpci_alloc *a, uint64_t ram_top)
{
	uint64_t hi = ram_top > 4 * GIB ? ram_top : 4 * GIB;

	hi = (hi + GIB - 1) & ~(GIB - 1);
	vpci_alloc_init(a, 0xc0000000, 0x3ec00000, hi, 1ull << 40, 0xc000, 0x4000);
}

static uint64_t rand_size(struct prop_rng *r, unsigned *flags)
{
	unsigned kind = (unsigned)prop_below(r, 10);

	if (kind == 0) {
		*flags = VPCI_BAR_IO;
		return 4ull << prop_below(r, 7);
	}
	if (kind < 4) {
		*flags = (unsigned)prop_below(r, 2) * VPCI_BAR_PREFETCH;
		return 16ull << prop_below(r, 21); /* up to 16 MiB */
	}
	*flags = VPCI_BAR_64 | (unsigned)prop_below(r, 2) * VPCI_BAR_PREFETCH;
	return 16ull << prop_below(r, 32); /* up to 32 GiB: GPU BARs */
}

struct placed {
	uint64_t gpa, size, span;
	unsigned flags;
};

/* prop_bar_natural_alignment, prop_bar_no_overlap, prop_bar_monotonic (section 4). */
TEST(bar_alloc_aligned_disjoint_monotonic)
{
	struct prop_rng r = { prop_seed("bar_alloc_aligned_disjoint_monotonic") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		struct vpci_alloc a;
		struct placed p[24];
		uint64_t last[3] = { 0, 0, 0 };
		int n = 0;

		std_alloc(&a, (1 + prop_below(&r, 64)) * GIB / 4);
		for (int i = 0; i < 24; i++) {
			unsigned flags;
			uint64_t size = rand_size(&r, &flags), gpa;
			int w;

			if (vpci_alloc_bar(&a, size, flags, &gpa, NULL))
				continue;
			p[n] = (struct placed){ gpa, size, size < 4096 && !(flags & VPCI_BAR_IO) ? 4096 : size,
						flags };
			if (gpa % size) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR of 0x%" PRIx64 " at 0x%" PRIx64
					      " is not naturally aligned", c, size, gpa);
				return;
			}
			w = flags & VPCI_BAR_IO ? 2 : flags & VPCI_BAR_64 ? 1 : 0;
			if (gpa < last[w]) {
				CHECK_FAIL_AT("case %" PRIu64 ": allocation went backwards", c);
				return;
			}
			last[w] = gpa;
			/* 32-bit BARs stay below 4 GiB; I/O below 64K. */
			if ((w == 0 && gpa + size > 4 * GIB) || (w == 2 && gpa + size > 0x10000)) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR outside its window", c);
				return;
			}
			for (int j = 0; j < n; j++) {
				bool same_space = !(p[j].flags & VPCI_BAR_IO) == !(flags & VPCI_BAR_IO);

				if (same_space && gpa < p[j].gpa + p[j].span && p[j].gpa < gpa + p[n].span) {
					CHECK_FAIL_AT("case %" PRIu64 ": BARs overlap", c);
					return;
				}
			}
			n++;
		}
	}
}

/* prop_edge_bar_boundaries, prop_edge_zero_size_rejected, prop_edge_max_address_safe. */
TEST(bar_alloc_edges)
{
	struct vpci_alloc a;
	uint64_t gpa;

	std_alloc(&a, GIB);
	CHECK_EQ_I(vpci_alloc_bar(&a, 0, 0, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 3 * 4096, 0, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 8, 0, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 2, VPCI_BAR_IO, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 4 * GIB, 0, &gpa, NULL), -EINVAL); /* 32-bit BAR of 4 GiB */
	CHECK_EQ_I(vpci_alloc_bar(&a, 16, 0, &gpa, NULL), 0); /* small BARs take a page */
	CHECK_EQ_U(gpa, 0xc0000000);
	CHECK_EQ_I(vpci_alloc_bar(&a, 16, 0, &gpa, NULL), 0);
	CHECK_EQ_U(gpa, 0xc0001000);
	CHECK_EQ_I(vpci_alloc_bar(&a, 64 * GIB, VPCI_BAR_64, &gpa, NULL), 0);
	CHECK_EQ_U(gpa % (64 * GIB), 0);
	CHECK(gpa >= 4 * GIB);
	/* A window at the very top of the address space never wraps. */
	vpci_alloc_init(&a, 0, 0, UINT64_MAX - 0xffff, 0xffff, 0, 0);
	CHECK_EQ_I(vpci_alloc_bar(&a, 1ull << 20, VPCI_BAR_64, &gpa, NULL), -ENOSPC);
	vpci_alloc_init(&a, 0, 0, 0xfffffffffff00000ull, 0xfffff, 0, 0);
	CHECK_EQ_I(vpci_alloc_bar(&a, 1ull << 63, VPCI_BAR_64, &gpa, NULL), -ENOSPC);
	/* Exhaustion is reported, and the window is still usable for what fits. */
	vpci_alloc_init(&a, 0xc0000000, 0x10000, 0, 0, 0, 0);
	CHECK_EQ_I(vpci_alloc_bar(&a, 0x10000, 0, &gpa, NULL), 0);
	CHECK_EQ_I(vpci_alloc_bar(&a, 0x1000, 0, &gpa, NULL), -ENOSPC);
}

/* A random device: header type 0, some BARs, a capability list with MSI, MSI-X, PM, PCIe. */
struct dev {
	uint8_t cfg[4096];
	struct vpci_bar bars[6];
	uint64_t host[6];
};

static void rand_dev(struct prop_rng *r, struct dev *d, struct vpci_alloc *a)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < 4096; i++)
		d->cfg[i] = (uint8_t)prop_next(r);
	d->cfg[0x06] |= 0x10; /* capability list */
	d->cfg[0x0e] = 0;
	d->cfg[0x34] = 0x40;
	d->cfg[0x40] = 0x01, d->cfg[0x41] = 0x50;		 /* PM */
	d->cfg[0x50] = 0x05, d->cfg[0x51] = 0x70;		 /* MSI */
	d->cfg[0x52] = (uint8_t)(prop_next(r) & 0x80), d->cfg[0x53] = 0x01;
	d->cfg[0x70] = 0x11, d->cfg[0x71] = 0x90;		 /* MSI-X */
	d->cfg[0x90] = 0x10, d->cfg[0x91] = 0x00;		 /* PCIe */
	for (int i = 0; i < 6; i++) {
		unsigned flags;
		uint64_t size = rand_size(r, &flags);

		if (prop_below(r, 4) == 0 || (i == 5 && (flags & VPCI_BAR_64)))
			continue;
		if (vpci_alloc_bar(a, size, flags, &d->bars[i].gpa, NULL))
			continue;
		d->bars[i].size = size;
		d->bars[i].flags = flags;
		/* The host address: anything else, with the high bit pattern the guest must never see. */
		d->host[i] = (0xdead000000000000ull | (prop_next(r) & 0x0000ffff00000000ull)) & ~(size - 1);
		for (int k = 0; k < 4; k++)
			d->cfg[0x10 + 4 * i + k] = (uint8_t)(d->host[i] >> (8 * k));
		if (flags & VPCI_BAR_64) {
			for (int k = 0; k < 4; k++)
				d->cfg[0x14 + 4 * i + k] = (uint8_t)(d->host[i] >> (32 + 8 * k));
			i++;
		}
	}
}

static const unsigned sizes[3] = { 1, 2, 4 };

/* A random guest access anywhere in the header, biased towards the BARs. */
static void rand_access(struct prop_rng *r, unsigned *off, unsigned *len)
{
	*len = sizes[prop_below(r, 3)];
	*off = (unsigned)(prop_below(r, 3) ? 0x10 + prop_below(r, 24) : prop_below(r, 256));
	*off &= ~(*len - 1);
}

static uint32_t rand_value(struct prop_rng *r)
{
	switch (prop_below(r, 4)) {
	case 0:
		return 0xffffffff; /* sizing */
	case 1:
		return 0;
	default:
		return (uint32_t)prop_next(r);
	}
}

/* prop_config_shadow_isolation, prop_config_read_idempotent, prop_config_64bit_bar_consistent,
 * prop_integration_bar_size_alignment (sections 6 and 7). */
TEST(config_shadow_properties)
{
	struct prop_rng r = { prop_seed("config_shadow_properties") };
	uint64_t cases = prop_cases(10000);
	static struct dev d;
	static struct vpci_cfg c, c2;

	for (uint64_t n = 0; n < cases; n++) {
		struct vpci_alloc a;

		std_alloc(&a, 2 * GIB);
		rand_dev(&r, &d, &a);
		REQUIRE(vpci_cfg_init(&c, d.cfg, 4096, d.bars, NULL, NULL, NULL) == 0);
		for (int step = 0; step < 16; step++) {
			unsigned off, len, pass;
			uint32_t v1, v2, dev_val = (uint32_t)prop_next(&r);

			rand_access(&r, &off, &len);
			if (prop_below(&r, 2))
				vpci_cfg_write(&c, off, len, rand_value(&r), &pass);
			/* BAR bytes never come from the device and never pass through. */
			if (off >= 0x10 && off < 0x28) {
				if (!vpci_cfg_is_emulated(&c, off, len)) {
					CHECK_FAIL_AT("BAR access 0x%x/%u not emulated", off, len);
					return;
				}
				vpci_cfg_write(&c, off, len, 0x12345678, &pass);
				if (pass) {
					CHECK_FAIL_AT("BAR write 0x%x/%u passed to the device", off, len);
					return;
				}
			}
			memcpy(&c2, &c, sizeof(c));
			v1 = vpci_cfg_read(&c, off, len, dev_val);
			v2 = vpci_cfg_read(&c, off, len, dev_val);
			if (v1 != v2 || memcmp(&c, &c2, sizeof(c))) {
				CHECK_FAIL_AT("read 0x%x/%u is not idempotent", off, len);
				return;
			}
		}
		for (int i = 0; i < 6; i++) {
			uint32_t lo = vpci_cfg_read(&c, 0x10 + 4 * (unsigned)i, 4, 0xdeadbeef);
			uint32_t hi = i < 5 ? vpci_cfg_read(&c, 0x14 + 4 * (unsigned)i, 4, 0xdeadbeef) : 0;
			const struct vpci_bar *b = &c.bar[i];

			/* No host BAR address bits, ever (the host pattern has 0xdead in bits 48-63). */
			if ((hi >> 16) == 0xdead || lo == 0xdeadbeef) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR%d reveals the host address", n, i);
				return;
			}
			if (!b->size)
				continue;
			/* Natural alignment survives whatever the guest wrote. */
			if (b->gpa & (b->size - 1)) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR%d moved to unaligned 0x%" PRIx64, n, i,
					      b->gpa);
				return;
			}
			if ((b->flags & VPCI_BAR_64) && !c.sizing[i] && !c.sizing[i + 1]) {
				uint64_t seen = ((uint64_t)hi << 32 | lo) & ~15ull;

				if (seen != b->gpa) {
					CHECK_FAIL_AT("case %" PRIu64 ": BAR%d reads 0x%" PRIx64
						      " but is mapped at 0x%" PRIx64, n, i, seen, b->gpa);
					return;
				}
			}
			/* Sizing reads back exactly the BAR's size, with its type bits. */
			{
				struct vpci_cfg s;
				unsigned pass;
				uint64_t mask;

				memcpy(&s, &c, sizeof(s));
				vpci_cfg_write(&s, 0x10 + 4 * (unsigned)i, 4, 0xffffffff, &pass);
				mask = vpci_cfg_read(&s, 0x10 + 4 * (unsigned)i, 4, 0) & ~15ull;
				if (b->flags & VPCI_BAR_IO)
					mask = vpci_cfg_read(&s, 0x10 + 4 * (unsigned)i, 4, 0) & ~3ull;
				if (b->flags & VPCI_BAR_64) {
					vpci_cfg_write(&s, 0x14 + 4 * (unsigned)i, 4, 0xffffffff, &pass);
					mask |= (uint64_t)vpci_cfg_read(&s, 0x14 + 4 * (unsigned)i, 4, 0) << 32;
				} else {
					mask |= 0xffffffff00000000ull;
				}
				if (~mask + 1 != b->size) {
					CHECK_FAIL_AT("case %" PRIu64 ": BAR%d sizes as 0x%" PRIx64 " not 0x%" PRIx64,
						      n, i, ~mask + 1, b->size);
					return;
				}
				if ((vpci_cfg_read(&s, 0x10 + 4 * (unsigned)i, 4, 0) &
				     (b->flags & VPCI_BAR_IO ? 3u : 15u)) != b->low_bits) {
					CHECK_FAIL_AT("case %" PRIu64 ": BAR%d type bits changed", n, i);
					return;
				}
			}
		}
	}
}

/* prop_config_msix_stable: hidden capabilities vanish, the others stay findable whatever the
 * guest writes; a looping capability list ends instead of hanging. */
TEST(config_caps_hidden_and_stable)
{
	struct prop_rng r = { prop_seed("config_caps_hidden_and_stable") };
	static const uint8_t hide[] = { 0x01, 0 }; /* power management */
	uint64_t cases = prop_cases(10000);
	static struct dev d;
	static struct vpci_cfg c;

	for (uint64_t n = 0; n < cases; n++) {
		struct vpci_alloc a;
		unsigned msix;

		std_alloc(&a, GIB);
		rand_dev(&r, &d, &a);
		REQUIRE(vpci_cfg_init(&c, d.cfg, 256, d.bars, hide, NULL, NULL) == 0);
		msix = vpci_cfg_find_cap(&c, 0x11);
		if (msix != 0x70 || vpci_cfg_find_cap(&c, 0x01) || vpci_cfg_find_cap(&c, 0x05) != 0x50 ||
		    vpci_cfg_find_cap(&c, 0x10) != 0x90) {
			CHECK_FAIL_AT("case %" PRIu64 ": capability list wrong (msix at 0x%x)", n, msix);
			return;
		}
		for (int step = 0; step < 32; step++) {
			unsigned off = (unsigned)prop_below(&r, 256), pass;

			vpci_cfg_write(&c, off, 1, (uint32_t)prop_next(&r), &pass);
		}
		if (vpci_cfg_find_cap(&c, 0x11) != msix || vpci_cfg_find_cap(&c, 0x01)) {
			CHECK_FAIL_AT("case %" PRIu64 ": guest writes changed the capability list", n);
			return;
		}
	}
	/* A list that loops back on itself is cut, not followed forever. */
	d.cfg[0x91] = 0x40;
	REQUIRE(vpci_cfg_init(&c, d.cfg, 256, d.bars, NULL, NULL, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_find_cap(&c, 0x10), 0x90);
	CHECK_EQ_U(vpci_cfg_find_cap(&c, 0x99), 0);
}

TEST(config_ext_caps_hidden)
{
	static uint8_t cfg[4096];
	static const uint16_t hide_ext[] = { 0x0010 /* SR-IOV */, 0 };
	struct vpci_bar bars[6] = { { 0 } };
	struct vpci_cfg *c = malloc(sizeof(*c));

	REQUIRE(c);
	/* 0x100: AER (id 1) -> 0x140: SR-IOV (id 0x10) -> 0x180: ACS (id 0xd) */
	cfg[0x100] = 0x01, cfg[0x101] = 0x00, cfg[0x102] = 0x01, cfg[0x103] = 0x14;
	cfg[0x140] = 0x10, cfg[0x141] = 0x00, cfg[0x142] = 0x01, cfg[0x143] = 0x18;
	cfg[0x180] = 0x0d, cfg[0x181] = 0x00, cfg[0x182] = 0x01, cfg[0x183] = 0x00;
	REQUIRE(vpci_cfg_init(c, cfg, 4096, bars, NULL, hide_ext, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0x100, 4, 0x14010001), 0x14010001);
	CHECK_EQ_U(vpci_cfg_read(c, 0x140, 4, 0x18010010), 0x18000000); /* null cap, chain kept */
	CHECK(!vpci_cfg_is_emulated(c, 0x180, 4));
	free(c);
}

/* prop_integration_dma_bar_separate: every BAR lies outside guest RAM (which is mapped for DMA
 * at IOVA = GPA), for any RAM size. */
TEST(bars_never_overlap_ram)
{
	struct prop_rng r = { prop_seed("bars_never_overlap_ram") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t n = 0; n < cases; n++) {
		uint64_t ram = (1 + prop_below(&r, 256)) * (GIB / 4);
		uint64_t low_ram = ram < 0xc0000000 ? ram : 0xc0000000;
		uint64_t high_ram_end = ram > 0xc0000000 ? 4 * GIB + (ram - 0xc0000000) : 0;
		struct vpci_alloc a;

		std_alloc(&a, high_ram_end);
		for (int i = 0; i < 8; i++) {
			unsigned flags;
			uint64_t size = rand_size(&r, &flags), gpa;

			if ((flags & VPCI_BAR_IO) || vpci_alloc_bar(&a, size, flags, &gpa, NULL))
				continue;
			if (gpa < low_ram || (high_ram_end && gpa < high_ram_end && gpa + size > 4 * GIB)) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR 0x%" PRIx64 "+0x%" PRIx64
					      " overlaps RAM of 0x%" PRIx64, n, gpa, size, ram);
				return;
			}
		}
	}
}

/* prop_bar_config_offset_valid, prop_bar_index_roundtrip (section 2), exhaustively: the six BAR
 * registers are the only config offsets that move a BAR, each register maps to one BAR. */
TEST(bar_registers_exhaustive)
{
	static const uint8_t cfg0[256] = { 0x86, 0x80, 0xd3, 0x10 };
	struct vpci_bar bars[6] = { { 0 } };
	static struct vpci_cfg c;

	for (int i = 0; i < 6; i++)
		bars[i] = (struct vpci_bar){ .size = 0x1000, .gpa = 0xe0000000ull + 0x1000ull * (unsigned)i };
	REQUIRE(vpci_cfg_init(&c, cfg0, 256, bars, NULL, NULL, NULL) == 0);
	for (unsigned off = 0; off < 256; off += 4) {
		unsigned pass, moved = vpci_cfg_write(&c, off, 4, 0xe0100000u + off * 0x1000u, &pass);
		bool is_bar = off >= 0x10 && off < 0x28;

		if (is_bar ? moved != 1u << ((off - 0x10) / 4) : moved != 0)
			CHECK_FAIL_AT("write at 0x%x moved BARs 0x%x", off, moved);
		if (is_bar && c.bar[(off - 0x10) / 4].gpa != 0xe0100000u + off * 0x1000u)
			CHECK_FAIL_AT("BAR%u did not follow its register", (off - 0x10) / 4);
	}
}

/* prop_integration_multiple_vectors, prop_msix_can_deliver: many vectors live at once, and an
 * operation on one never changes whether another delivers. */
TEST(msix_vectors_independent)
{
	struct prop_rng r = { prop_seed("msix_vectors_independent") };
	uint64_t cases = prop_cases(10000);
	static struct msix_state s;

	for (uint64_t n = 0; n < cases; n++) {
		uint32_t size = 1 + (uint32_t)prop_below(&r, 64);
		bool before[64];

		REQUIRE(msix_state_init(&s, size, NULL) == 0);
		msix_set_enable(&s, true);
		for (int step = 0; step < 64; step++) {
			uint32_t v = (uint32_t)prop_below(&r, size);
			int fd;

			for (uint32_t i = 0; i < size; i++)
				before[i] = msix_can_deliver(&s, i);
			switch (prop_below(&r, 4)) {
			case 0:
				msix_vec_configure(&s, v, 3 + (int)v, 0xfee00000u, v, NULL);
				break;
			case 1:
				msix_vec_enable(&s, v, NULL);
				break;
			case 2:
				msix_vec_mask(&s, v, prop_below(&r, 2), NULL);
				break;
			default:
				msix_vec_disable(&s, v, &fd, NULL);
				break;
			}
			for (uint32_t i = 0; i < size; i++) {
				bool want = s.vec[i].state == MSIX_VEC_ENABLED && !s.vec[i].masked;

				if (i != v && msix_can_deliver(&s, i) != before[i]) {
					CHECK_FAIL_AT("case %" PRIu64 ": vector %u changed vector %u", n, v, i);
					return;
				}
				if (msix_can_deliver(&s, i) != want) {
					CHECK_FAIL_AT("case %" PRIu64 ": vector %u delivers wrongly", n, i);
					return;
				}
			}
		}
		if (msix_state_check(&s, NULL)) {
			CHECK_FAIL_AT("case %" PRIu64 ": counts broken", n);
			return;
		}
	}
}

int main(void)
{
	RUN(bar_alloc_aligned_disjoint_monotonic);
	RUN(bar_alloc_edges);
	RUN(config_shadow_properties);
	RUN(config_caps_hidden_and_stable);
	RUN(config_ext_caps_hidden);
	RUN(bars_never_overlap_ram);
	RUN(bar_registers_exhaustive);
	RUN(msix_vectors_independent);
	return CHECK_MAIN_END();
}
