/*
 * blkbench.c: a 64-bit polling virtio-blk driver for benchmarks (start64.S): 4 KiB reads and writes
 * in turn, "qd=N" of them in flight (1..32), "n=N" of them timed. It prints "blkbench go" when the
 * timed requests start and "blkbench done N" when N have completed, so that the host times them
 * from the serial port; any failed request ends the run with "blkbench FAILED". The device is
 * looked for at mvm-run's slot (0xd0000000) and at QEMU microvm's (0xfeb00000 + 512 * i).
 */
#include "guest.h"

#define QSZ	128 /* 3 descriptors a request: 32 in flight need 96 */
#define MAXQD	32
#define BLOCK	4096
#define NBLOCKS 16384u /* the requests spread over at most the first 64 MiB */
#define WARMUP	512u
#define DEV_BLK 2
#define MAGIC	0x74726976u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc descs[QSZ] __attribute__((aligned(4096)));
static struct {
	uint16_t flags, idx, ring[QSZ], used_event;
} avail __attribute__((aligned(4096)));
static struct {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[QSZ];
	uint16_t avail_event;
} used __attribute__((aligned(4096)));
static struct {
	uint32_t type, reserved;
	uint64_t sector;
} hdr[MAXQD];
static uint8_t data[MAXQD][BLOCK] __attribute__((aligned(4096)));
static volatile uint8_t status[MAXQD];
static uintptr_t mmio;
static uint32_t nblocks; /* 4 KiB blocks the requests spread over */

static uint32_t rd(uint32_t off)
{
	return *(volatile uint32_t *)(mmio + off);
}

static void wr(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(mmio + off) = v;
}

static int find_device(void)
{
	static const uintptr_t first[] = { 0xd0000000u };

	mmio = first[0];
	if (rd(0) == MAGIC && rd(4) == 2 && rd(8) == DEV_BLK)
		return 0;
	for (unsigned i = 0; i < 24; i++) {
		mmio = 0xfeb00000u + 512u * i;
		if (rd(0) == MAGIC && rd(4) == 2 && rd(8) == DEV_BLK)
			return 0;
	}
	return -1;
}

static int setup(void)
{
	wr(0x70, 0); /* reset */
	if (rd(0x70) != 0)
		return -1;
	wr(0x70, 1 | 2);
	wr(0x14, 1);
	if (!(rd(0x10) & 1)) /* VERSION_1 */
		return -2;
	wr(0x24, 0);
	wr(0x20, 0);
	wr(0x24, 1);
	wr(0x20, 1);
	wr(0x70, 1 | 2 | 8);
	if (!(rd(0x70) & 8))
		return -3;
	avail.flags = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: this driver polls */
	wr(0x30, 0);
	if (rd(0x34) < QSZ)
		return -4;
	wr(0x38, QSZ);
	wr(0x80, (uint32_t)(uintptr_t)descs);
	wr(0x84, 0);
	wr(0x90, (uint32_t)(uintptr_t)&avail);
	wr(0x94, 0);
	wr(0xa0, (uint32_t)(uintptr_t)&used);
	wr(0xa4, 0);
	wr(0x44, 1);
	wr(0x70, 1 | 2 | 4 | 8);
	return 0;
}

/* Request number r in slot s: even ones read, odd ones write, spread over nblocks blocks. */
static void post(unsigned s, uint32_t r)
{
	uint16_t h = (uint16_t)(3 * s);
	uint32_t write = r & 1;

	hdr[s].type = write;
	hdr[s].sector = (uint64_t)((r * 2654435761u >> 8) % nblocks) * (BLOCK / 512);
	if (write) { /* a mark the tests find in the image: the data did go through */
		for (unsigned i = 0; i < 8; i++)
			data[s][i] = (uint8_t) "BLKBENCH"[i];
		data[s][8] = (uint8_t)r;
	}
	status[s] = 0xff;
	descs[h] = (struct desc){ (uint32_t)(uintptr_t)&hdr[s], 16, 1, (uint16_t)(h + 1) };
	descs[h + 1] = (struct desc){ (uint32_t)(uintptr_t)data[s], BLOCK,
				      (uint16_t)(1 | (write ? 0 : 2)), (uint16_t)(h + 2) };
	descs[h + 2] = (struct desc){ (uint32_t)(uintptr_t)&status[s], 1, 2, 0 };
	avail.ring[avail.idx % QSZ] = h;
	__asm__ volatile("" ::: "memory");
	avail.idx++;
}

static void kick(void)
{
	__asm__ volatile("mfence" ::: "memory");
	wr(0x50, 0);
}

/* Keep qd requests in flight until total have completed; 0, or -1 on a failed request. */
static int run(unsigned qd, uint32_t total)
{
	static uint16_t last_used;
	uint32_t posted = 0, done = 0;

	for (unsigned s = 0; s < qd && posted < total; s++)
		post(s, posted++);
	kick();
	while (done < total) {
		uint16_t idx = *(volatile uint16_t *)&used.idx;
		int more = 0;

		if (idx == last_used) {
			__asm__ volatile("pause");
			continue;
		}
		__asm__ volatile("" ::: "memory");
		for (; last_used != idx; last_used++) {
			unsigned s = used.ring[last_used % QSZ].id / 3;

			if (status[s] != 0)
				return -1;
			done++;
			if (posted < total) {
				post(s, posted++);
				more = 1;
			}
		}
		if (more)
			kick();
	}
	return 0;
}

/* EFER.LMA: the CPU says it runs in long mode (start64.S asked for it with EFER.LME). */
static int long_mode(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000080u));
	return (lo >> 10) & 1;
}

static unsigned strlen_(const char *s)
{
	unsigned n = 0;

	while (s[n])
		n++;
	return n;
}

/* The number after key on the command line (" key=N"), or dflt. */
static uint32_t arg(const char *cmdline, const char *key, uint32_t dflt)
{
	for (const char *p = cmdline; *p; p++) {
		if ((p != cmdline && p[-1] != ' ') || !streq_prefix(p, key))
			continue;
		uint32_t v = 0;

		for (p += strlen_(key); *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint32_t)(*p - '0');
		return v;
	}
	return dflt;
}

int main(struct start_info *si)
{
	const char *cmdline = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
	uint32_t qd = arg(cmdline, "qd=", 1), n = arg(cmdline, "n=", 20000);

	if (!long_mode()) {
		puts("blkbench: not in long mode\n");
		return 1;
	}
	puts("blkbench long mode\n");
	if (qd < 1 || qd > MAXQD) {
		puts("blkbench: qd must be in [1, 32]\n");
		return 1;
	}
	if (find_device() || setup()) {
		puts("blkbench: no usable virtio-blk device\n");
		return 1;
	}
	nblocks = rd(0x104) ? NBLOCKS : rd(0x100) / (BLOCK / 512); /* capacity, in sectors */
	if (nblocks > NBLOCKS)
		nblocks = NBLOCKS;
	if (nblocks == 0) {
		puts("blkbench: the disk is smaller than 4 KiB\n");
		return 1;
	}
	if (run(qd, WARMUP)) {
		puts("blkbench FAILED\n");
		return 1;
	}
	puts("blkbench go\n");
	if (run(qd, n)) {
		puts("blkbench FAILED\n");
		return 1;
	}
	puts("blkbench done ");
	put_dec(n);
	puts("\n");
	return 0;
}
