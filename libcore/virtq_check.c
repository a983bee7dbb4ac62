/* virtq_check.c: validation of a queue in guest memory against VIRTIO 1.2 (§2.7, §2.8). */
#include "virtq.h"
#include "virtq_priv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * check reads everything through guestmem (copies, any alignment), so that it can describe
 * queues virtq_init refuses. Every loop is bounded by the queue size: at most size ring entries,
 * and per chain at most size + 1 descriptors are read before it is declared too long.
 */
struct checker {
	const struct virtq *q;
	const struct guestmem *mem;
	virtq_report_fn *report;
	void *arg;
	unsigned errors;
	uint32_t n;	 /* queue size used for the content checks */
	uint32_t *stamp; /* per descriptor: the chain that last visited it (loop detection) */
	uint32_t chain_no;
};

/*
 * Where a finding is: a fixed name ("size", "avail.idx"), or entry i of an array ("desc[3]"),
 * or entry j of the indirect table desc[i] refers to ("desc[3].ind[1]"). Kept as numbers and
 * formatted only when a finding is reported: the walk itself stays cheap.
 */
struct loc {
	const char *name; /* a fixed name, or the array's name when i >= 0 */
	int32_t i, j;	  /* -1: none */
};

#define LOC_NAME(n)  (&(struct loc){ (n), -1, -1 })
#define LOC_AT(n, x) (&(struct loc){ (n), (int32_t)(x), -1 })

static void __attribute__((format(printf, 5, 6)))
finding(struct checker *k, enum virtq_severity sev, const char *section, const struct loc *where,
	const char *fmt, ...)
{
	struct virtq_finding f = { .severity = sev, .section = section };
	va_list ap;

	if (where->i < 0)
		snprintf(f.where, sizeof(f.where), "%s", where->name);
	else if (where->j < 0)
		snprintf(f.where, sizeof(f.where), "%s[%d]", where->name, where->i);
	else
		snprintf(f.where, sizeof(f.where), "%s[%d].ind[%d]", where->name, where->i,
			 where->j);
	va_start(ap, fmt);
	vsnprintf(f.message, sizeof(f.message), fmt, ap);
	va_end(ap);
	if (sev == VIRTQ_SEV_ERROR)
		k->errors++;
	k->report(&f, k->arg);
}

/* An area of the queue: aligned, not wrapping, inside guest memory. Returns true if readable. */
static bool check_area(struct checker *k, const struct loc *where, const char *name,
		       const char *sec, const char *align_sec, gpa_t gpa, uint64_t len,
		       unsigned align)
{
	if (gpa & (align - 1))
		finding(k, VIRTQ_SEV_ERROR, align_sec, where,
			"%s at 0x%" PRIx64 " is not %u-byte aligned", name, gpa, align);
	if (guestmem_range_wraps(gpa, len)) {
		finding(k, VIRTQ_SEV_ERROR, sec, where,
			"%s [0x%" PRIx64 ", +0x%" PRIx64 ") wraps past 2^64", name, gpa, len);
		return false;
	}
	if (!guestmem_ptr(k->mem, gpa, len)) {
		finding(k, VIRTQ_SEV_ERROR, sec, where,
			"%s [0x%" PRIx64 ", +0x%" PRIx64 ") is not inside guest memory", name, gpa,
			len);
		return false;
	}
	return true;
}

/* Descriptor i of a table the caller has checked to be in guest memory (host view). */
static void desc_read(const struct checker *k, const uint8_t *table, uint32_t i,
		      struct virtq_desc *d)
{
	virtq_desc_decode(table + 16ull * i, k->q->packed, i, d);
}

/* State of one chain walk, shared by the split and packed checks. */
struct walk {
	uint32_t buffers; /* buffer descriptors so far */
	uint64_t bytes;
	bool seen_write;
	bool order_reported;
	uint16_t head;
};

