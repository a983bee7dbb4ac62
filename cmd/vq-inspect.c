/* vq-inspect: show and check virtqueues (split and packed) in guest memory files or a live VMM. */
#include <curl/curl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "guestmem.h"
#include "out.h"
#include "virtio_mmio.h" /* VIRTIO_MMIO_INT_VRING: the API gives its InterruptStatus */
#include "virtq.h"

static char **opt_mem;
static char *opt_size, *opt_desc, *opt_avail, *opt_used, *opt_last_avail, *opt_next_used;
static char *opt_head, *opt_pid, *opt_last_avail_wrap;
static int opt_packed, opt_event_idx, opt_indirect;
/* The guest memory read and the output; file scope so that tests/fuzz/fuzz_vq_inspect.c can
 * release them after an early exit, as the process exit would. */
static struct guestmem vq_mem;
static struct out *vq_out;
static char *opt_api_sock, *opt_dev, *opt_queue;
static int opt_pause;
/* The device's indices are known (--last-avail, --next-used, or the API): check compares. */
static bool has_last_avail, has_next_used;
/* With --api-sock: the device's own counters, for the stall diagnosis. */
static struct {
	bool known, pending_kick;
	uint64_t notifications, interrupts, interrupt_status;
	uint16_t signalled_used;
} device;

/* clang-format off */
static struct poptOption options[] = {
	{ "mem", 'm', POPT_ARG_ARGV, &opt_mem, 0,
	  "guest memory: FILE at GPA (default 0), its first SIZE bytes with @GPA+SIZE, or a "
	  "Firecracker-style file, regions back to back: FILE@GPA+SIZE,GPA+SIZE...; repeatable",
	  "FILE[@GPA]" },
	{ "pid", 'p', POPT_ARG_STRING, &opt_pid, 0,
	  "read a running VMM's memory: each --mem is then HVA@GPA+SIZE in process PID", "PID" },
	{ "size", 's', POPT_ARG_STRING, &opt_size, 0, "queue size (entries)", "N" },
	{ "desc", 'd', POPT_ARG_STRING, &opt_desc, 0, "descriptor table (ring) address", "GPA" },
	{ "avail", 'a', POPT_ARG_STRING, &opt_avail, 0,
	  "available ring address (packed: the driver event area, also --driver)", "GPA" },
	{ "driver", '\0', POPT_ARG_STRING, &opt_avail, 0, "same as --avail", "GPA" },
	{ "used", 'u', POPT_ARG_STRING, &opt_used, 0,
	  "used ring address (packed: the device event area, also --device)", "GPA" },
	{ "device", '\0', POPT_ARG_STRING, &opt_used, 0, "same as --used", "GPA" },
	{ "packed", 'P', POPT_ARG_NONE, &opt_packed, 0, "a packed ring (VIRTIO_F_RING_PACKED)",
	  NULL },
	{ "event-idx", 'e', POPT_ARG_NONE, &opt_event_idx, 0, "VIRTIO_F_EVENT_IDX was negotiated",
	  NULL },
	{ "indirect", 'i', POPT_ARG_NONE, &opt_indirect, 0,
	  "VIRTIO_F_INDIRECT_DESC was negotiated", NULL },
	{ "last-avail", 'l', POPT_ARG_STRING, &opt_last_avail, 0,
	  "the device's next available index (packed: its position, as QEMU reports it, or "
	  "position | wrap << 15); default: used.idx (split), 0 (packed)",
	  "N" },
	{ "last-avail-wrap", 'W', POPT_ARG_STRING, &opt_last_avail_wrap, 0,
	  "packed: the device's wrap counter for --last-avail; default: read from the ring", "0|1" },
	{ "next-used", 'n', POPT_ARG_STRING, &opt_next_used, 0,
	  "the device's next used index (packed: position | wrap << 15)", "N" },
	{ "head", 'H', POPT_ARG_STRING, &opt_head, 0,
	  "chains: only the chain starting at descriptor N (packed: ring position N)", "N" },
	{ "api-sock", '\0', POPT_ARG_STRING, &opt_api_sock, 0,
	  "a running mvm-run's API socket: the queue's layout and the device's indices from "
	  "GET /mvm/queues, guest memory from /proc/PID/mem (instead of --mem, --size, ...)",
	  "PATH" },
	{ "dev", '\0', POPT_ARG_STRING, &opt_dev, 0,
	  "with --api-sock: the virtio device, by its index in /mvm/queues (default 0)", "N" },
	{ "queue", 'q', POPT_ARG_STRING, &opt_queue, 0,
	  "with --api-sock: the queue of that device (default 0)", "N" },
	{ "pause", '\0', POPT_ARG_NONE, &opt_pause, 0,
	  "with --api-sock: pause the VM while reading (a consistent view), then resume it",
	  NULL },
	CLI_COMMON_TABLE,
	POPT_AUTOHELP POPT_TABLEEND
};
/* clang-format on */

