/* virtio_rng.c: virtio-rng (VIRTIO 1.2 §5.4): every writable buffer is filled from getrandom. */
#include <errno.h>
#include <sys/random.h>

#include "virtio_devs.h"

static void rng_queue_notify(struct virtio_mmio *m, void *dev, unsigned qi)
{
	struct virtio_rng *r = dev;
	struct virtq *q = &m->vq[qi];
	struct virtq_chain c;
	bool used = false;

	do {
		int rc;

		while ((rc = virtio_mmio_pop(m, qi, &c, &r->sg)) == 1) {
			uint32_t done = 0;

			for (unsigned i = 0; i < r->sg.nwr; i++) {
				size_t off = 0;

				while (off < r->sg.wr[i].iov_len) {
					ssize_t n = getrandom((uint8_t *)r->sg.wr[i].iov_base + off,
							      r->sg.wr[i].iov_len - off, 0);

					if (n < 0 && errno == EINTR)
						continue;
					if (n <= 0)
						break;
					off += (size_t)n;
				}
				done += (uint32_t)off;
			}
			r->bytes += done;
			if (virtq_add_used_chain(q, &c, done)) {
				virtio_mmio_fail(m, "virtio-rng: used ring update failed");
				return;
			}
			used = true;
		}
		if (rc < 0)
			return;
	} while (!virtq_try_enable_notification(q));
	if (used)
		virtio_mmio_notify_used(m, qi);
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_notify = rng_queue_notify,
};