/* The checks of one buffer descriptor. Returns false when the chain is too long to go on. */
static bool check_buffer(struct checker *k, struct walk *w, const struct virtq_desc *d,
			 const struct loc *where, bool indirect)
{
	bool packed = k->q->packed;

	if (++w->buffers > k->n) {
		finding(k, VIRTQ_SEV_ERROR,
			packed ? "2.8.17" : (indirect ? "2.7.5.3.1" : "2.7.5.2"), where,
			"chain from %s %u has more than %u descriptors (the queue size)",
			packed ? "desc" : "head", w->head, k->n);
		return false;
	}
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		w->seen_write = true;
	} else if (w->seen_write && !w->order_reported) {
		w->order_reported = true;
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.17" : "2.7.4.2", where,
			"device-readable descriptor after a device-writable one");
	}
	if (d->len && guestmem_range_wraps(d->addr, d->len))
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.4" : "2.7.5", where,
			"buffer [0x%" PRIx64 ", +0x%x) wraps past 2^64", d->addr, d->len);
	else if (d->len && !guestmem_ptr(k->mem, d->addr, d->len))
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.4" : "2.7.5", where,
			"buffer [0x%" PRIx64 ", +0x%x) is not inside guest memory", d->addr,
			d->len);
	w->bytes += d->len;
	return true;
}

/* The descriptor refers to an indirect table: checks common to both formats. */
static bool check_indirect_table(struct checker *k, const struct virtq_desc *d,
				 const struct loc *where)
{
	bool packed = k->q->packed;

	if (!k->q->indirect)
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.19" : "2.7.5.3.1", where,
			"INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated (see --indirect)");
	if (d->len == 0) {
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.7" : "2.7.5.3", where,
			"indirect table length is 0");
		return false;
	}
	if (d->len % VIRTQ_DESC_BYTES) {
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.7" : "2.7.5.3", where,
			"indirect table length %u is not a multiple of 16", d->len);
		return false;
	}
	if (guestmem_range_wraps(d->addr, d->len)) {
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.4" : "2.7.5", where,
			"indirect table [0x%" PRIx64 ", +0x%x) wraps past 2^64", d->addr, d->len);
		return false;
	}
	if (!guestmem_ptr(k->mem, d->addr, d->len)) {
		finding(k, VIRTQ_SEV_ERROR, packed ? "2.8.4" : "2.7.5", where,
			"indirect table [0x%" PRIx64 ", +0x%x) is not inside guest memory", d->addr,
			d->len);
		return false;
	}
	return true;
}

static void check_total_bytes(struct checker *k, const struct walk *w, const struct loc *where)
{
	if (w->bytes > (1ull << 32))
		finding(k, VIRTQ_SEV_ERROR, k->q->packed ? "2.8.17" : "2.7.5.2", where,
			"chain is 0x%" PRIx64 " bytes long, more than 2^32", w->bytes);
}

/* ---- split rings ---- */

static void split_chain(struct checker *k, const uint8_t *ring_table, uint16_t head)
{
	struct walk w = { .head = head };
	struct virtq_desc d;
	const uint8_t *table = ring_table;
	uint32_t table_len = k->n, idx = head, prev = head;
	struct loc where = { "desc", head, -1 };
	bool in_ind = false;

	k->chain_no++;
	/* a chain reads at most n ring descriptors and n + 1 table entries: bounded */
	for (uint32_t steps = 0; steps <= 2 * k->n + 2; steps++) {
		if (in_ind)
			where.j = (int32_t)idx;
		else
			where.i = (int32_t)idx;
		if (!in_ind && k->stamp) {
			if (k->stamp[idx] == k->chain_no) {
				finding(k, VIRTQ_SEV_ERROR, "2.7.5.2", LOC_AT("desc", prev),
					"next %u loops back into the chain from head %u", idx,
					head);
				break;
			}
			k->stamp[idx] = k->chain_no;
		}
		desc_read(k, table, idx, &d);
		if (d.flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT))
			finding(k, VIRTQ_SEV_WARNING, "2.7.5", &where,
				"flags 0x%04x have reserved bits set", d.flags);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_ind) {
				finding(k, VIRTQ_SEV_ERROR, "2.7.5.3.1", &where,
					"INDIRECT inside an indirect table (nested)");
				break;
			}
			if (d.flags & VIRTQ_DESC_F_NEXT)
				finding(k, VIRTQ_SEV_ERROR, "2.7.5.3.1", &where,
					"INDIRECT together with NEXT");
			if (!check_indirect_table(k, &d, &where))
				break;
			table = guestmem_ptr(k->mem, d.addr, d.len);
			table_len = d.len / VIRTQ_DESC_BYTES;
			idx = 0;
			in_ind = true;
			continue;
		}
		if (!check_buffer(k, &w, &d, &where, in_ind))
			break;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= table_len) {
			finding(k, VIRTQ_SEV_ERROR, in_ind ? "2.7.5.3" : "2.7.5.2", &where,
				"next %u is not below the %s %u", d.next,
				in_ind ? "indirect table's entry count" : "queue size", table_len);
			break;
		}
		prev = idx;
		idx = d.next;
	}
	check_total_bytes(k, &w, &where);
}