static uint16_t parse_u16_or_die(const char *what, const char *s)
{
	uint64_t v = parse_u64_or_die(what, s);

	if (v > UINT16_MAX)
		cli_die(EXIT_USAGE, what, "'%s' is larger than 65535", s);
	return (uint16_t)v;
}

static const char *required(const char *what, const char *val)
{
	if (!val)
		cli_die(EXIT_USAGE, what, "missing (see '%s --help')", cli.prog);
	return val;
}

/* One --mem argument into gm; the whole argument is the error context. */
static void add_mem(struct guestmem *gm, const char *arg, const char *pid_mem)
{
	struct guestmem_layout layout[GUESTMEM_MAX_REGIONS];
	char copy[8192], *at, *item, *save = NULL;
	unsigned nr = 0;
	bool sized = true;
	struct err e = { 0 };
	uint64_t hva = 0;
	int rc;

	/* on the stack: nothing to free on the way out, early or not */
	if (strlen(arg) >= sizeof(copy))
		cli_die(EXIT_USAGE, "--mem", "longer than %zu bytes", sizeof(copy) - 1);
	strcpy(copy, arg);
	at = strrchr(copy, '@');
	if (at)
		*at++ = '\0';
	if (pid_mem) {
		if (!at)
			cli_die(EXIT_USAGE, "--mem", "'%s': with --pid, give HVA@GPA+SIZE", arg);
		if (parse_size(copy, &hva))
			cli_die(EXIT_USAGE, "--mem", "'%s': '%s' is not a host address", arg, copy);
	}
	for (item = at ? strtok_r(at, ",", &save) : NULL; item; item = strtok_r(NULL, ",", &save)) {
		char *plus = strchr(item, '+');

		if (nr == GUESTMEM_MAX_REGIONS)
			cli_die(EXIT_USAGE, "--mem", "'%s': more than %d regions", arg,
				GUESTMEM_MAX_REGIONS);
		if (plus)
			*plus++ = '\0';
		if (parse_size(item, &layout[nr].gpa))
			cli_die(EXIT_USAGE, "--mem", "'%s': '%s' is not an address", arg, item);
		layout[nr].size_bytes = 0;
		if (plus && (parse_size(plus, &layout[nr].size_bytes) || !layout[nr].size_bytes))
			cli_die(EXIT_USAGE, "--mem", "'%s': '%s' is not a size", arg, plus);
		sized = sized && plus;
		nr++;
	}
	if (at && nr == 0)
		cli_die(EXIT_USAGE, "--mem", "'%s': nothing after '@'", arg);
	if (nr > 1 && !sized)
		cli_die(EXIT_USAGE, "--mem", "'%s': with several regions, each needs +SIZE", arg);
	if (pid_mem) {
		if (nr != 1 || !sized)
			cli_die(EXIT_USAGE, "--mem", "'%s': with --pid, give HVA@GPA+SIZE", arg);
		rc = guestmem_add_file(gm, pid_mem, hva, layout[0].gpa, layout[0].size_bytes, &e);
	} else if (nr <= 1) {
		rc = guestmem_add_file(gm, copy, 0, nr ? layout[0].gpa : 0,
				       nr ? layout[0].size_bytes : 0, &e);
	} else {
		rc = guestmem_add_file_layout(gm, copy, layout, nr, &e);
	}
	if (rc)
		cli_die(EXIT_USAGE, "--mem", "%s", e.msg);
	cli_verbose("memory: %s", arg);
}

