/* test_mvm_virtio.c: virtio-mmio + virtio-blk/rng against a driver simulated in a buffer. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "virtio_devs.h"
#include "virtio_mmio.h"

#define MEM_GPA	 0x100000ULL
#define MEM_SIZE (1u << 20)
#define QSZ	 16
/* Ring areas inside guest memory. */
#define DESC_GPA  (MEM_GPA + 0x0000)
#define AVAIL_GPA (MEM_GPA + 0x1000)
#define USED_GPA  (MEM_GPA + 0x2000)
#define BUF_GPA	  (MEM_GPA + 0x10000)

struct rig {
	uint8_t *ram;
	struct guestmem mem;
	struct virtio_mmio m;
	struct virtio_blk blk;
	struct virtio_rng rng;
	char path[64];
	unsigned irqs;
	uint16_t avail_idx;
};

static void irq(void *opaque)
{
	((struct rig *)opaque)->irqs++;
}

static void w32(struct rig *r, uint64_t off, uint32_t v)
{
	virtio_mmio_io_ops.write(&r->m, off, (uint8_t *)&v, 4);
}

static uint32_t r32(struct rig *r, uint64_t off)
{
	uint32_t v;

	virtio_mmio_io_ops.read(&r->m, off, (uint8_t *)&v, 4);
	return v;
}

static uint8_t *hva(struct rig *r, uint64_t gpa)
{
	return r->ram + (gpa - MEM_GPA);
}

/* The driver side of initialisation (§3.1.1), with EVENT_IDX off. */
static int rig_setup(struct rig *r)
{
	w32(r, 0x70, 0);
	w32(r, 0x70, 3);
	w32(r, 0x24, 1);
	w32(r, 0x20, 1); /* VERSION_1 */
	w32(r, 0x70, 11);
	if (!(r32(r, 0x70) & 8))
		return -1;
	memset(r->ram, 0, 0x3000);
	r->avail_idx = 0;
	w32(r, 0x30, 0);
	w32(r, 0x38, QSZ);
	w32(r, 0x80, (uint32_t)DESC_GPA);
	w32(r, 0x90, (uint32_t)AVAIL_GPA);
	w32(r, 0xa0, (uint32_t)USED_GPA);
	w32(r, 0x44, 1);
	w32(r, 0x70, 15);
	return r32(r, 0x44) == 1 ? 0 : -2;
}

/* The engine blk rigs get (the tests that run for both set it). */
static enum virtio_blk_engine rig_engine = VIRTIO_BLK_SYNC;

static void rig_init(struct rig *r, bool blk, bool ro)
{
	struct err e = { 0 };
	int fd;

	memset(r, 0, sizeof(*r));
	r->ram = calloc(1, MEM_SIZE);
	guestmem_init(&r->mem);
	guestmem_add(&r->mem, MEM_GPA, r->ram, MEM_SIZE, &e);
	if (blk) {
		snprintf(r->path, sizeof(r->path), "/tmp/test_mvm_virtio.XXXXXX");
		fd = mkstemp(r->path);
		if (ftruncate(fd, 64 * 512) != 0)
			abort();
		close(fd);
		if (virtio_blk_open(&r->blk, r->path, ro, &e) ||
		    virtio_blk_set_engine(&r->blk, rig_engine, &e))
			abort();
		virtio_mmio_init(&r->m, &virtio_blk_ops, &r->blk, &r->mem);
	} else {
		virtio_mmio_init(&r->m, &virtio_rng_ops, &r->rng, &r->mem);
	}
	r->m.irq_cb = irq;
	r->m.irq_opaque = r;
}

static void rig_free(struct rig *r)
{
	virtio_mmio_destroy(&r->m);
	if (r->path[0]) {
		virtio_blk_close(&r->blk);
		unlink(r->path);
	}
	free(r->ram);
}

