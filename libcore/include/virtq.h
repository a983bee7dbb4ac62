/* virtq.h: virtqueues (VIRTIO 1.2 §2.7 split, §2.8 packed): device-side operations and checks. */
#ifndef CORE_VIRTQ_H
#define CORE_VIRTQ_H

#include "err.h"
#include "guestmem.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * The queue logic knows nothing of its transport (MMIO, PCI): the transport fills the
 * configuration fields of struct virtq from the driver's register writes, calls virtq_init when
 * the driver sets the queue ready, and turns prepare_kick's answer into an interrupt.
 */

#define VIRTQ_MAX_SIZE	 32768u
#define VIRTQ_DESC_BYTES 16u

/* Descriptor flags (§2.7.5, §2.8.13). */
#define VIRTQ_DESC_F_NEXT     0x0001u
#define VIRTQ_DESC_F_WRITE    0x0002u
#define VIRTQ_DESC_F_INDIRECT 0x0004u
#define VIRTQ_DESC_F_AVAIL    0x0080u /* packed only */
#define VIRTQ_DESC_F_USED     0x8000u /* packed only */

/* Ring flags (§2.7.7, §2.7.10) and packed event suppression flags (§2.8.10). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY	   1u
#define VIRTQ_EVENT_F_ENABLE	   0u
#define VIRTQ_EVENT_F_DISABLE	   1u
#define VIRTQ_EVENT_F_DESC	   2u

/* Packed rings keep a ring position and a wrap counter in one u16: bit 15 is the counter. */
#define VIRTQ_PACKED_WRAP     0x8000u
#define VIRTQ_PACKED_POS_MASK 0x7fffu

/*
 * The driver's wrap counter at a packed ring position, guessed from the flags of the descriptor
 * there, for when only the position is known (QEMU reports last_avail_idx without it). The
 * driver's counter starts at 1 and flips each lap; it makes a descriptor available with AVAIL ==
 * counter and USED != counter, and the device marks it used with AVAIL == USED == its counter
 * (§2.8.1). So USED clear reads as counter 1 and USED set as 0, and a used descriptor gives the
 * counter of the lap after the one it was used in, when the driver will make it available next.
 * Ambiguous: a descriptor the device skipped (not the first of a chain it used) keeps the flags
 * the driver gave it a lap before, and reads as available in that earlier lap.
 */
static inline uint16_t virtq_packed_wrap_guess(uint16_t flags)
{
	return (flags & VIRTQ_DESC_F_USED) ? 0 : VIRTQ_PACKED_WRAP;
}

/* Split ring layout (§2.7): byte sizes of the three areas and offsets inside them. */
static inline uint64_t virtq_split_desc_bytes(uint32_t size)
{
	return 16ull * size;
}
static inline uint64_t virtq_split_avail_bytes(uint32_t size)
{
	return 6ull + 2ull * size; /* flags, idx, ring[size], used_event */
}
static inline uint64_t virtq_split_used_bytes(uint32_t size)
{
	return 6ull + 8ull * size; /* flags, idx, ring[size] {id, len}, avail_event */
}
#define VIRTQ_PACKED_EVENT_BYTES 4u /* {le16 off_wrap, le16 flags} */

/*
 * vring_need_event: true when event lies in [old, new) modulo 2^16, i.e. when the index the
 * other side asked to hear about was crossed between old and new (§2.7.7.2, §2.7.10).
 */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

struct virtq {
	/* Configuration, written by the transport from the driver's register writes. */
	uint16_t max_size; /* what the device offers */
	uint16_t size;	   /* what the driver chose */
	bool ready;
	bool packed;	/* VIRTIO_F_RING_PACKED */
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	gpa_t desc_gpa;
	gpa_t driver_gpa; /* split: available ring; packed: driver event suppression */
	gpa_t device_gpa; /* split: used ring; packed: device event suppression */

	/*
	 * Device state (saved and restored by snapshots). Split: free-running indices.
	 * Packed: position | wrap counter << 15 (both counters start at 1: 0x8000).
	 */
	uint16_t next_avail;
	uint16_t next_used;
	uint16_t num_added; /* used entries (packed: descriptors) since the last prepare_kick */
	/* next_used when the transport last sent the driver a used-buffer notification */
	uint16_t signalled_used;

	/* Set by virtq_init: host views of the three areas, checked once against guest memory. */
	const struct guestmem *mem;
	unsigned mem_region; /* the region of the descriptor table: buffers are looked up there
				first */
	uint8_t *desc;
	uint8_t *driver;
	uint8_t *device;
};

