/* virtq.c: virtqueue set-up, and the device side of split rings (VIRTIO 1.2 §2.7). */
#include "virtq.h"
#include "virtq_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void virtq_reset_state(struct virtq *q)
{
	q->next_avail = q->packed ? VIRTQ_PACKED_WRAP : 0;
	q->next_used = q->packed ? VIRTQ_PACKED_WRAP : 0;
	q->num_added = 0;
	q->signalled_used = q->next_used;
}

/* Host view of one area: in guest memory, and aligned on the host too (for atomic accesses). */
static int area_view(const struct guestmem *mem, const char *name, gpa_t gpa, uint64_t len,
		     unsigned align, uint8_t **out, struct err *e)
{
	uint8_t *p;

	if (gpa & (align - 1))
		return err_set(e, EINVAL, "%s at 0x%" PRIx64 " is not %u-byte aligned", name, gpa,
			       align);
	if (guestmem_range_wraps(gpa, len))
		return err_set(e, EFAULT, "%s [0x%" PRIx64 ", +0x%" PRIx64 ") wraps past 2^64",
			       name, gpa, len);
	p = guestmem_ptr(mem, gpa, len);
	if (!p)
		return err_set(e, EFAULT,
			       "%s [0x%" PRIx64 ", +0x%" PRIx64 ") is not inside guest memory",
			       name, gpa, len);
	if ((uintptr_t)p & (align - 1))
		return err_set(e, EINVAL, "%s: host mapping at %p is not %u-byte aligned", name,
			       (void *)p, align);
	*out = p;
	return 0;
}

int virtq_init(struct virtq *q, const struct guestmem *mem, struct err *e)
{
	uint8_t *desc, *driver, *device;
	uint32_t n = q->size;
	int rc;

	q->mem = NULL;
	q->desc = q->driver = q->device = NULL;
	if (!q->ready)
		return err_set(e, EINVAL, "queue is not ready");
	if (n == 0 || n > VIRTQ_MAX_SIZE)
		return err_set(e, EINVAL, "queue size %u is not in [1, %u]", n, VIRTQ_MAX_SIZE);
	if (n > q->max_size)
		return err_set(e, EINVAL, "queue size %u is larger than the device's maximum %u", n,
			       q->max_size);
	if (!q->packed && (n & (n - 1)))
		return err_set(e, EINVAL, "queue size %u is not a power of two", n);
	if (q->packed) {
		rc = area_view(mem, "descriptor ring", q->desc_gpa, 16ull * n, 16, &desc, e);
		if (!rc)
			rc = area_view(mem, "driver event area", q->driver_gpa,
				       VIRTQ_PACKED_EVENT_BYTES, 4, &driver, e);
		if (!rc)
			rc = area_view(mem, "device event area", q->device_gpa,
				       VIRTQ_PACKED_EVENT_BYTES, 4, &device, e);
	} else {
		rc = area_view(mem, "descriptor table", q->desc_gpa, virtq_split_desc_bytes(n), 16,
			       &desc, e);
		if (!rc)
			rc = area_view(mem, "available ring", q->driver_gpa,
				       virtq_split_avail_bytes(n), 2, &driver, e);
		if (!rc)
			rc = area_view(mem, "used ring", q->device_gpa, virtq_split_used_bytes(n),
				       4, &device, e);
	}
	if (rc)
		return rc;
	q->desc = desc;
	q->driver = driver;
	q->device = device;
	q->mem = mem;
	q->mem_region = guestmem_region_of(mem, q->desc_gpa);
	return 0;
}

uint16_t virtq_avail_idx(const struct virtq *q)
{
	return virtq_ld16_acquire(q->driver + VIRTQ_AVAIL_IDX);
}

uint16_t virtq_used_event(const struct virtq *q)
{
	return virtq_ld16_acquire(q->driver + VIRTQ_AVAIL_RING + 2u * q->size);
}

uint16_t virtq_avail_event(const struct virtq *q)
{
	return virtq_ld16_acquire(q->device + VIRTQ_USED_RING + 8u * q->size);
}

uint16_t virtq_len(const struct virtq *q)
{
	if (q->packed)
		return virtq_packed_len(q);
	return (uint16_t)(virtq_avail_idx(q) - q->next_avail);
}

bool virtq_is_empty(const struct virtq *q)
{
	return virtq_len(q) == 0;
}

int virtq_desc_checked(const struct virtq *q, uint16_t index, struct virtq_desc *d)
{
	if (index >= q->size)
		return -EINVAL;
	virtq_desc_load(q->desc, index, false, d);
	d->in_indirect = false;
	d->hva = NULL;
	if ((d->flags & VIRTQ_DESC_F_NEXT) && d->next >= q->size)
		return -EINVAL;
	return 0;
}

