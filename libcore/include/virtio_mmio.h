/* virtio_mmio.h: the virtio-mmio transport (VIRTIO 1.2 §4.2, version 2) over the shared queues. */
#ifndef CORE_VIRTIO_MMIO_H
#define CORE_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "err.h"
#include "guestmem.h"
#include "virtq.h"
#include "vm_bus.h"

#define VIRTIO_MMIO_MAX_QUEUES 4
#define VIRTIO_MMIO_QUEUE_MAX  256 /* the queue size the devices offer */

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED		 128

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

/* Interrupt status bits. */
#define VIRTIO_MMIO_INT_VRING  1
#define VIRTIO_MMIO_INT_CONFIG 2

struct virtio_mmio;

/* What a device model gives the transport; the transport knows nothing of blk, net or rng. */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features; /* device-specific features; the transport adds its own */
	unsigned nr_queues;
	uint32_t config_size;
	/* Device-specific configuration space (offset from 0x100); len 1, 2, 4 or 8. */
	void (*config_read)(void *dev, uint32_t off, uint8_t *data, unsigned len);
	/* A queue has new buffers (called on the device's worker thread, transport lock held). */
	void (*queue_notify)(struct virtio_mmio *m, void *dev, unsigned q);
	/* An extra file descriptor to poll (tap rx), and what to do when it is readable. */
	int (*poll_fd)(void *dev);
	void (*poll_ready)(struct virtio_mmio *m, void *dev);
	/* The driver reset the device. */
	void (*reset)(void *dev);
	/*
	 * Requests still in flight after queue_notify returned (asynchronous engines): finish them
	 * all before this returns, transport lock held. discard: the queues are about to be reset
	 * (device reset, a queue's ready bit written): wait for each without touching the rings;
	 * otherwise (pause, exit) complete each into its used ring as usual. Returns true when it
	 * may have left chains in the rings unserved (for lack of room): the transport then serves
	 * every queue again on resume.
	 */
	bool (*quiesce)(struct virtio_mmio *m, void *dev, bool discard);
};

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guestmem *mem;
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtq vq[VIRTIO_MMIO_MAX_QUEUES];

	/* Interrupt delivery: an irqfd (KVM), or a callback (tests). */
	int irq_fd;
	void (*irq_cb)(void *opaque);
	void *irq_opaque;
	/* Queue notifications: one ioeventfd per queue, or direct calls when there are none. */
	int kick_fd[VIRTIO_MMIO_MAX_QUEUES];
	int stop_fd;
	int wake_fd; /* the worker polls again (after a resume) */
	pthread_t worker;
	bool worker_started;

	/* Why the device needs a reset (the driver broke the rules); empty while it works. */
	char broken[200];
	uint64_t broken_count;
	uint64_t notifications, interrupts;

	/* Paused: kicks are remembered, not processed, and the device's poll fd is not watched. */
	bool paused;
	uint32_t pending_kicks; /* one bit per queue */
};

/*
 * Initialise the transport for one device. Interrupts and notifications are set up by the
 * caller: irq_fd / kick_fd (KVM irqfd and ioeventfds) or irq_cb (tests, with -1 fds).
 */
void virtio_mmio_init(struct virtio_mmio *m, const struct virtio_dev_ops *ops, void *dev,
		      const struct guestmem *mem);
void virtio_mmio_destroy(struct virtio_mmio *m);
extern const struct vm_io_ops virtio_mmio_io_ops;
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050

/* Start the worker thread that waits on the kick fds (and the device's poll fd). */
int virtio_mmio_start(struct virtio_mmio *m, struct err *e);
/* Process queue q now (as a kick would), for transports without ioeventfds and for tests. */
void virtio_mmio_kick(struct virtio_mmio *m, unsigned q);
/*
 * Quiesce the device: once virtio_mmio_pause returns, no chain is being processed or in flight
 * and none will be until virtio_mmio_resume, which processes the queues kicked meanwhile (all of
 * them, for a device with requests in flight: it may have left chains in the ring).
 */
void virtio_mmio_pause(struct virtio_mmio *m);
void virtio_mmio_resume(struct virtio_mmio *m);

/* For device models (transport lock held): ------------------------------------------------- */

/* True when the driver has set DRIVER_OK and the device is not broken. */
bool virtio_mmio_running(const struct virtio_mmio *m);
/* Signal a used-buffer interrupt if the queue's rules ask for one. */
void virtio_mmio_notify_used(struct virtio_mmio *m, unsigned q);
/*
 * The driver broke the rules (a malformed chain, avail.idx running ahead, memory outside RAM):
 * mark the device DEVICE_NEEDS_RESET, tell the driver with a configuration interrupt, and stop
 * processing until it resets the device.
 */
void virtio_mmio_fail(struct virtio_mmio *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A popped chain as scatter-gather lists: readable buffers first, then writable ones. */
struct virtio_sg {
	struct iovec rd[VIRTIO_MMIO_QUEUE_MAX];
	struct iovec wr[VIRTIO_MMIO_QUEUE_MAX];
	unsigned nrd, nwr;
	uint64_t rd_bytes, wr_bytes;
};

/*
 * Pop the next chain of queue q into sg: 1 with *head set, 0 when the queue is empty, -errno
 * when the driver broke the rules (the device is then marked broken by this call).
 */
int virtio_mmio_pop(struct virtio_mmio *m, unsigned q, struct virtq_chain *c, struct virtio_sg *sg);

/*
 * Serve one chain popped by virtio_mmio_drain: returns the bytes written into its writable
 * buffers (the used length), or -1 when it failed the device (virtio_mmio_fail) and the queue
 * must not be served further.
 */
typedef int64_t (*virtio_chain_fn)(struct virtio_mmio *m, void *dev, struct virtio_sg *sg,
				   const struct virtq_chain *c);

/*
 * Serve queue q until it is empty: pop each chain into sg, serve it, put it in the used ring;
 * then re-enable notifications and look once more (§2.7.10: a chain made available meanwhile is
 * not left waiting for a kick the driver was told not to send); interrupt the driver if any
 * chain was used and the queue's rules ask for it. Stops where the driver or the device broke
 * the rules (the device is then marked broken).
 */
void virtio_mmio_drain(struct virtio_mmio *m, unsigned q, struct virtio_sg *sg,
		       virtio_chain_fn serve, void *dev);

/* Copy helpers over an iovec list (offset into the list's bytes); return bytes copied. */
size_t virtio_sg_copy_from(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);
size_t virtio_sg_copy_to(const struct iovec *iov, unsigned n, size_t off, const void *src,
			 size_t len);

#endif
