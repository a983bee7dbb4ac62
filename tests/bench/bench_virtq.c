/* bench_virtq.c: virtqueue throughput (device pop + add_used, check) beside the kernel's vringh
 * and a plain-loop baseline. */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "virtq.h"
#include "vringh/vringh_peer.h"

/*
 * Each measurement runs for about BENCH_SECONDS and is compared with a baseline measured in the
 * same run: a loop that reads and writes the same ring entries and descriptors with no checks,
 * which is the cost of touching the memory alone. The ratio is what the checks cost. The peer is
 * the kernel's host-side ring code (drivers/vhost/vringh.c, built with tools/virtio's harness)
 * on the same ring, the same chains, one thread. The sides run interleaved, BENCH_ROUNDS times,
 * and each keeps its best, so that load from elsewhere weighs on them alike.
 * Each side is timed by its own CPU time, not by the wall clock: on a shared host a wall-clock
 * interval counts the time the scheduler gave to other processes, which falls on one side or
 * another at random (under a load of 6 on 2 cores, libcore over vringh-kern read 1.12 and 1.42 in
 * two runs of one binary minutes apart). The clock is read once a lap (vringh_peer.h).
 */
#define BENCH_SECONDS 0.25
#define BENCH_ROUNDS  3
#define DESC_GPA      0x100000ull
#define AVAIL_GPA     0x200000ull
#define USED_GPA      0x300000ull
#define BUF_GPA	      0x1000000ull
#define MEM_GPA	      0x100000ull
#define MEM_BYTES     (32ull << 20)

static uint8_t *mem;
static struct guestmem gm;
static volatile uint64_t sink;

static uint8_t *hva(uint64_t gpa)
{
	return mem + (gpa - MEM_GPA);
}

static void put16(uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(hva(gpa), &v, 2);
}

static void desc(uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = hva(DESC_GPA + 16ull * i);

	addr = htole64(addr);
	len = htole32(len);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &(uint16_t){ htole16(flags) }, 2);
	memcpy(p + 14, &(uint16_t){ htole16(next) }, 2);
}