static void check_split(struct checker *k, const struct virtq_check_opts *o)
{
	const struct virtq *q = k->q;
	uint32_t n = q->size;
	uint16_t avail_flags = 0, avail_idx = 0, used_flags = 0, used_idx = 0, last_avail;
	bool desc_ok, avail_ok, used_ok;
	const uint8_t *ring, *table;

	if (n == 0 || n > VIRTQ_MAX_SIZE)
		finding(k, VIRTQ_SEV_ERROR, "2.7", LOC_NAME("size"),
			"queue size %u is not in [1, 32768]", n);
	else if (n & (n - 1))
		finding(k, VIRTQ_SEV_ERROR, "2.7", LOC_NAME("size"),
			"queue size %u is not a power of two", n);
	if (n == 0)
		return;
	k->n = n;
	desc_ok = check_area(k, LOC_NAME("desc"), "descriptor table", "2.7", "2.7.1", q->desc_gpa,
			     virtq_split_desc_bytes(n), 16);
	avail_ok = check_area(k, LOC_NAME("avail"), "available ring", "2.7", "2.7.1", q->driver_gpa,
			      virtq_split_avail_bytes(n), 2);
	used_ok = check_area(k, LOC_NAME("used"), "used ring", "2.7", "2.7.1", q->device_gpa,
			     virtq_split_used_bytes(n), 4);
	if (avail_ok) {
		guestmem_read_le16(k->mem, q->driver_gpa, &avail_flags);
		guestmem_read_le16(k->mem, q->driver_gpa + 2, &avail_idx);
		if (q->event_idx && avail_flags)
			finding(k, VIRTQ_SEV_ERROR, "2.7.7.1", LOC_NAME("avail.flags"),
				"avail.flags 0x%04x must be 0 with VIRTIO_F_EVENT_IDX",
				avail_flags);
		else if (avail_flags & ~VIRTQ_AVAIL_F_NO_INTERRUPT)
			finding(k, VIRTQ_SEV_ERROR, "2.7.7.1", LOC_NAME("avail.flags"),
				"avail.flags 0x%04x have reserved bits set", avail_flags);
	}
	if (used_ok) {
		guestmem_read_le16(k->mem, q->device_gpa, &used_flags);
		guestmem_read_le16(k->mem, q->device_gpa + 2, &used_idx);
		if (q->event_idx && used_flags)
			finding(k, VIRTQ_SEV_ERROR, "2.7.10.2", LOC_NAME("used.flags"),
				"used.flags 0x%04x must be 0 with VIRTIO_F_EVENT_IDX", used_flags);
		else if (used_flags & ~VIRTQ_USED_F_NO_NOTIFY)
			finding(k, VIRTQ_SEV_ERROR, "2.7.10.2", LOC_NAME("used.flags"),
				"used.flags 0x%04x have reserved bits set", used_flags);
	}
	/* Unknown last_avail: assume a quiescent device, which has consumed what it returned. */
	last_avail = o->has_last_avail ? o->last_avail : used_idx;
	if (used_ok && o->has_last_avail && (uint16_t)(last_avail - used_idx) > n)
		finding(k, VIRTQ_SEV_ERROR, "2.7.8", LOC_NAME("used.idx"),
			"used.idx %u is ahead of what the device could have written "
			"(last_avail %u, at most %u chains in flight)",
			used_idx, last_avail, n);
	if (used_ok && o->has_next_used && used_idx != o->next_used)
		finding(k, VIRTQ_SEV_WARNING, "2.7.8", LOC_NAME("used.idx"),
			"used.idx %u differs from the device's next_used %u", used_idx,
			o->next_used);
	if (!avail_ok)
		return;
	uint16_t pending = (uint16_t)(avail_idx - last_avail);

	if (pending > n)
		finding(k, VIRTQ_SEV_ERROR, "2.7.6.1", LOC_NAME("avail.idx"),
			"avail.idx %u is %u entries ahead of last_avail %u, more than the queue "
			"size %u",
			avail_idx, pending, last_avail, n);
	if (!desc_ok)
		return;
	k->stamp = calloc(n, sizeof(*k->stamp)); /* without it, steps still bound the walk */
	ring = guestmem_ptr(k->mem, q->driver_gpa + 4, 2ull * n);
	table = guestmem_ptr(k->mem, q->desc_gpa, virtq_split_desc_bytes(n));
	for (uint32_t i = 0; i < pending && i < n; i++) {
		uint32_t pos = (uint16_t)(last_avail + i) % n;
		uint16_t head = virtq_ld16(ring + 2ull * pos);

		if (head >= n) {
			finding(k, VIRTQ_SEV_ERROR, "2.7.6", LOC_AT("avail.ring", pos),
				"head %u is not below the queue size %u", head, n);
			continue;
		}
		split_chain(k, table, head);
	}
	free(k->stamp);
	k->stamp = NULL;
}

