/*
 * vsock.c: a small polling virtio-vsock driver (virtio-mmio at 0xd0000000): answers the host's
 * connection to port 1234 (reads "ping", writes "pong"), then connects to the host's port 5000,
 * writes "hello" and prints what comes back.
 */
#include "guest.h"

#define MMIO 0xd0000000u
#define QSZ  8
#define RXQ  0
#define TXQ  1
#define EVQ  2
#define BUF  512

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE };

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vq {
	struct desc desc[QSZ] __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx, ring[QSZ], used_event;
	} avail __attribute__((aligned(4)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[QSZ];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	uint16_t last_used;
};

static struct vq vqs[3];
static struct rxbuf {
	struct hdr h;
	char data[BUF];
} rx[QSZ];
static struct hdr tx_hdr;
static char tx_data[BUF];
static uint64_t cid;
static uint32_t fwd_cnt;

static uint32_t rd(uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(MMIO + off);
}

static void wr(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(MMIO + off) = v;
}

static void publish(struct vq *q, uint16_t head, unsigned qi)
{
	q->avail.ring[q->avail.idx % QSZ] = head;
	__asm__ volatile("" ::: "memory");
	q->avail.idx++;
	__asm__ volatile("mfence" ::: "memory");
	wr(0x50, qi);
}

static int setup(void)
{
	wr(0x70, 0);
	wr(0x70, 1 | 2);
	wr(0x14, 1);
	if (!(rd(0x10) & 1)) /* VERSION_1 */
		return -1;
	wr(0x24, 0);
	wr(0x20, 0);
	wr(0x24, 1);
	wr(0x20, 1);
	wr(0x70, 1 | 2 | 8);
	if (!(rd(0x70) & 8))
		return -2;
	for (unsigned i = 0; i < 3; i++) {
		wr(0x30, i);
		wr(0x38, QSZ);
		wr(0x80, (uint32_t)(uintptr_t)vqs[i].desc);
		wr(0x84, 0);
		wr(0x90, (uint32_t)(uintptr_t)&vqs[i].avail);
		wr(0x94, 0);
		wr(0xa0, (uint32_t)(uintptr_t)&vqs[i].used);
		wr(0xa4, 0);
		wr(0x44, 1);
	}
	wr(0x70, 1 | 2 | 4 | 8);
	for (uint16_t i = 0; i < QSZ; i++) {
		vqs[RXQ].desc[i] =
			(struct desc){ (uint32_t)(uintptr_t)&rx[i], sizeof(rx[i]), 2, 0 };
		publish(&vqs[RXQ], i, RXQ);
	}
	cid = rd(0x100) | (uint64_t)rd(0x104) << 32;
	return 0;
}

static void send(uint16_t op, uint32_t src_port, uint32_t dst_port, const char *data)
{
	struct vq *q = &vqs[TXQ];
	uint32_t len = 0;

	while (data && data[len])
		tx_data[len] = data[len], len++;
	tx_hdr = (struct hdr){ cid, 2, src_port, dst_port, len, 1, op, 0, BUF, fwd_cnt };
	q->desc[0] = (struct desc){ (uint32_t)(uintptr_t)&tx_hdr, sizeof(tx_hdr), len ? 1 : 0, 1 };
	q->desc[1] = (struct desc){ (uint32_t)(uintptr_t)tx_data, len, 0, 0 };
	publish(q, 0, TXQ);
	while (*(volatile uint16_t *)&q->used.idx == q->last_used)
		__asm__ volatile("pause");
	q->last_used++;
}

/* The next packet of op (others, such as credit updates, are skipped); its payload in out. */
static struct hdr recv(uint16_t op, char *out)
{
	struct vq *q = &vqs[RXQ];

	for (;;) {
		struct hdr h;
		uint32_t id;

		while (*(volatile uint16_t *)&q->used.idx == q->last_used)
			__asm__ volatile("pause");
		id = q->used.ring[q->last_used % QSZ].id;
		q->last_used++;
		h = rx[id].h;
		for (uint32_t i = 0; out && i < h.len && i < BUF - 1; i++)
			out[i] = rx[id].data[i], out[i + 1] = 0;
		fwd_cnt += h.len;
		publish(q, (uint16_t)id, RXQ);
		if (h.op == op)
			return h;
		puts("vsock skipped op ");
		put_dec(h.op);
		puts("\n");
	}
}

int main(struct start_info *si)
{
	char data[BUF];
	struct hdr h;

	(void)si;
	if (rd(0) != 0x74726976 || rd(8) != 19 || setup()) {
		puts("vsock: no virtio-vsock device\n");
		return 1;
	}
	puts("vsock cid ");
	put_dec((uint32_t)cid);
	puts("\n");
	/* The host connects to our port 1234. */
	h = recv(OP_REQUEST, 0);
	puts("vsock request to ");
	put_dec(h.dst_port);
	puts("\n");
	send(OP_RESPONSE, h.dst_port, h.src_port, 0);
	recv(OP_RW, data);
	puts("vsock got ");
	puts(data);
	puts("\n");
	send(OP_RW, h.dst_port, h.src_port, "pong");
	/* We connect to the host's port 5000. */
	fwd_cnt = 0;
	send(OP_REQUEST, 2000, 5000, 0);
	recv(OP_RESPONSE, 0);
	puts("vsock connected to 5000\n");
	send(OP_RW, 2000, 5000, "hello");
	recv(OP_RW, data);
	puts("vsock got ");
	puts(data);
	puts("\n");
	return 0;
}