/* Reset the device state to what a freshly reset queue has (§2.6.1.1.1). */
void virtq_reset_state(struct virtq *q);

/*
 * Check the configuration (ready, size ≤ max_size, split: a power of two ≤ 2^15; packed: ≤ 2^15,
 * alignments 16/2/4 or 16/4/4) and that the areas lie in guest memory, then cache host pointers.
 * On failure the queue is not usable (-EINVAL, -EFAULT) and the message says why.
 */
int virtq_init(struct virtq *q, const struct guestmem *mem, struct err *e);
static inline bool virtq_is_initialized(const struct virtq *q)
{
	return q->mem != NULL;
}

/* One descriptor as the device sees it: copied once from guest memory, then validated. */
struct virtq_desc {
	gpa_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;	  /* split: next index; packed: buffer id */
	uint16_t index;	  /* its index in the ring (or in the indirect table) */
	bool in_indirect; /* it came from an indirect table */
	uint8_t *hva;	  /* host pointer to the len bytes (NULL when len is 0) */
};

/*
 * A chain popped from the queue and its iterator. No allocation: the walk state lives here,
 * and the walk is bounded by the queue size (a chain has at most size buffer descriptors,
 * §2.7.5.3.1, §2.8.17), whatever the guest writes meanwhile.
 */
struct virtq_chain {
	uint16_t head;	/* split: head descriptor index; packed: buffer id */
	uint16_t ndesc; /* packed: ring descriptors the chain occupies (split: 1) */
	uint16_t ring_pos;
	/* walk state */
	const struct virtq *q;
	const uint8_t *table;
	uint32_t table_len; /* entries in table */
	uint32_t pos;	    /* next entry of table to read */
	uint32_t ttl;	    /* buffer descriptors the walk may still return */
	uint16_t ring_left; /* packed: ring descriptors left to read */
	uint8_t state;	    /* where the walk is (private to the virtq_*.c files) */
	bool seen_write;
	bool via_indirect;		 /* the walk went through an indirect table... */
	struct virtq_desc indirect_desc; /* ...that this descriptor refers to */
	int error; /* why the walk stopped early (negative errno), 0 otherwise */
};

/* Available chains not yet popped (split: avail.idx - next_avail; packed: a bounded count). */
uint16_t virtq_len(const struct virtq *q);
bool virtq_is_empty(const struct virtq *q);

/*
 * Pop the next available chain: 1 with *c ready to walk, 0 when empty. Errors: -EPROTO when the
 * driver reports more than size new entries (next_avail is resynced to avail.idx, dropping them),
 * -EINVAL when the head is unusable (index ≥ size, NEXT with next ≥ size): nothing is consumed,
 * the queue stays on that entry and the device should stop it (DEVICE_NEEDS_RESET).
 */
static inline int virtq_pop(struct virtq *q, struct virtq_chain *c);
/*
 * Start walking a chain without popping it (for inspection): split, from descriptor head, with
 * c->ring_pos from virtq_avail_find; packed, from ring position head (its AVAIL bit gives the
 * wrap counter to match). -EINVAL when head is out of range or the chain cannot be walked.
 */
int virtq_chain_start(const struct virtq *q, uint16_t head, struct virtq_chain *c);

/* A ring position that is none (split sizes stop at 2^15, so no slot is 0xffff). */
#define VIRTQ_RING_POS_NONE 0xffffu
/*
 * Split: the available ring slot where head was made available, searched among the entries the
 * device has not returned yet by count, from next_used to avail.idx (all size entries when that
 * is more than size), newest first. VIRTQ_RING_POS_NONE when head is not among them, as for a
 * chain already returned or never made available (or in flight while later ones were returned).
 */
uint16_t virtq_avail_find(const struct virtq *q, uint16_t head);
/* Give back the chain popped last (it will be popped again). */
void virtq_undo_pop(struct virtq *q, const struct virtq_chain *c);

/* Next descriptor of the chain: 1 and *d filled, 0 at the end, -errno for a malformed chain. */
static inline int virtq_chain_next(struct virtq_chain *c, struct virtq_desc *d);

/*
 * Split-only "checked_new": read descriptor index of the ring's table. -EINVAL when index ≥ size,
 * or when it has NEXT with next ≥ size.
 */
int virtq_desc_checked(const struct virtq *q, uint16_t index, struct virtq_desc *d);

