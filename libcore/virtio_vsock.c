/*
 * virtio_vsock.c: virtio-vsock (VIRTIO 1.2 §5.10) with Firecracker's host side: a Unix socket at
 * uds_path where the host connects and writes "CONNECT <port>\n" (answered "OK <port>\n"), and
 * <uds_path>_<port> sockets the guest's connections to the host's port go to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio_devs.h"

#define RXQ 0
#define TXQ 1

#define VSOCK_HOST_CID	  2
#define VSOCK_TYPE_STREAM 1
#define VSOCK_BUF_ALLOC	  (256u << 10) /* what we tell the guest it may send unread */

enum vsock_op {
	OP_REQUEST = 1,
	OP_RESPONSE = 2,
	OP_RST = 3,
	OP_SHUTDOWN = 4,
	OP_RW = 5,
	OP_CREDIT_UPDATE = 6,
	OP_CREDIT_REQUEST = 7,
};

/* struct virtio_vsock_hdr (§5.10.6), little-endian on the wire. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

static void vsock_epoll(struct virtio_vsock *v, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	epoll_ctl(v->epoll_fd, op, fd, &ev);
}

int virtio_vsock_open(struct virtio_vsock *v, uint64_t guest_cid, const char *uds_path,
		      struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(v, 0, sizeof(*v));
	v->guest_cid = guest_cid;
	v->listen_fd = v->epoll_fd = -1;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conn[i].fd = -1;
	v->next_host_port = 1u << 30;
	if (strlen(uds_path) + 12 >= sizeof(sa.sun_path))
		return err_input(e, ENAMETOOLONG, "vsock: %s: path too long", uds_path);
	snprintf(v->uds_path, sizeof(v->uds_path), "%s", uds_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds_path);
	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (v->epoll_fd < 0 || v->listen_fd < 0)
		return err_set(e, errno, "vsock: %s", strerror(errno));
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(v->listen_fd, 16) < 0)
		return err_input(e, errno, "vsock: %s: %s", uds_path, strerror(errno));
	vsock_epoll(v, EPOLL_CTL_ADD, v->listen_fd, EPOLLIN);
	return 0;
}

void virtio_vsock_close(struct virtio_vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conn[i].fd >= 0)
			close(v->conn[i].fd);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
}

static void vsock_config_read(void *dev, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_vsock *v = dev;

	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < 8 ? (uint8_t)(v->guest_cid >> (8 * (off + i))) : 0;
}

/* ---- connections ------------------------------------------------------------------------ */

static struct vsock_conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (c->fd >= 0 && c->state != VSOCK_CONNECT_LINE && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (c->fd < 0) {
			memset(c, 0, sizeof(*c));
			c->fd = fd;
			return c;
		}
	}
	return NULL;
}

