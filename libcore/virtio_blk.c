/* virtio_blk.c: virtio-blk (VIRTIO 1.2 §5.2) on a raw image: read, write, flush, get id; served
 * in the worker (Sync) or through an io_uring (Async). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "virtio_devs.h"

#define VIRTIO_BLK_F_RO	   5
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define SECTOR 512u

struct blk_uring;
static void uring_free(struct blk_uring *u);

int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, struct err *e)
{
	struct stat st;
	const char *base = strrchr(path, '/');

	memset(b, 0, sizeof(*b));
	b->fd = file_open_regular(path, read_only ? O_RDONLY : O_RDWR, &st, e);
	if (b->fd < 0)
		return b->fd;
	b->read_only = read_only;
	b->capacity_sectors = (uint64_t)st.st_size / SECTOR;
	snprintf(b->id, sizeof(b->id), "%s", base ? base + 1 : path);
	return 0;
}

void virtio_blk_close(struct virtio_blk *b)
{
	uring_free(b->uring);
	b->uring = NULL;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_blk *b = dev;
	uint8_t cfg[8];

	memcpy(cfg, &b->capacity_sectors, 8); /* capacity, little-endian on x86 */
	if (off < 8)
		memcpy(data, cfg + off, off + len <= 8 ? len : 8 - off);
}