/*
 * Return a chain to the driver with len bytes written. Split: head must be < size (-EINVAL,
 * nothing changed otherwise); the used element is written at next_used, then next_used and
 * used.idx advance by one. Packed: c->head is the buffer id and the ring advances by c->ndesc.
 */
static inline int virtq_add_used(struct virtq *q, uint16_t head, uint32_t len);
int virtq_add_used_chain(struct virtq *q, const struct virtq_chain *c, uint32_t len);
/* Split batching: write elements at ring_index (free-running), then publish n of them. */
int virtq_write_used_element(struct virtq *q, uint16_t ring_index, uint16_t head, uint32_t len);
void virtq_advance_used_ring_idx(struct virtq *q, uint16_t n);

/*
 * Ask the driver for a notification on the next available buffer. Returns true when the device
 * may sleep (nothing is available), false when new chains arrived meanwhile and must be popped.
 * Without EVENT_IDX notifications are never suppressed, so it returns true.
 */
bool virtq_try_enable_notification(struct virtq *q);

/*
 * After adding used entries: whether to notify the driver (§2.7.7.2 / §2.8.10). Resets num_added.
 * Split without EVENT_IDX: not while avail.flags has NO_INTERRUPT (a SHOULD NOT; drivers set it
 * while they poll the used ring); with EVENT_IDX, only when used_event was crossed.
 */
bool virtq_prepare_kick(struct virtq *q);

/* Fields the driver wrote, read through the cached views (for status and tests). */
uint16_t virtq_avail_idx(const struct virtq *q);
uint16_t virtq_used_event(const struct virtq *q);
uint16_t virtq_avail_event(const struct virtq *q);

/* ------------------------------------------------------------------------------------------ */
/* Checking a queue against the specification (vq-inspect check). */

enum virtq_severity {
	VIRTQ_SEV_ERROR,
	VIRTQ_SEV_WARNING,
};

struct virtq_finding {
	enum virtq_severity severity;
	const char *section; /* VIRTIO 1.2 section, e.g. "2.7.5.2" */
	char where[48];	     /* "desc[5]", "avail.ring[3]", "indirect[0x1000][2]", "size", ... */
	char message[200];
};

typedef void virtq_report_fn(const struct virtq_finding *f, void *arg);

/* Device-side indices for check; has_* false means "unknown" (see vq-inspect(1)). */
struct virtq_check_opts {
	bool has_last_avail;
	bool has_next_used;
	uint16_t last_avail;
	uint16_t next_used;
};

/*
 * Validate the queue configured in q (virtq_init is not needed: check reads through guest memory
 * and reports what makes the queue unusable, too). Every finding goes to report. Returns the
 * number of error findings. Bounded: O(size) ring entries, each chain at most size descriptors.
 */
unsigned virtq_check(const struct virtq *q, const struct guestmem *mem,
		     const struct virtq_check_opts *opts, virtq_report_fn *report, void *arg);

const char *virtq_severity_name(enum virtq_severity s);

/* ------------------------------------------------------------------------------------------ */
/* Why a split queue does not move (vq-inspect status --api-sock). */

enum virtq_stall {
	VIRTQ_STALL_IDLE,		/* nothing outstanding, nothing owed */
	VIRTQ_STALL_INTERRUPT_NOT_SENT, /* used entries the driver asked to hear of, unsignalled */
	VIRTQ_STALL_KICK_PENDING,	/* the VM is paused: the kick is served on resume */
	VIRTQ_STALL_KICK_SUPPRESSED,	/* the device asked for no notification (§2.7.10) */
	VIRTQ_STALL_NOT_KICKED,		/* available buffers, never notified (§2.7.13.4) */
	VIRTQ_STALL_DEVICE_OWES,	/* chains taken by the device and not yet used */
	VIRTQ_STALL_INTERRUPT_UNACKED,	/* an interrupt raised, not acknowledged by the driver */
};

/* What the decision reads: the rings in guest memory, and the device's own state. */
struct virtq_stall_state {
	bool event_idx;
	/* written by the driver */
	uint16_t avail_flags, avail_idx, used_event;
	/* written by the device into guest memory */
	uint16_t used_flags, avail_event;
	/* the device's own: indices, the used index it last signalled at, a kick held by a pause */
	uint16_t next_avail, next_used, signalled_used;
	bool kick_pending;
	/* the transport's interrupt status still has the used-buffer bit (virtio-mmio 0x060) */
	bool interrupt_unacked;
};

