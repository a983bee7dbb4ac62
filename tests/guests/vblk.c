/*
 * vblk.c: a small polling virtio-blk driver (virtio-mmio at 0xd0000000): writes a sector, reads
 * it back. With "mode=X" on the command line it then breaks the virtio rules in one way (loop,
 * ahead, outside, badhead) and checks that the device reports DEVICE_NEEDS_RESET, then resets
 * it and checks that it works again. "mode=forever" writes and reads for ever (for tools that
 * watch a running VM); "mode=stuck" moves avail.idx 100 ahead of the ring without a notification
 * and spins, a broken driver left in place for a checker to find; "mode=nokick" makes a request
 * available and never notifies the device; "mode=idle" acknowledges the interrupts of its write
 * and read and spins, "mode=noack" spins leaving them unacknowledged (a polling driver never
 * reads InterruptStatus); both print the InterruptStatus register they leave.
 */
#include "guest.h"

#define MMIO 0xd0000000u
#define QSZ  8

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
} hdr;
static uint8_t data[512], status;
static uint16_t last_used;

static uint32_t rd(uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(MMIO + off);
}

static void wr(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(MMIO + off) = v;
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
	for (unsigned i = 0; i < sizeof(descs); i++)
		((volatile uint8_t *)descs)[i] = 0;
	avail.idx = 0;
	used.idx = 0;
	last_used = 0;
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

/* Make the chain at head available; notify the device unless told not to. */
static void submit_maybe(uint16_t head, int notify)
{
	avail.ring[avail.idx % QSZ] = head;
	__asm__ volatile("" ::: "memory");
	avail.idx++;
	__asm__ volatile("mfence" ::: "memory");
	if (notify)
		wr(0x50, 0);
}

static void submit(uint16_t head)
{
	submit_maybe(head, 1);
}

static int wait_used(void)
{
	for (uint32_t i = 0; i < 200000000u; i++) {
		if (*(volatile uint16_t *)&used.idx != last_used) {
			last_used++;
			return 0;
		}
		__asm__ volatile("pause");
	}
	return -1;
}

static int wait_needs_reset(void)
{
	for (uint32_t i = 0; i < 200000000u; i++) {
		if (rd(0x70) & 0x40)
			return 0;
		__asm__ volatile("pause");
	}
	return -1;
}

/* One request: type, sector; data readable (write) or writable (read). */
static int request(uint32_t type, uint32_t sector)
{
	hdr.type = type;
	hdr.sector = sector;
	status = 0xff;
	descs[0] = (struct desc){ (uint32_t)(uintptr_t)&hdr, 16, 1, 1 };
	descs[1] =
		(struct desc){ (uint32_t)(uintptr_t)data, 512, (uint16_t)(1 | (type ? 0 : 2)), 2 };
	descs[2] = (struct desc){ (uint32_t)(uintptr_t)&status, 1, 2, 0 };
	submit(0);
	if (wait_used())
		return -100;
	return status;
}

static int write_read(uint32_t sector, uint8_t seed)
{
	int rc;

	for (int i = 0; i < 512; i++)
		data[i] = (uint8_t)(seed + i);
	rc = request(1, sector);
	if (rc)
		return rc;
	for (int i = 0; i < 512; i++)
		data[i] = 0;
	rc = request(0, sector);
	if (rc)
		return rc;
	for (int i = 0; i < 512; i++)
		if (data[i] != (uint8_t)(seed + i))
			return -200;
	return 0;
}

static const char *find_mode(const char *cmdline)
{
	for (const char *p = cmdline; *p; p++)
		if (streq_prefix(p, "mode="))
			return p + 5;
	return "";
}

int main(struct start_info *si)
{
	const char *mode = find_mode((const char *)(uintptr_t)si->cmdline_paddr);
	int rc;

	if (rd(0) != 0x74726976 || rd(4) != 2 || rd(8) != 2) {
		puts("vblk: no virtio-blk device\n");
		return 1;
	}
	puts("vblk capacity ");
	put_dec(rd(0x100));
	puts("\n");
	rc = setup();
	if (rc) {
		puts("vblk setup failed ");
		put_dec((uint32_t)-rc);
		puts("\n");
		return 1;
	}
	rc = write_read(3, 0x5a);
	puts(rc ? "vblk write/read FAILED\n" : "vblk write/read ok\n");
	if (!*mode || streq_prefix(mode, "none"))
		return rc;
	if (streq_prefix(mode, "forever")) {
		for (uint32_t n = 1; write_read(n % 64, (uint8_t)n) == 0; n++)
			if (n % 32 == 0) {
				puts("vblk io ");
				put_dec(n);
				puts("\n");
			}
		puts("vblk write/read FAILED\n");
		return 1;
	}
	if (streq_prefix(mode, "idle") || streq_prefix(mode, "noack")) {
		/* idle acknowledges the interrupts of its requests (§4.2.2), noack leaves them */
		if (streq_prefix(mode, "idle"))
			wr(0x64, rd(0x60));
		puts(streq_prefix(mode, "idle") ? "vblk idle" : "vblk noack");
		puts(" interrupt_status ");
		put_dec(rd(0x60));
		puts("\n");
		for (;;)
			__asm__ volatile("pause");
	}
	if (streq_prefix(mode, "nokick")) {
		/* A well-formed read request, made available and never notified. */
		hdr.type = 0;
		hdr.sector = 1;
		descs[0] = (struct desc){ (uint32_t)(uintptr_t)&hdr, 16, 1, 1 };
		descs[1] = (struct desc){ (uint32_t)(uintptr_t)data, 512, 1 | 2, 2 };
		descs[2] = (struct desc){ (uint32_t)(uintptr_t)&status, 1, 2, 0 };
		submit_maybe(0, 0);
		puts("vblk nokick\n");
		for (;;)
			__asm__ volatile("pause");
	}
	if (streq_prefix(mode, "stuck")) {
		avail.idx = (uint16_t)(avail.idx + 100);
		puts("vblk stuck\n");
		for (;;)
			__asm__ volatile("pause");
	}

	/* Break the rules. */
	if (streq_prefix(mode, "loop")) {
		descs[0] = (struct desc){ (uint32_t)(uintptr_t)&hdr, 16, 1, 1 };
		descs[1] = (struct desc){ (uint32_t)(uintptr_t)data, 512, 1, 0 }; /* back to 0 */
		submit(0);
	} else if (streq_prefix(mode, "ahead")) {
		avail.idx = (uint16_t)(avail.idx + 100);
		wr(0x50, 0);
	} else if (streq_prefix(mode, "outside")) {
		descs[0] = (struct desc){ 0xf0000000u, 16, 1, 1 };
		descs[1] = (struct desc){ (uint32_t)(uintptr_t)&status, 1, 2, 0 };
		submit(0);
	} else if (streq_prefix(mode, "badhead")) {
		submit(200);
	} else if (streq_prefix(mode, "hugelen")) {
		descs[0] = (struct desc){ (uint32_t)(uintptr_t)&hdr, 0xfffffff0u, 1, 1 };
		descs[1] = (struct desc){ (uint32_t)(uintptr_t)&status, 1, 2, 0 };
		submit(0);
	}
	if (wait_needs_reset()) {
		puts("vblk: no DEVICE_NEEDS_RESET after mode ");
		puts(mode);
		puts("\n");
		return 1;
	}
	puts("vblk status needs-reset\n");
	if (setup() == 0 && write_read(4, 0x33) == 0)
		puts("vblk recovered ok\n");
	else
		puts("vblk recovery FAILED\n");
	return 0;
}