/* Read or write all of iov at off, resuming after short transfers; 0 or -1. */
static int rw_all(int fd, struct iovec *iov, unsigned niov, uint64_t off, bool write)
{
	for (unsigned i = 0; i < niov;) {
		ssize_t n = write ? pwritev(fd, iov + i, (int)(niov - i), (off_t)off)
				  : preadv(fd, iov + i, (int)(niov - i), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (uint64_t)n;
		while (i < niov && (size_t)n >= iov[i].iov_len)
			n -= (ssize_t)iov[i++].iov_len;
		if (i < niov) {
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * What a request asks for once checked: a transfer or a flush still to do (BLK_OP_*), or a
 * status already known (GET_ID, errors).
 */
enum blk_op { BLK_OP_NONE, BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH };

struct blk_io {
	enum blk_op op;
	uint64_t off;	  /* bytes into the image */
	unsigned niov;	  /* the data buffers, in iov[] */
	uint32_t written; /* bytes the device writes into the chain, status byte excluded */
};

/* The data of a read: all writable bytes but the status byte. */
static uint8_t plan_read(const struct virtio_blk *b, const struct virtio_sg *sg, uint64_t sector,
			 struct iovec *iov, struct blk_io *io)
{
	uint64_t data_len = sg->wr_bytes - 1, left;

	if (data_len % SECTOR || sector > b->capacity_sectors ||
	    data_len / SECTOR > b->capacity_sectors - sector)
		return VIRTIO_BLK_S_IOERR;
	left = data_len;
	for (unsigned i = 0; i < sg->nwr && left; i++) {
		size_t k = sg->wr[i].iov_len < left ? sg->wr[i].iov_len : (size_t)left;

		iov[io->niov++] = (struct iovec){ sg->wr[i].iov_base, k };
		left -= k;
	}
	io->op = BLK_OP_READ;
	io->written = (uint32_t)data_len;
	return VIRTIO_BLK_S_OK;
}

/* The data of a write: all readable bytes after the header. */
static uint8_t plan_write(const struct virtio_blk *b, const struct virtio_sg *sg, uint64_t sector,
			  size_t skip, struct iovec *iov, struct blk_io *io)
{
	uint64_t data_len = sg->rd_bytes - skip;

	if (b->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (data_len % SECTOR || sector > b->capacity_sectors ||
	    data_len / SECTOR > b->capacity_sectors - sector)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned i = 0; i < sg->nrd; i++) {
		if (skip >= sg->rd[i].iov_len) {
			skip -= sg->rd[i].iov_len;
			continue;
		}
		iov[io->niov++] = (struct iovec){ (uint8_t *)sg->rd[i].iov_base + skip,
						  sg->rd[i].iov_len - skip };
		skip = 0;
	}
	io->op = BLK_OP_WRITE;
	return VIRTIO_BLK_S_OK;
}

/*
 * Check one request (header in the readable part, status in the last writable byte) and say
 * what it needs in *io and iov[]: VIRTIO_BLK_S_OK with io->op set for the engine to do, or the
 * final status (io->op BLK_OP_NONE).
 */
static uint8_t blk_plan(struct virtio_blk *b, struct virtio_sg *sg, struct iovec *iov,
			struct blk_io *io)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;

	*io = (struct blk_io){ .op = BLK_OP_NONE };
	if (virtio_sg_copy_from(sg->rd, sg->nrd, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	io->off = hdr.sector * SECTOR;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		return plan_read(b, sg, hdr.sector, iov, io);
	case VIRTIO_BLK_T_OUT:
		return plan_write(b, sg, hdr.sector, sizeof(hdr), iov, io);
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		if (!b->read_only)
			io->op = BLK_OP_FLUSH;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID: {
		char id[20] = { 0 };

		memcpy(id, b->id, strnlen(b->id, sizeof(id)));
		io->written = (uint32_t)virtio_sg_copy_to(
			sg->wr, sg->nwr, 0, id,
			sg->wr_bytes - 1 < sizeof(id) ? sg->wr_bytes - 1 : sizeof(id));
		return VIRTIO_BLK_S_OK;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* A transfer or flush done: the counters, and the status it leaves. */
static uint8_t blk_done(struct virtio_blk *b, enum blk_op op, bool ok)
{
	if (!ok) {
		b->errors++;
		return VIRTIO_BLK_S_IOERR;
	}
	if (op == BLK_OP_READ)
		b->reads++;
	else if (op == BLK_OP_WRITE)
		b->writes++;
	return VIRTIO_BLK_S_OK;
}

static bool has_status_byte(struct virtio_mmio *m, const struct virtio_sg *sg,
			    const struct virtq_chain *c)
{
	if (sg->nwr && sg->wr[sg->nwr - 1].iov_len)
		return true;
	virtio_mmio_fail(m, "virtio-blk: request %u has no status byte", c->head);
	return false;
}

/* Sync: one request, start to end, here; returns the used length or -1 (device broken). */
static int64_t blk_serve(struct virtio_mmio *m, void *dev, struct virtio_sg *sg,
			 const struct virtq_chain *c)
{
	struct virtio_blk *b = dev;
	struct iovec iov[VIRTIO_MMIO_QUEUE_MAX];
	struct blk_io io;
	uint8_t status;

	if (!has_status_byte(m, sg, c))
		return -1;
	status = blk_plan(b, sg, iov, &io);
	if (status == VIRTIO_BLK_S_OK && io.op == BLK_OP_FLUSH)
		status = blk_done(b, io.op, fdatasync(b->fd) == 0);
	else if (status == VIRTIO_BLK_S_OK && io.op != BLK_OP_NONE)
		status = blk_done(b, io.op,
				  rw_all(b->fd, iov, io.niov, io.off, io.op == BLK_OP_WRITE) == 0);
	else if (status != VIRTIO_BLK_S_OK)
		b->errors++;
	virtio_sg_copy_to(sg->wr, sg->nwr, sg->wr_bytes - 1, &status, 1);
	return status == VIRTIO_BLK_S_OK ? (int64_t)io.written + 1 : 1;
}

/* ---- Async: io_uring ---------------------------------------------------------------------- */

/* A request in flight: its chain (for the used ring), what is left to transfer, its status. */
struct blk_req {
	struct virtq_chain c;
	unsigned qi;
	enum blk_op op;
	struct iovec iov[VIRTIO_MMIO_QUEUE_MAX];
	unsigned first, niov; /* iov[first..niov) is still to transfer... */
	uint64_t off;	      /* ...from this offset in the image */
	uint8_t *status;      /* the chain's status byte in guest memory */
	uint32_t written;
};

/*
 * One slot per request the queue can hold: a chain is in at most one slot, and a driver that
 * makes more available (the same head twice) waits in the ring until a slot is free.
 */
#define BLK_SLOTS VIRTIO_MMIO_QUEUE_MAX

struct blk_uring {
	struct io_uring ring;
	int event_fd; /* the ring's completions wake the worker */
	bool polled;  /* a worker polls event_fd: completions need not be waited for inline */
	unsigned nfree;
	uint16_t free[BLK_SLOTS];
	struct blk_req req[BLK_SLOTS];
};

static unsigned in_flight(const struct blk_uring *u)
{
	return BLK_SLOTS - u->nfree;
}

static void uring_free(struct blk_uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	if (u->event_fd >= 0)
		close(u->event_fd);
	free(u);
}

static int uring_new(struct blk_uring **out, struct err *e)
{
	struct blk_uring *u = calloc(1, sizeof(*u));
	int rc;

	*out = NULL;
	if (!u)
		return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
	/* completions never overflow: the CQ (twice the SQ) holds more than the slots */
	rc = io_uring_queue_init(BLK_SLOTS, &u->ring, 0);
	if (rc < 0) {
		free(u);
		return err_set(e, -rc, "io_uring: %s", strerror(-rc));
	}
	u->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->event_fd < 0) {
		rc = -errno;
		uring_free(u);
		return err_set(e, -rc, "io_uring: eventfd: %s", strerror(-rc));
	}
	rc = io_uring_register_eventfd(&u->ring, u->event_fd);
	if (rc < 0) {
		uring_free(u);
		return err_set(e, -rc, "io_uring: register eventfd: %s", strerror(-rc));
	}
	for (unsigned i = 0; i < BLK_SLOTS; i++)
		u->free[u->nfree++] = (uint16_t)(BLK_SLOTS - 1 - i);
	*out = u;
	return 0;
}

int virtio_blk_async_probe(struct err *e)
{
	struct blk_uring *u;
	int rc = uring_new(&u, e);

	uring_free(u);
	return rc;
}

int virtio_blk_set_engine(struct virtio_blk *b, enum virtio_blk_engine engine, struct err *e)
{
	int rc = 0;

	if (engine == b->engine)
		return 0;
	if (engine == VIRTIO_BLK_ASYNC) {
		rc = uring_new(&b->uring, e);
		/* the image as the ring's file 0: no file lookup per request */
		if (!rc && (rc = io_uring_register_files(&b->uring->ring, &b->fd, 1)) < 0) {
			err_set(e, -rc, "io_uring: register file: %s", strerror(-rc));
			uring_free(b->uring);
			b->uring = NULL;
		}
	} else {
		uring_free(b->uring);
		b->uring = NULL;
	}
	if (!rc)
		b->engine = engine;
	return rc;
}

/* Queue the next step of r's transfer (or its flush) on the ring; submitted later. */
static void req_queue(struct blk_uring *u, struct blk_req *r)
{
	/* never NULL: the SQ has a slot per request, and a request has at most one step queued */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (r->op == BLK_OP_FLUSH)
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
	else if (r->op == BLK_OP_READ)
		io_uring_prep_readv(sqe, 0, r->iov + r->first, r->niov - r->first, r->off);
	else
		io_uring_prep_writev(sqe, 0, r->iov + r->first, r->niov - r->first, r->off);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, (uint64_t)(r - u->req));
}

/*
 * Everything queued to the kernel; false when the ring refuses (the host's failure: the device
 * is then marked broken and its requests wait for a reset).
 */
static bool uring_submit(struct virtio_mmio *m, struct blk_uring *u)
{
	int rc;

	while (io_uring_sq_ready(&u->ring)) {
		rc = io_uring_submit(&u->ring);
		if (rc > 0 || rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc == 0)
			break; /* taken on the next call */
		virtio_mmio_fail(m, "virtio-blk: io_uring_submit: %s", strerror(-rc));
		return false;
	}
	return true;
}

/* The used element of a finished request: status byte, then the chain in the used ring. */
static bool req_finish(struct virtio_mmio *m, struct blk_uring *u, struct blk_req *r,
		       uint8_t status)
{
	struct virtq *q = &m->vq[r->qi];
	uint32_t len = status == VIRTIO_BLK_S_OK ? r->written + 1 : 1;

	u->free[u->nfree++] = (uint16_t)(r - u->req);
	*r->status = status;
	if (virtq_add_used_chain(q, &r->c, len)) {
		virtio_mmio_fail(m, "virtio-blk queue %u: used ring update failed", r->qi);
		return false;
	}
	return true;
}

/*
 * One completion: a short transfer goes on from where it stopped (0 bytes: past the end of a
 * file that shrank, an error); anything else finishes the request. Returns true when a chain
 * went to the used ring.
 */
static bool req_complete(struct virtio_mmio *m, struct virtio_blk *b, struct blk_req *r, int res)
{
	struct blk_uring *u = b->uring;
	size_t n = res > 0 ? (size_t)res : 0;

	if (res == -EINTR || res == -EAGAIN) {
		req_queue(u, r);
		return false;
	}
	if (r->op != BLK_OP_FLUSH && res > 0) {
		while (r->first < r->niov && n >= r->iov[r->first].iov_len)
			n -= r->iov[r->first++].iov_len;
		if (r->first < r->niov) {
			r->iov[r->first].iov_base = (uint8_t *)r->iov[r->first].iov_base + n;
			r->iov[r->first].iov_len -= n;
			r->off += (uint64_t)res;
			req_queue(u, r);
			return false;
		}
	}
	return req_finish(m, u, r,
			  blk_done(b, r->op, res >= 0 && (r->op == BLK_OP_FLUSH || res > 0)));
}

/* Reap every completion there is; discard: free the slots without touching guest memory. */
static bool uring_reap(struct virtio_mmio *m, struct virtio_blk *b, bool discard)
{
	struct blk_uring *u = b->uring;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool used = false;

	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		struct blk_req *r = &u->req[cqe->user_data % BLK_SLOTS];

		if (discard)
			u->free[u->nfree++] = (uint16_t)(r - u->req);
		else
			used |= req_complete(m, b, r, cqe->res);
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	return used;
}

/*
 * Start one popped chain: on the ring, or finished at once (GET_ID, a bad request). Returns
 * true when it went to the used ring now, false when it is in flight; *broken when the device
 * failed.
 */
static bool req_start(struct virtio_mmio *m, struct virtio_blk *b, unsigned qi,
		      const struct virtq_chain *c, bool *broken)
{
	struct blk_uring *u = b->uring;
	struct blk_req *r = &u->req[u->free[--u->nfree]];
	struct virtio_sg *sg = &b->sg;
	struct blk_io io;
	uint8_t status;

	if (!has_status_byte(m, sg, c)) {
		u->nfree++;
		*broken = true;
		return false;
	}
	r->c = *c;
	r->qi = qi;
	r->status = (uint8_t *)sg->wr[sg->nwr - 1].iov_base + sg->wr[sg->nwr - 1].iov_len - 1;
	status = blk_plan(b, sg, r->iov, &io);
	r->op = io.op;
	r->first = 0;
	r->niov = io.niov;
	r->off = io.off;
	r->written = io.written;
	if (status == VIRTIO_BLK_S_OK && io.op != BLK_OP_NONE &&
	    (io.op == BLK_OP_FLUSH || io.niov)) {
		req_queue(u, r);
		if (in_flight(u) > b->in_flight_max)
			b->in_flight_max = in_flight(u);
		return false;
	}
	/* a transfer of no data at all is done, as in Sync (rw_all has nothing to do) */
	if (status == VIRTIO_BLK_S_OK && io.op != BLK_OP_NONE)
		status = blk_done(b, io.op, true);
	else if (status != VIRTIO_BLK_S_OK)
		b->errors++;
	*broken = !req_finish(m, u, r, status);
	return !*broken;
}

/*
 * Pop and start chains while there are free slots; then re-enable notifications as
 * virtio_mmio_drain does, unless the slots ran out (a completion brings the worker back).
 */
static bool async_drain(struct virtio_mmio *m, struct virtio_blk *b, unsigned qi, bool *broken)
{
	struct blk_uring *u = b->uring;
	struct virtq_chain c;
	bool used = false;

	do {
		int rc = 0;

		while (u->nfree && !*broken && (rc = virtio_mmio_pop(m, qi, &c, &b->sg)) == 1)
			used |= req_start(m, b, qi, &c, broken);
		if (rc < 0)
			*broken = true;
	} while (!*broken && u->nfree && !virtq_try_enable_notification(&m->vq[qi]));
	if (!uring_submit(m, u))
		*broken = true;
	return used;
}

/* Wait until at least one completion is there (or nothing is in flight). */
static void uring_wait(struct blk_uring *u)
{
	struct io_uring_cqe *cqe;

	if (in_flight(u) && io_uring_sq_ready(&u->ring) == 0)
		(void)io_uring_wait_cqe(&u->ring, &cqe);
	else if (in_flight(u))
		(void)io_uring_submit_and_wait(&u->ring, 1);
}

/*
 * Pop, start and submit chains; then reap what the kernel finished within the submission (data
 * in the page cache is often read or written there and then) without waiting for the eventfd to
 * wake the worker, and go on while that made room for more. Stops popping where the device is
 * broken or stopped, still submitting the rest of the transfers in flight.
 */
static bool async_serve(struct virtio_mmio *m, struct virtio_blk *b, unsigned qi, bool *broken)
{
	struct blk_uring *u = b->uring;
	bool used = false;
	uint64_t cnt;

	for (;;) {
		if (!*broken && virtio_mmio_running(m) && m->vq[qi].ready)
			used |= async_drain(m, b, qi, broken);
		else if (!uring_submit(m, u))
			break;
		if (!io_uring_cq_ready(&u->ring))
			break;
		/*
		 * Clear the eventfd before reaping: the worker is not woken for completions reaped
		 * here, and one posted after the read signals it again (none is missed).
		 */
		if (read(u->event_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			break;
		used |= uring_reap(m, b, false);
	}
	return used;
}

static void async_notify(struct virtio_mmio *m, struct virtio_blk *b, unsigned qi)
{
	struct blk_uring *u = b->uring;
	bool broken = false, used = async_serve(m, b, qi, &broken);

	/*
	 * Without a worker polling the ring (no ioeventfds), this call has to see them through,
	 * also those started before the driver broke the rules.
	 */
	while (!__atomic_load_n(&u->polled, __ATOMIC_RELAXED) && in_flight(u)) {
		uring_wait(u);
		used |= uring_reap(m, b, false);
		used |= async_serve(m, b, qi, &broken);
	}
	if (used)
		virtio_mmio_notify_used(m, qi);
}

static void blk_queue_notify(struct virtio_mmio *m, void *dev, unsigned qi)
{
	struct virtio_blk *b = dev;

	if (b->engine == VIRTIO_BLK_ASYNC)
		async_notify(m, b, qi);
	else
		virtio_mmio_drain(m, qi, &b->sg, blk_serve, dev);
}

static int blk_poll_fd(void *dev)
{
	struct virtio_blk *b = dev;

	if (b->engine != VIRTIO_BLK_ASYNC)
		return -1;
	__atomic_store_n(&b->uring->polled, true, __ATOMIC_RELAXED);
	return b->uring->event_fd;
}

/* The ring's eventfd: completions to put in the used ring, then room for more chains. */
static void blk_poll_ready(struct virtio_mmio *m, void *dev)
{
	struct virtio_blk *b = dev;
	struct blk_uring *u = b->uring;
	uint64_t cnt;
	bool used, broken = false;

	if (read(u->event_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return;
	/* a completion into a queue the device no longer serves is not possible: see quiesce */
	used = uring_reap(m, b, false);
	used |= async_serve(m, b, 0, &broken);
	if (used)
		virtio_mmio_notify_used(m, 0);
}

static bool blk_quiesce(struct virtio_mmio *m, void *dev, bool discard)
{
	struct virtio_blk *b = dev;
	struct blk_uring *u = b->uring;
	bool used = false, full;

	if (b->engine != VIRTIO_BLK_ASYNC)
		return false; /* Sync serves a queue to its end under the lock */
	full = u->nfree == 0;
	/* Cancelling would not help: a transfer the kernel started runs to its end anyway. */
	while (in_flight(u)) {
		uring_wait(u);
		used |= uring_reap(m, b, discard);
	}
	if (used && !discard)
		virtio_mmio_notify_used(m, 0);
	return full;
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLK,
	.features = 1ULL << VIRTIO_BLK_F_FLUSH,
	.nr_queues = 1,
	.config_size = 8,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.poll_fd = blk_poll_fd,
	.poll_ready = blk_poll_ready,
	.quiesce = blk_quiesce,
};
