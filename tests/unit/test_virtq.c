/* test_virtq.c: split virtqueues: unit tests and the properties of Firecracker's queue proofs. */
#include "virtq_fixture.h"

/*
 * Each property test says whether it is exhaustive (every input of its space, possibly reduced
 * by a symmetry stated beside it) or random (at least 100,000 cases by default, seeded: the seed
 * is printed as PROPTEST_SEED=... and PROPTEST_CASES changes the count).
 */

#define NSIZES 16 /* the split sizes: 1, 2, 4, ..., 32768 */

static uint16_t random_pow2_size(struct prop_rng *r, unsigned max_log2)
{
	return (uint16_t)(1u << prop_below(r, max_log2 + 1));
}

/* A two-descriptor chain at head: readable 16 bytes, then writable 64. */
static void two_desc_chain(struct fixture *f, uint16_t head, uint16_t second)
{
	fx_desc(f->desc, head, FX_BUF_GPA, 16, VIRTQ_DESC_F_NEXT, second);
	fx_desc(f->desc, second, FX_BUF_GPA + 0x100, 64, VIRTQ_DESC_F_WRITE, 0);
}

/* ---- unit tests ---- */

TEST(pop_walk_add_used)
{
	struct fixture f;
	struct virtq_chain c;
	struct virtq_desc d;

	REQUIRE(fx_init(&f, 8, false, false, false) == 0);
	two_desc_chain(&f, 3, 5);
	fx_avail_push(&f, 3);
	CHECK_EQ_U(virtq_len(&f.q), 1);
	CHECK_EQ_I(virtq_pop(&f.q, &c), 1);
	CHECK_EQ_U(c.head, 3);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_U(d.addr, FX_BUF_GPA);
	CHECK_EQ_U(d.len, 16);
	CHECK(d.hva == f.buf);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_U(d.flags, VIRTQ_DESC_F_WRITE);
	CHECK(d.hva == f.buf + 0x100);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 0);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 0);
	CHECK(virtq_is_empty(&f.q));
	CHECK_EQ_I(virtq_pop(&f.q, &c), 0);
	CHECK_EQ_I(virtq_add_used(&f.q, 3, 64), 0);
	CHECK_EQ_U(get16(f.device + 2), 1);
	CHECK_EQ_U(get32(f.device + 4), 3);
	CHECK_EQ_U(get32(f.device + 8), 64);
	fx_free(&f);
}

TEST(indirect_chain)
{
	struct fixture f;
	struct virtq_chain c;
	struct virtq_desc d;
	uint8_t *table;

	REQUIRE(fx_init(&f, 4, false, false, true) == 0);
	table = f.buf + 0x1000;
	fx_desc(f.desc, 0, FX_BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1); /* direct, then indirect */
	fx_desc(f.desc, 1, FX_BUF_GPA + 0x1000, 48, VIRTQ_DESC_F_INDIRECT, 0);
	fx_desc(table, 0, FX_BUF_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 2);
	fx_desc(table, 2, FX_BUF_GPA + 0x200, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	fx_desc(table, 1, FX_BUF_GPA + 0x300, 8, VIRTQ_DESC_F_WRITE, 0);
	fx_avail_push(&f, 0);
	REQUIRE(virtq_pop(&f.q, &c) == 1);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK(!d.in_indirect);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK(d.in_indirect && d.index == 0);
	CHECK(c.via_indirect && c.indirect_desc.index == 1);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_U(d.index, 2);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_U(d.addr, FX_BUF_GPA + 0x300);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 0);
	fx_free(&f);
}

/* Walk the chain of a fresh pop; returns the walk's final result (0 or -errno). */
static int walk(struct fixture *f, unsigned *count)
{
	struct virtq_chain c;
	struct virtq_desc d;
	int rc;

	*count = 0;
	if (virtq_pop(&f->q, &c) != 1)
		return -ENOENT;
	while ((rc = virtq_chain_next(&c, &d)) > 0)
		++*count;
	return rc;
}

