/*
 * fuzz_virtio_mmio.c: libFuzzer target: a malicious driver against virtio-mmio with virtio-blk
 * (Sync or Async engine), virtio-net or virtio-rng behind it: register accesses, ring memory it
 * rewrites at will, kicks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio_devs.h"
#include "virtio_mmio.h"

#define MEM_SIZE 0x10000u /* guest memory at GPA 0 */
#define QSZ	 16

static struct virtio_blk blk, blk_async;
static bool have_async;	  /* io_uring available here */
static int net_peer = -1; /* the "tap" side the harness writes frames into */
static struct virtio_net net;
static struct virtio_rng rng;
static unsigned irqs;

static void irq(void *opaque)
{
	(void)opaque;
	irqs++;
}

/* Devices live across inputs (a disk on a memfd, a socketpair as the tap); made once. */
static void devices_once(void)
{
	static bool done;
	struct err e = { 0 };
	char path[64];
	int sv[2], fd;

	if (done)
		return;
	done = true;
	fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 64 * 512) != 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (virtio_blk_open(&blk, path, false, &e) || virtio_blk_open(&blk_async, path, false, &e))
		abort();
	close(fd);
	have_async = virtio_blk_set_engine(&blk_async, VIRTIO_BLK_ASYNC, &e) == 0;
	if (!have_async)
		fprintf(stderr, "fuzz_virtio_mmio: no Async engine here: %s\n", e.msg);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	memset(&net, 0, sizeof(net));
	net.tap_fd = sv[0];
	memcpy(net.mac, "\x06\0\0\0\0\x01", 6);
	net_peer = sv[1];
}

static void w32(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	virtio_mmio_io_ops.write(m, off, (uint8_t *)&v, 4);
}

/* The driver's side of initialisation (§3.1.1, §4.2.3.2) for every queue, rings at fixed places
 * (queue q at q * 0x1000: descriptors, then driver area at +0x400, device area at +0x800). */
static void setup(struct virtio_mmio *m, uint8_t features)
{
	w32(m, 0x70, 0);
	w32(m, 0x70, 3);
	w32(m, 0x24, 0);
	w32(m, 0x20, (uint32_t)(features & 3) << 28); /* INDIRECT_DESC, EVENT_IDX */
	w32(m, 0x24, 1);
	w32(m, 0x20, 1); /* VERSION_1 */
	w32(m, 0x70, 11);
	for (unsigned q = 0; q < m->ops->nr_queues; q++) {
		w32(m, 0x30, q);
		w32(m, 0x38, QSZ);
		w32(m, 0x80, q * 0x1000);
		w32(m, 0x90, q * 0x1000 + 0x400);
		w32(m, 0xa0, q * 0x1000 + 0x800);
		w32(m, 0x44, 1);
	}
	w32(m, 0x70, 15);
}

static void drain(int fd)
{
	uint8_t buf[2048];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/*
 * Input: byte 0 picks the device (blk, net, rng; blk with the Async engine when it is 0x80 or
 * more and a multiple of 3); then operations, each an op byte and its
 * arguments: 0 write (u16 offset, u8 size, u64 value), 1 read (u16 offset, u8 size),
 * 2 memory write (u16 GPA, u8 n, n bytes), 3 set up every queue (u8 features), 4 kick (u8 queue),
 * 5 a frame arrives on the tap (u8 n, n bytes).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct virtio_dev_ops *const ops[3] = { &virtio_blk_ops, &virtio_net_ops,
							     &virtio_rng_ops };
	void *devs[3] = { &blk, &net, &rng };
	struct virtio_mmio m;
	struct guestmem gm;
	uint8_t *ram;
	size_t i = 1;
	unsigned d;

	if (len < 1)
		return 0;
	devices_once();
	d = data[0] % 3;
	if (d == 0 && data[0] >= 0x80 && have_async)
		devs[0] = &blk_async;
	ram = calloc(1, MEM_SIZE); /* exact size: ASan sees any access past it */
	guestmem_init(&gm);
	guestmem_add(&gm, 0, ram, MEM_SIZE, NULL);
	if (d == 2)
		memset(&rng, 0, sizeof(rng));
	virtio_mmio_init(&m, ops[d], devs[d], &gm);
	m.irq_cb = irq;
	while (i < len) {
		uint8_t op = data[i++] % 6;
		uint64_t v = 0;
		uint16_t off;
		unsigned size, n;

		switch (op) {
		case 0:
		case 1:
			if (len - i < 3)
				goto out;
			off = (uint16_t)((data[i] | data[i + 1] << 8) & 0x1ff);
			size = 1u << (data[i + 2] & 3);
			i += 3;
			if (op == 0) {
				n = len - i < size ? (unsigned)(len - i) : size;
				memcpy(&v, data + i, n);
				i += n;
				virtio_mmio_io_ops.write(&m, off, (uint8_t *)&v, size);
			} else {
				virtio_mmio_io_ops.read(&m, off, (uint8_t *)&v, size);
			}
			break;
		case 2:
			if (len - i < 3)
				goto out;
			off = (uint16_t)(data[i] | data[i + 1] << 8);
			n = data[i + 2];
			i += 3;
			if (n > len - i)
				n = (unsigned)(len - i);
			if (n > MEM_SIZE - off)
				n = MEM_SIZE - off;
			memcpy(ram + off, data + i, n);
			i += n;
			break;
		case 3:
			if (i < len)
				setup(&m, data[i++]);
			break;
		case 4:
			if (i < len)
				virtio_mmio_kick(&m, data[i++] % VIRTIO_MMIO_MAX_QUEUES);
			break;
		case 5:
			if (i >= len)
				goto out;
			n = data[i++];
			if (n > len - i)
				n = (unsigned)(len - i);
			if (d == 1) {
				(void)!send(net_peer, data + i, n, MSG_DONTWAIT);
				pthread_mutex_lock(&m.lock);
				m.ops->poll_ready(&m, m.dev);
				pthread_mutex_unlock(&m.lock);
			}
			i += n;
			break;
		}
	}
out:
	virtio_mmio_pause(&m); /* as at exit: nothing in flight once guest memory goes */
	virtio_mmio_destroy(&m);
	if (d == 1) {
		drain(net_peer);
		drain(net.tap_fd);
		net.rx_waiting = false;
	}
	free(ram);
	return 0;
}
