/* virtq_priv.h: little-endian ring accesses, the descriptor layout and the packed-ring entry
 * points the virtq_*.c files share (nothing outside them includes this). */
#ifndef CORE_VIRTQ_PRIV_H
#define CORE_VIRTQ_PRIV_H

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtq.h"

/*
 * Guest-shared memory is read once into locals and validated there, so a guest changing it
 * meanwhile cannot make a checked value unchecked. Indices the two sides publish to each other
 * (avail.idx, used.idx, packed flags) use acquire loads and release stores.
 */
static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint16_t ld16_acquire(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE));
}

static inline void st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELEASE);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/* Descriptor: le64 addr, le32 len, then split: le16 flags, next; packed: le16 id, flags. */
#define DESC_ADDR 0
#define DESC_LEN  8
#define SD_FLAGS  12
#define SD_NEXT	  14
#define PD_ID	  12
#define PD_FLAGS  14

/* Decode the descriptor at raw; a packed one's buffer id goes in d->next. */
static inline void virtq_desc_decode(const uint8_t *raw, bool packed, uint32_t index,
				     struct virtq_desc *d)
{
	d->addr = ld64(raw + DESC_ADDR);
	d->len = ld32(raw + DESC_LEN);
	d->flags = ld16(raw + (packed ? PD_FLAGS : SD_FLAGS));
	d->next = ld16(raw + (packed ? PD_ID : SD_NEXT));
	d->index = (uint16_t)index;
}

/* Copy descriptor index of a table (16-byte entries) once, then decode the copy. */
static inline void virtq_desc_load(const uint8_t *table, uint32_t index, bool packed,
				   struct virtq_desc *d)
{
	uint8_t raw[VIRTQ_DESC_BYTES];

	memcpy(raw, table + (size_t)index * VIRTQ_DESC_BYTES, sizeof(raw));
	virtq_desc_decode(raw, packed, index, d);
}

/*
 * Behind virtq.h's calls: the packed-ring versions (virtq_packed.c) and the walk steps both
 * formats share (virtq.c). Devices do not call these; struct virtq_chain's state takes the
 * VIRTQ_CHAIN_* values.
 */
enum { VIRTQ_CHAIN_RING, VIRTQ_CHAIN_INDIRECT, VIRTQ_CHAIN_DONE };
uint16_t virtq_packed_len(const struct virtq *q);
int virtq_packed_pop(struct virtq *q, struct virtq_chain *c);
int virtq_packed_chain_start(const struct virtq *q, uint16_t pos, struct virtq_chain *c);
void virtq_packed_undo_pop(struct virtq *q, const struct virtq_chain *c);
int virtq_packed_chain_next(struct virtq_chain *c, struct virtq_desc *d);
int virtq_packed_add_used(struct virtq *q, uint16_t id, uint16_t ndesc, uint32_t len);
bool virtq_packed_try_enable_notification(struct virtq *q);
bool virtq_packed_prepare_kick(struct virtq *q);
int virtq_chain_enter_indirect(struct virtq_chain *c, const struct virtq_desc *d);

static inline int virtq_chain_fail(struct virtq_chain *c, int err)
{
	c->state = VIRTQ_CHAIN_DONE;
	c->error = err;
	return err;
}

/* The checks every buffer descriptor gets, in both formats (inline: it is on every walk step). */
static inline int virtq_chain_buffer(struct virtq_chain *c, struct virtq_desc *d)
{
	if (c->ttl == 0)
		return virtq_chain_fail(c, -ELOOP);
	if (d->flags & VIRTQ_DESC_F_WRITE)
		c->seen_write = true;
	else if (c->seen_write)
		return virtq_chain_fail(c, -EINVAL); /* readable after writable, §2.7.4.2 */
	d->hva = NULL;
	if (d->len) {
		d->hva = guestmem_ptr(c->q->mem, d->addr, d->len);
		if (!d->hva)
			return virtq_chain_fail(c, -EFAULT);
	}
	c->ttl--;
	return 1;
}

#endif