static void conn_close(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

/* A control packet (no payload) for the guest, sent with the next rx buffers. */
static void ctl_queue(struct virtio_vsock *v, enum vsock_op op, uint32_t host_port,
		      uint32_t guest_port, uint32_t fwd_cnt)
{
	if (v->nctl == VSOCK_MAX_CTL)
		return; /* the guest does not read its rx queue: drop, as a full network would */
	v->ctl[v->nctl++] = (struct vsock_ctl){ (uint16_t)op, host_port, guest_port, fwd_cnt };
}

/* Bytes the guest can take on c now (§5.10.6.3: its buf_alloc less what it has not freed). */
static uint32_t guest_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* ---- device to guest (rx queue) --------------------------------------------------------- */

static void hdr_fill(struct virtio_vsock *v, struct vsock_hdr *h, enum vsock_op op,
		     uint32_t host_port, uint32_t guest_port, uint32_t len, uint32_t fwd_cnt)
{
	*h = (struct vsock_hdr){ .src_cid = VSOCK_HOST_CID,
				 .dst_cid = v->guest_cid,
				 .src_port = host_port,
				 .dst_port = guest_port,
				 .len = len,
				 .type = VSOCK_TYPE_STREAM,
				 .op = op,
				 .buf_alloc = VSOCK_BUF_ALLOC,
				 .fwd_cnt = fwd_cnt };
	if (op == OP_SHUTDOWN)
		h->flags = 3; /* no more receiving, no more sending */
}

/* Data from an open connection into one rx chain; bytes read (0: none now, -1: end). */
static ssize_t conn_read_into(struct virtio_vsock *v, struct vsock_conn *c, size_t room)
{
	uint32_t credit = guest_credit(c);
	size_t want = room < sizeof(v->rx_buf) ? room : sizeof(v->rx_buf);
	ssize_t n;

	if (credit == 0) {
		vsock_epoll(v, EPOLL_CTL_MOD, c->fd, 0); /* until a credit update */
		return 0;
	}
	if (want > credit)
		want = credit;
	n = recv(c->fd, v->rx_buf, want, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	return n == 0 ? -1 : n;
}

/* One packet for the guest, if there is one: a control packet first, then data. */
static bool next_packet(struct virtio_vsock *v, struct vsock_hdr *h, size_t room, uint32_t *len)
{
	*len = 0;
	if (v->nctl) {
		struct vsock_ctl k = v->ctl[0];

		memmove(v->ctl, v->ctl + 1, --v->nctl * sizeof(v->ctl[0]));
		hdr_fill(v, h, k.op, k.host_port, k.guest_port, 0, k.fwd_cnt);
		return true;
	}
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conn[(v->rr + i) % VSOCK_MAX_CONNS];
		ssize_t n;

		if (c->fd < 0 || c->state != VSOCK_OPEN)
			continue;
		n = conn_read_into(v, c, room);
		if (n == 0)
			continue;
		v->rr = (v->rr + i + 1) % VSOCK_MAX_CONNS;
		if (n < 0) {
			/* The host closed its end: tell the guest, and forget the socket. */
			hdr_fill(v, h, OP_SHUTDOWN, c->host_port, c->guest_port, 0, c->fwd_cnt);
			conn_close(v, c);
			return true;
		}
		hdr_fill(v, h, OP_RW, c->host_port, c->guest_port, (uint32_t)n, c->fwd_cnt);
		c->tx_cnt += (uint32_t)n;
		*len = (uint32_t)n;
		return true;
	}
	return false;
}

static void vsock_rx(struct virtio_mmio *m, struct virtio_vsock *v)
{
	struct virtq *q = &m->vq[RXQ];
	struct virtq_chain c;
	bool used = false;

	if (!virtio_mmio_running(m) || !q->ready)
		return;
	for (;;) {
		struct vsock_hdr h;
		uint32_t len;
		int rc = virtio_mmio_pop(m, RXQ, &c, &v->sg);

		if (rc < 0)
			return;
		if (rc == 0) {
			if (virtq_try_enable_notification(q)) {
				v->rx_waiting = true; /* until the guest adds buffers */
				break;
			}
			continue;
		}
		if (v->sg.wr_bytes < sizeof(h) ||
		    !next_packet(v, &h, (size_t)(v->sg.wr_bytes - sizeof(h)), &len)) {
			virtq_undo_pop(q, &c);
			v->rx_waiting = false;
			break;
		}
		virtio_sg_copy_to(v->sg.wr, v->sg.nwr, 0, &h, sizeof(h));
		virtio_sg_copy_to(v->sg.wr, v->sg.nwr, sizeof(h), v->rx_buf, len);
		virtq_add_used_chain(q, &c, (uint32_t)sizeof(h) + len);
		v->rx_packets++;
		used = true;
	}
	if (used)
		virtio_mmio_notify_used(m, RXQ);
}

/* ---- guest to device (tx queue) ---------------------------------------------------------- */

/* The guest connects to the host's port: <uds_path>_<port>, as Firecracker does. */
static void guest_connect(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct vsock_conn *c;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, h->dst_port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    !(c = conn_new(v, fd))) {
		if (fd >= 0)
			close(fd);
		ctl_queue(v, OP_RST, h->dst_port, h->src_port, 0);
		return;
	}
	c->state = VSOCK_OPEN;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	vsock_epoll(v, EPOLL_CTL_ADD, fd, EPOLLIN);
	ctl_queue(v, OP_RESPONSE, c->host_port, c->guest_port, 0);
}

/* The payload of an RW packet to the host's socket (blocking: a slow reader slows the guest). */
static void guest_write(struct virtio_vsock *v, struct vsock_conn *c, uint32_t len)
{
	uint8_t buf[4096];

	for (uint32_t off = 0; off < len;) {
		size_t n =
			virtio_sg_copy_from(v->sg.rd, v->sg.nrd, sizeof(struct vsock_hdr) + off,
					    buf, len - off < sizeof(buf) ? len - off : sizeof(buf));

		if (n == 0 || send(c->fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		off += (uint32_t)n;
	}
	c->fwd_cnt += len;
	/* Tell the guest it may send more before it runs out (§5.10.6.3). */
	if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_BUF_ALLOC / 2) {
		ctl_queue(v, OP_CREDIT_UPDATE, c->host_port, c->guest_port, c->fwd_cnt);
		c->fwd_cnt_told = c->fwd_cnt;
	}
}

static void guest_packet(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	struct vsock_conn *c = conn_find(v, h->dst_port, h->src_port);
	char ok[32];

	if (h->dst_cid != VSOCK_HOST_CID || h->type != VSOCK_TYPE_STREAM) {
		ctl_queue(v, OP_RST, h->dst_port, h->src_port, 0);
		return;
	}
	if (c) {
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		if (c->state == VSOCK_OPEN && guest_credit(c))
			vsock_epoll(v, EPOLL_CTL_MOD, c->fd, EPOLLIN);
	}
	switch (h->op) {
	case OP_REQUEST:
		if (!c)
			guest_connect(v, h);
		break;
	case OP_RESPONSE:
		if (c && c->state == VSOCK_CONNECTING) {
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

			c->state = VSOCK_OPEN;
			if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL) == n)
				vsock_epoll(v, EPOLL_CTL_MOD, c->fd, EPOLLIN);
		}
		break;
	case OP_RW:
		if (c && c->state == VSOCK_OPEN)
			guest_write(v, c, h->len);
		else
			ctl_queue(v, OP_RST, h->dst_port, h->src_port, 0);
		break;
	case OP_SHUTDOWN:
		if (c) {
			ctl_queue(v, OP_RST, c->host_port, c->guest_port, c->fwd_cnt);
			conn_close(v, c);
		}
		break;
	case OP_RST:
		if (c)
			conn_close(v, c);
		break;
	case OP_CREDIT_REQUEST:
		if (c)
			ctl_queue(v, OP_CREDIT_UPDATE, c->host_port, c->guest_port, c->fwd_cnt);
		break;
	default: /* OP_CREDIT_UPDATE: taken above */
		break;
	}
}

