/* virtio_mmio.c: virtio-mmio registers, feature negotiation, queue set-up, kicks and interrupts. */
#include "virtio_mmio.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Register offsets (§4.2.2). */
#define REG_MAGIC	     0x000
#define REG_VERSION	     0x004
#define REG_DEVICE_ID	     0x008
#define REG_VENDOR_ID	     0x00c
#define REG_DEVICE_FEATURES  0x010
#define REG_DEVICE_FEAT_SEL  0x014
#define REG_DRIVER_FEATURES  0x020
#define REG_DRIVER_FEAT_SEL  0x024
#define REG_QUEUE_SEL	     0x030
#define REG_QUEUE_NUM_MAX    0x034
#define REG_QUEUE_NUM	     0x038
#define REG_QUEUE_READY	     0x044
#define REG_QUEUE_NOTIFY     0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK    0x064
#define REG_STATUS	     0x070
#define REG_QUEUE_DESC_LO    0x080
#define REG_QUEUE_DESC_HI    0x084
#define REG_QUEUE_DRIVER_LO  0x090
#define REG_QUEUE_DRIVER_HI  0x094
#define REG_QUEUE_DEVICE_LO  0x0a0
#define REG_QUEUE_DEVICE_HI  0x0a4
#define REG_CONFIG_GEN	     0x0fc
#define REG_CONFIG	     0x100

#define MAGIC_VIRT 0x74726976u /* "virt" */
#define VENDOR_ID  0x524d564du /* "MVMR" */