TEST(malformed_chains)
{
	struct fixture f;
	unsigned n;

	/* a loop: 0 -> 1 -> 0 */
	REQUIRE(fx_init(&f, 8, false, false, true) == 0);
	fx_desc(f.desc, 0, FX_BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	fx_desc(f.desc, 1, FX_BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	fx_avail_push(&f, 0);
	CHECK_EQ_I(walk(&f, &n), -ELOOP);
	CHECK_EQ_U(n, 8); /* bounded by the queue size */
	fx_free(&f);

	/* a chain of exactly size descriptors is fine; via indirect, size + 1 is too long */
	REQUIRE(fx_init(&f, 4, false, false, true) == 0);
	for (uint16_t i = 0; i < 4; i++)
		fx_desc(f.desc, i, FX_BUF_GPA, 1, i < 3 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	fx_avail_push(&f, 0);
	CHECK_EQ_I(walk(&f, &n), 0);
	CHECK_EQ_U(n, 4);
	for (uint16_t i = 0; i < 5; i++)
		fx_desc(f.buf + 0x1000, i, FX_BUF_GPA, 1, i < 4 ? VIRTQ_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	fx_desc(f.desc, 1, FX_BUF_GPA + 0x1000, 80, VIRTQ_DESC_F_INDIRECT, 0);
	fx_avail_push(&f, 1);
	CHECK_EQ_I(walk(&f, &n), -ELOOP);
	CHECK_EQ_U(n, 4);
	fx_free(&f);

	struct {
		const char *what;
		uint16_t flags0;
		uint64_t addr0;
		uint32_t len0;
		uint16_t next0;
		uint16_t flags_ind; /* flags of the indirect table's first entry */
		bool indirect;
		int expect;
	} cases[] = {
		{ "next out of range", VIRTQ_DESC_F_NEXT, FX_BUF_GPA, 1, 9, 0, true, -ENOENT },
		{ "indirect with next", VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
		  FX_BUF_GPA + 0x1000, 16, 1, 0, true, -EINVAL },
		{ "indirect not negotiated", VIRTQ_DESC_F_INDIRECT, FX_BUF_GPA + 0x1000, 16, 0, 0,
		  false, -EINVAL },
		{ "indirect len 0", VIRTQ_DESC_F_INDIRECT, FX_BUF_GPA + 0x1000, 0, 0, 0, true,
		  -EINVAL },
		{ "indirect len 24", VIRTQ_DESC_F_INDIRECT, FX_BUF_GPA + 0x1000, 24, 0, 0, true,
		  -EINVAL },
		{ "nested indirect", VIRTQ_DESC_F_INDIRECT, FX_BUF_GPA + 0x1000, 16, 0,
		  VIRTQ_DESC_F_INDIRECT, true, -EINVAL },
		{ "indirect table outside memory", VIRTQ_DESC_F_INDIRECT,
		  FX_BUF_GPA + FX_BUF_BYTES - 8, 16, 0, 0, true, -EFAULT },
		{ "buffer outside memory", 0, FX_BUF_GPA + FX_BUF_BYTES - 1, 2, 0, 0, true,
		  -EFAULT },
		{ "buffer wrapping", 0, UINT64_MAX - 1, 4, 0, 0, true, -EFAULT },
		{ "buffer at 2^64 - 1, len 1", 0, UINT64_MAX, 1, 0, 0, true, -EFAULT },
		{ "write before read", VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, FX_BUF_GPA, 1, 1, 0,
		  true, -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		REQUIRE(fx_init(&f, 8, false, false, cases[i].indirect) == 0);
		fx_desc(f.desc, 0, cases[i].addr0, cases[i].len0, cases[i].flags0, cases[i].next0);
		fx_desc(f.desc, 1, FX_BUF_GPA, 1, 0, 0); /* readable */
		fx_desc(f.buf + 0x1000, 0, FX_BUF_GPA, 1, cases[i].flags_ind, 0);
		fx_avail_push(&f, 0);
		int rc = walk(&f, &n);

		if (rc != cases[i].expect)
			CHECK_FAIL_AT("%s: walk returned %d, expected %d", cases[i].what, rc,
				      cases[i].expect);
		fx_free(&f);
	}
}

/*
 * A descriptor whose next is out of its table (NEXT ⇒ next < its size, §2.7.5.2) is refused
 * itself, not handed to the device before the walk stops: in the ring (past the head, which pop
 * checks) and in an indirect table.
 */
TEST(bad_next_refused_at_its_descriptor)
{
	struct fixture f;
	unsigned n;

	REQUIRE(fx_init(&f, 8, false, false, true) == 0);
	fx_desc(f.desc, 0, FX_BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	fx_desc(f.desc, 1, FX_BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 8);
	fx_avail_push(&f, 0);
	CHECK_EQ_I(walk(&f, &n), -EINVAL);
	CHECK_EQ_U(n, 1);
	fx_desc(f.desc, 2, FX_BUF_GPA + 0x1000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	fx_desc(f.buf + 0x1000, 0, FX_BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	fx_desc(f.buf + 0x1000, 1, FX_BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 2);
	fx_avail_push(&f, 2);
	CHECK_EQ_I(walk(&f, &n), -EINVAL);
	CHECK_EQ_U(n, 1);
	fx_free(&f);
}

TEST(pop_bad_head_is_not_consumed)
{
	struct fixture f;
	struct virtq_chain c;

	REQUIRE(fx_init(&f, 8, false, false, false) == 0);
	fx_avail_push(&f, 8);
	CHECK_EQ_I(virtq_pop(&f.q, &c), -EINVAL);
	CHECK_EQ_U(f.q.next_avail, 0);
	fx_free(&f);
}

TEST(indices_wrap_at_2_16)
{
	struct fixture f;
	struct virtq_chain c;

	REQUIRE(fx_init(&f, 4, false, false, false) == 0);
	f.q.next_avail = f.q.next_used = 0xfffe;
	fx_set_avail_idx(&f, 0xfffe);
	fx_desc(f.desc, 0, FX_BUF_GPA, 1, 0, 0);
	for (unsigned i = 0; i < 5; i++) {
		fx_avail_push(&f, 0);
		REQUIRE(virtq_pop(&f.q, &c) == 1);
		REQUIRE(virtq_add_used(&f.q, c.head, 1) == 0);
	}
	CHECK_EQ_U(f.q.next_avail, 3);
	CHECK_EQ_U(f.q.next_used, 3);
	CHECK_EQ_U(get16(f.device + 2), 3);
	fx_free(&f);
}

TEST(batched_used_elements)
{
	struct fixture f;

	REQUIRE(fx_init(&f, 4, false, false, false) == 0);
	CHECK_EQ_I(virtq_write_used_element(&f.q, 0, 1, 10), 0);
	CHECK_EQ_I(virtq_write_used_element(&f.q, 1, 2, 20), 0);
	CHECK_EQ_I(virtq_write_used_element(&f.q, 2, 4, 20), -EINVAL);
	CHECK_EQ_U(get16(f.device + 2), 0); /* nothing published yet */
	virtq_advance_used_ring_idx(&f.q, 2);
	CHECK_EQ_U(get16(f.device + 2), 2);
	CHECK_EQ_U(get32(f.device + 4 + 8), 2);
	CHECK_EQ_U(f.q.num_added, 2);
	fx_free(&f);
}

/*
 * Buffers in the region of the rings, as in a VM (the fixture gives every area its own region):
 * the walk looks them up in that region first, and its bounds are the region's. Below it, another
 * region, for the buffers that are not there.
 */
TEST(buffers_in_the_rings_region)
{
	const uint64_t low_gpa = 0x1000, gpa = 0x10000, bytes = 0x4000;
	uint8_t *low = calloc(1, 0x1000), *ram = calloc(1, bytes);
	const struct {
		const char *what;
		uint64_t addr;
		uint32_t len;
		int expect;
		uint8_t *hva;
	} cases[] = {
		{ "inside", gpa + 0x3000, 0x100, 1, ram + 0x3000 },
		{ "to the region's last byte", gpa + bytes - 16, 16, 1, ram + bytes - 16 },
		{ "one byte past the region", gpa + bytes - 16, 17, -EFAULT, NULL },
		{ "from the region into the gap", gpa + bytes - 1, 0x1000, -EFAULT, NULL },
		{ "in the other region", low_gpa + 8, 8, 1, low + 8 },
		{ "from the other region into the gap", low_gpa + 8, 0x1000, -EFAULT, NULL },
		{ "in the gap", gpa - 8, 4, -EFAULT, NULL },
	};
	struct guestmem gm;
	struct virtq q;
	struct virtq_chain c;
	struct virtq_desc d;

	REQUIRE(low && ram);
	guestmem_init(&gm);
	REQUIRE(guestmem_add(&gm, low_gpa, low, 0x1000, NULL) == 0);
	REQUIRE(guestmem_add(&gm, gpa, ram, bytes, NULL) == 0);
	q = (struct virtq){ .max_size = 8,
			    .size = 8,
			    .ready = true,
			    .desc_gpa = gpa,
			    .driver_gpa = gpa + 0x1000,
			    .device_gpa = gpa + 0x2000 };
	virtq_reset_state(&q);
	REQUIRE(virtq_init(&q, &gm, NULL) == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_desc(ram, 0, cases[i].addr, cases[i].len, 0, 0);
		put16(ram + 0x1000 + 4 + 2 * (i % 8), 0);
		put16(ram + 0x1000 + 2, (uint16_t)(i + 1));
		REQUIRE(virtq_pop(&q, &c) == 1);
		int rc = virtq_chain_next(&c, &d);

		if (rc != cases[i].expect || (rc == 1 && d.hva != cases[i].hva))
			CHECK_FAIL_AT("%s: chain_next returned %d (hva %p), expected %d (%p)",
				      cases[i].what, rc, rc == 1 ? (void *)d.hva : NULL,
				      cases[i].expect, (void *)cases[i].hva);
	}
	guestmem_close(&gm);
	free(low);
	free(ram);
}

TEST(init_rejects)
{
	struct fixture f;
	struct err e;

	REQUIRE(fx_init(&f, 8, false, false, false) == 0);
	f.q.ready = false;
	CHECK_EQ_I(virtq_init(&f.q, &f.gm, &e), -EINVAL);
	CHECK(!virtq_is_initialized(&f.q));
	f.q.ready = true;
	f.q.size = 16; /* more than max_size 8, and areas too small */
	CHECK_EQ_I(virtq_init(&f.q, &f.gm, &e), -EINVAL);
	f.q.size = 8;
	f.q.device_gpa = FX_DEVICE_GPA + 4; /* aligned, but runs past its region */
	CHECK_EQ_I(virtq_init(&f.q, &f.gm, &e), -EFAULT);
	f.q.device_gpa = UINT64_MAX - 3; /* wraps */
	CHECK_EQ_I(virtq_init(&f.q, &f.gm, &e), -EFAULT);
	f.q.device_gpa = FX_DEVICE_GPA;
	CHECK_EQ_I(virtq_init(&f.q, &f.gm, &e), 0);
	fx_free(&f);
}

/*
 * avail_find: entry i of the available ring is ring[i % size] (§2.7.6). The driver published
 * heads 2, 5, 4, 1, 6, 0, 7, 3 at the free-running indices 0xfffb..2 (through the wrap of the
 * 16-bit index); the device returned two (next_used 0xfffd), so six are searched.
 */
TEST(avail_find)
{
	static const uint16_t heads[] = { 2, 5, 4, 1, 6, 0, 7, 3 };
	struct fixture f;
	struct virtq_chain c;

	REQUIRE(fx_init(&f, 8, false, false, false) == 0);
	fx_set_avail_idx(&f, 0xfffb);
	for (unsigned i = 0; i < 8; i++) {
		fx_desc(f.desc, heads[i], FX_BUF_GPA, 1, 0, 0);
		fx_avail_push(&f, heads[i]);
	}
	REQUIRE(virtq_avail_idx(&f.q) == 3);
	f.q.next_used = 0xfffd;
	CHECK_EQ_U(virtq_avail_find(&f.q, 4), 0xfffd % 8);
	CHECK_EQ_U(virtq_avail_find(&f.q, 6), 0xffff % 8);
	CHECK_EQ_U(virtq_avail_find(&f.q, 0), 0);
	CHECK_EQ_U(virtq_avail_find(&f.q, 3), 2);
	CHECK_EQ_U(virtq_avail_find(&f.q, 2), VIRTQ_RING_POS_NONE); /* returned */
	CHECK_EQ_U(virtq_avail_find(&f.q, 5), VIRTQ_RING_POS_NONE);
	CHECK_EQ_U(virtq_avail_find(&f.q, 9), VIRTQ_RING_POS_NONE); /* no such descriptor */
	REQUIRE(virtq_chain_start(&f.q, 7, &c) == 0);
	CHECK_EQ_U(c.ring_pos, 1);
	/* all eight outstanding; more than the size (a broken driver): the same eight slots */
	f.q.next_used = 0xfffb;
	CHECK_EQ_U(virtq_avail_find(&f.q, 2), 0xfffb % 8);
	f.q.next_used = 0x1000;
	CHECK_EQ_U(virtq_avail_find(&f.q, 5), 0xfffc % 8);
	/* a head published twice: the newest entry */
	f.q.next_used = 0xfffd;
	put16(f.driver + 4 + 2 * 1, 4);
	CHECK_EQ_U(virtq_avail_find(&f.q, 4), 1);
	fx_free(&f);
}

/* ---- properties (Firecracker's proof harnesses, REFERENCES.md "Virtqueues") ---- */

/*
 * VIRTIO 1.2 §2.7.7.2 as the oracle, read literally: with EVENT_IDX, "if the idx field in the
 * used ring (which determined where that descriptor index was placed) was equal to used_event,
 * the device MUST send a notification". The device placed its num_added entries at used idx old,
 * old + 1, ..., new - 1 (modulo 2^16, new = next_used): replay those placements one by one.
 */
static bool spec_used_notify(uint16_t used_event, uint16_t old_idx, uint16_t num_added)
{
	uint16_t idx = old_idx;

	for (uint32_t k = 0; k < num_added; k++, idx++)
		if (idx == used_event)
			return true;
	return false;
}

/*
 * One case through prepare_kick; false (and a failure printed) when it disagrees with §2.7.7.2:
 * with EVENT_IDX, notify exactly when used_event was crossed, avail.flags ignored; without it,
 * notify when avail.flags is 0 and not when it is 1 (VIRTQ_AVAIL_F_NO_INTERRUPT).
 */
static bool kick_matches_spec(struct fixture *f, uint16_t old_idx, uint16_t num_added,
			      uint16_t used_event, uint16_t avail_flags)
{
	uint16_t new_idx = (uint16_t)(old_idx + num_added);
	bool want = f->q.event_idx ? spec_used_notify(used_event, old_idx, num_added)
				   : avail_flags == 0;
	bool kick;

	f->q.next_used = new_idx;
	f->q.num_added = num_added;
	fx_set_used_event(f, used_event);
	put16(f->driver, avail_flags);
	kick = virtq_prepare_kick(&f->q);
	if (kick != want || f->q.num_added != 0) {
		CHECK_FAIL_AT("EVENT_IDX %d avail.flags %u old %u new %u (num_added %u) used_event "
			      "%u: kick %d, §2.7.7.2 says %d; num_added after %u",
			      f->q.event_idx, avail_flags, old_idx, new_idx, num_added, used_event,
			      kick, want, f->q.num_added);
		return false;
	}
	return true;
}

/* num_added, mostly where off-by-ones show: 0, 1, 2, small, up to a few laps; rarely any u16. */
static uint16_t draw_num_added(struct prop_rng *r)
{
	static const uint16_t edges[] = { 0x7fff, 0x8000, 0xfffe, 0xffff };
	unsigned c = (unsigned)prop_below(r, 16);

	if (c < 6)
		return (uint16_t)(c / 2); /* 0, 1 and 2: each an eighth of the cases */
	if (c < 10)
		return (uint16_t)(3 + prop_below(r, 14));
	if (c < 12)
		return (uint16_t)(17 + prop_below(r, 284));
	if (c == 12)
		return edges[prop_below(r, 4)];
	if (c == 13)
		return (uint16_t)prop_next(r);
	return (uint16_t)(1 + prop_below(r, 16)); /* up to the queue size */
}

/* The first used idx written: anywhere, on the u16 edges, or just below 0 so the run wraps. */
static uint16_t draw_old_idx(struct prop_rng *r, uint16_t num_added)
{
	static const uint16_t edges[] = { 0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff };

	switch (prop_below(r, 4)) {
	case 0:
		return edges[prop_below(r, 6)];
	case 1:
		return (uint16_t)(0 - prop_below(r, num_added + 3u)); /* [old, new) spans 0xffff */
	default:
		return (uint16_t)prop_next(r);
	}
}

/* used_event around both ends of [old, new), inside it, on the u16 edges, or anywhere. */
static uint16_t draw_used_event(struct prop_rng *r, uint16_t old_idx, uint16_t num_added)
{
	uint16_t new_idx = (uint16_t)(old_idx + num_added);

	switch (prop_below(r, 10)) {
	case 0:
		return (uint16_t)(old_idx - 1);
	case 1:
		return old_idx;
	case 2:
		return (uint16_t)(old_idx + 1);
	case 3:
		return (uint16_t)(new_idx - 2);
	case 4:
		return (uint16_t)(new_idx - 1);
	case 5:
		return new_idx;
	case 6:
		return (uint16_t)(new_idx + 1);
	case 7:
		return (uint16_t)(old_idx + prop_below(r, num_added + 1u));
	case 8:
		return prop_below(r, 2) ? 0 : 0xffff;
	default:
		return (uint16_t)prop_next(r);
	}
}

/*
 * prepare_kick against §2.7.7.2 (spec_used_notify with EVENT_IDX; avail.flags without it).
 * Exhaustive around the wrap of the 16-bit index: every old idx in [0xffe0, 0x20) × num_added in
 * [0, 33] × used_event in [old - 2, old + 35] × avail.flags 0 and 1, each feature setting:
 * 2 × 64 × 34 × 38 × 2 cases. Random (≥ 100,000 cases, both feature settings, both flags),
 * drawn where off-by-ones show: num_added 0, 1, 2 and small; used_event at old - 1, old, old + 1,
 * new - 2, new - 1, new, new + 1; runs across 0xffff.
 */
TEST(prop_spec_2_7_7_2_notification)
{
	struct prop_rng r = { prop_seed("prop_spec_2_7_7_2_notification") };
	struct fixture f[2];

	REQUIRE(fx_init(&f[0], 16, false, false, false) == 0);
	REQUIRE(fx_init(&f[1], 16, false, true, false) == 0);
	for (uint32_t c = 0; c < 4; c++)
		for (uint32_t o = 0; o < 64; o++) {
			uint16_t old_idx = (uint16_t)(0xffe0 + o);

			for (uint16_t n = 0; n <= 33; n++)
				for (uint16_t d = 0; d < 38; d++)
					if (!kick_matches_spec(&f[c / 2], old_idx, n,
							       (uint16_t)(old_idx - 2 + d), c % 2))
						goto out;
		}
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		struct fixture *x = &f[prop_below(&r, 4) != 0]; /* mostly with EVENT_IDX */
		uint16_t num_added = draw_num_added(&r);
		uint16_t old_idx = draw_old_idx(&r, num_added);

		if (!kick_matches_spec(x, old_idx, num_added,
				       draw_used_event(&r, old_idx, num_added),
				       (uint16_t)prop_below(&r, 2))) {
			CHECK_FAIL_AT("case %" PRIu64, i);
			break;
		}
	}
out:
	fx_free(&f[0]);
	fx_free(&f[1]);
}

/* ---- stall diagnosis (vq-inspect status --api-sock) ---- */

/*
 * One case per verdict and the order between them, each from the spec's rule rather than the
 * code's formula: §2.7.7.2 (the device MUST notify when it writes at used_event; without
 * EVENT_IDX when avail.flags is 0), §2.7.10 (the driver need not notify when used.flags has
 * NO_NOTIFY, or avail_event lies behind), §2.7.13.4 (otherwise it must).
 */
TEST(stall_split_verdicts)
{
	/* Flags: NI avail.flags NO_INTERRUPT, NN used.flags NO_NOTIFY. */
	enum { NI = VIRTQ_AVAIL_F_NO_INTERRUPT, NN = VIRTQ_USED_F_NO_NOTIFY };
	static const struct {
		const char *why, *want;
		bool event_idx;
		uint16_t avail_flags, avail_idx, used_event, used_flags, avail_event;
		uint16_t next_avail, next_used, signalled_used;
		bool kick_pending, unacked;
	} cases[] = {
		/* why, verdict,
		 * EVENT_IDX, avail.flags, avail.idx, used_event, used.flags, avail_event,
		 * next_avail, next_used, signalled_used, kick held, unacknowledged */
		{ "nothing outstanding, every used entry signalled", "idle", 0, 0, 5, 0, 0, 0, 5, 5,
		  5, 0, 0 },
		{ "avail.flags 0, entry 4 used, no interrupt since 4", "interrupt-not-sent", 0, 0,
		  5, 0, 0, 0, 5, 5, 4, 0, 0 },
		{ "NO_INTERRUPT: the device SHOULD NOT notify", "idle", 0, NI, 5, 0, 0, 0, 5, 5, 4,
		  0, 0 },
		{ "EVENT_IDX: written at idx 4 == used_event 4: MUST notify", "interrupt-not-sent",
		  1, 0, 5, 4, 0, 0, 5, 5, 4, 0, 0 },
		{ "EVENT_IDX: used_event 5 not reached yet", "idle", 1, 0, 5, 5, 0, 0, 5, 5, 4, 0,
		  0 },
		{ "EVENT_IDX: used_event 3 was signalled before", "idle", 1, 0, 5, 3, 0, 0, 5, 5, 4,
		  0, 0 },
		{ "EVENT_IDX ignores avail.flags: used_event crossed", "interrupt-not-sent", 1, NI,
		  5, 4, 0, 0, 5, 5, 4, 0, 0 },
		{ "EVENT_IDX across the wrap: written at 0xffff, 0, 1; used_event 0",
		  "interrupt-not-sent", 1, 0, 2, 0, 0, 0, 2, 2, 0xffff, 0, 0 },
		{ "paused with a kick held", "kick-pending", 0, 0, 6, 0, 0, 0, 5, 5, 5, 1, 0 },
		{ "used.flags NO_NOTIFY: the driver need not kick", "kick-suppressed", 0, 0, 6, 0,
		  NN, 0, 5, 5, 5, 0, 0 },
		{ "EVENT_IDX: avail_event 4 behind the new entry 5", "kick-suppressed", 1, 0, 6, 5,
		  0, 4, 5, 5, 5, 0, 0 },
		{ "EVENT_IDX: avail_event 5 asks for the kick of entry 5", "not-kicked", 1, 0, 6, 5,
		  0, 5, 5, 5, 5, 0, 0 },
		{ "available, never notified", "not-kicked", 0, 0, 6, 0, 0, 0, 5, 5, 5, 0, 0 },
		{ "EVENT_IDX ignores used.flags", "not-kicked", 1, 0, 6, 5, NN, 5, 5, 5, 5, 0, 0 },
		{ "taken, not returned", "device-owes", 0, 0, 7, 0, 0, 0, 7, 5, 5, 0, 0 },
		{ "interrupt raised, never acknowledged", "interrupt-unacked", 0, 0, 5, 0, 0, 0, 5,
		  5, 5, 0, 1 },
		/* the order: an interrupt the device owes first, an unacknowledged one last */
		{ "not sent, and not kicked either", "interrupt-not-sent", 0, 0, 6, 0, 0, 0, 5, 5,
		  4, 0, 0 },
		{ "not kicked, and unacknowledged", "not-kicked", 0, 0, 6, 0, 0, 0, 5, 5, 5, 0, 1 },
		{ "device owes, and unacknowledged", "device-owes", 0, 0, 7, 0, 0, 0, 7, 5, 5, 0,
		  1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct virtq_stall_state st = {
			.event_idx = cases[i].event_idx,
			.avail_flags = cases[i].avail_flags,
			.avail_idx = cases[i].avail_idx,
			.used_event = cases[i].used_event,
			.used_flags = cases[i].used_flags,
			.avail_event = cases[i].avail_event,
			.next_avail = cases[i].next_avail,
			.next_used = cases[i].next_used,
			.signalled_used = cases[i].signalled_used,
			.kick_pending = cases[i].kick_pending,
			.interrupt_unacked = cases[i].unacked,
		};
		const char *got = virtq_stall_name(virtq_stall_split(&st));

		if (strcmp(got, cases[i].want) != 0)
			CHECK_FAIL_AT("%s: %s, expected %s", cases[i].why, got, cases[i].want);
	}
	CHECK_STR(virtq_stall_name((enum virtq_stall)99), "unknown");
}

/*
 * interrupt-not-sent with EVENT_IDX is exactly "some idx in [signalled_used, next_used) equals
 * used_event" (spec_used_notify walks it). Exhaustive around the wrap: signalled_used in
 * [0xffe0, 0x20) × unsignalled entries in [0, 33] × used_event in [signalled - 2, + 35].
 */
TEST(prop_stall_interrupt_not_sent_exhaustive)
{
	for (uint32_t o = 0; o < 64; o++) {
		uint16_t sig = (uint16_t)(0xffe0 + o);

		for (uint16_t n = 0; n <= 33; n++)
			for (uint16_t d = 0; d < 38; d++) {
				uint16_t ev = (uint16_t)(sig - 2 + d), next = (uint16_t)(sig + n);
				struct virtq_stall_state st = {
					.event_idx = true,
					.used_event = ev,
					.avail_idx = next,
					.next_avail = next,
					.next_used = next,
					.signalled_used = sig,
				};
				bool want = spec_used_notify(ev, sig, n);
				bool got = virtq_stall_split(&st) == VIRTQ_STALL_INTERRUPT_NOT_SENT;

				if (got != want) {
					CHECK_FAIL_AT("signalled %u next_used %u used_event %u: "
						      "not-sent %d, §2.7.7.2 says %d",
						      sig, next, ev, got, want);
					return;
				}
			}
	}
}

/*
 * prepare_kick's EVENT_IDX answer is exactly "used_event lies in [next_used - num_added,
 * next_used - 1] (wrapping)". Split in two:
 * - exhaustive: virtq_need_event(event, new, old) over all 2^48 inputs, reduced by translation
 *   symmetry (it depends only on new - event and new - old, so new = 0 and every (event, old)
 *   pair: 2^32 cases) equals the interval membership;
 * - random (≥ 100,000 cases): prepare_kick on a real queue equals the interval membership for
 *   random next_used, num_added and used_event, so it is need_event applied to those.
 */
TEST(prop_prepare_kick_interval_exhaustive)
{
	uint64_t bad = 0;

	for (uint32_t event = 0; event <= UINT16_MAX; event++) {
		for (uint32_t old = 0; old <= UINT16_MAX; old++) {
			/* event in [old, new - 1] with new = 0: the distance from old to event
			 * is below the distance from old to new */
			bool in = (uint16_t)(event - old) < (uint16_t)(0 - old);

			bad += virtq_need_event((uint16_t)event, 0, (uint16_t)old) != in;
		}
	}
	CHECK_EQ_U(bad, 0);
}

TEST(prop_prepare_kick_interval_random)
{
	struct prop_rng r = { prop_seed("prop_prepare_kick_interval_random") };
	struct fixture f;

	REQUIRE(fx_init(&f, 256, false, true, false) == 0);
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		uint16_t next_used = (uint16_t)prop_next(&r);
		uint16_t num_added =
			(uint16_t)(prop_below(&r, 2) ? prop_below(&r, 300) : prop_next(&r));
		uint16_t old = (uint16_t)(next_used - num_added);
		uint16_t event = (uint16_t)(prop_below(&r, 2) ? old + prop_below(&r, 400) - 50
							      : prop_next(&r));
		/* membership by walking the interval, independent of the formula */
		bool in = false;

		for (uint32_t k = 0; k < num_added && !in && k < 512; k++)
			in = (uint16_t)(old + k) == event;
		if (num_added >= 512)
			in = (uint16_t)(event - old) < num_added;
		f.q.next_used = next_used;
		f.q.num_added = num_added;
		fx_set_used_event(&f, event);
		if (virtq_prepare_kick(&f.q) != in) {
			CHECK_FAIL_AT("next_used %u num_added %u used_event %u: expected %d",
				      next_used, num_added, event, in);
			break;
		}
	}
	fx_free(&f);
}

/*
 * add_used: ok ⇒ next_used + 1 (and used.idx follows); error ⇒ nothing changes and the index is
 * ≥ size. Exhaustive over (every split size) × (every u16 head index): 16 × 65536 cases, with a
 * random next_used for each (seeded).
 */
TEST(prop_add_used_exhaustive)
{
	struct prop_rng r = { prop_seed("prop_add_used_exhaustive") };

	for (unsigned lg = 0; lg < NSIZES; lg++) {
		uint16_t size = (uint16_t)(1u << lg);
		struct fixture f;

		REQUIRE(fx_init(&f, size, false, false, false) == 0);
		for (uint32_t head = 0; head <= UINT16_MAX; head++) {
			uint16_t before = (uint16_t)prop_next(&r), slot;
			uint8_t elem[8];
			int rc;

			f.q.next_used = before;
			f.q.num_added = 0;
			put16(f.device + 2, before);
			slot = before & (size - 1);
			memcpy(elem, f.device + 4 + 8u * slot, 8);
			rc = virtq_add_used(&f.q, (uint16_t)head, head ^ 0x5a5a);
			if (rc == 0 && (head >= size || f.q.next_used != (uint16_t)(before + 1) ||
					get16(f.device + 2) != f.q.next_used ||
					get32(f.device + 4 + 8u * slot) != head ||
					get32(f.device + 8 + 8u * slot) != (head ^ 0x5a5a) ||
					f.q.num_added != 1)) {
				CHECK_FAIL_AT("size %u head %u: ok but state wrong", size, head);
				break;
			}
			if (rc != 0 && (head < size || f.q.next_used != before ||
					get16(f.device + 2) != before || f.q.num_added != 0 ||
					memcmp(elem, f.device + 4 + 8u * slot, 8))) {
				CHECK_FAIL_AT("size %u head %u: error %d but state changed", size,
					      head, rc);
				break;
			}
		}
		fx_free(&f);
	}
}

/*
 * len() == 0 ⇔ is_empty(), and len() = avail.idx - next_avail (mod 2^16). Exhaustive over every
 * avail.idx for next_avail in a set of 64 values that covers both ends of the u16 range and the
 * middle; random (≥ 100,000 cases) over (avail.idx, next_avail) pairs.
 */
TEST(prop_len_is_empty)
{
	static const uint16_t starts[] = { 0, 1, 2, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff };
	struct prop_rng r = { prop_seed("prop_len_is_empty") };
	struct fixture f;

	REQUIRE(fx_init(&f, 64, false, false, false) == 0);
	for (unsigned s = 0; s < 64; s++) {
		f.q.next_avail = s < 8 ? starts[s] : (uint16_t)prop_next(&r);
		for (uint32_t a = 0; a <= UINT16_MAX; a++) {
			fx_set_avail_idx(&f, (uint16_t)a);
			uint16_t len = virtq_len(&f.q);

			if ((len == 0) != virtq_is_empty(&f.q) ||
			    len != (uint16_t)(a - f.q.next_avail)) {
				CHECK_FAIL_AT("avail.idx %u next_avail %u: len %u", a,
					      f.q.next_avail, len);
				fx_free(&f);
				return;
			}
		}
	}
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		f.q.next_avail = (uint16_t)prop_next(&r);
		fx_set_avail_idx(&f, (uint16_t)prop_next(&r));
		if ((virtq_len(&f.q) == 0) != virtq_is_empty(&f.q)) {
			CHECK_FAIL_AT("len/is_empty disagree");
			break;
		}
	}
	fx_free(&f);
}

/*
 * initialize: ok ⇒ desc 16-, avail 2-, used 4-aligned, size a power of two ≤ 2^15 and ≤
 * max_size (and ready); and every such configuration inside memory initializes. Exhaustive over
 * every u16 size × every alignment residue (desc mod 16, avail mod 2, used mod 4: 128 classes),
 * with max_size 2^15 and the areas inside memory: 65536 × 128 cases. Random (≥ 100,000 cases)
 * over ready, max_size and addresses anywhere (in, across, or outside memory).
 */
TEST(prop_initialize)
{
	struct prop_rng r = { prop_seed("prop_initialize") };
	const uint64_t base = 0x10000000, mem_bytes = 2ull << 20;
	uint8_t *mem = aligned_alloc(4096, mem_bytes);
	struct guestmem gm;
	struct virtq q = { 0 };

	REQUIRE(mem);
	guestmem_init(&gm);
	REQUIRE(guestmem_add(&gm, base, mem, mem_bytes, NULL) == 0);
	for (uint32_t size = 0; size <= UINT16_MAX; size++) {
		for (unsigned res = 0; res < 128; res++) {
			unsigned dm = res & 15, am = (res >> 4) & 1, um = res >> 5;
			bool pow2 = size && !(size & (size - 1)) && size <= VIRTQ_MAX_SIZE;
			bool aligned = !dm && !am && !um;
			int rc;

			q = (struct virtq){ .max_size = VIRTQ_MAX_SIZE,
					    .size = (uint16_t)size,
					    .ready = true };
			q.desc_gpa = base + dm;
			q.driver_gpa = base + 0x80010 + am; /* after a 32768-entry table */
			q.device_gpa = base + 0x90020 + um;
			rc = virtq_init(&q, &gm, NULL);
			if ((rc == 0) != (pow2 && aligned)) {
				CHECK_FAIL_AT("size %u desc+%u avail+%u used+%u: rc %d", size, dm,
					      am, um, rc);
				goto out;
			}
		}
	}
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		uint16_t size =
			prop_below(&r, 2) ? random_pow2_size(&r, 16) : (uint16_t)prop_next(&r);
		uint64_t span = mem_bytes + 0x2000;
		int rc;

		q = (struct virtq){ .max_size = (uint16_t)prop_next(&r),
				    .size = size,
				    .ready = prop_below(&r, 8) != 0 };
		q.desc_gpa = base - 0x1000 + prop_below(&r, span);
		q.driver_gpa =
			prop_below(&r, 16) ? base - 0x1000 + prop_below(&r, span) : prop_next(&r);
		q.device_gpa = base - 0x1000 + prop_below(&r, span);
		rc = virtq_init(&q, &gm, NULL);
		if (rc == 0 &&
		    (!q.ready || !size || (size & (size - 1)) || size > VIRTQ_MAX_SIZE ||
		     size > q.max_size || q.desc_gpa % 16 || q.driver_gpa % 2 || q.device_gpa % 4 ||
		     !guestmem_ptr(&gm, q.desc_gpa, virtq_split_desc_bytes(size)) ||
		     !guestmem_ptr(&gm, q.driver_gpa, virtq_split_avail_bytes(size)) ||
		     !guestmem_ptr(&gm, q.device_gpa, virtq_split_used_bytes(size)))) {
			CHECK_FAIL_AT("case %" PRIu64 ": initialized an invalid queue", i);
			break;
		}
	}
out:
	guestmem_close(&gm);
	free(mem);
}

/* A queue of random size with random contents: rings, descriptors and indirect tables. */
static void random_queue(struct prop_rng *r, struct fixture *f, uint16_t size)
{
	fx_random(r, f->driver, f->driver_bytes);
	fx_random(r, f->device, f->device_bytes);
	fx_random(r, f->buf, 4096);
	for (uint32_t i = 0; i < size; i++) {
		uint64_t addr = prop_below(r, 8) ? FX_BUF_GPA + prop_below(r, FX_BUF_BYTES + 64)
						 : prop_next(r);
		uint32_t len =
			prop_below(r, 8) ? (uint32_t)prop_below(r, 256) : (uint32_t)prop_next(r);
		uint16_t flags = (uint16_t)(prop_below(r, 16) ? prop_below(r, 8) : prop_next(r));
		uint16_t next = (uint16_t)prop_below(r, size + size / 4u + 2);

		if ((flags & VIRTQ_DESC_F_INDIRECT) && prop_below(r, 2))
			len = 16u * (uint32_t)prop_below(r, size + 2u);
		fx_desc(f->desc, i, addr, len, flags, next);
	}
	/* indirect tables land in the first page of buf: give them plausible entries too */
	for (uint32_t i = 0; i < 256; i++)
		fx_desc(f->buf, i, FX_BUF_GPA + prop_below(r, FX_BUF_BYTES),
			(uint32_t)prop_below(r, 64), (uint16_t)prop_below(r, 8),
			(uint16_t)prop_below(r, 300));
}

/*
 * Accessors never go out of bounds, and every walk terminates: random queues (≥ 100,000 cases,
 * sizes 1..256 and sometimes up to 2^15) are driven through every operation. The areas are
 * exact heap blocks, so the ASan build turns any stray access into a failure; here we also check
 * that each returned buffer lies in guest memory and that no chain exceeds the queue size.
 */
TEST(prop_accessors_in_bounds)
{
	struct prop_rng r = { prop_seed("prop_accessors_in_bounds") };

	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		uint16_t size = random_pow2_size(&r, prop_below(&r, 256) ? 8 : 15);
		struct fixture f;
		struct virtq_chain c;
		struct virtq_desc d;

		REQUIRE(fx_init(&f, size, false, prop_below(&r, 2), prop_below(&r, 2)) == 0);
		random_queue(&r, &f, size);
		f.q.next_avail = (uint16_t)prop_next(&r);
		f.q.next_used = (uint16_t)prop_next(&r);
		if (prop_below(&r, 2))
			fx_set_avail_idx(&f,
					 (uint16_t)(f.q.next_avail + prop_below(&r, size + 1u)));
		(void)virtq_len(&f.q);
		(void)virtq_try_enable_notification(&f.q);
		for (unsigned k = 0; k < 4; k++) {
			int rc = virtq_pop(&f.q, &c), steps = 0;

			if (rc != 1)
				break;
			while ((rc = virtq_chain_next(&c, &d)) > 0) {
				if (++steps > size ||
				    (d.len && d.hva != guestmem_ptr(&f.gm, d.addr, d.len))) {
					CHECK_FAIL_AT("case %" PRIu64
						      ": step %d of a chain, size %u",
						      i, steps, size);
					fx_free(&f);
					return;
				}
			}
			(void)virtq_add_used(&f.q, c.head, (uint32_t)prop_next(&r));
			if (prop_below(&r, 4) == 0)
				virtq_undo_pop(&f.q, &c);
		}
		(void)virtq_add_used(&f.q, (uint16_t)prop_next(&r), 1);
		(void)virtq_prepare_kick(&f.q);
		(void)virtq_used_event(&f.q);
		(void)virtq_avail_event(&f.q);
		fx_free(&f);
	}
}

/*
 * pop: with len ≤ size, a chain comes out only when len ≠ 0, and then next_avail advances by
 * exactly one; no chain ⇒ next_avail unchanged. Random (≥ 100,000 cases).
 */
TEST(prop_pop)
{
	struct prop_rng r = { prop_seed("prop_pop") };

	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		uint16_t size = random_pow2_size(&r, 8), len, before;
		struct fixture f;
		struct virtq_chain c;
		int rc;

		REQUIRE(fx_init(&f, size, false, false, false) == 0);
		random_queue(&r, &f, size);
		f.q.next_avail = (uint16_t)prop_next(&r);
		fx_set_avail_idx(&f, (uint16_t)(f.q.next_avail + prop_below(&r, size + 1u)));
		len = virtq_len(&f.q);
		before = f.q.next_avail;
		rc = virtq_pop(&f.q, &c);
		if (len > size ||
		    (rc == 1 && (len == 0 || f.q.next_avail != (uint16_t)(before + 1))) ||
		    (rc != 1 && f.q.next_avail != before) || (len == 0 && rc != 0)) {
			CHECK_FAIL_AT("case %" PRIu64 ": len %u rc %d next_avail %u -> %u", i, len,
				      rc, before, f.q.next_avail);
			fx_free(&f);
			break;
		}
		fx_free(&f);
	}
}

/* pop then undo_pop leaves the queue as it was (state and memory). Random (≥ 100,000 cases). */
TEST(prop_pop_undo_pop)
{
	struct prop_rng r = { prop_seed("prop_pop_undo_pop") };

	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		uint16_t size = random_pow2_size(&r, 6);
		struct fixture f;
		struct virtq_chain c, c2;
		struct virtq before;
		uint8_t drv[6 + 2 * 64], dev[6 + 8 * 64];

		REQUIRE(fx_init(&f, size, false, prop_below(&r, 2), false) == 0);
		random_queue(&r, &f, size);
		f.q.next_avail = (uint16_t)prop_next(&r);
		f.q.next_used = (uint16_t)prop_next(&r);
		f.q.num_added = (uint16_t)prop_next(&r);
		fx_set_avail_idx(&f, (uint16_t)(f.q.next_avail + prop_below(&r, size + 1u)));
		before = f.q;
		memcpy(drv, f.driver, f.driver_bytes);
		memcpy(dev, f.device, f.device_bytes);
		if (virtq_pop(&f.q, &c) == 1) {
			virtq_undo_pop(&f.q, &c);
			if (memcmp(&before, &f.q, sizeof(before)) ||
			    memcmp(drv, f.driver, f.driver_bytes) ||
			    memcmp(dev, f.device, f.device_bytes) || virtq_pop(&f.q, &c2) != 1 ||
			    c2.head != c.head) {
				CHECK_FAIL_AT(
					"case %" PRIu64 ": undo_pop did not restore the queue", i);
				fx_free(&f);
				break;
			}
		}
		fx_free(&f);
	}
}

/*
 * try_enable_notification with EVENT_IDX: true ⇒ the queue is empty, and avail_event now asks
 * for the entry at next_avail. Random (≥ 100,000 cases, len ≤ size).
 */
TEST(prop_try_enable_notification)
{
	struct prop_rng r = { prop_seed("prop_try_enable_notification") };
	struct fixture f;

	REQUIRE(fx_init(&f, 32, false, true, false) == 0);
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		f.q.next_avail = (uint16_t)prop_next(&r);
		fx_set_avail_idx(&f, (uint16_t)(f.q.next_avail +
						(prop_below(&r, 2) ? 0 : prop_below(&r, 33))));
		if (virtq_try_enable_notification(&f.q) &&
		    (!virtq_is_empty(&f.q) || virtq_avail_event(&f.q) != f.q.next_avail)) {
			CHECK_FAIL_AT("case %" PRIu64 ": true but not empty", i);
			break;
		}
	}
	fx_free(&f);
}

/*
 * checked_new (virtq_desc_checked): index ≥ size ⇒ error; for index < size, error ⇔ NEXT and
 * next ≥ size. Exhaustive for every split size over every u16 index, and over every u16 next
 * with NEXT set and clear: 16 × 3 × 65536 cases (other flag bits random, seeded).
 */
TEST(prop_checked_new_exhaustive)
{
	struct prop_rng r = { prop_seed("prop_checked_new_exhaustive") };

	for (unsigned lg = 0; lg < NSIZES; lg++) {
		uint16_t size = (uint16_t)(1u << lg);
		struct fixture f;
		struct virtq_desc d;

		REQUIRE(fx_init(&f, size, false, false, false) == 0);
		fx_random(&r, f.desc, f.desc_bytes);
		for (uint32_t idx = 0; idx <= UINT16_MAX; idx++) {
			int rc = virtq_desc_checked(&f.q, (uint16_t)idx, &d);

			if (idx >= size && rc == 0) {
				CHECK_FAIL_AT("size %u index %u accepted", size, idx);
				break;
			}
		}
		for (uint32_t next = 0; next <= UINT16_MAX; next++) {
			for (unsigned has_next = 0; has_next < 2; has_next++) {
				uint16_t flags = (uint16_t)((prop_next(&r) & ~VIRTQ_DESC_F_NEXT) |
							    (has_next ? VIRTQ_DESC_F_NEXT : 0));
				int rc;

				fx_desc(f.desc, 0, prop_next(&r), (uint32_t)prop_next(&r), flags,
					(uint16_t)next);
				rc = virtq_desc_checked(&f.q, 0, &d);
				if ((rc != 0) != (has_next && next >= size)) {
					CHECK_FAIL_AT("size %u next %u NEXT %u: rc %d", size, next,
						      has_next, rc);
					break;
				}
			}
		}
		fx_free(&f);
	}
}

/*
 * pop's resync: when avail.idx runs more than size ahead of next_avail, pop returns -EPROTO and
 * next_avail jumps to avail.idx (the entries are dropped), after which the queue is empty.
 * Random (≥ 100,000 cases).
 */
TEST(prop_pop_resync)
{
	struct prop_rng r = { prop_seed("prop_pop_resync") };
	struct fixture f;

	REQUIRE(fx_init(&f, 16, false, false, false) == 0);
	for (uint32_t i = 0; i < 16; i++)
		fx_desc(f.desc, i, FX_BUF_GPA, 1, 0, 0);
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		struct virtq_chain c;
		/* a quarter of the cases on the boundary: size + 1 resyncs, size does not */
		uint16_t ahead =
			(uint16_t)(prop_below(&r, 4) ? 17 + prop_below(&r, 65536 - 17) : 17);
		uint16_t avail = (uint16_t)prop_next(&r);

		f.q.next_avail = (uint16_t)(avail - ahead);
		fx_set_avail_idx(&f, avail);
		if (virtq_pop(&f.q, &c) != -EPROTO || f.q.next_avail != avail ||
		    !virtq_is_empty(&f.q) || virtq_pop(&f.q, &c) != 0) {
			CHECK_FAIL_AT("ahead %u: no resync", ahead);
			break;
		}
		f.q.next_avail = (uint16_t)(avail - 16);
		if (virtq_pop(&f.q, &c) != 1 || f.q.next_avail != (uint16_t)(avail - 15)) {
			CHECK_FAIL_AT("ahead 16 (the size): not popped normally");
			break;
		}
	}
	fx_free(&f);
}

