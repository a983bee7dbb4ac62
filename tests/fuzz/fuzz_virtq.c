/* fuzz_virtq.c: libFuzzer target: the device side of a queue and `check` on arbitrary memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "virtq.h"

/*
 * Input: a 16-byte header, then guest memory (at most 64 KiB, one region at GPA 0x1000).
 * Header: u16 size, u8 flags (packed, event_idx, indirect, pass last_avail/next_used),
 * u8 unused, u16 desc, u16 driver, u16 device (offsets into the memory), u16 last_avail,
 * u16 next_used, u16 head, u16 unused. Offsets are used as they are, so areas can be
 * misaligned, overlap or run past the region: the code must cope with all of it.
 */
#define HDR	16
#define MEM_GPA 0x1000ull
#define MEM_MAX 0x10000u

static uint16_t rd(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void sink(const struct virtq_finding *f, void *arg)
{
	/* touch every field so that a bad string or section pointer is seen by ASan */
	*(size_t *)arg += strlen(f->section) + strlen(f->where) + strlen(f->message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct guestmem gm;
	struct virtq q = { 0 };
	struct virtq_check_opts co = { 0 };
	struct virtq_chain c;
	struct virtq_desc d;
	size_t mem_len, total = 0;
	uint8_t *mem;

	if (len < HDR)
		return 0;
	mem_len = len - HDR > MEM_MAX ? MEM_MAX : len - HDR;
	/* an exact heap copy: any access past its end is an ASan report */
	mem = malloc(mem_len ? mem_len : 1);
	if (!mem)
		return 0;
	memcpy(mem, data + HDR, mem_len);
	guestmem_init(&gm);
	if (mem_len)
		guestmem_add(&gm, MEM_GPA, mem, mem_len, NULL);

	q.size = q.max_size = rd(data);
	q.packed = data[2] & 1;
	q.event_idx = data[2] & 2;
	q.indirect = data[2] & 4;
	q.ready = true;
	q.desc_gpa = MEM_GPA + rd(data + 4);
	q.driver_gpa = MEM_GPA + rd(data + 6);
	q.device_gpa = MEM_GPA + rd(data + 8);
	co.has_last_avail = data[2] & 8;
	co.has_next_used = data[2] & 16;
	co.last_avail = rd(data + 10);
	co.next_used = rd(data + 12);

	virtq_check(&q, &gm, &co, sink, &total);

	virtq_reset_state(&q);
	if (co.has_last_avail)
		q.next_avail = co.last_avail;
	if (co.has_next_used)
		q.next_used = co.next_used;
	if (virtq_init(&q, &gm, NULL) == 0) {
		/* device loop: bounded by construction (pop gives at most size chains here) */
		for (unsigned i = 0; i <= q.size; i++) {
			int rc = virtq_pop(&q, &c);

			if (rc <= 0)
				break;
			while (virtq_chain_next(&c, &d) > 0)
				if (d.len)
					total += d.hva[0] + d.hva[d.len - 1];
			virtq_add_used_chain(&q, &c, d.len);
			if (i & 1)
				virtq_undo_pop(&q, &c);
		}
		if (virtq_chain_start(&q, rd(data + 14), &c) == 0)
			while (virtq_chain_next(&c, &d) > 0)
				total += d.len;
		virtq_try_enable_notification(&q);
		virtq_prepare_kick(&q);
		virtq_add_used(&q, rd(data + 14), 0);
	}
	guestmem_close(&gm);
	free(mem);
	return total == 0xdeadbeef; /* keep total alive */
}