void virtio_mmio_init(struct virtio_mmio *m, const struct virtio_dev_ops *ops, void *dev,
		      const struct guestmem *mem)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->ops = ops;
	m->dev = dev;
	m->mem = mem;
	m->device_features = ops->features | (1ULL << VIRTIO_F_VERSION_1) |
			     (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_INDIRECT_DESC);
	m->irq_fd = -1;
	m->stop_fd = m->wake_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		m->kick_fd[i] = -1;
		m->vq[i].max_size = VIRTIO_MMIO_QUEUE_MAX;
	}
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	if (m->worker_started) {
		uint64_t one = 1;

		if (write(m->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(m->worker, NULL);
	}
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	pthread_mutex_destroy(&m->lock);
}

bool virtio_mmio_running(const struct virtio_mmio *m)
{
	return (m->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void raise_irq(struct virtio_mmio *m, uint32_t why)
{
	m->interrupt_status |= why;
	m->interrupts++;
	if (m->irq_fd >= 0) {
		uint64_t one = 1;

		(void)!write(m->irq_fd, &one, sizeof(one));
	} else if (m->irq_cb) {
		m->irq_cb(m->irq_opaque);
	}
}

void virtio_mmio_notify_used(struct virtio_mmio *m, unsigned q)
{
	if (virtq_prepare_kick(&m->vq[q])) {
		m->vq[q].signalled_used = m->vq[q].next_used;
		raise_irq(m, VIRTIO_MMIO_INT_VRING);
	}
}

void virtio_mmio_fail(struct virtio_mmio *m, const char *fmt, ...)
{
	va_list ap;

	if (m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	va_start(ap, fmt);
	vsnprintf(m->broken, sizeof(m->broken), fmt, ap);
	va_end(ap);
	m->broken_count++;
	m->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	m->config_generation++;
	raise_irq(m, VIRTIO_MMIO_INT_CONFIG);
}

static void reset_locked(struct virtio_mmio *m)
{
	m->status = 0;
	m->driver_features = 0;
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	m->interrupt_status = 0;
	/* broken[] stays: the report at exit says what the driver once did wrong */
	/* Nothing in flight may complete into a reset queue. */
	if (m->ops->quiesce)
		(void)m->ops->quiesce(m, m->dev, true);
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		struct virtq *q = &m->vq[i];

		*q = (struct virtq){ .max_size = VIRTIO_MMIO_QUEUE_MAX };
	}
	if (m->ops->reset)
		m->ops->reset(m->dev);
}

static struct virtq *selected(struct virtio_mmio *m)
{
	return m->queue_sel < m->ops->nr_queues ? &m->vq[m->queue_sel] : NULL;
}

static void queue_set_ready(struct virtio_mmio *m, struct virtq *q, uint32_t v)
{
	struct err e = { 0 };

	/* Its chains in flight must not complete into what the driver sets up next. */
	if (q->ready && m->ops->quiesce)
		(void)m->ops->quiesce(m, m->dev, true);
	if (!v) {
		q->ready = false;
		q->mem = NULL;
		return;
	}
	q->event_idx = m->driver_features & (1ULL << VIRTIO_F_EVENT_IDX);
	q->indirect = m->driver_features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	q->packed = false;
	q->ready = true;
	virtq_reset_state(q);
	if (virtq_init(q, m->mem, &e)) {
		q->ready = false;
		virtio_mmio_fail(m, "queue %u: %s", m->queue_sel, e.msg);
	}
}

static void status_write(struct virtio_mmio *m, uint32_t v)
{
	if (v == 0) {
		reset_locked(m);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(m->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* FEATURES_OK only sticks for a subset of ours that includes VERSION_1. */
		if ((m->driver_features & ~m->device_features) ||
		    !(m->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	/* The driver cannot clear DEVICE_NEEDS_RESET except by a reset. */
	m->status = v | (m->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static uint32_t reg_read(struct virtio_mmio *m, uint64_t off)
{
	struct virtq *q = selected(m);

	switch (off) {
	case REG_MAGIC:
		return MAGIC_VIRT;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return m->ops->device_id;
	case REG_VENDOR_ID:
		return VENDOR_ID;
	case REG_DEVICE_FEATURES:
		return m->device_features_sel < 2
			       ? (uint32_t)(m->device_features >> (32 * m->device_features_sel))
			       : 0;
	case REG_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case REG_QUEUE_READY:
		return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return m->interrupt_status;
	case REG_STATUS:
		return m->status;
	case REG_CONFIG_GEN:
		return m->config_generation;
	default:
		return 0;
	}
}

static void set_lo(gpa_t *g, uint32_t v)
{
	*g = (*g & ~0xffffffffULL) | v;
}

static void set_hi(gpa_t *g, uint32_t v)
{
	*g = (*g & 0xffffffffULL) | (uint64_t)v << 32;
}

static void reg_write(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtq *q = selected(m);
	/* Queue layout may only change while the queue is not ready (§4.2.2.2). */
	struct virtq *qc = q && !q->ready ? q : NULL;

	switch (off) {
	case REG_DEVICE_FEAT_SEL:
		m->device_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		if (m->status & VIRTIO_STATUS_FEATURES_OK)
			break;
		if (m->driver_features_sel == 0)
			m->driver_features = (m->driver_features & ~0xffffffffULL) | v;
		else if (m->driver_features_sel == 1)
			m->driver_features = (m->driver_features & 0xffffffffULL) | (uint64_t)v
											    << 32;
		break;
	case REG_DRIVER_FEAT_SEL:
		m->driver_features_sel = v;
		break;
	case REG_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (qc)
			qc->size = (uint16_t)(v > 0xffff ? 0 : v);
		break;
	case REG_QUEUE_READY:
		if (q)
			queue_set_ready(m, q, v);
		break;
	case REG_QUEUE_NOTIFY:
		/* Only without an ioeventfd (tests, or KVM refusing one) does this reach us. */
		if (v < m->ops->nr_queues && m->paused) {
			m->pending_kicks |= 1u << v;
		} else if (v < m->ops->nr_queues && virtio_mmio_running(m) && m->vq[v].ready) {
			m->notifications++;
			m->ops->queue_notify(m, m->dev, v);
		}
		break;
	case REG_INTERRUPT_ACK:
		m->interrupt_status &= ~v;
		break;
	case REG_STATUS:
		status_write(m, v);
		break;
	case REG_QUEUE_DESC_LO:
		if (qc)
			set_lo(&qc->desc_gpa, v);
		break;
	case REG_QUEUE_DESC_HI:
		if (qc)
			set_hi(&qc->desc_gpa, v);
		break;
	case REG_QUEUE_DRIVER_LO:
		if (qc)
			set_lo(&qc->driver_gpa, v);
		break;
	case REG_QUEUE_DRIVER_HI:
		if (qc)
			set_hi(&qc->driver_gpa, v);
		break;
	case REG_QUEUE_DEVICE_LO:
		if (qc)
			set_lo(&qc->device_gpa, v);
		break;
	case REG_QUEUE_DEVICE_HI:
		if (qc)
			set_hi(&qc->device_gpa, v);
		break;
	default:
		break; /* read-only or reserved */
	}
}

static void mmio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_mmio *m = dev;

	memset(data, 0, len);
	pthread_mutex_lock(&m->lock);
	if (off >= REG_CONFIG) {
		uint64_t coff = off - REG_CONFIG;

		if (coff + len <= m->ops->config_size && m->ops->config_read)
			m->ops->config_read(m->dev, (uint32_t)coff, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v = reg_read(m, off);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&m->lock);
}

static void mmio_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct virtio_mmio *m = dev;
	uint32_t v;

	if (off >= REG_CONFIG || len != 4 || (off & 3))
		return; /* the devices here have no writable configuration */
	memcpy(&v, data, 4);
	pthread_mutex_lock(&m->lock);
	reg_write(m, off, v);
	pthread_mutex_unlock(&m->lock);
}

const struct vm_io_ops virtio_mmio_io_ops = { .read = mmio_read, .write = mmio_write };

void virtio_mmio_kick(struct virtio_mmio *m, unsigned q)
{
	pthread_mutex_lock(&m->lock);
	if (q < m->ops->nr_queues && m->paused)
		m->pending_kicks |= 1u << q;
	else if (q < m->ops->nr_queues && virtio_mmio_running(m) && m->vq[q].ready) {
		m->notifications++;
		m->ops->queue_notify(m, m->dev, q);
	}
	pthread_mutex_unlock(&m->lock);
}

void virtio_mmio_pause(struct virtio_mmio *m)
{
	/* Chains are processed under the lock: taking it waits for the one in progress. */
	pthread_mutex_lock(&m->lock);
	m->paused = true;
	if (m->ops->quiesce && m->ops->quiesce(m, m->dev, false))
		m->pending_kicks |= (1u << m->ops->nr_queues) - 1;
	pthread_mutex_unlock(&m->lock);
}

void virtio_mmio_resume(struct virtio_mmio *m)
{
	uint64_t one = 1;
	uint32_t pending;

	pthread_mutex_lock(&m->lock);
	m->paused = false;
	pending = m->pending_kicks;
	m->pending_kicks = 0;
	pthread_mutex_unlock(&m->lock);
	for (unsigned q = 0; q < m->ops->nr_queues; q++)
		if (pending & (1u << q))
			virtio_mmio_kick(m, q);
	/* The worker left the device's poll fd out while paused: let it poll again. */
	if (m->wake_fd >= 0 && write(m->wake_fd, &one, sizeof(one)) != sizeof(one))
		return; /* a wake is already pending */
}

static bool is_paused(struct virtio_mmio *m)
{
	bool paused;

	pthread_mutex_lock(&m->lock);
	paused = m->paused;
	pthread_mutex_unlock(&m->lock);
	return paused;
}

static void *worker(void *p)
{
	struct virtio_mmio *m = p;
	struct pollfd pfd[VIRTIO_MMIO_MAX_QUEUES + 3];
	unsigned nq = m->ops->nr_queues;

	for (;;) {
		unsigned n = 0;
		int extra = m->ops->poll_fd && !is_paused(m) ? m->ops->poll_fd(m->dev) : -1;
		uint64_t cnt;

		for (unsigned i = 0; i < nq; i++)
			pfd[n++] = (struct pollfd){ .fd = m->kick_fd[i], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = m->stop_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = m->wake_fd, .events = POLLIN };
		if (extra >= 0)
			pfd[n++] = (struct pollfd){ .fd = extra, .events = POLLIN };
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (pfd[nq].revents)
			return NULL;
		if ((pfd[nq + 1].revents & POLLIN) &&
		    read(m->wake_fd, &cnt, sizeof(cnt)) != sizeof(cnt))
			continue;
		for (unsigned i = 0; i < nq; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (read(m->kick_fd[i], &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			virtio_mmio_kick(m, i);
		}
		if (extra >= 0 && (pfd[nq + 2].revents & POLLIN)) {
			pthread_mutex_lock(&m->lock);
			if (!m->paused)
				m->ops->poll_ready(m, m->dev);
			pthread_mutex_unlock(&m->lock);
		}
	}
}

int virtio_mmio_start(struct virtio_mmio *m, struct err *e)
{
	int rc;

	for (unsigned i = 0; i < m->ops->nr_queues; i++)
		if (m->kick_fd[i] < 0)
			return 0; /* notifications arrive as MMIO writes: no worker needed */
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->stop_fd < 0)
		return err_set(e, errno, "%s: eventfd: %s", m->ops->name, strerror(errno));
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0)
		return err_set(e, errno, "%s: eventfd: %s", m->ops->name, strerror(errno));
	rc = pthread_create(&m->worker, NULL, worker, m);
	if (rc)
		return err_set(e, rc, "%s: worker thread: %s", m->ops->name, strerror(rc));
	m->worker_started = true;
	return 0;
}

int virtio_mmio_pop(struct virtio_mmio *m, unsigned qi, struct virtq_chain *c, struct virtio_sg *sg)
{
	struct virtq *q = &m->vq[qi];
	struct virtq_desc d;
	int rc = virtq_pop(q, c);

	if (rc == 0)
		return 0;
	if (rc < 0) {
		virtio_mmio_fail(m, "%s queue %u: %s", m->ops->name, qi,
				 rc == -EPROTO ? "avail.idx ran ahead of the ring"
					       : "bad descriptor index at the head of a chain");
		return rc;
	}
	sg->nrd = sg->nwr = 0;
	sg->rd_bytes = sg->wr_bytes = 0;
	while ((rc = virtq_chain_next(c, &d)) == 1) {
		if (d.len && !d.hva) {
			rc = -EFAULT;
			break;
		}
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			if (sg->nwr == VIRTIO_MMIO_QUEUE_MAX) {
				rc = -E2BIG;
				break;
			}
			sg->wr[sg->nwr++] = (struct iovec){ d.hva, d.len };
			sg->wr_bytes += d.len;
		} else {
			if (sg->nwr || sg->nrd == VIRTIO_MMIO_QUEUE_MAX) {
				rc = -EINVAL; /* readable after writable (§2.7.4.2) */
				break;
			}
			sg->rd[sg->nrd++] = (struct iovec){ d.hva, d.len };
			sg->rd_bytes += d.len;
		}
	}
	if (rc < 0) {
		virtio_mmio_fail(m, "%s queue %u: chain at descriptor %u: %s", m->ops->name, qi,
				 c->head,
				 rc == -ELOOP	 ? "descriptor loop or chain longer than the queue"
				 : rc == -EFAULT ? "buffer outside guest memory"
						 : strerror(-rc));
		return rc;
	}
	return 1;
}

void virtio_mmio_drain(struct virtio_mmio *m, unsigned qi, struct virtio_sg *sg,
		       virtio_chain_fn serve, void *dev)
{
	struct virtq *q = &m->vq[qi];
	struct virtq_chain c;
	bool used = false;

	do {
		int rc;

		while ((rc = virtio_mmio_pop(m, qi, &c, sg)) == 1) {
			int64_t len = serve(m, dev, sg, &c);

			if (len < 0)
				return;
			if (virtq_add_used_chain(q, &c, (uint32_t)len)) {
				virtio_mmio_fail(m, "%s queue %u: used ring update failed",
						 m->ops->name, qi);
				return;
			}
			used = true;
		}
		if (rc < 0)
			return; /* the device is broken now; virtio_mmio_pop said why */
	} while (!virtq_try_enable_notification(q));
	if (used)
		virtio_mmio_notify_used(m, qi);
}

size_t virtio_sg_copy_from(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;

		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t virtio_sg_copy_to(const struct iovec *iov, unsigned n, size_t off, const void *src,
			 size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;

		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)src + done, k);
		done += k;
		off = 0;
	}
	return done;
}
