/* virtq_packed.c: the device side of packed rings (VIRTIO 1.2 §2.8). */
#include "virtq.h"
#include "virtq_priv.h"

#include <string.h>

/* Event suppression structure: le16 off_wrap, le16 flags. */
#define EV_OFF_WRAP 0
#define EV_FLAGS    2

/* Available to the device: AVAIL matches the driver's wrap counter and USED does not (§2.8.1). */
static inline bool desc_is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

static inline uint16_t ring_flags(const struct virtq *q, uint16_t pos)
{
	return virtq_ld16_acquire(q->desc + (size_t)pos * VIRTQ_DESC_BYTES + VIRTQ_PACKED_FLAGS);
}

/* Advance a position|wrap value by n ring slots (n ≤ size), flipping the counter on wrap. */
static uint16_t pos_advance(const struct virtq *q, uint16_t pw, uint32_t n)
{
	uint32_t pos = (pw & VIRTQ_PACKED_POS_MASK) + n;
	uint16_t wrap = pw & VIRTQ_PACKED_WRAP;

	if (pos >= q->size) {
		pos -= q->size;
		wrap ^= VIRTQ_PACKED_WRAP;
	}
	return (uint16_t)(pos | wrap);
}

static uint16_t pos_retreat(const struct virtq *q, uint16_t pw, uint32_t n)
{
	uint32_t pos = pw & VIRTQ_PACKED_POS_MASK;
	uint16_t wrap = pw & VIRTQ_PACKED_WRAP;

	if (pos < n) {
		pos += q->size;
		wrap ^= VIRTQ_PACKED_WRAP;
	}
	return (uint16_t)((pos - n) | wrap);
}

/*
 * Length of the chain starting at pw, in ring descriptors: 0 when nothing is available there,
 * -EINVAL when the chain runs into a descriptor the driver has not made available (the head must
 * be published last, §2.8.21) or is longer than the ring.
 */
static int chain_span(const struct virtq *q, uint16_t pw)
{
	uint16_t pos = pw & VIRTQ_PACKED_POS_MASK;
	bool wrap = pw & VIRTQ_PACKED_WRAP;
	uint16_t flags;

	if (pos >= q->size)
		return -EINVAL;
	flags = ring_flags(q, pos);
	if (!desc_is_avail(flags, wrap))
		return 0;
	for (uint32_t n = 1; n <= q->size; n++) {
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return (int)n;
		if (++pos == q->size) {
			pos = 0;
			wrap = !wrap;
		}
		flags = ring_flags(q, pos);
		if (!desc_is_avail(flags, wrap))
			return -EINVAL;
	}
	return -EINVAL;
}

uint16_t virtq_packed_len(const struct virtq *q)
{
	uint16_t pw = q->next_avail;
	uint32_t seen = 0;
	uint16_t chains = 0;

	while (seen < q->size) {
		int n = chain_span(q, pw);

		if (n <= 0 || seen + (uint32_t)n > q->size)
			break;
		chains++;
		seen += (uint32_t)n;
		pw = pos_advance(q, pw, (uint32_t)n);
	}
	return chains;
}

static void chain_init(const struct virtq *q, struct virtq_chain *c, uint16_t pos, int n)
{
	uint16_t last = (uint16_t)((pos + (uint32_t)n - 1) % q->size);

	memset(c, 0, sizeof(*c));
	c->q = q;
	c->head = virtq_ld16(q->desc + (size_t)last * VIRTQ_DESC_BYTES +
			     VIRTQ_PACKED_ID); /* id: last desc */
	c->ndesc = (uint16_t)n;
	c->ring_pos = pos;
	c->table = q->desc;
	c->table_len = q->size;
	c->pos = pos;
	c->ring_left = (uint16_t)n;
	c->ttl = q->size;
	c->state = VIRTQ_CHAIN_RING;
}

int virtq_packed_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t pos = q->next_avail & VIRTQ_PACKED_POS_MASK;
	int n = chain_span(q, q->next_avail);

	if (n <= 0)
		return n;
	chain_init(q, c, pos, n);
	q->next_avail = pos_advance(q, q->next_avail, (uint32_t)n);
	return 1;
}

int virtq_packed_chain_start(const struct virtq *q, uint16_t pos, struct virtq_chain *c)
{
	uint16_t flags;
	int n;

	if (pos >= q->size)
		return -EINVAL;
	flags = ring_flags(q, pos);
	n = chain_span(q, (uint16_t)(pos | ((flags & VIRTQ_DESC_F_AVAIL) ? VIRTQ_PACKED_WRAP : 0)));
	if (n <= 0)
		return -EINVAL;
	chain_init(q, c, pos, n);
	return 0;
}