/*
 * The first that holds, in this order: used entries in [signalled_used, next_used) that the
 * driver asked to be told of (EVENT_IDX: used_event among them, §2.7.7.2; otherwise avail.flags
 * without NO_INTERRUPT) and no notification since: a device that did not send one, or a driver
 * that changed used_event or flags after the device looked and did not check the used ring
 * itself; then buffers the device has not taken (the kick waits for a resume; the device
 * suppressed it; the driver never kicked); taken and not returned; an interrupt still pending
 * in the transport; otherwise idle.
 */
enum virtq_stall virtq_stall_split(const struct virtq_stall_state *s);
/* "idle", "interrupt-not-sent", "kick-pending", ... (as vq-inspect prints it). */
const char *virtq_stall_name(enum virtq_stall st);

/* ------------------------------------------------------------------------------------------ */
/*
 * The device's hot path, inline: virtq_pop, virtq_chain_next and virtq_add_used of a split ring
 * compile into the device's own loop, so that serving a chain makes no call (out of line, their
 * four calls a chain were a tenth of its time in tests/bench/bench_virtq.c). Packed rings,
 * indirect tables and the rare calls stay out of line in virtq.c and virtq_packed.c. Devices call
 * the three documented above; the rest below only serves them and the virtq_*.c files.
 */

/*
 * Guest-shared memory is read once into locals and validated there, so a guest changing it
 * meanwhile cannot make a checked value unchecked. Indices the two sides publish to each other
 * (avail.idx, used.idx, packed flags) use acquire loads and release stores.
 */
static inline uint16_t virtq_ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t virtq_ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t virtq_ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint16_t virtq_ld16_acquire(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE));
}

static inline void virtq_st16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void virtq_st16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELEASE);
}

static inline void virtq_st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

/* Descriptor: le64 addr, le32 len, then split: le16 flags, next; packed: le16 id, flags. */
#define VIRTQ_DESC_ADDR	   0
#define VIRTQ_DESC_LEN	   8
#define VIRTQ_SPLIT_FLAGS  12
#define VIRTQ_SPLIT_NEXT   14
#define VIRTQ_PACKED_ID	   12
#define VIRTQ_PACKED_FLAGS 14
/* Split ring offsets: available ring (flags, idx, ring[]) and used ring (flags, idx, ring[]). */
#define VIRTQ_AVAIL_FLAGS 0
#define VIRTQ_AVAIL_IDX	  2
#define VIRTQ_AVAIL_RING  4
#define VIRTQ_USED_FLAGS  0
#define VIRTQ_USED_IDX	  2
#define VIRTQ_USED_RING	  4

/* Decode the descriptor at raw; a packed one's buffer id goes in d->next. */
static inline void virtq_desc_decode(const uint8_t *raw, bool packed, uint32_t index,
				     struct virtq_desc *d)
{
	d->addr = virtq_ld64(raw + VIRTQ_DESC_ADDR);
	d->len = virtq_ld32(raw + VIRTQ_DESC_LEN);
	d->flags = virtq_ld16(raw + (packed ? VIRTQ_PACKED_FLAGS : VIRTQ_SPLIT_FLAGS));
	d->next = virtq_ld16(raw + (packed ? VIRTQ_PACKED_ID : VIRTQ_SPLIT_NEXT));
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

/* Where a chain's walk is (struct virtq_chain's state). */
enum { VIRTQ_CHAIN_RING, VIRTQ_CHAIN_INDIRECT, VIRTQ_CHAIN_DONE };

/* Out of line: the packed-ring versions (virtq_packed.c) and the indirect step (virtq.c). */
int virtq_packed_pop(struct virtq *q, struct virtq_chain *c);
int virtq_packed_chain_next(struct virtq_chain *c, struct virtq_desc *d);
int virtq_packed_add_used(struct virtq *q, uint16_t id, uint16_t ndesc, uint32_t len);
int virtq_chain_next_indirect(struct virtq_chain *c, struct virtq_desc *d);

static inline int virtq_chain_fail(struct virtq_chain *c, int err)
{
	c->state = VIRTQ_CHAIN_DONE;
	c->error = err;
	return err;
}

/* The checks every buffer descriptor gets, in both formats. */
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
		d->hva = guestmem_ptr_near(c->q->mem, c->q->mem_region, d->addr, d->len);
		if (!d->hva)
			return virtq_chain_fail(c, -EFAULT);
	}
	c->ttl--;
	return 1;
}

