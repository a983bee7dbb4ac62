/* virtio_devs.h: the device models behind virtio-mmio: block (raw file), network (tap), rng. */
#ifndef CORE_VIRTIO_DEVS_H
#define CORE_VIRTIO_DEVS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLK 2
#define VIRTIO_ID_RNG 4

/* virtio-blk on a raw image file (read-only or read-write, with flush). */
struct virtio_blk {
	int fd;
	bool read_only;
	uint64_t capacity_sectors;
	char id[20];
	struct virtio_sg sg;
	uint64_t reads, writes, flushes, errors;
};
int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, struct err *e);
void virtio_blk_close(struct virtio_blk *b);
extern const struct virtio_dev_ops virtio_blk_ops;

/* virtio-rng fed by getrandom(2). */
struct virtio_rng {
	struct virtio_sg sg;
	uint64_t bytes;
};
extern const struct virtio_dev_ops virtio_rng_ops;

/* virtio-net on a tap device (IFF_VNET_HDR, 12-byte headers, no offloads). */
struct virtio_net {
	int tap_fd;
	uint8_t mac[6];
	bool rx_waiting; /* a frame is pending but the guest gave no buffer: wait for a kick */
	struct virtio_mmio *m;
	struct virtio_sg sg;
	uint64_t rx_frames, tx_frames, rx_dropped;
};
int virtio_net_open(struct virtio_net *n, const char *tap, const uint8_t mac[6], struct err *e);
void virtio_net_close(struct virtio_net *n);
extern const struct virtio_dev_ops virtio_net_ops;

#endif