/* "key value" lines in text, one object in JSON: status is a single record. */
static void kv_u64(struct out *o, const char *key, uint64_t v)
{
	if (!cli.json) {
		out_record_begin(o);
		out_str(o, NULL, key);
		out_u64(o, NULL, v);
		out_record_end(o);
	} else {
		out_u64(o, key, v);
	}
}

static void kv_hex(struct out *o, const char *key, uint64_t v, int width)
{
	if (!cli.json) {
		out_record_begin(o);
		out_str(o, NULL, key);
		out_hex(o, NULL, v, width);
		out_record_end(o);
	} else {
		out_hex(o, key, v, width);
	}
}

static void kv_str(struct out *o, const char *key, const char *v)
{
	if (!cli.json) {
		out_record_begin(o);
		out_str(o, NULL, key);
		out_str(o, NULL, v);
		out_record_end(o);
	} else {
		out_str(o, key, v);
	}
}

static uint16_t rd16(const struct guestmem *gm, gpa_t gpa)
{
	uint16_t v = 0;

	if (guestmem_read_le16(gm, gpa, &v))
		cli_die(EXIT_USAGE, "read", "0x%" PRIx64 " is not inside guest memory", gpa);
	return v;
}

static const char *features(const struct virtq *q)
{
	if (q->event_idx && q->indirect)
		return "event_idx,indirect";
	return q->event_idx ? "event_idx" : q->indirect ? "indirect" : NULL;
}

static const char *event_flags_name(uint16_t f)
{
	static const char *names[] = { "enable", "disable", "desc", "reserved" };

	return f > 3 ? "reserved" : names[f];
}

/* Why a split queue does not move, from the rings and the device's own state (--api-sock). */
static const char *stall_split(const struct virtq *q, uint16_t avail_idx)
{
	const struct guestmem *gm = q->mem;
	struct virtq_stall_state s = {
		.event_idx = q->event_idx,
		.avail_flags = rd16(gm, q->driver_gpa),
		.avail_idx = avail_idx,
		.used_event = q->event_idx ? virtq_used_event(q) : 0,
		.used_flags = rd16(gm, q->device_gpa),
		.avail_event = q->event_idx ? virtq_avail_event(q) : 0,
		.next_avail = q->next_avail,
		.next_used = q->next_used,
		.signalled_used = device.signalled_used,
		.kick_pending = device.pending_kick,
		.interrupt_unacked = device.interrupt_status & VIRTIO_MMIO_INT_VRING,
	};

	return virtq_stall_name(virtq_stall_split(&s));
}

static void status_split(struct out *o, const struct virtq *q)
{
	const struct guestmem *gm = q->mem;
	uint16_t avail_idx = virtq_avail_idx(q);
	uint16_t used_idx = rd16(gm, q->device_gpa + 2);

	kv_str(o, "format", "split");
	kv_u64(o, "size", q->size);
	kv_hex(o, "desc", q->desc_gpa, 16);
	kv_hex(o, "avail", q->driver_gpa, 16);
	kv_hex(o, "used", q->device_gpa, 16);
	kv_str(o, "features", features(q));
	kv_hex(o, "avail_flags", rd16(gm, q->driver_gpa), 4);
	kv_u64(o, "avail_idx", avail_idx);
	kv_hex(o, "used_flags", rd16(gm, q->device_gpa), 4);
	kv_u64(o, "used_idx", used_idx);
	if (q->event_idx) {
		kv_u64(o, "used_event", virtq_used_event(q));
		kv_u64(o, "avail_event", virtq_avail_event(q));
	} else {
		kv_str(o, "used_event", NULL);
		kv_str(o, "avail_event", NULL);
	}
	kv_u64(o, "last_avail", q->next_avail);
	kv_u64(o, "next_used", q->next_used);
	kv_u64(o, "pending", (uint16_t)(avail_idx - q->next_avail));
	kv_u64(o, "inuse", (uint16_t)(q->next_avail - used_idx));
	if (device.known) {
		kv_u64(o, "notifications", device.notifications);
		kv_u64(o, "interrupts", device.interrupts);
		kv_u64(o, "signalled_used", device.signalled_used);
		kv_hex(o, "interrupt_status", device.interrupt_status, 1);
		kv_str(o, "stall", stall_split(q, avail_idx));
	}
}