/* ---- packed rings ---- */

static bool packed_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

static void check_event(struct checker *k, const struct loc *where, const char *name, gpa_t gpa)
{
	uint16_t off_wrap = 0, flags = 0;

	guestmem_read_le16(k->mem, gpa, &off_wrap);
	guestmem_read_le16(k->mem, gpa + 2, &flags);
	if (flags & ~3u)
		finding(k, VIRTQ_SEV_ERROR, "2.8.10", where,
			"%s flags 0x%04x have reserved bits set", name, flags);
	else if (flags == 3)
		finding(k, VIRTQ_SEV_ERROR, "2.8.10", where, "%s flags value 3 is reserved", name);
	else if (flags == VIRTQ_EVENT_F_DESC && !k->q->event_idx)
		finding(k, VIRTQ_SEV_ERROR, "2.8.10", where,
			"%s flags DESC needs VIRTIO_F_EVENT_IDX (see --event-idx)", name);
	else if (flags == VIRTQ_EVENT_F_DESC && (off_wrap & VIRTQ_PACKED_POS_MASK) >= k->n)
		finding(k, VIRTQ_SEV_ERROR, "2.8.10", where,
			"%s offset %u is not below the queue size %u", name,
			off_wrap & VIRTQ_PACKED_POS_MASK, k->n);
}