/* A ring of size entries whose descriptor table holds size / per chains of per descriptors. */
static void build_ring(uint32_t size, uint32_t per)
{
	memset(hva(DESC_GPA), 0, 16ull * size);
	for (uint32_t i = 0; i < size; i++) {
		bool last = (i % per) == per - 1;

		desc(i, BUF_GPA + 64ull * (i % 4096), last ? 64 : 16,
		     last ? VIRTQ_DESC_F_WRITE : VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
		put16(AVAIL_GPA + 4 + 2ull * i, (uint16_t)(per * (i % (size / per))));
	}
	put16(AVAIL_GPA, 0);
	put16(AVAIL_GPA + 2, 0);
	put16(USED_GPA, 0);
	put16(USED_GPA + 2, 0);
}

/* Device side through libcore: rounds of "driver publishes `batch`, device serves them". */
static double run_virtq(struct virtq *q, uint32_t batch, uint64_t *chains)
{
	double t0 = bench_cpu_now_s(), t;
	uint64_t n = 0, bytes = 0;
	uint16_t avail = 0;

	do {
		for (int round = 0; round < BENCH_LAP_KICKS; round++) {
			struct virtq_chain c;
			struct virtq_desc d;

			avail = (uint16_t)(avail + batch);
			__atomic_store_n((uint16_t *)(void *)hva(AVAIL_GPA + 2), htole16(avail),
					 __ATOMIC_RELEASE);
			while (virtq_pop(q, &c) == 1) {
				uint32_t written = 0;

				while (virtq_chain_next(&c, &d) > 0) {
					bytes += d.len;
					if (d.flags & VIRTQ_DESC_F_WRITE)
						written += d.len;
				}
				virtq_add_used(q, c.head, written);
				n++;
			}
			virtq_prepare_kick(q);
		}
		t = bench_cpu_now_s() - t0;
	} while (t < BENCH_SECONDS);
	sink += bytes;
	*chains = n;
	return t;
}

/*
 * The baseline: the same reads and writes, no checks, no translation, no ordering. The reads are
 * those any device makes: with each descriptor's len, flags and next, its addr (where the buffer
 * is: libcore translates it, vringh too; the baseline only reads it).
 */
static double run_plain(uint32_t size, uint32_t batch, uint64_t *chains)
{
	uint8_t *ring = hva(AVAIL_GPA), *table = hva(DESC_GPA), *used = hva(USED_GPA);
	double t0 = bench_cpu_now_s(), t;
	uint64_t n = 0, bytes = 0, addrs = 0;
	uint16_t avail = 0, next_avail = 0, next_used = 0;

	do {
		for (int round = 0; round < BENCH_LAP_KICKS; round++) {
			avail = (uint16_t)(avail + batch);
			memcpy(ring + 2, &avail, 2);
			uint16_t idx;

			memcpy(&idx, ring + 2, 2);
			while (next_avail != idx) {
				uint16_t head, flags, next;
				uint32_t len, written = 0;

				memcpy(&head, ring + 4 + 2u * (next_avail++ & (size - 1)), 2);
				for (next = head;; next = (uint16_t)(next + 0)) {
					const uint8_t *p = table + 16u * next;
					uint64_t addr;

					memcpy(&addr, p, 8);
					addrs ^= addr;
					memcpy(&len, p + 8, 4);
					memcpy(&flags, p + 12, 2);
					bytes += len;
					if (flags & VIRTQ_DESC_F_WRITE)
						written += len;
					if (!(flags & VIRTQ_DESC_F_NEXT))
						break;
					memcpy(&next, p + 14, 2);
				}
				uint8_t *e = used + 4 + 8u * (next_used++ & (size - 1));

				memcpy(e, &(uint32_t){ head }, 4);
				memcpy(e + 4, &written, 4);
				memcpy(used + 2, &next_used, 2);
				n++;
			}
		}
		t = bench_cpu_now_s() - t0;
	} while (t < BENCH_SECONDS);
	sink += bytes + addrs;
	*chains = n;
	return t;
}

static void count_finding(const struct virtq_finding *f, void *arg)
{
	(void)f;
	++*(unsigned *)arg;
}

static double run_check(struct virtq *q, uint64_t *rings)
{
	struct virtq_check_opts o = { .has_last_avail = true, .last_avail = 0 };
	double t0 = bench_cpu_now_s(), t;
	uint64_t n = 0;
	unsigned findings = 0;

	do {
		for (int lap = 0; lap < BENCH_LAP_RINGS; lap++) {
			virtq_check(q, &gm, &o, count_finding, &findings);
			n++;
		}
		t = bench_cpu_now_s() - t0;
	} while (t < BENCH_SECONDS);
	if (findings)
		fprintf(stderr, "bench_virtq: check found %u problems in the bench ring\n",
			findings);
	*rings = n;
	return t;
}

/* Baseline for check: read every avail entry and walk every chain, nothing validated. */
static double run_check_plain(uint32_t size, uint64_t *rings)
{
	const uint8_t *ring = hva(AVAIL_GPA), *table = hva(DESC_GPA);
	double t0 = bench_cpu_now_s(), t;
	uint64_t n = 0, bytes = 0;

	do {
		for (int lap = 0; lap < BENCH_LAP_RINGS; lap++) {
			for (uint32_t i = 0; i < size; i++) {
				uint16_t next, flags;
				uint32_t len;

				memcpy(&next, ring + 4 + 2u * i, 2);
				for (uint32_t k = 0; k < size; k++) {
					const uint8_t *p = table + 16u * next;

					memcpy(&len, p + 8, 4);
					memcpy(&flags, p + 12, 2);
					bytes += len;
					if (!(flags & VIRTQ_DESC_F_NEXT))
						break;
					memcpy(&next, p + 14, 2);
				}
			}
			n++;
		}
		t = bench_cpu_now_s() - t0;
	} while (t < BENCH_SECONDS);
	sink += bytes;
	*rings = n;
	return t;
}

static void init_queue(struct virtq *q, uint16_t size)
{
	struct err e;

	*q = (struct virtq){ .max_size = size,
			     .size = size,
			     .ready = true,
			     .event_idx = true,
			     .desc_gpa = DESC_GPA,
			     .driver_gpa = AVAIL_GPA,
			     .device_gpa = USED_GPA };
	virtq_reset_state(q);
	if (virtq_init(q, &gm, &e)) {
		fprintf(stderr, "bench_virtq: %s\n", e.msg);
		exit(1);
	}
}

static struct vringh_peer_ring peer_ring(uint32_t size, bool user)
{
	return (struct vringh_peer_ring){ .desc = hva(DESC_GPA),
					  .avail = hva(AVAIL_GPA),
					  .used = hva(USED_GPA),
					  .size = size,
					  .mem = mem,
					  .mem_gpa = MEM_GPA,
					  .mem_bytes = MEM_BYTES,
					  .user = user };
}

/* Chains (or rings) per second of one side; the best of the rounds is kept in *best. */
static void keep_best(double *best, uint64_t n, double t)
{
	if ((double)n / t > *best)
		*best = (double)n / t;
}

static void peer_failed(const char *what, int rc)
{
	fprintf(stderr, "bench_virtq: vringh %s: %s\n", what, strerror(-rc));
	exit(1);
}

static void print_side(const char *name, double v, const char *unit, const char *note)
{
	printf("  %-12s %12.1f %s%s\n", name, v, unit, note);
}

static void bench_pop(void)
{
	double lib = 0, user = 0, kern = 0, plain = 0, t;
	struct virtq q;
	uint64_t n;
	int rc;

	for (int r = 0; r < BENCH_ROUNDS; r++) {
		struct vringh_peer_ring pu = peer_ring(256, true), pk = peer_ring(256, false);

		build_ring(256, 2);
		init_queue(&q, 256);
		t = run_virtq(&q, 128, &n);
		keep_best(&lib, n, t);
		build_ring(256, 2);
		rc = vringh_peer_serve(&pu, 128, BENCH_SECONDS, &n, &t);
		if (rc)
			peer_failed("serve (user)", rc);
		keep_best(&user, n, t);
		build_ring(256, 2);
		rc = vringh_peer_serve(&pk, 128, BENCH_SECONDS, &n, &t);
		if (rc)
			peer_failed("serve (kern)", rc);
		keep_best(&kern, n, t);
		build_ring(256, 2);
		t = run_plain(256, 128, &n);
		keep_best(&plain, n, t);
	}
	printf("virtq pop+add_used (256-entry split ring, 2-descriptor chains, 128 per kick):\n");
	print_side("libcore", lib, "chains/s", "");
	print_side("vringh-user", user, "chains/s",
		   "  (getdesc_user + complete_user, addresses via getrange, as vhost)");
	print_side("vringh-kern", kern, "chains/s",
		   "  (getdesc_kern + complete_kern, addresses unchecked)");
	print_side("baseline", plain, "chains/s", "  (plain loop, same reads and writes)");
	printf("  ratio        %12.2f  (libcore / vringh-user)\n", lib / user);
	printf("  ratio        %12.2f  (libcore / vringh-kern)\n", lib / kern);
	printf("  ratio        %12.2f  (libcore / baseline)\n", lib / plain);
}

static void bench_check(void)
{
	double lib = 0, user = 0, kern = 0, plain = 0, t;
	struct virtq q;
	uint64_t n;
	int rc;

	build_ring(32768, 1);
	put16(AVAIL_GPA + 2, 32768); /* every entry pending */
	for (int r = 0; r < BENCH_ROUNDS; r++) {
		struct vringh_peer_ring pu = peer_ring(32768, true), pk = peer_ring(32768, false);

		init_queue(&q, 32768);
		t = run_check(&q, &n);
		keep_best(&lib, n, t);
		rc = vringh_peer_walk(&pu, BENCH_SECONDS, &n, &t);
		if (rc)
			peer_failed("walk (user)", rc);
		keep_best(&user, n, t);
		rc = vringh_peer_walk(&pk, BENCH_SECONDS, &n, &t);
		if (rc)
			peer_failed("walk (kern)", rc);
		keep_best(&kern, n, t);
		t = run_check_plain(32768, &n);
		keep_best(&plain, n, t);
	}
	printf("virtq check (32768-entry split ring, 32768 pending chains) beside a full-ring walk:\n");
	print_side("libcore", lib, "rings/s", "  (virtq_check)");
	print_side("vringh-user", user, "rings/s", "  (32768 x getdesc_user, then abandon)");
	print_side("vringh-kern", kern, "rings/s", "  (32768 x getdesc_kern, then abandon)");
	print_side("baseline", plain, "rings/s", "  (plain walk, no checks)");
	printf("  ratio        %12.2f  (libcore / vringh-user)\n", lib / user);
	printf("  ratio        %12.2f  (libcore / vringh-kern)\n", lib / kern);
	printf("  ratio        %12.2f  (libcore / baseline)\n", lib / plain);
}

int main(void)
{
	mem = aligned_alloc(4096, MEM_BYTES);
	if (!mem)
		return 1;
	memset(mem, 0, MEM_BYTES);
	guestmem_init(&gm);
	/* a few regions, as a VMM has (low RAM, the hole, high RAM): lookups walk them */
	guestmem_add(&gm, 0, malloc(0x1000), 0x1000, NULL);
	guestmem_add(&gm, MEM_GPA, mem, MEM_BYTES, NULL);
	bench_pop();
	bench_check();
	return 0;
}