static void status_packed(struct out *o, const struct virtq *q)
{
	const struct guestmem *gm = q->mem;
	uint16_t drv_off = rd16(gm, q->driver_gpa), drv_flags = rd16(gm, q->driver_gpa + 2);
	uint16_t dev_off = rd16(gm, q->device_gpa), dev_flags = rd16(gm, q->device_gpa + 2);

	kv_str(o, "format", "packed");
	kv_u64(o, "size", q->size);
	kv_hex(o, "desc", q->desc_gpa, 16);
	kv_hex(o, "driver", q->driver_gpa, 16);
	kv_hex(o, "device", q->device_gpa, 16);
	kv_str(o, "features", features(q));
	kv_hex(o, "driver_off_wrap", drv_off, 4);
	kv_str(o, "driver_flags", event_flags_name(drv_flags));
	kv_hex(o, "device_off_wrap", dev_off, 4);
	kv_str(o, "device_flags", event_flags_name(dev_flags));
	kv_u64(o, "last_avail", q->next_avail & VIRTQ_PACKED_POS_MASK);
	kv_u64(o, "last_avail_wrap", !!(q->next_avail & VIRTQ_PACKED_WRAP));
	kv_u64(o, "next_used", q->next_used & VIRTQ_PACKED_POS_MASK);
	kv_u64(o, "next_used_wrap", !!(q->next_used & VIRTQ_PACKED_WRAP));
	kv_u64(o, "pending", virtq_len(q));
}

static const char *walk_error(int rc)
{
	switch (rc) {
	case -ELOOP:
		return "too-long-or-loop";
	case -EFAULT:
		return "outside-guest-memory";
	default:
		return "malformed";
	}
}

/* Walk a chain once for its totals; returns the walk's result (0 or -errno). */
static int chain_totals(struct virtq_chain c, uint64_t *readable, uint64_t *writable)
{
	struct virtq_desc d;
	int rc;

	*readable = *writable = 0;
	while ((rc = virtq_chain_next(&c, &d)) > 0)
		*(d.flags & VIRTQ_DESC_F_WRITE ? writable : readable) += d.len;
	return rc;
}

/* Decoded flags: "NEXT,WRITE" in text ('-' for none), an array of names in JSON. */
static void print_flags(struct out *o, uint16_t flags, bool packed)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} names[] = {
		{ VIRTQ_DESC_F_NEXT, "NEXT" },	       { VIRTQ_DESC_F_WRITE, "WRITE" },
		{ VIRTQ_DESC_F_INDIRECT, "INDIRECT" }, { VIRTQ_DESC_F_AVAIL, "AVAIL" },
		{ VIRTQ_DESC_F_USED, "USED" },
	};
	uint16_t rest = flags;
	char hex[8];

	out_array_begin(o, "flags");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit) || (!packed && names[i].bit > VIRTQ_DESC_F_INDIRECT))
			continue;
		out_str(o, NULL, names[i].name);
		rest &= (uint16_t)~names[i].bit;
	}
	if (rest) {
		snprintf(hex, sizeof(hex), "0x%04x", rest);
		out_str(o, NULL, hex);
	}
	out_array_end(o);
}

static void print_desc(struct out *o, const struct virtq *q, const struct virtq_desc *d)
{
	if (cli.json)
		out_object_begin(o, NULL);
	else
		out_record_begin(o);
	out_str(o, "kind", "desc");
	out_str(o, "table", d->in_indirect ? "indirect" : "ring");
	out_u64(o, "index", d->index);
	out_hex(o, "addr", d->addr, 16);
	out_u64(o, "len", d->len);
	print_flags(o, d->flags, q->packed);
	if (q->packed)
		out_u64(o, "id", d->next);
	else if (d->flags & VIRTQ_DESC_F_NEXT)
		out_u64(o, "next", d->next);
	else
		out_null(o, "next");
	if (cli.json)
		out_object_end(o);
	else
		out_record_end(o);
}

