/* virtio_devs.h: the device models behind virtio-mmio: block (raw file), network (tap), rng,
 * vsock (Unix sockets). */
#ifndef CORE_VIRTIO_DEVS_H
#define CORE_VIRTIO_DEVS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_NET	1
#define VIRTIO_ID_BLK	2
#define VIRTIO_ID_RNG	4
#define VIRTIO_ID_VSOCK 19

/*
 * How virtio-blk serves requests (Firecracker's io_engine): Sync, one at a time in the device's
 * worker (preadv, pwritev, fdatasync); Async, many in flight on an io_uring, each completed
 * (status byte, used ring) in the order the kernel finishes them.
 */
enum virtio_blk_engine { VIRTIO_BLK_SYNC, VIRTIO_BLK_ASYNC };

struct blk_uring; /* the Async engine's ring and requests in flight (virtio_blk.c) */

/* virtio-blk on a raw image file (read-only or read-write, with flush). */
struct virtio_blk {
	int fd;
	bool read_only;
	uint64_t capacity_sectors;
	char id[20];
	struct virtio_sg sg;
	enum virtio_blk_engine engine;
	struct blk_uring *uring; /* Async only */
	uint64_t reads, writes, flushes, errors;
	uint64_t in_flight_max; /* Async: the most requests the ring held at once */
};
/* Open the image with the Sync engine. */
int virtio_blk_open(struct virtio_blk *b, const char *path, bool read_only, struct err *e);
/*
 * Switch an open, unused device to another engine. Async sets up an io_uring (and its eventfd):
 * where the kernel refuses one, the error is "io_uring: why" (-ENOSYS, -EPERM, -ENOMEM, ...) and
 * the device stays Sync; never a silent fallback.
 */
int virtio_blk_set_engine(struct virtio_blk *b, enum virtio_blk_engine engine, struct err *e);
/* Whether this kernel (and seccomp filter) gives this process an io_uring; 0 or as above. */
int virtio_blk_async_probe(struct err *e);
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

/* virtio-vsock with Firecracker's host side (a Unix socket, CONNECT lines, <path>_<port>). */
#define VSOCK_MAX_CONNS 16
#define VSOCK_MAX_CTL	64

enum vsock_conn_state { VSOCK_CONNECT_LINE, VSOCK_CONNECTING, VSOCK_OPEN };

struct vsock_conn {
	int fd; /* -1: free */
	enum vsock_conn_state state;
	uint32_t host_port, guest_port;
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's receive credit */
	uint32_t tx_cnt;		       /* bytes sent to the guest */
	uint32_t fwd_cnt, fwd_cnt_told;	       /* bytes from the guest written to fd */
	char line[32];			       /* "CONNECT <port>" as it arrives */
	unsigned line_len;
};

/* A packet without payload for the guest (response, reset, credit, request). */
struct vsock_ctl {
	uint16_t op;
	uint32_t host_port, guest_port, fwd_cnt;
};

struct virtio_vsock {
	uint64_t guest_cid;
	char uds_path[108];
	int listen_fd, epoll_fd;
	uint32_t next_host_port; /* for connections the host opens */
	struct vsock_conn conn[VSOCK_MAX_CONNS];
	struct vsock_ctl ctl[VSOCK_MAX_CTL];
	unsigned nctl, rr;
	bool rx_waiting; /* something to send, no rx buffer: wait for a kick */
	uint8_t rx_buf[4096];
	struct virtio_sg sg;
	uint64_t rx_packets, tx_packets;
};
/* Listen on uds_path (ERR_INPUT when it cannot be bound). */
int virtio_vsock_open(struct virtio_vsock *v, uint64_t guest_cid, const char *uds_path,
		      struct err *e);
void virtio_vsock_close(struct virtio_vsock *v);
extern const struct virtio_dev_ops virtio_vsock_ops;

#endif
