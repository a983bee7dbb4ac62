/* virtio_net.c: virtio-net (VIRTIO 1.2 §5.1) on a tap device: rx queue 0, tx queue 1. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virtio_devs.h"

#define VIRTIO_NET_F_MAC 5
#define NET_HDR_LEN	 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define RXQ		 0
#define TXQ		 1

int virtio_net_open(struct virtio_net *n, const char *tap, const uint8_t mac[6], struct err *e)
{
	struct ifreq ifr;
	int hdr = NET_HDR_LEN;

	memset(n, 0, sizeof(*n));
	memcpy(n->mac, mac, 6);
	n->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap_fd < 0)
		return err_set(e, errno, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, tap, IFNAMSIZ - 1);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(n->tap_fd, TUNSETIFF, &ifr) < 0 || ioctl(n->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(n->tap_fd, TUNSETOFFLOAD, 0) < 0) {
		/* The tap the caller named cannot be attached (name, owner, flags): bad input. */
		int rc = err_input(e, errno, "tap %s: %s", tap, strerror(errno));

		close(n->tap_fd);
		n->tap_fd = -1;
		return rc;
	}
	return 0;
}

void virtio_net_close(struct virtio_net *n)
{
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
}

static void net_config_read(void *dev, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_net *n = dev;

	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < 6 ? n->mac[off + i] : 0;
}

/* Frames from the tap into the guest's rx buffers, while both last. */
static void net_rx(struct virtio_mmio *m, struct virtio_net *n)
{
	struct virtq *q = &m->vq[RXQ];
	struct virtq_chain c;
	bool used = false;

	if (!virtio_mmio_running(m) || !q->ready)
		return;
	for (;;) {
		int rc = virtio_mmio_pop(m, RXQ, &c, &n->sg);
		ssize_t len;
		uint16_t one = 1;

		if (rc < 0)
			return;
		if (rc == 0) {
			/* No buffer: leave the frame in the tap until the guest adds some. */
			if (virtq_try_enable_notification(q)) {
				n->rx_waiting = true;
				break;
			}
			continue;
		}
		len = readv(n->tap_fd, n->sg.wr, (int)n->sg.nwr);
		if (len < 0) {
			virtq_undo_pop(q, &c);
			n->rx_waiting = false;
			break; /* EAGAIN: nothing more to read */
		}
		if (len < NET_HDR_LEN) {
			n->rx_dropped++;
			virtq_add_used_chain(q, &c, 0);
			used = true;
			continue;
		}
		virtio_sg_copy_to(n->sg.wr, n->sg.nwr, 10, &one, 2); /* num_buffers = 1 */
		virtq_add_used_chain(q, &c, (uint32_t)len);
		n->rx_frames++;
		used = true;
	}
	if (used)
		virtio_mmio_notify_used(m, RXQ);
}

/* One frame out: header + frame, as the tap expects them with IFF_VNET_HDR; nothing written. */
static int64_t net_tx_serve(struct virtio_mmio *m, void *dev, struct virtio_sg *sg,
			    const struct virtq_chain *c)
{
	struct virtio_net *n = dev;

	(void)m;
	(void)c;
	if (sg->rd_bytes >= NET_HDR_LEN && writev(n->tap_fd, sg->rd, (int)sg->nrd) >= 0)
		n->tx_frames++;
	return 0;
}

static void net_queue_notify(struct virtio_mmio *m, void *dev, unsigned qi)
{
	struct virtio_net *n = dev;

	n->m = m;
	if (qi == TXQ)
		virtio_mmio_drain(m, TXQ, &n->sg, net_tx_serve, n);
	else
		net_rx(m, n); /* new rx buffers: a waiting frame can go in now */
}

/* Poll the tap only while the guest has room for frames (else it would spin). */
static int net_poll_fd(void *dev)
{
	struct virtio_net *n = dev;

	return n->rx_waiting ? -1 : n->tap_fd;
}

static void net_poll_ready(struct virtio_mmio *m, void *dev)
{
	net_rx(m, dev);
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	n->rx_waiting = false;
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.features = 1ULL << VIRTIO_NET_F_MAC,
	.nr_queues = 2,
	.config_size = 8,
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.poll_fd = net_poll_fd,
	.poll_ready = net_poll_ready,
	.reset = net_reset,
};