/* One chain: a "chain" record, then its descriptors (JSON: nested in the chain). */
static int print_chain(struct out *o, const struct virtq *q, const struct virtq_chain *c)
{
	struct virtq_chain w = *c;
	struct virtq_desc d;
	uint64_t readable, writable;
	bool shown_indirect = false;
	int rc = chain_totals(*c, &readable, &writable);

	out_record_begin(o);
	out_str(o, "kind", "chain");
	if (c->ring_pos == VIRTQ_RING_POS_NONE)
		out_null(o, "ring");
	else
		out_u64(o, "ring", c->ring_pos);
	out_u64(o, q->packed ? "id" : "head", c->head);
	/* a broken chain has no meaningful totals: its descriptors show how far it got */
	if (rc) {
		out_null(o, "readable");
		out_null(o, "writable");
	} else {
		out_u64(o, "readable", readable);
		out_u64(o, "writable", writable);
	}
	out_str(o, "error", rc ? walk_error(rc) : NULL);
	if (cli.json)
		out_array_begin(o, "descriptors");
	else
		out_record_end(o);
	while (virtq_chain_next(&w, &d) > 0) {
		/* show the descriptor that refers to the indirect table, before the table */
		if (d.in_indirect && !shown_indirect) {
			print_desc(o, q, &w.indirect_desc);
			shown_indirect = true;
		}
		print_desc(o, q, &d);
	}
	if (cli.json) {
		out_array_end(o);
		out_record_end(o);
	}
	return rc;
}

static int cmd_chains(struct out *o, struct virtq *q)
{
	struct virtq_chain c;
	int status = EXIT_OK;

	out_list_begin(o);
	if (opt_head) {
		uint16_t head = parse_u16_or_die("--head", opt_head);

		if (virtq_chain_start(q, head, &c))
			cli_die(EXIT_FAIL, "--head", "no chain starts at %s %u",
				q->packed ? "position" : "descriptor", head);
		if (print_chain(o, q, &c))
			status = EXIT_FAIL;
		out_list_end(o);
		return status;
	}
	/* bounded: at most size chains, pop never returns more */
	for (uint32_t i = 0; i < q->size; i++) {
		int rc = virtq_pop(q, &c);

		if (rc == 0)
			break;
		if (rc == -EPROTO) {
			cli_error("chains",
				  "avail.idx is more than %u entries ahead of last_avail "
				  "(see vq-inspect check)",
				  q->size);
			status = EXIT_FAIL;
			break;
		}
		if (rc < 0) {
			/* an unusable head: report it and go on with the next entry */
			uint16_t pos = q->packed ? q->next_avail & VIRTQ_PACKED_POS_MASK
						 : q->next_avail & (q->size - 1);

			out_record_begin(o);
			out_str(o, "kind", "chain");
			out_u64(o, "ring", pos);
			out_null(o, q->packed ? "id" : "head");
			out_null(o, "readable");
			out_null(o, "writable");
			out_str(o, "error", "bad-head");
			if (cli.json) {
				out_array_begin(o, "descriptors");
				out_array_end(o);
			}
			out_record_end(o);
			status = EXIT_FAIL;
			if (q->packed)
				break;
			q->next_avail++;
			continue;
		}
		if (print_chain(o, q, &c))
			status = EXIT_FAIL;
	}
	out_list_end(o);
	return status;
}

struct report_ctx {
	struct out *o;
	unsigned count;
};

static void report_finding(const struct virtq_finding *f, void *arg)
{
	struct report_ctx *r = arg;

	out_record_begin(r->o);
	out_str(r->o, "severity", virtq_severity_name(f->severity));
	out_str(r->o, "section", f->section);
	out_str(r->o, "index", f->where);
	out_str(r->o, "message", f->message);
	out_record_end(r->o);
	r->count++;
}

/*
 * Packed: the device's next available position and wrap counter. The position comes from
 * --last-avail (default 0); the counter from bit 15 of it, or --last-avail-wrap, or else from the
 * descriptor at that position (virtq_packed_wrap_guess), as QEMU reports the position alone.
 */
