/* test_virtq_packed.c: packed virtqueues: wrap counters, chains, used descriptors, notifications.
 */
#include "virtq_fixture.h"

/* A driver model for packed rings: it owns next position and wrap counter, and buffer ids. */
struct driver {
	uint16_t pos;
	bool wrap;
	uint16_t used_pos;
	bool used_wrap;
};

/* Make a chain of n descriptors available, buffer id `id` (in the last one). */
static void drv_add(struct fixture *f, struct driver *dv, unsigned n, uint16_t id, bool write_last)
{
	uint16_t head_pos = dv->pos, head_flags = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((dv->wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
					    (write_last && i + 1 == n ? VIRTQ_DESC_F_WRITE : 0));

		fx_desc(f->desc, dv->pos, FX_BUF_GPA + 0x100u * i, 16 * (i + 1),
			i + 1 == n ? id : 0, i ? flags : 0);
		if (!i)
			head_flags = flags;
		if (++dv->pos == f->q.size) {
			dv->pos = 0;
			dv->wrap = !dv->wrap;
		}
	}
	/* the head's flags last: only then is the chain available (§2.8.21) */
	put16(f->desc + 16u * head_pos + 14, head_flags);
}

/* The driver reads a used descriptor: returns its id, or -1 when none is used yet. */
static int drv_get_used(struct fixture *f, struct driver *dv, unsigned ndesc, uint32_t *len)
{
	uint8_t *d = f->desc + 16u * dv->used_pos;
	uint16_t flags = get16(d + 14);
	bool avail = flags & VIRTQ_DESC_F_AVAIL, used = flags & VIRTQ_DESC_F_USED;

	if (avail != dv->used_wrap || used != dv->used_wrap)
		return -1;
	*len = get32(d + 8);
	dv->used_pos = (uint16_t)(dv->used_pos + ndesc);
	if (dv->used_pos >= f->q.size) {
		dv->used_pos = (uint16_t)(dv->used_pos - f->q.size);
		dv->used_wrap = !dv->used_wrap;
	}
	return get16(d + 12);
}

TEST(packed_pop_walk_add_used)
{
	struct fixture f;
	struct driver dv = { .wrap = true, .used_wrap = true };
	struct virtq_chain c;
	struct virtq_desc d;
	uint32_t len;

	REQUIRE(fx_init(&f, 5, true, false, false) == 0); /* packed sizes need not be powers of 2 */
	CHECK(virtq_is_empty(&f.q));
	drv_add(&f, &dv, 2, 42, true);
	CHECK_EQ_U(virtq_len(&f.q), 1);
	REQUIRE(virtq_pop(&f.q, &c) == 1);
	CHECK_EQ_U(c.head, 42);
	CHECK_EQ_U(c.ndesc, 2);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_U(d.len, 16);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_U(d.len, 32);
	CHECK(d.flags & VIRTQ_DESC_F_WRITE);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 0);
	CHECK_EQ_I(virtq_pop(&f.q, &c), 0);
	CHECK_EQ_I(drv_get_used(&f, &dv, 2, &len), -1);
	CHECK_EQ_I(virtq_add_used_chain(&f.q, &c, 7), 0);
	CHECK_EQ_I(drv_get_used(&f, &dv, 2, &len), 42);
	CHECK_EQ_U(len, 7);
	fx_free(&f);
}

/*
 * Out of order, as virtio-blk's Async engine completes: chains of 1 and 3 descriptors (ids 7
 * and 9), the second used first. Each used descriptor is written at the device's next position
 * with the id of the chain it returns, and the position skips that chain's descriptors (§2.8.6;
 * Linux's virtqueue_get_buf_ctx_packed adds desc_state[id].num): 9 at 0, then 7 at 3.
 */
TEST(packed_add_used_out_of_order)
{
	struct fixture f;
	struct driver dv = { .wrap = true, .used_wrap = true };
	struct virtq_chain a, b;
	uint32_t len;

	REQUIRE(fx_init(&f, 8, true, false, false) == 0);
	drv_add(&f, &dv, 1, 7, true);
	drv_add(&f, &dv, 3, 9, true);
	REQUIRE(virtq_pop(&f.q, &a) == 1);
	REQUIRE(virtq_pop(&f.q, &b) == 1);
	CHECK_EQ_U(a.ndesc, 1);
	CHECK_EQ_U(b.ndesc, 3);
	CHECK_EQ_I(virtq_add_used_chain(&f.q, &b, 30), 0);
	CHECK_EQ_I(virtq_add_used_chain(&f.q, &a, 10), 0);
	CHECK_EQ_I(drv_get_used(&f, &dv, 3, &len), 9);
	CHECK_EQ_U(len, 30);
	CHECK_EQ_U(dv.used_pos, 3);
	CHECK_EQ_I(drv_get_used(&f, &dv, 1, &len), 7);
	CHECK_EQ_U(len, 10);
	CHECK_EQ_I(drv_get_used(&f, &dv, 1, &len), -1);
	fx_free(&f);
}