static inline void virtq_chain_init(const struct virtq *q, struct virtq_chain *c, uint16_t head,
				    uint16_t pos)
{
	c->q = q;
	c->head = head;
	c->ndesc = 1;
	c->ring_pos = pos;
	c->table = q->desc;
	c->table_len = q->size;
	c->pos = head;
	c->ttl = q->size;
	c->ring_left = 0;
	c->state = VIRTQ_CHAIN_RING;
	c->seen_write = false;
	c->via_indirect = false;
	c->error = 0;
}

/*
 * virtq_desc_checked's checks of a chain's head, reading only the fields they need (flags, next)
 * and each once, as the walk reads the whole descriptor again anyway.
 */
static inline int virtq_head_checked(const struct virtq *q, uint16_t index)
{
	const uint8_t *raw = q->desc + (size_t)index * VIRTQ_DESC_BYTES;
	uint32_t flags_next;

	if (index >= q->size)
		return -EINVAL;
	memcpy(&flags_next, raw + VIRTQ_SPLIT_FLAGS, sizeof(flags_next)); /* a consistent pair */
	flags_next = le32toh(flags_next);
	if ((flags_next & VIRTQ_DESC_F_NEXT) && (flags_next >> 16) >= q->size)
		return -EINVAL;
	return 0;
}

static inline int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t idx, len, pos, head;
	int rc;

	if (q->packed)
		return virtq_packed_pop(q, c);
	idx = virtq_ld16_acquire(q->driver + VIRTQ_AVAIL_IDX); /* ring entries are read after it */
	len = (uint16_t)(idx - q->next_avail);
	if (len == 0)
		return 0;
	if (len > q->size) {
		/*
		 * The driver claims more new entries than the ring holds: it is broken or
		 * malicious. Processing them would make the device use entries twice; drop them.
		 */
		q->next_avail = idx;
		return -EPROTO;
	}
	pos = q->next_avail & (q->size - 1);
	head = virtq_ld16(q->driver + VIRTQ_AVAIL_RING + 2u * pos);
	rc = virtq_head_checked(q, head);
	if (rc)
		return rc;
	q->next_avail++;
	virtq_chain_init(q, c, head, pos);
	return 1;
}

static inline int virtq_chain_next(struct virtq_chain *c, struct virtq_desc *d)
{
	int rc;

	if (c->q->packed)
		return virtq_packed_chain_next(c, d);
	if (c->state == VIRTQ_CHAIN_DONE)
		return c->error;
	if (c->ttl == 0)
		return virtq_chain_fail(c, -ELOOP);
	if (c->pos >= c->table_len)
		return virtq_chain_fail(c, -EINVAL);
	virtq_desc_load(c->table, c->pos, false, d);
	d->in_indirect = c->state == VIRTQ_CHAIN_INDIRECT;
	if (d->flags & VIRTQ_DESC_F_INDIRECT)
		return virtq_chain_next_indirect(c, d);
	rc = virtq_chain_buffer(c, d);
	if (rc < 0)
		return rc;
	if (d->flags & VIRTQ_DESC_F_NEXT) {
		if (d->next >= c->table_len)
			return virtq_chain_fail(c, -EINVAL);
		c->pos = d->next;
	} else {
		c->state = VIRTQ_CHAIN_DONE;
	}
	return 1;
}

static inline int virtq_write_used_element_split(struct virtq *q, uint16_t ring_index,
						 uint16_t head, uint32_t len)
{
	uint8_t *elem;

	if (q->packed)
		return -EOPNOTSUPP;
	if (head >= q->size)
		return -EINVAL;
	elem = q->device + VIRTQ_USED_RING + 8u * (ring_index & (q->size - 1));
	virtq_st32(elem, head);
	virtq_st32(elem + 4, len);
	return 0;
}

static inline void virtq_advance_used_idx_split(struct virtq *q, uint16_t n)
{
	q->next_used += n;
	q->num_added += n;
	/* release: the elements (and the buffers' contents) are visible before the index */
	virtq_st16_release(q->device + VIRTQ_USED_IDX, q->next_used);
}

static inline int virtq_add_used(struct virtq *q, uint16_t head, uint32_t len)
{
	int rc = virtq_write_used_element_split(q, q->next_used, head, len);

	if (rc)
		return rc;
	virtq_advance_used_idx_split(q, 1);
	return 0;
}

#endif
