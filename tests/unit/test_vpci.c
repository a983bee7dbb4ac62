/* test_vpci.c: property tests for guest BAR placement and the config-space shadow
 * (vfio-property-tests.md sections 2, 4, 6 and 7). Each property runs over PROPTEST_CASES
 * (default 10,000) random cases from a printed, replayable PROPTEST_SEED. */
#include "check.h"
#include "msix.h"
#include "vfio_pt.h"
#include "vpci.h"

#define GIB (1ull << 30)

/* The BAR windows mvm-run gives a VM with ram_bytes of RAM (lazily mapped, never touched). */
static void guest_windows(struct vpci_alloc *a, uint64_t ram_bytes)
{
	struct vm_ram ram;
	struct err e = { 0 };

	if (vm_ram_alloc(&ram, ram_bytes, &e)) {
		CHECK_FAIL_AT("guest RAM of 0x%" PRIx64 " bytes: %s", ram_bytes, e.msg);
		vpci_alloc_init(a, 0, 0, 0, 0, 0, 0);
		return;
	}
	vfio_pt_alloc_init(a, &ram);
	vm_ram_free(&ram);
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

		guest_windows(&a, (1 + prop_below(&r, 64)) * GIB / 4);
		for (int i = 0; i < 24; i++) {
			unsigned flags;
			uint64_t size = rand_size(&r, &flags), gpa;
			int w;

			if (vpci_alloc_bar(&a, size, flags, &gpa, NULL))
				continue;
			p[n] = (struct placed){ gpa, size,
						size < 4096 && !(flags & VPCI_BAR_IO) ? 4096 : size,
						flags };
			if (gpa % size) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR of 0x%" PRIx64 " at 0x%" PRIx64
					      " is not naturally aligned",
					      c, size, gpa);
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
				bool same_space =
					!(p[j].flags & VPCI_BAR_IO) == !(flags & VPCI_BAR_IO);

				if (same_space && gpa < p[j].gpa + p[j].span &&
				    p[j].gpa < gpa + p[n].span) {
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

	guest_windows(&a, GIB);
	CHECK_EQ_I(vpci_alloc_bar(&a, 0, 0, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 3 * 4096, 0, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 8, 0, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 2, VPCI_BAR_IO, &gpa, NULL), -EINVAL);
	CHECK_EQ_I(vpci_alloc_bar(&a, 4 * GIB, 0, &gpa, NULL), -EINVAL); /* 32-bit BAR of 4 GiB */
	CHECK_EQ_I(vpci_alloc_bar(&a, 16, 0, &gpa, NULL), 0); /* small BARs take a page */
	CHECK_EQ_U(gpa, VFIO_PT_MMIO32_BASE);
	CHECK_EQ_I(vpci_alloc_bar(&a, 16, 0, &gpa, NULL), 0);
	CHECK_EQ_U(gpa, VFIO_PT_MMIO32_BASE + 0x1000);
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
	struct vpci_bar bars[6]; /* placed by the guest windows' allocator */
	uint64_t host[6];	 /* where the host has them: what the guest must never see */
};

/* The read-only type bits of a BAR's low register (PCI Local Bus 3.0, 6.2.5.1): bit 0 is I/O
 * space; for memory, bits 2:1 are 10b for a 64-bit BAR and bit 3 is prefetchable. */
static uint32_t spec_type_bits(unsigned flags)
{
	if (flags & VPCI_BAR_IO)
		return 0x1;
	return (flags & VPCI_BAR_64 ? 0x4 : 0) | (flags & VPCI_BAR_PREFETCH ? 0x8 : 0);
}

/* The host's registers for BAR i: its address with the type bits, as the device reports it. */
static void set_host_bar(struct dev *d, int i, uint64_t host)
{
	uint64_t reg = host | spec_type_bits(d->bars[i].flags);

	d->host[i] = host;
	for (int k = 0; k < 4; k++)
		d->cfg[0x10 + 4 * i + k] = (uint8_t)(reg >> (8 * k));
	if (d->bars[i].flags & VPCI_BAR_64)
		for (int k = 0; k < 4; k++)
			d->cfg[0x14 + 4 * i + k] = (uint8_t)(reg >> (32 + 8 * k));
}

/* Address bits a BAR can hold: aligned to its size, in its 32- or 64-bit register space. */
static uint64_t bar_addr_mask(const struct vpci_bar *b)
{
	return (b->flags & VPCI_BAR_64 ? UINT64_MAX : 0xffffffffull) & ~(b->size - 1);
}

/*
 * A host address for b: random, aligned to its size, never the guest's, and with a nonzero
 * low dword whenever the size leaves room for one (a 32-bit BAR always does).
 */
static uint64_t rand_host_addr(struct prop_rng *r, const struct vpci_bar *b)
{
	uint64_t h;

	do
		h = prop_next(r) & bar_addr_mask(b);
	while (h == b->gpa || (b->size < (1ull << 32) && (uint32_t)h == 0));
	return h;
}

static void rand_dev(struct prop_rng *r, struct dev *d, struct vpci_alloc *a)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < 4096; i++)
		d->cfg[i] = (uint8_t)prop_next(r);
	d->cfg[0x06] |= 0x10; /* capability list */
	d->cfg[0x0e] = 0;
	d->cfg[0x34] = 0x40;
	d->cfg[0x40] = 0x01, d->cfg[0x41] = 0x50; /* PM */
	d->cfg[0x50] = 0x05, d->cfg[0x51] = 0x70; /* MSI */
	d->cfg[0x52] = (uint8_t)(prop_next(r) & 0x80), d->cfg[0x53] = 0x01;
	d->cfg[0x70] = 0x11, d->cfg[0x71] = 0x90; /* MSI-X */
	d->cfg[0x90] = 0x10, d->cfg[0x91] = 0x00; /* PCIe */
	for (int i = 0; i < 6; i++) {
		unsigned flags;
		uint64_t size = rand_size(r, &flags);

		if (prop_below(r, 4) == 0 || (i == 5 && (flags & VPCI_BAR_64)))
			continue;
		if (vpci_alloc_bar(a, size, flags, &d->bars[i].gpa, NULL))
			continue;
		d->bars[i].size = size;
		d->bars[i].flags = flags;
		set_host_bar(d, i, rand_host_addr(r, &d->bars[i]));
		if (flags & VPCI_BAR_64)
			i++;
	}
}