TEST(packed_indirect)
{
	struct fixture f;
	struct virtq_chain c;
	struct virtq_desc d;

	REQUIRE(fx_init(&f, 4, true, false, true) == 0);
	fx_desc(f.buf + 0x1000, 0, FX_BUF_GPA, 8, 0, 0);
	fx_desc(f.buf + 0x1000, 1, FX_BUF_GPA + 8, 8, 0, VIRTQ_DESC_F_WRITE);
	fx_desc(f.desc, 0, FX_BUF_GPA + 0x1000, 32, 9, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_AVAIL);
	REQUIRE(virtq_pop(&f.q, &c) == 1);
	CHECK_EQ_U(c.head, 9);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK(d.in_indirect && d.len == 8 && !(d.flags & VIRTQ_DESC_F_WRITE));
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK(d.flags & VIRTQ_DESC_F_WRITE);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 0);
	fx_free(&f);

	/* nested indirect, and an indirect descriptor inside a NEXT list, are refused */
	REQUIRE(fx_init(&f, 4, true, false, true) == 0);
	fx_desc(f.buf + 0x1000, 0, FX_BUF_GPA, 16, 0, VIRTQ_DESC_F_INDIRECT);
	fx_desc(f.desc, 0, FX_BUF_GPA + 0x1000, 16, 1, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_AVAIL);
	REQUIRE(virtq_pop(&f.q, &c) == 1);
	CHECK_EQ_I(virtq_chain_next(&c, &d), -EINVAL);
	fx_desc(f.desc, 1, FX_BUF_GPA, 16, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_AVAIL);
	fx_desc(f.desc, 2, FX_BUF_GPA + 0x1000, 16, 2, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_AVAIL);
	REQUIRE(virtq_pop(&f.q, &c) == 1);
	CHECK_EQ_I(virtq_chain_next(&c, &d), 1);
	CHECK_EQ_I(virtq_chain_next(&c, &d), -EINVAL);
	fx_free(&f);
}

TEST(packed_malformed)
{
	struct fixture f;
	struct virtq_chain c;

	/* NEXT into a descriptor not yet available: an error, nothing consumed */
	REQUIRE(fx_init(&f, 4, true, false, false) == 0);
	fx_desc(f.desc, 0, FX_BUF_GPA, 16, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_AVAIL);
	CHECK_EQ_I(virtq_pop(&f.q, &c), -EINVAL);
	CHECK_EQ_U(f.q.next_avail, VIRTQ_PACKED_WRAP);
	/* every descriptor has NEXT: longer than the ring */
	for (unsigned i = 0; i < 4; i++)
		fx_desc(f.desc, i, FX_BUF_GPA, 16, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_AVAIL);
	CHECK_EQ_I(virtq_pop(&f.q, &c), -EINVAL);
	fx_free(&f);
}

/*
 * A driver and the device over many laps of a small ring (so both wrap counters flip often):
 * every chain comes out once, in order, with its id, and every used descriptor reaches the
 * driver with its id and length. Random (≥ 100,000 operations, chain lengths 1..3).
 */