void virtq_packed_undo_pop(struct virtq *q, const struct virtq_chain *c)
{
	q->next_avail = pos_retreat(q, q->next_avail, c->ndesc);
}

int virtq_packed_chain_next(struct virtq_chain *c, struct virtq_desc *d)
{
	for (;;) {
		int rc;

		if (c->state == VIRTQ_CHAIN_DONE)
			return c->error;
		if (c->state == VIRTQ_CHAIN_RING) {
			if (c->ring_left == 0) {
				c->state = VIRTQ_CHAIN_DONE;
				return 0;
			}
			virtq_desc_load(c->table, c->pos, true, d);
			d->in_indirect = false;
			c->pos = c->pos + 1 == c->table_len ? 0 : c->pos + 1;
			c->ring_left--;
			if (d->flags & VIRTQ_DESC_F_INDIRECT) {
				/* an indirect descriptor must be alone, never in a list (§2.8.19)
				 */
				if (c->ndesc != 1) {
					c->state = VIRTQ_CHAIN_DONE;
					c->error = -EINVAL;
					return c->error;
				}
				rc = virtq_chain_enter_indirect(c, d);
				if (rc)
					return rc;
				continue;
			}
		} else {
			if (c->pos >= c->table_len) {
				c->state = VIRTQ_CHAIN_DONE;
				return 0;
			}
			virtq_desc_load(c->table, c->pos, true, d);
			d->in_indirect = true;
			c->pos++;
			if (d->flags & VIRTQ_DESC_F_INDIRECT) {
				c->state = VIRTQ_CHAIN_DONE;
				c->error = -EINVAL; /* nested */
				return c->error;
			}
		}
		return virtq_chain_buffer(c, d);
	}
}

int virtq_packed_add_used(struct virtq *q, uint16_t id, uint16_t ndesc, uint32_t len)
{
	uint16_t pos = q->next_used & VIRTQ_PACKED_POS_MASK;
	bool wrap = q->next_used & VIRTQ_PACKED_WRAP;
	uint8_t *d;
	uint16_t flags;

	if (pos >= q->size || ndesc == 0 || ndesc > q->size)
		return -EINVAL;
	d = q->desc + (size_t)pos * VIRTQ_DESC_BYTES;
	virtq_st32(d + VIRTQ_DESC_LEN, len);
	virtq_st16(d + VIRTQ_PACKED_ID, id);
	flags = wrap ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0;
	if (len)
		flags |= VIRTQ_DESC_F_WRITE; /* len is meaningful (§2.8.3) */
	/* release: id, len and the buffer contents are visible before the flags */
	virtq_st16_release(d + VIRTQ_PACKED_FLAGS, flags);
	q->next_used = pos_advance(q, q->next_used, ndesc);
	q->num_added += ndesc;
	return 0;
}

bool virtq_packed_try_enable_notification(struct virtq *q)
{
	if (!q->event_idx)
		return true;
	if (chain_span(q, q->next_avail) != 0)
		return false;
	virtq_st16(q->device + EV_OFF_WRAP, q->next_avail);
	virtq_st16(q->device + EV_FLAGS, VIRTQ_EVENT_F_DESC);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return chain_span(q, q->next_avail) == 0;
}

/* Linear position modulo 2 * size: the wrap counter is the high "bit". */
static uint32_t lin(const struct virtq *q, uint16_t pw)
{
	return (pw & VIRTQ_PACKED_POS_MASK) + ((pw & VIRTQ_PACKED_WRAP) ? q->size : 0u);
}

bool virtq_packed_prepare_kick(struct virtq *q)
{
	uint32_t n = q->num_added, span = 2u * q->size, now, event;
	uint16_t off_wrap, flags;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	off_wrap = virtq_ld16_acquire(q->driver + EV_OFF_WRAP);
	flags = virtq_ld16_acquire(q->driver + EV_FLAGS) & 3u;
	q->num_added = 0;
	if (flags == VIRTQ_EVENT_F_DISABLE)
		return false;
	/* ENABLE, and the reserved value 3 or DESC without EVENT_IDX: notifying is always safe */
	if (flags != VIRTQ_EVENT_F_DESC || !q->event_idx)
		return true;
	if ((off_wrap & VIRTQ_PACKED_POS_MASK) >= q->size || n >= span)
		return true;
	/* Notify when the descriptor at off_wrap was among the n just written (§2.8.10). */
	now = lin(q, q->next_used);
	event = lin(q, off_wrap);
	return (now + 2 * span - event - 1) % span < n;
}