/* The same device with every host BAR address bit flipped (still aligned, still in range). */
static void flip_host_bars(struct dev *twin, const struct dev *d)
{
	memcpy(twin, d, sizeof(*twin));
	for (int i = 0; i < 6; i++)
		if (d->bars[i].size)
			set_host_bar(twin, i, ~d->host[i] & bar_addr_mask(&d->bars[i]));
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

static const char *bar_kind(unsigned flags)
{
	return flags & VPCI_BAR_IO ? "io" : flags & VPCI_BAR_64 ? "mem64" : "mem32";
}

/* BAR i's registers read exactly addr and the spec's type bits (the upper one too, if 64-bit). */
static bool bar_reads(const struct vpci_cfg *c, const struct vpci_bar *b, int i, uint64_t addr,
		      uint64_t n, const char *when)
{
	unsigned ro = 0x10 + 4 * (unsigned)i;
	uint32_t lo = vpci_cfg_read(c, ro, 4, 0xdeadbeef), want_lo = (uint32_t)addr;
	uint32_t hi = b->flags & VPCI_BAR_64 ? vpci_cfg_read(c, ro + 4, 4, 0xdeadbeef) : 0;

	want_lo |= spec_type_bits(b->flags);
	if (lo == want_lo && hi == (uint32_t)(addr >> 32))
		return true;
	CHECK_FAIL_AT("case %" PRIu64 " %s: BAR%d (%s, 0x%" PRIx64 " bytes) reads 0x%08x%08x,"
		      " not 0x%08x%08x",
		      n, when, i, bar_kind(b->flags), b->size, hi, lo, (uint32_t)(addr >> 32),
		      want_lo);
	return false;
}

/* The guest moves BAR i to a random aligned address with dword writes: it reads back that. */
static bool bar_follows_guest(struct prop_rng *r, const struct vpci_cfg *c,
			      const struct vpci_bar *b, int i, uint64_t n)
{
	static struct vpci_cfg s;
	unsigned ro = 0x10 + 4 * (unsigned)i, pass;
	uint64_t addr;

	do /* all ones would be a sizing write, not an address */
		addr = prop_next(r) & bar_addr_mask(b);
	while (((uint32_t)addr | 15u) == 0xffffffffu || (addr >> 32) == 0xffffffffu);
	memcpy(&s, c, sizeof(s));
	vpci_cfg_write(&s, ro, 4, (uint32_t)addr, &pass);
	if (b->flags & VPCI_BAR_64)
		vpci_cfg_write(&s, ro + 4, 4, (uint32_t)(addr >> 32), &pass);
	if (!bar_reads(&s, b, i, addr, n, "after the guest placed it"))
		return false;
	if (s.bar[i].gpa != addr) {
		CHECK_FAIL_AT("case %" PRIu64 ": BAR%d written 0x%" PRIx64
			      " is mapped at 0x%" PRIx64,
			      n, i, addr, s.bar[i].gpa);
		return false;
	}
	return true;
}

/*
 * prop_config_shadow_isolation, prop_config_read_idempotent, prop_config_64bit_bar_consistent,
 * prop_integration_bar_size_alignment (sections 6 and 7). Isolation is checked two ways: every
 * BAR reads exactly the guest's address and the spec's type bits, and a twin device whose host
 * BAR addresses differ in every bit reads the same as the original through any access sequence.
 */
TEST(config_shadow_properties)
{
	struct prop_rng r = { prop_seed("config_shadow_properties") };
	uint64_t cases = prop_cases(10000);
	static struct dev d, twin;
	static struct vpci_cfg c, c2, ct;
	struct vpci_alloc windows;

	guest_windows(&windows, 2 * GIB);
	for (uint64_t n = 0; n < cases; n++) {
		struct vpci_alloc a = windows;

		rand_dev(&r, &d, &a);
		flip_host_bars(&twin, &d);
		REQUIRE(vpci_cfg_init(&c, d.cfg, 4096, d.bars, NULL, NULL, NULL) == 0);
		REQUIRE(vpci_cfg_init(&ct, twin.cfg, 4096, twin.bars, NULL, NULL, NULL) == 0);
		for (int i = 0; i < 6; i++) {
			const struct vpci_bar *db = &d.bars[i];

			if (db->size && !bar_reads(&c, db, i, db->gpa, n, "at reset"))
				return;
		}
		for (int step = 0; step < 16; step++) {
			unsigned off, len, pass;
			uint32_t v1, v2, vt, dev_val = (uint32_t)prop_next(&r);

			rand_access(&r, &off, &len);
			if (prop_below(&r, 2)) {
				uint32_t val = rand_value(&r);

				vpci_cfg_write(&c, off, len, val, &pass);
				vpci_cfg_write(&ct, off, len, val, &pass);
			}
			/* BAR bytes never come from the device and never pass through. */
			if (off >= 0x10 && off < 0x28) {
				if (!vpci_cfg_is_emulated(&c, off, len)) {
					CHECK_FAIL_AT("BAR access 0x%x/%u not emulated", off, len);
					return;
				}
				vpci_cfg_write(&c, off, len, 0x12345678, &pass);
				vpci_cfg_write(&ct, off, len, 0x12345678, &pass);
				if (pass) {
					CHECK_FAIL_AT("BAR write 0x%x/%u passed to the device", off,
						      len);
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
			vt = vpci_cfg_read(&ct, off, len, dev_val);
			if (vt != v1) {
				CHECK_FAIL_AT("case %" PRIu64 ": read 0x%x/%u gives 0x%x, or 0x%x"
					      " with other host BAR addresses",
					      n, off, len, v1, vt);
				return;
			}
		}
		for (int i = 0; i < 6; i++) {
			unsigned ro = 0x10 + 4 * (unsigned)i;
			const struct vpci_bar *b = &c.bar[i], *db = &d.bars[i];

			if (vpci_cfg_read(&c, ro, 4, 0) != vpci_cfg_read(&ct, ro, 4, 0)) {
				CHECK_FAIL_AT("case %" PRIu64 ": BAR register %d depends on the"
					      " host address",
					      n, i);
				return;
			}
			if (!db->size)
				continue;
			/* Natural alignment survives whatever the guest wrote. */
			if (b->gpa & (db->size - 1)) {
				CHECK_FAIL_AT("case %" PRIu64
					      ": BAR%d moved to unaligned 0x%" PRIx64,
					      n, i, b->gpa);
				return;
			}
			/* Out of sizing, the guest reads where the BAR is mapped. */
			if (!c.sizing[i] && !((db->flags & VPCI_BAR_64) && c.sizing[i + 1]) &&
			    !bar_reads(&c, db, i, b->gpa, n, "after random accesses"))
				return;
			if (!bar_follows_guest(&r, &c, db, i, n))
				return;
			/* Sizing reads back exactly the BAR's size, with its type bits. */
			{
				struct vpci_cfg s;
				unsigned pass;
				uint64_t mask;
				uint32_t lo, type_mask = db->flags & VPCI_BAR_IO ? 3u : 15u;

				memcpy(&s, &c, sizeof(s));
				vpci_cfg_write(&s, ro, 4, 0xffffffff, &pass);
				lo = vpci_cfg_read(&s, ro, 4, 0);
				mask = lo & ~(uint64_t)type_mask;
				if (db->flags & VPCI_BAR_64) {
					vpci_cfg_write(&s, ro + 4, 4, 0xffffffff, &pass);
					mask |= (uint64_t)vpci_cfg_read(&s, ro + 4, 4, 0) << 32;
				} else {
					mask |= 0xffffffff00000000ull;
				}
				if (~mask + 1 != db->size) {
					CHECK_FAIL_AT("case %" PRIu64 ": BAR%d sizes as 0x%" PRIx64
						      " not 0x%" PRIx64,
						      n, i, ~mask + 1, db->size);
					return;
				}
				if ((lo & type_mask) != spec_type_bits(db->flags)) {
					CHECK_FAIL_AT("case %" PRIu64 ": BAR%d type bits changed",
						      n, i);
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

		guest_windows(&a, GIB);
		rand_dev(&r, &d, &a);
		REQUIRE(vpci_cfg_init(&c, d.cfg, 256, d.bars, hide, NULL, NULL) == 0);
		msix = vpci_cfg_find_cap(&c, 0x11);
		if (msix != 0x70 || vpci_cfg_find_cap(&c, 0x01) ||
		    vpci_cfg_find_cap(&c, 0x05) != 0x50 || vpci_cfg_find_cap(&c, 0x10) != 0x90) {
			CHECK_FAIL_AT("case %" PRIu64 ": capability list wrong (msix at 0x%x)", n,
				      msix);
			return;
		}
		for (int step = 0; step < 32; step++) {
			unsigned off = (unsigned)prop_below(&r, 256), pass;

			vpci_cfg_write(&c, off, 1, (uint32_t)prop_next(&r), &pass);
		}
		if (vpci_cfg_find_cap(&c, 0x11) != msix || vpci_cfg_find_cap(&c, 0x01)) {
			CHECK_FAIL_AT("case %" PRIu64 ": guest writes changed the capability list",
				      n);
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
	static const uint16_t hide_ext[] = { 0x0010 /* SR-IOV */, 0x0001 /* AER */, 0 };
	struct vpci_bar bars[6] = { { 0 } };
	struct vpci_cfg *c = malloc(sizeof(*c));
	unsigned pass;

	REQUIRE(c);
	/* 0x100: DSN (id 3) -> 0x140: SR-IOV (id 0x10) -> 0x180: ACS (id 0xd) -> end */
	cfg[0x100] = 0x03, cfg[0x101] = 0x00, cfg[0x102] = 0x01, cfg[0x103] = 0x14;
	cfg[0x140] = 0x10, cfg[0x141] = 0x00, cfg[0x142] = 0x01, cfg[0x143] = 0x18;
	cfg[0x180] = 0x0d, cfg[0x181] = 0x00, cfg[0x182] = 0x01, cfg[0x183] = 0x00;
	REQUIRE(vpci_cfg_init(c, cfg, 4096, bars, NULL, hide_ext, NULL) == 0);
	/* DSN now points past SR-IOV, whose header reads 0; ACS is untouched. */
	CHECK_EQ_U(vpci_cfg_read(c, 0x100, 4, 0x14010003), 0x18010003);
	CHECK_EQ_U(vpci_cfg_read(c, 0x140, 4, 0x18010010), 0);
	CHECK(!vpci_cfg_is_emulated(c, 0x180, 4));
	/* The headers are the VMM's: guest writes neither change nor reach them. */
	vpci_cfg_write(c, 0x100, 4, 0x14010003, &pass);
	CHECK_EQ_U(pass, 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0x100, 4, 0x14010003), 0x18010003);
	/* Hidden first capability: ID 0, version 0, its next pointer kept. */
	cfg[0x100] = 0x01, cfg[0x102] = 0x02; /* AER, version 2 */
	REQUIRE(vpci_cfg_init(c, cfg, 4096, bars, NULL, hide_ext, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0x100, 4, 0x14020001), 0x18000000);
	free(c);
}

/* Resizable BAR (PCIe 5.0, 7.8.6): only the current size is offered, and it cannot change. */
TEST(config_rebar_current_size_read_only)
{
	static uint8_t cfg[4096];
	struct vpci_bar bars[6] = { { 0 } };
	struct vpci_cfg *c = malloc(sizeof(*c));
	unsigned pass;

	REQUIRE(c);
	cfg[0x100] = 0x15, cfg[0x102] = 0x01; /* Resizable BAR, version 1, last */
	/* BAR0 supports 1 MiB-16 GiB (capability bits 4-18); one resizable BAR; now 256 MiB. */
	cfg[0x104] = 0xf0, cfg[0x105] = 0xff, cfg[0x106] = 0x07;
	cfg[0x108] = 0x20, cfg[0x109] = 8;
	REQUIRE(vpci_cfg_init(c, cfg, 4096, bars, NULL, vpci_hidden_ext_caps, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0x100, 4, 0x00010015), 0x00010015);
	CHECK_EQ_U(vpci_cfg_read(c, 0x104, 4, 0x0007fff0), 1u << (4 + 8)); /* 2^(20+8) */
	CHECK_EQ_U(vpci_cfg_read(c, 0x108, 4, 0x00000820), 0x00000820);
	vpci_cfg_write(c, 0x108, 4, 0x00000420, &pass); /* the guest asks for 16 MiB */
	CHECK_EQ_U(pass, 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0x108, 4, 0x00000420), 0x00000820);
	vpci_cfg_write(c, 0x104, 4, 0xffffffff, &pass);
	CHECK_EQ_U(pass, 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0x104, 4, 0xffffffff), 1u << 12);
	free(c);
}

/*
 * A Resizable BAR header in the last dword of config space (found by
 * config_shadow_properties under UBSan: its control register was read at 0x1004, past the end).
 */
TEST(config_rebar_at_the_end)
{
	static uint8_t cfg[4096];
	struct vpci_bar bars[6] = { { 0 } };
	struct vpci_cfg *c = malloc(sizeof(*c));

	REQUIRE(c);
	memset(c, 0xa5, sizeof(*c));
	cfg[0x100] = 0x01, cfg[0x102] = 0xc1, cfg[0x103] = 0xff; /* AER, v1, next 0xffc */
	cfg[0xffc] = 0x15, cfg[0xffe] = 0x01;			 /* Resizable BAR, v1, last */
	REQUIRE(vpci_cfg_init(c, cfg, 4096, bars, NULL, NULL, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(c, 0xffc, 4, 0x00010015), 0x00010015);
	free(c);
}

/* Behind a root port, a root complex integrated endpoint (PCIe type 9) reads as an endpoint
 * (type 0), read-only; other types are the device's (PCIe 5.0, 7.5.3.2). */
TEST(config_pcie_type_endpoint)
{
	static uint8_t cfg[256];
	struct vpci_bar bars[6] = { { 0 } };
	static struct vpci_cfg c;
	unsigned pass;

	cfg[0x06] = 0x10, cfg[0x34] = 0x40;
	cfg[0x40] = 0x10, cfg[0x41] = 0, cfg[0x42] = 0x92, cfg[0x43] = 0x00; /* v2, RCiEP */
	REQUIRE(vpci_cfg_init(&c, cfg, 256, bars, NULL, NULL, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x42, 2, 0x0092), 0x0002);
	vpci_cfg_write(&c, 0x42, 1, 0x92, &pass);
	CHECK_EQ_U(pass, 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x42, 2, 0x0092), 0x0002);
	cfg[0x42] = 0x12; /* legacy endpoint: kept */
	REQUIRE(vpci_cfg_init(&c, cfg, 256, bars, NULL, NULL, NULL) == 0);
	CHECK_EQ_U(vpci_cfg_read(&c, 0x42, 2, 0x0012), 0x0012);
}

/* What the guest reads: the shadow over the (simulated) device's own bytes. */
static uint32_t guest_rd(const struct vpci_cfg *c, const uint8_t *dev, unsigned off)
{
	uint32_t raw = (uint32_t)dev[off] | (uint32_t)dev[off + 1] << 8 |
		       (uint32_t)dev[off + 2] << 16 | (uint32_t)dev[off + 3] << 24;

	return vpci_cfg_read(c, off, 4, raw);
}

/*
 * Walk the extended capabilities as Linux's pci_find_next_ext_capability does (at most
 * (4096 - 256) / 8 steps, ending at a 0 header or a next pointer below 0x100); ids[] gets the
 * IDs in order. Returns how many, or -1 when the walk had not ended after that many steps.
 */
static int guest_ext_walk(const struct vpci_cfg *c, const uint8_t *dev, uint16_t *ids)
{
	unsigned pos = 0x100;
	int n = 0;

	for (int ttl = (4096 - 256) / 8; ttl > 0; ttl--) {
		uint32_t h = guest_rd(c, dev, pos);

		if (!h)
			return n;
		ids[n++] = (uint16_t)(h & 0xffff);
		pos = (h >> 20) & 0xffc;
		if (pos < 0x100)
			return n;
	}
	return -1;
}

/* Lengths of the hidden capabilities, without optional parts (PCIe 5.0: AER 7.8.4, ACS 7.7.8,
 * ATS 10.5.1, SR-IOV 9.3.3, PRI 10.5.2, PASID 7.8.8). */
static unsigned spec_ext_len(uint16_t id)
{
	return id == 0x0001 ? 0x48 : id == 0x0010 ? 0x40 : id == 0x0013 ? 0x10 : 8;
}

static bool id_hidden(uint16_t id)
{
	for (const uint16_t *h = vpci_hidden_ext_caps; *h; h++)
		if (*h == id)
			return true;
	return false;
}

/*
 * Random extended capability chains (hidden and visible IDs at random places, sometimes a
 * loop), then random guest writes anywhere in 0x100-0xfff: the guest's walk ends, never meets a
 * hidden ID, finds every visible capability in the device's order, and no write to a header
 * reaches the device or changes what the guest reads.
 */
TEST(prop_ext_caps_chain)
{
	static const uint16_t pool[] = { 0x0001, 0x000d, 0x000f, 0x0010, 0x0013, 0x001b,
					 0x0002, 0x0003, 0x000b, 0x0015, 0x0019, 0x001e };
	struct prop_rng r = { prop_seed("prop_ext_caps_chain") };
	uint64_t cases = prop_cases(2000);
	static uint8_t dev[4096];
	static struct vpci_cfg c;
	struct vpci_bar bars[6] = { { 0 } };

	for (uint64_t n = 0; n < cases; n++) {
		unsigned k = 1 + (unsigned)prop_below(&r, 10), at[10], pos = 0x100;
		uint16_t id[10], want[10], got[480];
		int nwant = 0, ngot;
		bool loop = prop_below(&r, 8) == 0;

		for (int i = 0; i < 4096; i++)
			dev[i] = (uint8_t)prop_next(&r);
		for (unsigned i = 0; i < k; i++) { /* distinct dword offsets, the first at 0x100 */
			at[i] = pos;
			pos += 16 + 4 * (unsigned)prop_below(&r, 64);
			if (pos > 0xff0)
				k = i + 1;
		}
		for (unsigned i = 0; i < k; i++) {
			unsigned next = i + 1 < k ? at[i + 1] : loop ? at[prop_below(&r, k)] : 0;
			uint32_t h;

			id[i] = pool[prop_below(&r, sizeof(pool) / sizeof(pool[0]))];
			h = id[i] | 1u << 16 | next << 20;
			for (int b = 0; b < 4; b++)
				dev[at[i] + b] = (uint8_t)(h >> (8 * b));
			if (id[i] == 0x15) /* a resizable BAR: no entries, keep it small */
				dev[at[i] + 8] &= 0x1f;
			if (!id_hidden(id[i]))
				want[nwant++] = id[i];
		}
		REQUIRE(vpci_cfg_init(&c, dev, 4096, bars, NULL, vpci_hidden_ext_caps, NULL) == 0);
		for (int step = 0; step < 32; step++) {
			unsigned off = 0x100 + 4 * (unsigned)prop_below(&r, 960), pass;
			uint32_t before = guest_rd(&c, dev, off);

			if (step < 8 && step < (int)k)
				off = at[step]; /* the headers above all */
			before = guest_rd(&c, dev, off);
			vpci_cfg_write(&c, off, 4, (uint32_t)prop_next(&r), &pass);
			if (vpci_cfg_is_emulated(&c, off, 4) &&
			    (pass || guest_rd(&c, dev, off) != before)) {
				CHECK_FAIL_AT("case %" PRIu64 ": write to emulated 0x%x passed"
					      " (0x%x) or changed it",
					      n, off, pass);
				return;
			}
		}
		/* Hidden bodies read 0 (SR-IOV's VF BARs are host addresses). */
		for (unsigned i = 0; i < k; i++) {
			unsigned end = at[i] + spec_ext_len(id[i]);

			if (i + 1 < k && at[i + 1] < end)
				end = at[i + 1];
			for (unsigned o = at[i] + 4; id_hidden(id[i]) && o + 4 <= end && o < 4096;
			     o += 4)
				if (guest_rd(&c, dev, o)) {
					CHECK_FAIL_AT("case %" PRIu64 ": hidden 0x%x at 0x%x reads"
						      " 0x%x at 0x%x",
						      n, id[i], at[i], guest_rd(&c, dev, o), o);
					return;
				}
		}
		ngot = guest_ext_walk(&c, dev, got);
		if (ngot < 0) {
			CHECK_FAIL_AT("case %" PRIu64 ": the guest's walk does not end", n);
			return;
		}
		for (int i = 0; i < ngot; i++)
			if (id_hidden(got[i])) {
				CHECK_FAIL_AT("case %" PRIu64
					      ": hidden capability 0x%x in the chain",
					      n, got[i]);
				return;
			}
		/* Visible ones in order; a hidden first one leaves an ID-0 header. */
		{
			int g = got[0] == 0 && ngot > 0 ? 1 : 0;

			if (ngot - g != nwant || memcmp(got + g, want, (size_t)nwant * 2)) {
				CHECK_FAIL_AT("case %" PRIu64
					      ": %d visible capabilities found, %d in"
					      " the device",
					      n, ngot - g, nwant);
				return;
			}
		}
	}
}

/* prop_integration_dma_bar_separate: every BAR lies outside guest RAM (which is mapped for DMA
 * at IOVA = GPA), for any RAM size. */
TEST(bars_never_overlap_ram)
{
	struct prop_rng r = { prop_seed("bars_never_overlap_ram") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t n = 0; n < cases; n++) {
		uint64_t ram_bytes = (1 + prop_below(&r, 256)) * (GIB / 4);
		struct vm_ram ram;
		struct vpci_alloc a;
		struct err e = { 0 };

		REQUIRE(vm_ram_alloc(&ram, ram_bytes, &e) == 0);
		vfio_pt_alloc_init(&a, &ram);
		for (int i = 0; i < 8; i++) {
			unsigned flags;
			uint64_t size = rand_size(&r, &flags), gpa;

			if ((flags & VPCI_BAR_IO) || vpci_alloc_bar(&a, size, flags, &gpa, NULL))
				continue;
			for (unsigned k = 0; k < ram.nr_regions; k++) {
				const struct vm_ram_region *g = &ram.region[k];

				if (gpa < g->gpa + g->size_bytes && g->gpa < gpa + size) {
					CHECK_FAIL_AT("case %" PRIu64 ": BAR 0x%" PRIx64
						      "+0x%" PRIx64 " overlaps RAM 0x%" PRIx64
						      "+0x%" PRIx64,
						      n, gpa, size, g->gpa, g->size_bytes);
					vm_ram_free(&ram);
					return;
				}
			}
		}
		vm_ram_free(&ram);
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
		bars[i] = (struct vpci_bar){ .size = 0x1000,
					     .gpa = 0xe0000000ull + 0x1000ull * (unsigned)i };
	REQUIRE(vpci_cfg_init(&c, cfg0, 256, bars, NULL, NULL, NULL) == 0);
	for (unsigned off = 0; off < 256; off += 4) {
		unsigned pass,
			moved = vpci_cfg_write(&c, off, 4, 0xe0100000u + off * 0x1000u, &pass);
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
					CHECK_FAIL_AT("case %" PRIu64
						      ": vector %u changed vector %u",
						      n, v, i);
					return;
				}
				if (msix_can_deliver(&s, i) != want) {
					CHECK_FAIL_AT("case %" PRIu64
						      ": vector %u delivers wrongly",
						      n, i);
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
	RUN(config_rebar_current_size_read_only);
	RUN(config_rebar_at_the_end);
	RUN(prop_ext_caps_chain);
	RUN(config_pcie_type_endpoint);
	RUN(bars_never_overlap_ram);
	RUN(bar_registers_exhaustive);
	RUN(msix_vectors_independent);
	return CHECK_MAIN_END();
}