TEST(prop_packed_driver_device_laps)
{
	struct prop_rng r = { prop_seed("prop_packed_driver_device_laps") };
	struct fixture f;
	struct driver dv = { .wrap = true, .used_wrap = true };
	/* chains in flight, in order: (id, ndesc), a FIFO over the ring */
	uint16_t fifo_id[64], fifo_n[64], pend_id[64], pend_n[64];
	unsigned head = 0, count = 0, free_desc = 7, phead = 0, pcount = 0;
	uint16_t next_id = 0;

	REQUIRE(fx_init(&f, 7, true, false, false) == 0);
	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		unsigned op = (unsigned)prop_below(&r, 3);
		struct virtq_chain c;
		struct virtq_desc d;
		uint32_t len;

		if (op == 0) {
			unsigned k = 1 + (unsigned)prop_below(&r, 3);

			if (k > free_desc)
				continue;
			drv_add(&f, &dv, k, next_id, false);
			fifo_id[(head + count) % 64] = next_id++;
			fifo_n[(head + count) % 64] = (uint16_t)k;
			count++;
			free_desc -= k;
		} else if (op == 1) {
			int rc = virtq_pop(&f.q, &c);

			if (rc != (count ? 1 : 0)) {
				CHECK_FAIL_AT("op %" PRIu64 ": pop %d with %u chains", i, rc,
					      count);
				break;
			}
			if (!rc)
				continue;
			unsigned got = 0;

			while (virtq_chain_next(&c, &d) > 0)
				got++;
			if (c.head != fifo_id[head] || c.ndesc != fifo_n[head] || got != c.ndesc) {
				CHECK_FAIL_AT("op %" PRIu64
					      ": chain id %u ndesc %u, expected %u/%u",
					      i, c.head, c.ndesc, fifo_id[head], fifo_n[head]);
				break;
			}
			if (prop_below(&r, 8) == 0) {
				virtq_undo_pop(&f.q, &c);
				continue;
			}
			head = (head + 1) % 64;
			count--;
			virtq_add_used_chain(&f.q, &c, c.head * 3u);
			pend_id[(phead + pcount) % 64] = c.head;
			pend_n[(phead + pcount) % 64] = c.ndesc;
			pcount++;
		} else if (pcount) {
			int id = drv_get_used(&f, &dv, pend_n[phead], &len);

			if (id != pend_id[phead] || len != pend_id[phead] * 3u) {
				CHECK_FAIL_AT("op %" PRIu64 ": used id %d len %u, expected %u", i,
					      id, len, pend_id[phead]);
				break;
			}
			free_desc += pend_n[phead];
			phead = (phead + 1) % 64;
			pcount--;
		}
	}
	fx_free(&f);
}

/*
 * Packed notifications: with EVENT_IDX, prepare_kick is true exactly when the descriptor the
 * driver named (off_wrap) is among those just used, linear positions modulo 2 × size.
 * Exhaustive for size 8: every next_used (position, wrap) × every event (position, wrap) ×
 * every num_added in [0, 16] — 16 × 16 × 17 cases; flags ENABLE/DISABLE are checked too.
 */
TEST(prop_packed_prepare_kick_exhaustive)
{
	struct fixture f;

	REQUIRE(fx_init(&f, 8, true, true, false) == 0);
	for (unsigned now = 0; now < 16; now++) {
		for (unsigned ev = 0; ev < 16; ev++) {
			for (unsigned n = 0; n <= 16; n++) {
				bool in = false, kick;

				for (unsigned k = 1; k <= n; k++)
					in = in || (now + 16 - k) % 16 == ev;
				f.q.next_used =
					(uint16_t)((now % 8) | (now >= 8 ? VIRTQ_PACKED_WRAP : 0));
				f.q.num_added = (uint16_t)n;
				put16(f.driver,
				      (uint16_t)((ev % 8) | (ev >= 8 ? VIRTQ_PACKED_WRAP : 0)));
				put16(f.driver + 2, VIRTQ_EVENT_F_DESC);
				kick = virtq_prepare_kick(&f.q);
				if (kick != in) {
					CHECK_FAIL_AT("now %u event %u added %u: kick %d", now, ev,
						      n, kick);
					fx_free(&f);
					return;
				}
			}
		}
	}
	put16(f.driver + 2, VIRTQ_EVENT_F_DISABLE);
	CHECK(!virtq_prepare_kick(&f.q));
	put16(f.driver + 2, VIRTQ_EVENT_F_ENABLE);
	CHECK(virtq_prepare_kick(&f.q));
	fx_free(&f);
}

/*
 * wrap_guess, from §2.8.1: the driver makes a descriptor available in the lap with counter w by
 * AVAIL = w, USED = !w; the device marks it used by AVAIL = USED = w, and the driver makes that
 * position available again in the next lap, with !w. Other flag bits do not matter.
 */
