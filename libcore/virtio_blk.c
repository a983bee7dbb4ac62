/* virtio_blk.c: virtio-blk (VIRTIO 1.2 §5.2) on a raw image: read, write, flush, get id. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

/* One request: header in the readable part, status in the last writable byte. */
static uint8_t blk_request(struct virtio_blk *b, struct virtio_sg *sg, uint32_t *written)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;
	uint64_t data_len;

	*written = 0;
	if (virtio_sg_copy_from(sg->rd, sg->nrd, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN: {
		/* data = all writable bytes but the status byte */
		struct iovec iov[VIRTIO_MMIO_QUEUE_MAX];
		unsigned niov = 0;
		uint64_t left;

		data_len = sg->wr_bytes - 1;
		if (data_len % SECTOR || hdr.sector > b->capacity_sectors ||
		    data_len / SECTOR > b->capacity_sectors - hdr.sector)
			return VIRTIO_BLK_S_IOERR;
		left = data_len;
		for (unsigned i = 0; i < sg->nwr && left; i++) {
			size_t k = sg->wr[i].iov_len < left ? sg->wr[i].iov_len : (size_t)left;

			iov[niov++] = (struct iovec){ sg->wr[i].iov_base, k };
			left -= k;
		}
		if (rw_all(b->fd, iov, niov, hdr.sector * SECTOR, false))
			return VIRTIO_BLK_S_IOERR;
		b->reads++;
		*written = (uint32_t)data_len;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_OUT: {
		struct iovec iov[VIRTIO_MMIO_QUEUE_MAX];
		unsigned niov = 0;
		size_t skip = sizeof(hdr);

		if (b->read_only)
			return VIRTIO_BLK_S_IOERR;
		data_len = sg->rd_bytes - sizeof(hdr);
		if (data_len % SECTOR || hdr.sector > b->capacity_sectors ||
		    data_len / SECTOR > b->capacity_sectors - hdr.sector)
			return VIRTIO_BLK_S_IOERR;
		for (unsigned i = 0; i < sg->nrd; i++) {
			if (skip >= sg->rd[i].iov_len) {
				skip -= sg->rd[i].iov_len;
				continue;
			}
			iov[niov++] = (struct iovec){ (uint8_t *)sg->rd[i].iov_base + skip,
						      sg->rd[i].iov_len - skip };
			skip = 0;
		}
		if (rw_all(b->fd, iov, niov, hdr.sector * SECTOR, true))
			return VIRTIO_BLK_S_IOERR;
		b->writes++;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		if (!b->read_only && fdatasync(b->fd) < 0)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID: {
		char id[20] = { 0 };
		size_t k;

		memcpy(id, b->id, strnlen(b->id, sizeof(id)));
		k = virtio_sg_copy_to(sg->wr, sg->nwr, 0, id,
				      sg->wr_bytes - 1 < sizeof(id) ? sg->wr_bytes - 1
								    : sizeof(id));
		*written = (uint32_t)k;
		return VIRTIO_BLK_S_OK;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* One request: its header and data, then the status byte in the last writable byte. */
static int64_t blk_serve(struct virtio_mmio *m, void *dev, struct virtio_sg *sg,
			 const struct virtq_chain *c)
{
	struct virtio_blk *b = dev;
	uint32_t written = 0;
	uint8_t status;

	if (sg->nwr == 0 || sg->wr[sg->nwr - 1].iov_len == 0) {
		virtio_mmio_fail(m, "virtio-blk: request %u has no status byte", c->head);
		return -1;
	}
	status = blk_request(b, sg, &written);
	if (status != VIRTIO_BLK_S_OK)
		b->errors++;
	virtio_sg_copy_to(sg->wr, sg->nwr, sg->wr_bytes - 1, &status, 1);
	return (int64_t)written + 1;
}

static void blk_queue_notify(struct virtio_mmio *m, void *dev, unsigned qi)
{
	virtio_mmio_drain(m, qi, &((struct virtio_blk *)dev)->sg, blk_serve, dev);
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLK,
	.features = 1ULL << VIRTIO_BLK_F_FLUSH,
	.nr_queues = 1,
	.config_size = 8,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
};