static uint16_t packed_last_avail(const struct virtq *q, const struct guestmem *gm)
{
	uint16_t pw = opt_last_avail ? q->next_avail : 0, pos = pw & VIRTQ_PACKED_POS_MASK;
	uint16_t flags = 0;

	if (opt_last_avail_wrap) {
		uint64_t w = parse_u64_or_die("--last-avail-wrap", opt_last_avail_wrap);

		if (w > 1)
			cli_die(EXIT_USAGE, "--last-avail-wrap", "'%s' is not 0 or 1",
				opt_last_avail_wrap);
		if (pw & VIRTQ_PACKED_WRAP)
			cli_die(EXIT_USAGE, "--last-avail-wrap",
				"--last-avail 0x%04x already has the counter in bit 15", pw);
		return (uint16_t)(pos | (w ? VIRTQ_PACKED_WRAP : 0));
	}
	if (pw & VIRTQ_PACKED_WRAP)
		return pw;
	/* a position outside the ring or memory keeps counter 1: check reports why */
	if (pos >= q->size || guestmem_read_le16(gm, q->desc_gpa + 16ull * pos + 14, &flags))
		return (uint16_t)(pos | VIRTQ_PACKED_WRAP);
	pw = (uint16_t)(pos | virtq_packed_wrap_guess(flags));
	cli_verbose("last_avail: position %u, wrap counter %u (desc[%u] flags 0x%04x)", pos,
		    !!(pw & VIRTQ_PACKED_WRAP), pos, flags);
	return pw;
}

static int cmd_check(struct out *o, const struct virtq *q, const struct guestmem *gm)
{
	struct virtq_check_opts co = { 0 };
	struct report_ctx r = { .o = o };
	unsigned errors;

	if (has_last_avail || q->packed) { /* packed: the counter may come from the ring */
		co.has_last_avail = true;
		co.last_avail = q->next_avail;
	}
	if (has_next_used) {
		co.has_next_used = true;
		co.next_used = q->next_used;
	}
	out_list_begin(o);
	errors = virtq_check(q, gm, &co, report_finding, &r);
	out_list_end(o);
	cli_verbose("%u findings, %u errors", r.count, errors);
	return errors ? EXIT_FAIL : EXIT_OK;
}

/* ---- a running mvm-run, through its API ---------------------------------------------------- */