TEST(packed_wrap_guess)
{
	static const struct {
		uint16_t flags;
		uint16_t counter;
	} cases[] = {
		{ VIRTQ_DESC_F_AVAIL, VIRTQ_PACKED_WRAP },     /* available, lap 1 */
		{ VIRTQ_DESC_F_USED, 0 },		       /* available, lap 0 */
		{ VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED, 0 }, /* used in lap 1 */
		{ 0, VIRTQ_PACKED_WRAP },		       /* used in lap 0, or new */
		{ VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_NEXT, VIRTQ_PACKED_WRAP }, /* NEXT: no matter */
		{ VIRTQ_DESC_F_USED | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ_U(virtq_packed_wrap_guess(cases[i].flags), cases[i].counter);
}

/* A ring position and the wrap counter of the lap it belongs to (§2.8.1). */
struct lap_pos {
	uint16_t pos;
	bool wrap;
};

/* steps positions further on, the counter flipping each time the position returns to 0. */
static struct lap_pos lap_walk(struct lap_pos p, uint32_t steps, uint16_t size)
{
	while (steps--)
		if (++p.pos == size) {
			p.pos = 0;
			p.wrap = !p.wrap;
		}
	return p;
}

static uint16_t off_wrap(struct lap_pos p)
{
	return (uint16_t)(p.pos | (p.wrap ? VIRTQ_PACKED_WRAP : 0));
}

/*
 * One case of prepare_kick (EVENT_IDX, driver flags DESC) against §2.8.10 read literally: the
 * driver asks to hear when the device uses the descriptor at offset off in the lap with counter
 * wrap. The device's n used descriptors went to positions start, start + 1, ... (each in its
 * lap): replay them one by one. False (and a failure printed) when prepare_kick disagrees.
 */
static bool packed_kick_matches_spec(struct fixture *f, uint16_t size, struct lap_pos start,
				     uint16_t n, struct lap_pos event)
{
	struct lap_pos p = start;
	bool want = false, kick;

	for (uint32_t k = 0; k < n; k++) {
		want = want || (p.pos == event.pos && p.wrap == event.wrap);
		p = lap_walk(p, 1, size);
	}
	f->q.size = size; /* prepare_kick reads only the driver area, whatever the size */
	f->q.next_used = off_wrap(p);
	f->q.num_added = n;
	put16(f->driver, off_wrap(event));
	put16(f->driver + 2, VIRTQ_EVENT_F_DESC);
	kick = virtq_prepare_kick(&f->q);
	if (kick != want) {
		CHECK_FAIL_AT(
			"size %u: %u used from %u/wrap %d (next_used 0x%04x), event %u/wrap %d: "
			"kick %d, §2.8.10 says %d",
			size, n, start.pos, start.wrap, off_wrap(p), event.pos, event.wrap, kick,
			want);
		return false;
	}
	return true;
}

/* Sizes: the smallest, powers of two and their neighbours, the largest, or any up to 300. */
static uint16_t draw_packed_size(struct prop_rng *r)
{
	static const uint16_t sizes[] = { 1, 2, 3, 5, 7, 8, 255, 256, 257, 1000, 32767, 32768 };

	if (prop_below(r, 2))
		return sizes[prop_below(r, sizeof(sizes) / sizeof(sizes[0]))];
	return (uint16_t)(1 + prop_below(r, 300));
}

/* Descriptors used: 0, 1, 2, small, or around one and two laps (size ± 1, 2 × size ± 1). */
static uint16_t draw_packed_n(struct prop_rng *r, uint16_t size)
{
	uint32_t laps[] = { size - 1u, size, size + 1u, 2u * size - 1, 2u * size, 2u * size + 1 };
	uint32_t n;
	unsigned c = (unsigned)prop_below(r, 8);

	if (c < 3)
		n = c;
	else if (c < 5)
		n = 3 + prop_below(r, 14);
	else if (c < 7)
		n = laps[prop_below(r, 6)];
	else
		n = prop_below(r, 3u * size + 1);
	return (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
}

/*
 * Packed notifications against §2.8.10 (packed_kick_matches_spec). Exhaustive for every size in
 * [1, 9] (odd sizes and powers of two): every start (position, counter) × every n in
 * [0, 2 × size + 1] × every event (position, counter). Random (≥ 100,000 cases): sizes up to
 * 32768; starts at positions 0, 1, size - 2, size - 1 or anywhere; n of 0, 1, 2, small, and one or
 * two laps ± 1; the event one before the first used position, on it, after it, on the last,
 * just past the end, or anywhere, in its lap or the other.
 */
TEST(prop_packed_spec_2_8_10_notification)
{
	struct prop_rng r = { prop_seed("prop_packed_spec_2_8_10_notification") };
	struct fixture f;

	REQUIRE(fx_init(&f, 32768, true, true, false) == 0);
	for (uint16_t size = 1; size <= 9; size++)
		for (uint32_t s = 0; s < 2u * size; s++)
			for (uint16_t n = 0; n <= 2 * size + 1; n++)
				for (uint32_t e = 0; e < 2u * size; e++) {
					struct lap_pos start = { (uint16_t)(s % size), s >= size };
					struct lap_pos ev = { (uint16_t)(e % size), e >= size };

					if (!packed_kick_matches_spec(&f, size, start, n, ev))
						goto out;
				}
	for (uint64_t i = 0, cases = prop_cases(100000); i < cases; i++) {
		uint16_t size = draw_packed_size(&r), n = draw_packed_n(&r, size);
		uint16_t starts[] = { 0, 1, (uint16_t)(size - 2), (uint16_t)(size - 1),
				      (uint16_t)prop_below(&r, size) };
		struct lap_pos start = { starts[prop_below(&r, 5)], prop_below(&r, 2) }, ev;
		/* steps from start: one before (a whole turn less one), 0, 1, n - 1, n, n + 1 */
		uint32_t steps[] = { 4u * size - 1,
				     0,
				     1,
				     n + 4u * size - 1,
				     n,
				     n + 1u,
				     (uint32_t)prop_below(&r, 2u * size) };

		if (start.pos >= size)
			start.pos = 0; /* size - 2 of a size-1 ring */
		ev = lap_walk(start, steps[prop_below(&r, 7)] % (2u * size), size);
		if (prop_below(&r, 4) == 0)
			ev.wrap = !ev.wrap;
		if (!packed_kick_matches_spec(&f, size, start, n, ev)) {
			CHECK_FAIL_AT("case %" PRIu64, i);
			break;
		}
	}
out:
	f.q.size = 32768;
	fx_free(&f);
}

/* try_enable_notification true ⇒ nothing available, and the device area names next_avail. */
TEST(packed_try_enable_notification)
{
	struct fixture f;
	struct driver dv = { .wrap = true, .used_wrap = true };

	REQUIRE(fx_init(&f, 4, true, true, false) == 0);
	CHECK(virtq_try_enable_notification(&f.q));
	CHECK_EQ_U(get16(f.device), f.q.next_avail);
	CHECK_EQ_U(get16(f.device + 2), VIRTQ_EVENT_F_DESC);
	drv_add(&f, &dv, 1, 1, false);
	CHECK(!virtq_try_enable_notification(&f.q));
	fx_free(&f);
}

/*
 * Accessors stay in bounds and walks terminate for random packed rings (≥ 100,000 cases,
 * sizes 1..300, random descriptors, flags and device state); the areas are exact heap blocks.
 */
TEST(prop_packed_accessors_in_bounds)
{
	struct prop_rng r = { prop_seed("prop_packed_accessors_in_bounds") };

	for (uint64_t i = 0, n = prop_cases(100000); i < n; i++) {
		uint16_t size = (uint16_t)(1 + prop_below(&r, 300));
		struct fixture f;
		struct virtq_chain c;
		struct virtq_desc d;

		REQUIRE(fx_init(&f, size, true, prop_below(&r, 2), prop_below(&r, 2)) == 0);
		for (uint32_t k = 0; k < size; k++)
			fx_desc(f.desc, k,
				prop_below(&r, 4) ? FX_BUF_GPA + prop_below(&r, FX_BUF_BYTES)
						  : prop_next(&r),
				(uint32_t)(prop_below(&r, 4) ? 16 * prop_below(&r, 8)
							     : prop_next(&r)),
				(uint16_t)prop_next(&r),
				(uint16_t)(prop_below(&r, 2)
						   ? prop_next(&r)
						   : VIRTQ_DESC_F_AVAIL | prop_below(&r, 8)));
		fx_random(&r, f.driver, 4);
		fx_random(&r, f.buf, 4096);
		f.q.next_avail = (uint16_t)((prop_below(&r, size) |
					     (prop_below(&r, 2) ? VIRTQ_PACKED_WRAP : 0)));
		f.q.next_used = (uint16_t)prop_next(&r);
		(void)virtq_len(&f.q);
		for (unsigned k = 0; k < 3; k++) {
			int steps = 0;

			if (virtq_pop(&f.q, &c) != 1)
				break;
			while (virtq_chain_next(&c, &d) > 0)
				if (++steps > size) {
					CHECK_FAIL_AT("case %" PRIu64 ": walk longer than %u", i,
						      size);
					fx_free(&f);
					return;
				}
			(void)virtq_add_used_chain(&f.q, &c, 1);
		}
		(void)virtq_try_enable_notification(&f.q);
		(void)virtq_prepare_kick(&f.q);
		fx_free(&f);
	}
}

int main(void)
{
	RUN(packed_pop_walk_add_used);
	RUN(packed_add_used_out_of_order);
	RUN(packed_indirect);
	RUN(packed_malformed);
	RUN(prop_packed_driver_device_laps);
	RUN(prop_packed_prepare_kick_exhaustive);
	RUN(prop_packed_spec_2_8_10_notification);
	RUN(packed_try_enable_notification);
	RUN(packed_wrap_guess);
	RUN(prop_packed_accessors_in_bounds);
	return CHECK_MAIN_END();
}