/* A driver model: random chains published, popped, returned; used ring matches. Random. */
TEST(prop_driver_device_roundtrip)
{
	struct prop_rng r = { prop_seed("prop_driver_device_roundtrip") };
	struct fixture f;
	uint16_t n_inflight = 0;

	REQUIRE(fx_init(&f, 64, false, true, false) == 0);
	f.q.next_avail = f.q.next_used = 0xfff0;
	fx_set_avail_idx(&f, 0xfff0);
	put16(f.device + 2, 0xfff0);
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		struct virtq_chain c;
		struct virtq_desc d;
		uint16_t used_before = f.q.next_used;

		if (prop_below(&r, 2) && n_inflight < 64) {
			/* the driver publishes a one-descriptor chain whose head is a free slot */
			uint16_t head = (uint16_t)((get16(f.driver + 2)) % 64);

			fx_desc(f.desc, head, FX_BUF_GPA + head, 1 + head, VIRTQ_DESC_F_WRITE, 0);
			fx_avail_push(&f, head);
			n_inflight++;
		}
		if (prop_below(&r, 2) && virtq_pop(&f.q, &c) == 1) {
			if (virtq_chain_next(&c, &d) != 1 || d.len != 1u + c.head ||
			    virtq_chain_next(&c, &d) != 0 || virtq_add_used(&f.q, c.head, d.len) ||
			    get32(f.device + 4 + 8u * (used_before % 64)) != c.head) {
				CHECK_FAIL_AT("round trip %" PRIu64 " failed", i);
				break;
			}
			n_inflight--;
		}
	}
	fx_free(&f);
}

int main(void)
{
	RUN(pop_walk_add_used);
	RUN(indirect_chain);
	RUN(malformed_chains);
	RUN(bad_next_refused_at_its_descriptor);
	RUN(pop_bad_head_is_not_consumed);
	RUN(indices_wrap_at_2_16);
	RUN(batched_used_elements);
	RUN(buffers_in_the_rings_region);
	RUN(init_rejects);
	RUN(avail_find);
	RUN(prop_spec_2_7_7_2_notification);
	RUN(stall_split_verdicts);
	RUN(prop_stall_interrupt_not_sent_exhaustive);
	RUN(prop_prepare_kick_interval_exhaustive);
	RUN(prop_prepare_kick_interval_random);
	RUN(prop_add_used_exhaustive);
	RUN(prop_len_is_empty);
	RUN(prop_initialize);
	RUN(prop_accessors_in_bounds);
	RUN(prop_pop);
	RUN(prop_pop_undo_pop);
	RUN(prop_try_enable_notification);
	RUN(prop_checked_new_exhaustive);
	RUN(prop_pop_resync);
	RUN(prop_driver_device_roundtrip);
	return CHECK_MAIN_END();
}