struct http_body {
	char *data;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct http_body *b = arg;
	char *p = realloc(b->data, b->len + size * n + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->data = p;
	b->len += size * n;
	b->data[b->len] = 0;
	return size * n;
}

/* One request to the API (libcurl); the JSON answer, or NULL for 204. Failures end the tool. */
static json_object *api_call(const char *method, const char *path, const char *body)
{
	struct http_body b = { 0 };
	json_object *o = NULL;
	char url[128];
	long code = 0;
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (!c)
		cli_die(EXIT_FAIL, "--api-sock", "libcurl: cannot start");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, opt_api_sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		cli_die(EXIT_FAIL, "--api-sock", "%s %s: %s", method, path, curl_easy_strerror(rc));
	if (b.data)
		o = json_tokener_parse(b.data);
	if (code / 100 != 2) {
		json_object *m = NULL;

		json_object_object_get_ex(o, "fault_message", &m);
		cli_die(EXIT_FAIL, "--api-sock", "%s %s: HTTP %ld: %s", method, path, code,
			m	 ? json_object_get_string(m)
			: b.data ? b.data
				 : "");
	}
	if (b.data && !o)
		cli_die(EXIT_FAIL, "--api-sock", "%s %s: the answer is not JSON", method, path);
	free(b.data);
	return o;
}

static void api_resume(void)
{
	json_object_put(api_call("PATCH", "/vm", "{\"state\": \"Resumed\"}"));
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		cli_die(EXIT_FAIL, "--api-sock", "GET /mvm/queues: no '%s' in the answer", key);
	return v;
}

static uint64_t field_u64(json_object *o, const char *key)
{
	return json_object_get_uint64(field(o, key));
}

static json_object *pick(json_object *array, const char *what, const char *opt, const char *arg)
{
	uint64_t i = arg ? parse_u64_or_die(opt, arg) : 0;
	size_t n = json_object_array_length(array);

	if (i >= n)
		cli_die(EXIT_USAGE, opt, "no %s %" PRIu64 " (there %s %zu)", what, i,
			n == 1 ? "is" : "are", n);
	return json_object_array_get_idx(array, i);
}

/*
 * The queue as the device holds it (layout, features, its own next_avail and next_used) and
 * guest memory read from the monitor's process. --pause stops the VM first; it is resumed when
 * the tool exits, whatever happens.
 */
static void from_api(struct virtq *q, struct guestmem *gm)
{
	json_object *all, *mem, *dev, *vq;
	char pid_mem[64];
	struct err e = { 0 };

	if (opt_pause) {
		json_object_put(api_call("PATCH", "/vm", "{\"state\": \"Paused\"}"));
		atexit(api_resume);
	}
	all = api_call("GET", "/mvm/queues", NULL);
	dev = pick(field(all, "devices"), "virtio device", "--dev", opt_dev);
	vq = pick(field(dev, "queues"), "queue", "--queue", opt_queue);
	if (!json_object_get_boolean(field(vq, "ready")))
		cli_die(EXIT_FAIL, "--queue", "the driver has not set queue %s of device %s up",
			opt_queue ? opt_queue : "0", opt_dev ? opt_dev : "0");
	q->size = q->max_size = (uint16_t)field_u64(vq, "size");
	q->ready = true;
	q->packed = json_object_get_boolean(field(vq, "packed"));
	q->event_idx = json_object_get_boolean(field(vq, "event_idx"));
	q->indirect = json_object_get_boolean(field(vq, "indirect"));
	q->desc_gpa = field_u64(vq, "desc_gpa");
	q->driver_gpa = field_u64(vq, "driver_gpa");
	q->device_gpa = field_u64(vq, "device_gpa");
	snprintf(pid_mem, sizeof(pid_mem), "/proc/%" PRIu64 "/mem", field_u64(all, "pid"));
	guestmem_init(gm);
	mem = field(all, "memory");
	for (size_t i = 0; i < json_object_array_length(mem); i++) {
		json_object *r = json_object_array_get_idx(mem, i);

		if (guestmem_add_file(gm, pid_mem, field_u64(r, "hva"), field_u64(r, "gpa"),
				      field_u64(r, "size"), &e))
			cli_die(EXIT_FAIL, "--api-sock", "%s", e.msg);
	}
	virtq_reset_state(q);
	q->next_avail = (uint16_t)field_u64(vq, "next_avail");
	q->next_used = (uint16_t)field_u64(vq, "next_used");
	has_last_avail = has_next_used = true;
	device.known = true;
	device.pending_kick = json_object_get_boolean(field(vq, "pending_kick"));
	device.notifications = field_u64(dev, "notifications");
	device.interrupts = field_u64(dev, "interrupts");
	device.interrupt_status = field_u64(dev, "interrupt_status");
	device.signalled_used = (uint16_t)field_u64(vq, "signalled_used");
	cli_verbose("%s device %s queue %s: size %u, pid memory %s",
		    json_object_get_string(field(dev, "type")), opt_dev ? opt_dev : "0",
		    opt_queue ? opt_queue : "0", q->size, pid_mem);
	json_object_put(all);
}

/* Everything the API gives must not also come from options. */
static void api_conflicts(void)
{
	const char *given = opt_mem		  ? "--mem"
			    : opt_pid		  ? "--pid"
			    : opt_size		  ? "--size"
			    : opt_desc		  ? "--desc"
			    : opt_avail		  ? "--avail"
			    : opt_used		  ? "--used"
			    : opt_last_avail	  ? "--last-avail"
			    : opt_last_avail_wrap ? "--last-avail-wrap"
			    : opt_next_used	  ? "--next-used"
			    : opt_packed	  ? "--packed"
			    : opt_event_idx	  ? "--event-idx"
			    : opt_indirect	  ? "--indirect"
						  : NULL;

	if (opt_api_sock && given)
		cli_die(EXIT_USAGE, given, "not with --api-sock (the API gives it)");
	given = opt_dev ? "--dev" : opt_queue ? "--queue" : opt_pause ? "--pause" : NULL;
	if (!opt_api_sock && given)
		cli_die(EXIT_USAGE, given, "only with --api-sock");
}

/* The queue described by options: memory files or a process, layout, indices. */
static void from_options(struct virtq *q, struct guestmem *gm)
{
	char pid_mem[64] = "";
	uint64_t size;

	if (!opt_mem || !opt_mem[0])
		cli_die(EXIT_USAGE, "--mem", "missing (see '%s --help')", cli.prog);
	size = parse_u64_or_die("--size", required("--size", opt_size));
	if (size > UINT16_MAX)
		cli_die(EXIT_USAGE, "--size", "'%s' is larger than 65535", opt_size);
	q->size = q->max_size = (uint16_t)size;
	q->ready = true;
	q->packed = opt_packed;
	q->event_idx = opt_event_idx;
	q->indirect = opt_indirect;
	q->desc_gpa = parse_size_or_die("--desc", required("--desc", opt_desc));
	q->driver_gpa = parse_size_or_die(opt_packed ? "--driver" : "--avail",
					  required(opt_packed ? "--driver" : "--avail", opt_avail));
	q->device_gpa = parse_size_or_die(opt_packed ? "--device" : "--used",
					  required(opt_packed ? "--device" : "--used", opt_used));
	if (opt_pid)
		snprintf(pid_mem, sizeof(pid_mem), "/proc/%" PRIu64 "/mem",
			 parse_u64_or_die("--pid", opt_pid));

	guestmem_init(gm);
	for (char **m = opt_mem; *m; m++)
		add_mem(gm, *m, opt_pid ? pid_mem : NULL);

	virtq_reset_state(q);
	if (opt_last_avail)
		q->next_avail = parse_u16_or_die("--last-avail", opt_last_avail);
	if (q->packed)
		q->next_avail = packed_last_avail(q, gm);
	else if (opt_last_avail_wrap)
		cli_die(EXIT_USAGE, "--last-avail-wrap", "only with --packed");
	if (opt_next_used)
		q->next_used = parse_u16_or_die("--next-used", opt_next_used);
	has_last_avail = opt_last_avail != NULL;
	has_next_used = opt_next_used != NULL;
}

int main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options,
				   "[status|chains|check] {--mem FILE[@GPA] --size N --desc GPA "
				   "--avail GPA --used GPA | --api-sock PATH}");
	const char *cmd = poptGetArg(pc), *extra = poptGetArg(pc);
	struct virtq q = { 0 };
	struct err e = { 0 };
	int status;

	if (!cmd)
		cmd = "status";
	if (strcmp(cmd, "status") && strcmp(cmd, "chains") && strcmp(cmd, "check"))
		cli_die(EXIT_USAGE, cmd, "unknown command (status, chains or check)");
	if (extra)
		cli_die(EXIT_USAGE, extra, "unexpected argument");
	if (opt_head && strcmp(cmd, "chains"))
		cli_die(EXIT_USAGE, "--head", "only with the chains command");
	api_conflicts();
	if (opt_api_sock)
		from_api(&q, &vq_mem);
	else
		from_options(&q, &vq_mem);

	vq_out = cli_out(stdout);
	if (!vq_out)
		cli_die(EXIT_FAIL, "output", "out of memory");
	if (!strcmp(cmd, "check")) {
		status = cmd_check(vq_out, &q, &vq_mem);
	} else {
		/* status and chains read the queue as a device would: it must be usable */
		if (!q.packed &&
		    (q.size == 0 || (q.size & (q.size - 1)) || q.size > VIRTQ_MAX_SIZE))
			cli_die(EXIT_USAGE, "--size",
				"%u is not a power of two in [1, 32768] (split ring, VIRTIO 1.2 "
				"§2.7)",
				q.size);
		if (virtq_init(&q, &vq_mem, &e))
			cli_die(EXIT_USAGE, "queue", "%s (see '%s check')", e.msg, cli.prog);
		if (!has_last_avail && !q.packed)
			q.next_avail = rd16(&vq_mem, q.device_gpa + 2);
		if (!has_next_used && !q.packed)
			q.next_used = rd16(&vq_mem, q.device_gpa + 2);
		if (!strcmp(cmd, "status")) {
			if (cli.json)
				out_record_begin(vq_out);
			if (q.packed)
				status_packed(vq_out, &q);
			else
				status_split(vq_out, &q);
			if (cli.json)
				out_record_end(vq_out);
			status = EXIT_OK;
		} else {
			status = cmd_chains(vq_out, &q);
		}
	}
	cli_out_close(vq_out);
	vq_out = NULL;
	guestmem_close(&vq_mem);
	cli_free_argv(opt_mem);
	opt_mem = NULL;
	cli_done();
	return status;
}