static void desc(struct rig *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *d = hva(r, DESC_GPA + 16 * i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Make a chain available without notifying the device. */
static void make_avail(struct rig *r, uint16_t head, uint16_t advance)
{
	memcpy(hva(r, AVAIL_GPA + 4 + 2 * (r->avail_idx % QSZ)), &head, 2);
	r->avail_idx = (uint16_t)(r->avail_idx + advance);
	memcpy(hva(r, AVAIL_GPA + 2), &r->avail_idx, 2);
}

static void publish(struct rig *r, uint16_t head, uint16_t advance)
{
	make_avail(r, head, advance);
	w32(r, 0x50, 0); /* QueueNotify: no ioeventfd here, so processed inline */
}

static uint16_t used_idx(struct rig *r)
{
	uint16_t v;

	memcpy(&v, hva(r, USED_GPA + 2), 2);
	return v;
}

/* A virtio-blk request: header, data, status. */
static uint8_t blk_rw(struct rig *r, uint32_t type, uint64_t sector, uint32_t len)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} h = { type, 0, sector };

	memcpy(hva(r, BUF_GPA), &h, sizeof(h));
	*hva(r, BUF_GPA + 0x3000) = 0xff;
	desc(r, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(r, 1, BUF_GPA + 0x1000, len, VIRTQ_DESC_F_NEXT | (type ? 0 : VIRTQ_DESC_F_WRITE), 2);
	desc(r, 2, BUF_GPA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	publish(r, 0, 1);
	return *hva(r, BUF_GPA + 0x3000);
}

TEST(registers_identify_the_device)
{
	struct rig r;

	rig_init(&r, true, false);
	CHECK_EQ_U(r32(&r, 0x000), 0x74726976);
	CHECK_EQ_U(r32(&r, 0x004), 2);
	CHECK_EQ_U(r32(&r, 0x008), 2);
	w32(&r, 0x14, 1);
	CHECK_EQ_U(r32(&r, 0x010) & 1, 1); /* VERSION_1 */
	{
		uint64_t cap = 0;

		virtio_mmio_io_ops.read(&r.m, 0x100, (uint8_t *)&cap, 8);
		CHECK_EQ_U(cap, 64);
	}
	/* FEATURES_OK refused without VERSION_1 */
	w32(&r, 0x70, 3);
	w32(&r, 0x24, 1);
	w32(&r, 0x20, 0);
	w32(&r, 0x70, 11);
	CHECK_EQ_U(r32(&r, 0x70) & 8, 0);
	rig_free(&r);
}

TEST(blk_write_read_flush)
{
	struct rig r;

	rig_init(&r, true, false);
	REQUIRE(rig_setup(&r) == 0);
	memset(hva(&r, BUF_GPA + 0x1000), 0xa5, 1024);
	CHECK_EQ_U(blk_rw(&r, 1, 7, 1024), 0);
	memset(hva(&r, BUF_GPA + 0x1000), 0, 1024);
	CHECK_EQ_U(blk_rw(&r, 0, 7, 1024), 0);
	CHECK_EQ_U(*hva(&r, BUF_GPA + 0x1000 + 1023), 0xa5);
	CHECK_EQ_U(blk_rw(&r, 4, 0, 0), 0);	/* flush (an empty data descriptor) */
	CHECK_EQ_U(blk_rw(&r, 0, 63, 1024), 1); /* beyond the end: IOERR */
	CHECK_EQ_U(blk_rw(&r, 99, 0, 512), 2);	/* unsupported type */
	CHECK_EQ_U(used_idx(&r), 5);
	CHECK(r.irqs >= 5);
	CHECK_EQ_U(r32(&r, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_free(&r);
}

TEST(blk_read_only_refuses_writes)
{
	struct rig r;

	rig_init(&r, true, true);
	REQUIRE(rig_setup(&r) == 0);
	CHECK_EQ_U(blk_rw(&r, 1, 0, 512), 1);
	CHECK_EQ_U(blk_rw(&r, 0, 0, 512), 0);
	rig_free(&r);
}

TEST(rng_fills_buffers)
{
	struct rig r;
	uint32_t len;

	rig_init(&r, false, false);
	REQUIRE(rig_setup(&r) == 0);
	desc(&r, 0, BUF_GPA, 256, VIRTQ_DESC_F_WRITE, 0);
	publish(&r, 0, 1);
	CHECK_EQ_U(used_idx(&r), 1);
	memcpy(&len, hva(&r, USED_GPA + 8), 4);
	CHECK_EQ_U(len, 256);
	rig_free(&r);
}

/* Paused, a kicked queue is left alone (used.idx stays); resumed, the kick is served. */
TEST(paused_device_serves_kicks_only_after_resume)
{
	struct rig r;

	rig_init(&r, false, false);
	REQUIRE(rig_setup(&r) == 0);
	virtio_mmio_pause(&r.m);
	desc(&r, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	publish(&r, 0, 1);
	CHECK_EQ_U(used_idx(&r), 0);
	CHECK_EQ_U(r.irqs, 0);
	virtio_mmio_resume(&r.m);
	CHECK_EQ_U(used_idx(&r), 1);
	CHECK_EQ_U(r.irqs, 1);
	/* Running again: a new request is served at once. */
	desc(&r, 1, BUF_GPA + 64, 64, VIRTQ_DESC_F_WRITE, 0);
	publish(&r, 1, 1);
	CHECK_EQ_U(used_idx(&r), 2);
	/* The same through an ioeventfd kick (the worker's path, virtio_mmio_kick). */
	virtio_mmio_pause(&r.m);
	desc(&r, 2, BUF_GPA + 128, 64, VIRTQ_DESC_F_WRITE, 0);
	make_avail(&r, 2, 1);
	virtio_mmio_kick(&r.m, 0);
	CHECK_EQ_U(used_idx(&r), 2);
	virtio_mmio_resume(&r.m);
	CHECK_EQ_U(used_idx(&r), 3);
	rig_free(&r);
}

/*
 * Without EVENT_IDX the device does not interrupt while avail.flags is NO_INTERRUPT (§2.7.7.2: it
 * SHOULD NOT) and does when it is 0 (MUST); signalled_used is next_used at its last interrupt;
 * InterruptStatus keeps the used-buffer bit until the driver writes it to InterruptACK (§4.2.2).
 */
TEST(used_buffer_interrupts_follow_avail_flags)
{
	uint16_t no_interrupt = VIRTQ_AVAIL_F_NO_INTERRUPT, zero = 0;
	struct rig r;

	rig_init(&r, false, false);
	REQUIRE(rig_setup(&r) == 0);
	memcpy(hva(&r, AVAIL_GPA), &no_interrupt, 2);
	desc(&r, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	publish(&r, 0, 1);
	CHECK_EQ_U(used_idx(&r), 1);
	CHECK_EQ_U(r.irqs, 0);
	CHECK_EQ_U(r32(&r, 0x60), 0);
	CHECK_EQ_U(r.m.vq[0].signalled_used, 0);
	memcpy(hva(&r, AVAIL_GPA), &zero, 2);
	desc(&r, 1, BUF_GPA + 64, 64, VIRTQ_DESC_F_WRITE, 0);
	publish(&r, 1, 1);
	CHECK_EQ_U(used_idx(&r), 2);
	CHECK_EQ_U(r.irqs, 1);
	CHECK_EQ_U(r.m.vq[0].signalled_used, 2);
	CHECK_EQ_U(r32(&r, 0x60), VIRTIO_MMIO_INT_VRING);
	CHECK_EQ_U(r32(&r, 0x60), VIRTIO_MMIO_INT_VRING); /* reading does not acknowledge */
	w32(&r, 0x64, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ_U(r32(&r, 0x60), 0);
	rig_free(&r);
}

/* Each rule a driver can break marks the device DEVICE_NEEDS_RESET; a reset revives it. */
TEST(malicious_drivers_mark_the_device_broken)
{
	static const char *const cases[] = {
		"loop", "ahead", "outside", "badhead", "badnext", "wrap", "readable-after-writable"
	};

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct rig r;

		rig_init(&r, true, false);
		REQUIRE(rig_setup(&r) == 0);
		switch (c) {
		case 0:
			desc(&r, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
			desc(&r, 1, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
			publish(&r, 0, 1);
			break;
		case 1:
			publish(&r, 0, 40);
			break;
		case 2:
			desc(&r, 0, 0xf0000000ULL, 16, 0, 0);
			publish(&r, 0, 1);
			break;
		case 3:
			publish(&r, QSZ + 3, 1);
			break;
		case 4:
			desc(&r, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, QSZ);
			publish(&r, 0, 1);
			break;
		case 5:
			desc(&r, 0, UINT64_MAX - 4, 16, 0, 0);
			publish(&r, 0, 1);
			break;
		case 6:
			desc(&r, 0, BUF_GPA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
			desc(&r, 1, BUF_GPA, 16, 0, 0);
			publish(&r, 0, 1);
			break;
		}
		if (!(r32(&r, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
			CHECK_FAIL_AT("%s: no DEVICE_NEEDS_RESET", cases[c]);
		CHECK(r32(&r, 0x60) & VIRTIO_MMIO_INT_CONFIG);
		CHECK(r.m.broken[0] != '\0');
		/* Broken: further kicks do nothing */
		publish(&r, 0, 1);
		REQUIRE(rig_setup(&r) == 0);
		CHECK_EQ_U(r32(&r, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
		CHECK_EQ_U(blk_rw(&r, 1, 0, 512), 0);
		rig_free(&r);
	}
}

/* Property: random descriptor tables and indices never crash, hang or escape guest memory. */
TEST(prop_random_queues_are_survived)
{
	struct prop_rng pr = { prop_seed("prop_random_queues_are_survived") };
	uint64_t cases = prop_cases(2000);
	struct rig r;

	rig_init(&r, true, false);
	for (uint64_t c = 0; c < cases; c++) {
		REQUIRE(rig_setup(&r) == 0);
		for (unsigned i = 0; i < QSZ; i++) {
			uint64_t addr = prop_below(&pr, 4) ? BUF_GPA + prop_below(&pr, 0x8000)
							   : prop_next(&pr);
			uint32_t len = prop_below(&pr, 4) ? (uint32_t)prop_below(&pr, 0x2000)
							  : (uint32_t)prop_next(&pr);

			desc(&r, i, addr, len, (uint16_t)prop_below(&pr, 8),
			     (uint16_t)prop_below(&pr, QSZ + 2));
		}
		for (unsigned i = 0; i < QSZ; i++) {
			uint16_t h = (uint16_t)prop_below(&pr, QSZ + 1);

			memcpy(hva(&r, AVAIL_GPA + 4 + 2 * i), &h, 2);
		}
		/* header bytes the device may read */
		for (unsigned i = 0; i < 64; i++)
			*hva(&r, BUF_GPA + prop_below(&pr, 0x8000)) = (uint8_t)prop_next(&pr);
		r.avail_idx = (uint16_t)prop_below(&pr, 3 * QSZ);
		memcpy(hva(&r, AVAIL_GPA + 2), &r.avail_idx, 2);
		w32(&r, 0x50, 0);
		/* either processed within the ring's bounds or broken */
		CHECK((uint16_t)(used_idx(&r)) <= QSZ ||
		      (r32(&r, 0x70) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	}
	rig_free(&r);
}

/* ---- the Async engine (io_uring) ----------------------------------------------------------- */

/* Request n (up to 5) of a batch: descriptors 3n..3n+2, its buffers at BUF_GPA + n * 0x4000. */
#define REQ_GPA(n) (BUF_GPA + (uint64_t)(n)*0x4000)

static void blk_req_at(struct rig *r, unsigned n, uint32_t type, uint64_t sector, uint32_t len)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} h = { type, 0, sector };
	uint16_t d = (uint16_t)(3 * n);

	memcpy(hva(r, REQ_GPA(n)), &h, sizeof(h));
	*hva(r, REQ_GPA(n) + 0x3000) = 0xff;
	desc(r, d, REQ_GPA(n), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
	desc(r, d + 1u, REQ_GPA(n) + 0x1000, len,
	     VIRTQ_DESC_F_NEXT | (type ? 0 : VIRTQ_DESC_F_WRITE), (uint16_t)(d + 2));
	desc(r, d + 2u, REQ_GPA(n) + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	make_avail(r, d, 1);
}

static uint8_t req_status(struct rig *r, unsigned n)
{
	return *hva(r, REQ_GPA(n) + 0x3000);
}

/* The used element at ring index i: the head it returns and the length. */
static void used_elem(struct rig *r, unsigned i, uint32_t *id, uint32_t *len)
{
	memcpy(id, hva(r, USED_GPA + 4 + 8 * (i % QSZ)), 4);
	memcpy(len, hva(r, USED_GPA + 8 + 8 * (i % QSZ)), 4);
}

/* As a worker does: from now on completions are reaped when the ring's eventfd says so. */
static int rig_worker_polls(struct rig *r)
{
	return virtio_blk_ops.poll_fd(&r->blk);
}

/* Wait (1 s at most) for the ring's eventfd, then let the device reap, as the worker would. */
static void rig_worker_wakes(struct rig *r, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	(void)poll(&p, 1, 1000);
	pthread_mutex_lock(&r->m.lock);
	virtio_blk_ops.poll_ready(&r->m, &r->blk);
	pthread_mutex_unlock(&r->m.lock);
}

/*
 * Data written through Async is in the file (read with pread, not through the device) and
 * reads back the same through Async and through Sync; data written through Sync reads back
 * through Async.
 */
TEST(async_writes_read_back_through_sync_and_the_file)
{
	uint8_t file[2048], pattern[2048];
	struct err e = { 0 };
	struct rig r;
	int fd;

	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);
	rig_engine = VIRTIO_BLK_ASYNC;
	rig_init(&r, true, false);
	rig_engine = VIRTIO_BLK_SYNC;
	REQUIRE(r.blk.engine == VIRTIO_BLK_ASYNC);
	REQUIRE(rig_setup(&r) == 0);
	memcpy(hva(&r, REQ_GPA(0) + 0x1000), pattern, 2048);
	blk_req_at(&r, 0, 1, 5, 2048);
	w32(&r, 0x50, 0);
	CHECK_EQ_U(req_status(&r, 0), 0);
	CHECK_EQ_U(used_idx(&r), 1);
	fd = open(r.path, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ_I(pread(fd, file, sizeof(file), 5 * 512), (int)sizeof(file));
	CHECK(memcmp(file, pattern, sizeof(file)) == 0);
	/* through Async */
	memset(hva(&r, REQ_GPA(1) + 0x1000), 0, 2048);
	blk_req_at(&r, 1, 0, 5, 2048);
	w32(&r, 0x50, 0);
	CHECK_EQ_U(req_status(&r, 1), 0);
	CHECK(memcmp(hva(&r, REQ_GPA(1) + 0x1000), pattern, 2048) == 0);
	/* through Sync, on the same device and file */
	REQUIRE(virtio_blk_set_engine(&r.blk, VIRTIO_BLK_SYNC, &e) == 0);
	memset(hva(&r, BUF_GPA + 0x1000), 0, 2048);
	CHECK_EQ_U(blk_rw(&r, 0, 5, 2048), 0);
	CHECK(memcmp(hva(&r, BUF_GPA + 0x1000), pattern, 2048) == 0);
	/* Sync writes, Async reads */
	memset(hva(&r, BUF_GPA + 0x1000), 0x5a, 512);
	CHECK_EQ_U(blk_rw(&r, 1, 60, 512), 0);
	REQUIRE(virtio_blk_set_engine(&r.blk, VIRTIO_BLK_ASYNC, &e) == 0);
	REQUIRE(rig_setup(&r) == 0);
	blk_req_at(&r, 2, 0, 60, 512);
	w32(&r, 0x50, 0);
	CHECK_EQ_U(req_status(&r, 2), 0);
	CHECK_EQ_U(*hva(&r, REQ_GPA(2) + 0x1000 + 511), 0x5a);
	/* a read of no data (an empty data buffer) is done as in Sync: OK */
	blk_req_at(&r, 3, 0, 0, 0);
	w32(&r, 0x50, 0);
	CHECK_EQ_U(req_status(&r, 3), 0);
	REQUIRE(virtio_blk_set_engine(&r.blk, VIRTIO_BLK_SYNC, &e) == 0);
	CHECK_EQ_U(blk_rw(&r, 0, 0, 0), 0);
	CHECK_EQ_U(r.blk.writes, 2);
	CHECK_EQ_U(r.blk.errors, 0);
	close(fd);
	rig_free(&r);
}

/*
 * Completion order, not avail order: a read on the ring (head 0) and a request finished at once
 * (an unsupported type, head 3) made available together: head 3 is used first, then head 0,
 * each with its own length (1 + the data read: 513; 1: the status byte alone). One interrupt.
 */
TEST(async_used_ring_follows_completion_order)
{
	uint32_t id, len;
	struct rig r;

	rig_engine = VIRTIO_BLK_ASYNC;
	rig_init(&r, true, false);
	rig_engine = VIRTIO_BLK_SYNC;
	REQUIRE(rig_setup(&r) == 0);
	blk_req_at(&r, 0, 0, 2, 512);
	blk_req_at(&r, 1, 99, 0, 512);
	w32(&r, 0x50, 0);
	REQUIRE(used_idx(&r) == 2);
	used_elem(&r, 0, &id, &len);
	CHECK_EQ_U(id, 3);
	CHECK_EQ_U(len, 1);
	used_elem(&r, 1, &id, &len);
	CHECK_EQ_U(id, 0);
	CHECK_EQ_U(len, 513);
	CHECK_EQ_U(req_status(&r, 0), 0);
	CHECK_EQ_U(req_status(&r, 1), 2);
	CHECK_EQ_U(r.irqs, 1);
	rig_free(&r);
}

/*
 * A disk that answers when the test says so: the image's descriptor replaced by an empty pipe
 * before the ring takes it, so that reads stay in flight (the kernel waits for data) until
 * feed_later writes it from another thread.
 */
struct feed {
	int fd;
	size_t bytes;
};

static void *feed_later(void *p)
{
	struct feed *f = p;
	static const uint8_t block[512] = { 0x42 };

	usleep(200 * 1000);
	for (size_t done = 0; done < f->bytes; done += sizeof(block))
		if (write(f->fd, block, sizeof(block)) != sizeof(block))
			break;
	return NULL;
}

static int rig_slow_disk(struct rig *r)
{
	struct err e = { 0 };
	int p[2];

	if (pipe(p) || dup2(p[0], r->blk.fd) != r->blk.fd ||
	    virtio_blk_set_engine(&r->blk, VIRTIO_BLK_ASYNC, &e))
		abort();
	close(p[0]);
	return p[1];
}

/*
 * Two completions from the ring in the reverse of their order in the avail ring: a read that
 * waits for the pipe (head 0) and a flush the kernel answers at once (head 3; fsync(2) on a pipe
 * is EINVAL: IOERR). The flush's used element comes first; the read's, once the pipe has data,
 * second, with the data.
 */
TEST(async_ring_completions_out_of_order)
{
	static const uint8_t block[512] = { 0x42 };
	uint32_t id, len;
	struct rig r;
	int fd, in;

	rig_init(&r, true, false);
	in = rig_slow_disk(&r);
	fd = rig_worker_polls(&r);
	REQUIRE(rig_setup(&r) == 0);
	blk_req_at(&r, 0, 0, 0, 512);
	blk_req_at(&r, 1, 4, 0, 0);
	w32(&r, 0x50, 0);
	if (used_idx(&r) == 0)
		rig_worker_wakes(&r, fd);
	REQUIRE(used_idx(&r) == 1);
	used_elem(&r, 0, &id, &len);
	CHECK_EQ_U(id, 3);
	CHECK_EQ_U(len, 1);
	CHECK_EQ_U(req_status(&r, 1), 1);
	CHECK_EQ_U(req_status(&r, 0), 0xff);
	REQUIRE(write(in, block, sizeof(block)) == sizeof(block));
	rig_worker_wakes(&r, fd);
	REQUIRE(used_idx(&r) == 2);
	used_elem(&r, 1, &id, &len);
	CHECK_EQ_U(id, 0);
	CHECK_EQ_U(len, 513);
	CHECK_EQ_U(req_status(&r, 0), 0);
	CHECK_EQ_U(*hva(&r, REQ_GPA(0) + 0x1000), 0x42);
	close(in);
	rig_free(&r);
}

/*
 * Requests in flight when the driver resets the device are waited for and dropped: no status
 * byte, no used element, not even in the queue the driver sets up again at the same place; the
 * device then serves new requests. Paused, the device first finishes what is in flight.
 */
TEST(async_reset_and_pause_with_requests_in_flight)
{
	struct feed f;
	pthread_t t;
	struct rig r;
	int fd;

	rig_init(&r, true, false);
	f.fd = rig_slow_disk(&r);
	fd = rig_worker_polls(&r);
	REQUIRE(fd >= 0);
	REQUIRE(rig_setup(&r) == 0);
	blk_req_at(&r, 0, 0, 0, 512);
	blk_req_at(&r, 1, 0, 0, 512);
	blk_req_at(&r, 2, 0, 0, 512);
	w32(&r, 0x50, 0); /* submitted; the kernel waits for the pipe */
	REQUIRE(req_status(&r, 0) == 0xff && req_status(&r, 2) == 0xff);
	f.bytes = 3 * 512;
	REQUIRE(pthread_create(&t, NULL, feed_later, &f) == 0);
	REQUIRE(rig_setup(&r) == 0); /* status 0 first: a reset */
	pthread_join(t, NULL);
	rig_worker_wakes(&r, fd);
	CHECK_EQ_U(used_idx(&r), 0);
	CHECK_EQ_U(req_status(&r, 0), 0xff);
	CHECK_EQ_U(req_status(&r, 1), 0xff);
	CHECK_EQ_U(req_status(&r, 2), 0xff);
	/* the same set-up again: served */
	blk_req_at(&r, 0, 0, 0, 512);
	f.bytes = 512;
	REQUIRE(pthread_create(&t, NULL, feed_later, &f) == 0);
	w32(&r, 0x50, 0);
	pthread_join(t, NULL);
	rig_worker_wakes(&r, fd);
	CHECK_EQ_U(used_idx(&r), 1);
	CHECK_EQ_U(req_status(&r, 0), 0);
	CHECK_EQ_U(*hva(&r, REQ_GPA(0) + 0x1000), 0x42);
	/* pause: once it returns, what was in flight is in the used ring */
	blk_req_at(&r, 1, 0, 8, 512);
	blk_req_at(&r, 2, 0, 16, 512);
	w32(&r, 0x50, 0);
	CHECK_EQ_U(used_idx(&r), 1);
	f.bytes = 2 * 512;
	REQUIRE(pthread_create(&t, NULL, feed_later, &f) == 0);
	virtio_mmio_pause(&r.m);
	CHECK_EQ_U(used_idx(&r), 3);
	CHECK_EQ_U(req_status(&r, 1), 0);
	CHECK_EQ_U(req_status(&r, 2), 0);
	pthread_join(t, NULL);
	virtio_mmio_resume(&r.m);
	close(f.fd);
	rig_free(&r);
}

/*
 * Errors from the file are VIRTIO_BLK_S_IOERR: a write to a full device (the image's descriptor
 * replaced by /dev/full before the ring takes it: ENOSPC), a read past the end of an image that
 * shrank after it was opened (a short read, resumed, then 0 bytes).
 */
TEST(async_file_errors_are_ioerr)
{
	struct err e = { 0 };
	struct rig r;
	int full;

	rig_init(&r, true, false);
	full = open("/dev/full", O_RDWR);
	REQUIRE(full >= 0);
	REQUIRE(dup2(full, r.blk.fd) == r.blk.fd);
	close(full);
	REQUIRE(virtio_blk_set_engine(&r.blk, VIRTIO_BLK_ASYNC, &e) == 0);
	REQUIRE(rig_setup(&r) == 0);
	blk_req_at(&r, 0, 1, 0, 512);
	w32(&r, 0x50, 0);
	CHECK_EQ_U(req_status(&r, 0), 1);
	CHECK_EQ_U(r.blk.errors, 1);
	rig_free(&r);

	rig_engine = VIRTIO_BLK_ASYNC;
	rig_init(&r, true, false);
	rig_engine = VIRTIO_BLK_SYNC;
	REQUIRE(truncate(r.path, 62 * 512) == 0);
	REQUIRE(rig_setup(&r) == 0);
	blk_req_at(&r, 0, 0, 61, 1024); /* within the capacity seen at open, half past the end */
	blk_req_at(&r, 1, 0, 60, 1024); /* the last two sectors the file has */
	w32(&r, 0x50, 0);
	CHECK_EQ_U(req_status(&r, 0), 1);
	CHECK_EQ_U(req_status(&r, 1), 0);
	CHECK_EQ_U(used_idx(&r), 2);
	rig_free(&r);
}

/* The malicious drivers and random queues of the Sync tests, against the Async engine. */
TEST(async_survives_malicious_drivers)
{
	rig_engine = VIRTIO_BLK_ASYNC;
	test_malicious_drivers_mark_the_device_broken();
	test_prop_random_queues_are_survived();
	rig_engine = VIRTIO_BLK_SYNC;
}

int main(void)
{
	RUN(registers_identify_the_device);
	RUN(blk_write_read_flush);
	RUN(blk_read_only_refuses_writes);
	RUN(rng_fills_buffers);
	RUN(paused_device_serves_kicks_only_after_resume);
	RUN(used_buffer_interrupts_follow_avail_flags);
	RUN(malicious_drivers_mark_the_device_broken);
	RUN(prop_random_queues_are_survived);
	RUN(async_writes_read_back_through_sync_and_the_file);
	RUN(async_used_ring_follows_completion_order);
	RUN(async_ring_completions_out_of_order);
	RUN(async_reset_and_pause_with_requests_in_flight);
	RUN(async_file_errors_are_ioerr);
	RUN(async_survives_malicious_drivers);
	return CHECK_MAIN_END();
}