int virtq_chain_start(const struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	struct virtq_desc d;
	int rc;

	if (q->packed)
		return virtq_packed_chain_start(q, head, c);
	rc = virtq_desc_checked(q, head, &d);
	if (rc)
		return rc;
	virtq_chain_init(q, c, head, virtq_avail_find(q, head));
	return 0;
}

uint16_t virtq_avail_find(const struct virtq *q, uint16_t head)
{
	uint16_t avail_idx = virtq_avail_idx(q);
	uint16_t outstanding = (uint16_t)(avail_idx - q->next_used);

	if (outstanding > q->size)
		outstanding = q->size;
	for (uint32_t k = 1; k <= outstanding; k++) {
		uint16_t pos = (uint16_t)(avail_idx - k) & (q->size - 1);

		if (virtq_ld16(q->driver + VIRTQ_AVAIL_RING + 2u * pos) == head)
			return pos;
	}
	return VIRTQ_RING_POS_NONE;
}

void virtq_undo_pop(struct virtq *q, const struct virtq_chain *c)
{
	if (q->packed) {
		virtq_packed_undo_pop(q, c);
		return;
	}
	q->next_avail--;
}

/* Switch the walk into the indirect table d refers to (§2.7.5.3, §2.8.7). */
int virtq_chain_enter_indirect(struct virtq_chain *c, const struct virtq_desc *d)
{
	const uint8_t *table;

	if (c->state == VIRTQ_CHAIN_INDIRECT)
		return virtq_chain_fail(c, -EINVAL); /* nested */
	if (!c->q->indirect)
		return virtq_chain_fail(c, -EINVAL); /* not negotiated */
	if (d->len == 0 || d->len % VIRTQ_DESC_BYTES)
		return virtq_chain_fail(c, -EINVAL);
	table = guestmem_ptr_near(c->q->mem, c->q->mem_region, d->addr, d->len);
	if (!table)
		return virtq_chain_fail(c, -EFAULT);
	c->table = table;
	c->table_len = d->len / VIRTQ_DESC_BYTES;
	c->pos = 0;
	c->state = VIRTQ_CHAIN_INDIRECT;
	c->via_indirect = true;
	c->indirect_desc = *d;
	return 0;
}

/*
 * The walk steps into the indirect table d refers to and goes on there (§2.7.5.3). Out of line, so
 * that the common step (virtq.h) makes no call.
 */
int virtq_chain_next_indirect(struct virtq_chain *c, struct virtq_desc *d)
{
	int rc;

	if (d->flags & VIRTQ_DESC_F_NEXT)
		return virtq_chain_fail(c, -EINVAL);
	rc = virtq_chain_enter_indirect(c, d);
	if (rc)
		return rc;
	/* once more: enter_indirect refuses a nested table, so this does not recurse again */
	return virtq_chain_next(c, d);
}

int virtq_write_used_element(struct virtq *q, uint16_t ring_index, uint16_t head, uint32_t len)
{
	return virtq_write_used_element_split(q, ring_index, head, len);
}

void virtq_advance_used_ring_idx(struct virtq *q, uint16_t n)
{
	virtq_advance_used_idx_split(q, n);
}

int virtq_add_used_chain(struct virtq *q, const struct virtq_chain *c, uint32_t len)
{
	if (q->packed)
		return virtq_packed_add_used(q, c->head, c->ndesc, len);
	return virtq_add_used(q, c->head, len);
}

bool virtq_try_enable_notification(struct virtq *q)
{
	if (q->packed)
		return virtq_packed_try_enable_notification(q);
	if (!q->event_idx)
		return true;
	if (virtq_len(q) != 0)
		return false;
	/* Ask for a notification when the driver publishes the entry at next_avail. */
	virtq_st16(q->device + VIRTQ_USED_RING + 8u * q->size, q->next_avail);
	/* The store must be visible before avail.idx is read again, or a kick can be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_avail_idx(q) == q->next_avail;
}

bool virtq_prepare_kick(struct virtq *q)
{
	uint16_t new_idx, old_idx;

	if (q->packed)
		return virtq_packed_prepare_kick(q);
	/* The used entries must be visible before the driver's flags or used_event are read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx) {
		/*
		 * §2.7.7.2: the device SHOULD NOT notify while avail.flags is 1. A driver clears it
		 * and then looks at used.idx itself, so an entry published before that is not lost.
		 */
		q->num_added = 0;
		return !(virtq_ld16_acquire(q->driver + VIRTQ_AVAIL_FLAGS) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	new_idx = q->next_used;
	old_idx = (uint16_t)(new_idx - q->num_added);
	q->num_added = 0;
	return virtq_need_event(virtq_used_event(q), new_idx, old_idx);
}

const char *virtq_severity_name(enum virtq_severity s)
{
	return s == VIRTQ_SEV_ERROR ? "error" : "warning";
}
