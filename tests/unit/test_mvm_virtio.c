/* test_mvm_virtio.c: virtio-mmio + virtio-blk/rng against a driver simulated in a buffer. */
#include <fcntl.h>
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
		if (virtio_blk_open(&r->blk, r->path, ro, &e))
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
	return CHECK_MAIN_END();
}
