/* virtio_rng.c: virtio-rng (VIRTIO 1.2 §5.4): every writable buffer is filled from getrandom. */
#include <errno.h>
#include <sys/random.h>

#include "virtio_devs.h"

/* Fill every writable buffer of one chain; a short getrandom leaves the rest unwritten. */
static int64_t rng_serve(struct virtio_mmio *m, void *dev, struct virtio_sg *sg,
			 const struct virtq_chain *c)
{
	struct virtio_rng *r = dev;
	uint32_t done = 0;

	(void)m;
	(void)c;
	for (unsigned i = 0; i < sg->nwr; i++) {
		size_t off = 0;

		while (off < sg->wr[i].iov_len) {
			ssize_t n = getrandom((uint8_t *)sg->wr[i].iov_base + off,
					      sg->wr[i].iov_len - off, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		done += (uint32_t)off;
	}
	r->bytes += done;
	return done;
}

static void rng_queue_notify(struct virtio_mmio *m, void *dev, unsigned qi)
{
	virtio_mmio_drain(m, qi, &((struct virtio_rng *)dev)->sg, rng_serve, dev);
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_notify = rng_queue_notify,
};