/* One chain from ring position pos; returns the ring descriptors it spans, 0 to stop. */
static uint32_t packed_chain(struct checker *k, const uint8_t *ring, uint32_t pos, bool wrap)
{
	struct virtq_desc d;
	struct walk w = { .head = (uint16_t)pos };
	struct loc where = { "desc", (int32_t)pos, -1 };
	uint32_t m;

	for (m = 1; m <= k->n; m++) {
		where.i = (int32_t)pos;
		desc_read(k, ring, pos, &d);
		if (d.flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT |
				VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED))
			finding(k, VIRTQ_SEV_WARNING, "2.8.13", &where,
				"flags 0x%04x have reserved bits set", d.flags);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (m > 1 || (d.flags & VIRTQ_DESC_F_NEXT))
				finding(k, VIRTQ_SEV_ERROR, "2.8.19", &where,
					"INDIRECT in a descriptor list linked by NEXT");
			if (check_indirect_table(k, &d, &where)) {
				const uint8_t *table = guestmem_ptr(k->mem, d.addr, d.len);
				uint32_t entries = d.len / VIRTQ_DESC_BYTES;
				struct loc iw = { "desc", (int32_t)pos, 0 };

				for (uint32_t i = 0; i < entries; i++) {
					struct virtq_desc id;

					iw.j = (int32_t)i;
					desc_read(k, table, i, &id);
					if (id.flags & VIRTQ_DESC_F_INDIRECT) {
						finding(k, VIRTQ_SEV_ERROR, "2.8.19", &iw,
							"INDIRECT inside an indirect table (nested)");
						break;
					}
					if (id.flags & ~VIRTQ_DESC_F_WRITE)
						finding(k, VIRTQ_SEV_ERROR, "2.8.19", &iw,
							"flags 0x%04x: only WRITE may be set in an "
							"indirect descriptor",
							id.flags);
					if (!check_buffer(k, &w, &id, &iw, true))
						break;
				}
			}
		} else if (!check_buffer(k, &w, &d, &where, false)) {
			break;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (++pos == k->n) {
			pos = 0;
			wrap = !wrap;
		}
		desc_read(k, ring, pos, &d);
		if (!packed_avail(d.flags, wrap)) {
			finding(k, VIRTQ_SEV_ERROR, "2.8.6", &where,
				"NEXT leads to desc[%u], which the driver has not made available",
				pos);
			check_total_bytes(k, &w, &where);
			return 0;
		}
	}
	check_total_bytes(k, &w, &where);
	return m > k->n ? 0 : m;
}

static void check_packed(struct checker *k, const struct virtq_check_opts *o)
{
	const struct virtq *q = k->q;
	uint32_t n = q->size, seen = 0, pos;
	uint16_t last_avail = o->has_last_avail ? o->last_avail : VIRTQ_PACKED_WRAP;
	bool desc_ok, drv_ok, dev_ok, wrap;
	const uint8_t *ring;

	if (n == 0 || n > VIRTQ_MAX_SIZE) {
		finding(k, VIRTQ_SEV_ERROR, "2.8", LOC_NAME("size"),
			"queue size %u is not in [1, 32768]", n);
		if (n == 0)
			return;
	}
	k->n = n;
	desc_ok = check_area(k, LOC_NAME("desc"), "descriptor ring", "2.8", "2.8.10.1", q->desc_gpa,
			     16ull * n, 16);
	drv_ok = check_area(k, LOC_NAME("driver"), "driver event area", "2.8", "2.8.10.1",
			    q->driver_gpa, VIRTQ_PACKED_EVENT_BYTES, 4);
	dev_ok = check_area(k, LOC_NAME("device"), "device event area", "2.8", "2.8.10.1",
			    q->device_gpa, VIRTQ_PACKED_EVENT_BYTES, 4);
	if (drv_ok)
		check_event(k, LOC_NAME("driver"), "driver event", q->driver_gpa);
	if (dev_ok)
		check_event(k, LOC_NAME("device"), "device event", q->device_gpa);
	pos = last_avail & VIRTQ_PACKED_POS_MASK;
	wrap = last_avail & VIRTQ_PACKED_WRAP;
	if (pos >= n) {
		finding(k, VIRTQ_SEV_ERROR, "2.8", LOC_NAME("last_avail"),
			"last_avail position %u is not below the queue size %u", pos, n);
		return;
	}
	if (!desc_ok)
		return;
	ring = guestmem_ptr(k->mem, q->desc_gpa, 16ull * n);
	while (seen < n) {
		struct virtq_desc d;
		uint32_t m;

		desc_read(k, ring, pos, &d);
		if (!packed_avail(d.flags, wrap))
			break;
		m = packed_chain(k, ring, pos, wrap);
		if (m == 0)
			break;
		seen += m;
		pos += m;
		if (pos >= n) {
			pos -= n;
			wrap = !wrap;
		}
	}
}

unsigned virtq_check(const struct virtq *q, const struct guestmem *mem,
		     const struct virtq_check_opts *opts, virtq_report_fn *report, void *arg)
{
	struct checker k = { .q = q, .mem = mem, .report = report, .arg = arg };
	struct virtq_check_opts none = { 0 };

	if (!opts)
		opts = &none;
	if (q->packed)
		check_packed(&k, opts);
	else
		check_split(&k, opts);
	return k.errors;
}