/* One packet from the guest: its header, then as much payload as the header says. */
static int64_t vsock_tx_serve(struct virtio_mmio *m, void *dev, struct virtio_sg *sg,
			      const struct virtq_chain *c)
{
	struct virtio_vsock *v = dev;
	struct vsock_hdr h;

	(void)m;
	(void)c;
	if (virtio_sg_copy_from(sg->rd, sg->nrd, 0, &h, sizeof(h)) == sizeof(h) &&
	    sg->rd_bytes >= sizeof(h) + (uint64_t)h.len) {
		v->tx_packets++;
		guest_packet(v, &h);
	}
	return 0;
}

/* ---- the host's side: new connections on uds_path, and their CONNECT line ------------------- */

static void host_accept(struct virtio_vsock *v)
{
	/* Blocking, as the guest's own connections: what the guest writes is sent whole. */
	int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct vsock_conn *c;

	if (fd < 0)
		return;
	c = conn_new(v, fd);
	if (!c) {
		close(fd);
		return;
	}
	c->state = VSOCK_CONNECT_LINE;
	vsock_epoll(v, EPOLL_CTL_ADD, fd, EPOLLIN);
}

/* "CONNECT <port>\n", a byte at a time (what follows it is the connection's data). */
static void host_connect_line(struct virtio_vsock *v, struct vsock_conn *c)
{
	unsigned port;
	char ch;
	ssize_t n;

	while ((n = recv(c->fd, &ch, 1, MSG_DONTWAIT)) == 1 && ch != '\n') {
		if (c->line_len + 1 >= sizeof(c->line)) {
			conn_close(v, c);
			return;
		}
		c->line[c->line_len++] = ch;
	}
	if (n == 1) { /* the whole line */
		c->line[c->line_len] = 0;
		if (sscanf(c->line, "CONNECT %u", &port) != 1) {
			conn_close(v, c);
			return;
		}
		c->state = VSOCK_CONNECTING;
		c->host_port = v->next_host_port++;
		c->guest_port = port;
		vsock_epoll(v, EPOLL_CTL_MOD, c->fd, 0); /* no data until the guest answers */
		ctl_queue(v, OP_REQUEST, c->host_port, c->guest_port, 0);
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		conn_close(v, c);
	}
}

static void vsock_poll_ready(struct virtio_mmio *m, void *dev)
{
	struct virtio_vsock *v = dev;
	struct epoll_event ev[16];
	int n = epoll_wait(v->epoll_fd, ev, 16, 0);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == v->listen_fd) {
			host_accept(v);
			continue;
		}
		for (unsigned k = 0; k < VSOCK_MAX_CONNS; k++)
			if (v->conn[k].fd == ev[i].data.fd &&
			    v->conn[k].state == VSOCK_CONNECT_LINE)
				host_connect_line(v, &v->conn[k]);
	}
	vsock_rx(m, v);
}

static int vsock_poll_fd(void *dev)
{
	struct virtio_vsock *v = dev;

	return v->rx_waiting ? -1 : v->epoll_fd;
}

static void vsock_queue_notify(struct virtio_mmio *m, void *dev, unsigned qi)
{
	struct virtio_vsock *v = dev;

	if (qi == TXQ)
		virtio_mmio_drain(m, TXQ, &v->sg, vsock_tx_serve, v);
	if (qi == RXQ)
		v->rx_waiting = false;
	/* Control packets the tx queue asked for, or data that waited for rx buffers. */
	vsock_rx(m, v);
}

static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		conn_close(v, &v->conn[i]);
	v->nctl = 0;
	v->rx_waiting = false;
}

const struct virtio_dev_ops virtio_vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nr_queues = 3, /* rx, tx, event (never used: no transport reset events) */
	.config_size = 8,
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.poll_fd = vsock_poll_fd,
	.poll_ready = vsock_poll_ready,
	.reset = vsock_reset,
};
