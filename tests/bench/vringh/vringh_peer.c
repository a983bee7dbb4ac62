/* vringh_peer.c: the bench's driver for the kernel's vringh, built with tools/virtio's shims. */
#define _GNU_SOURCE
/* tools/virtio's shims need vringh_test.c's order of includes */
/* clang-format off */
#include <err.h>
#include <linux/kernel.h>
#include <linux/err.h>
#include <linux/virtio.h>
#include <linux/vringh.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_config.h>
#include <linux/uaccess.h>
/* clang-format on */
#include <time.h>

#include "vringh_peer.h"

/* What tools/virtio's shims expect the program to define (vringh_test.c does the same). */
void *__user_addr_min, *__user_addr_max;
void *__kmalloc_fake, *__kfree_ignore_start, *__kfree_ignore_end;

static const struct vringh_peer_ring *cur;

/* Guest address -> host: the one region, as vhost's memory table lookup returns it. */
static bool getrange(struct vringh *vrh, u64 addr, struct vringh_range *r)
{
	(void)vrh;
	if (addr < cur->mem_gpa || addr - cur->mem_gpa >= cur->mem_bytes)
		return false;
	r->start = cur->mem_gpa;
	r->end_incl = cur->mem_gpa + cur->mem_bytes - 1;
	r->offset = (u64)(unsigned long)cur->mem - cur->mem_gpa;
	return true;
}

static int peer_init(const struct vringh_peer_ring *r, struct vringh *vrh)
{
	u64 features = 1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_F_VERSION_1;

	cur = r;
	__user_addr_min = r->mem;
	__user_addr_max = r->mem + r->mem_bytes;
	if (r->user)
		return vringh_init_user(vrh, features, r->size, true, r->desc, r->avail, r->used);
	return vringh_init_kern(vrh, features, r->size, true, r->desc, r->avail, r->used);
}

/* One getdesc; 1 with *head and the written bytes, 0 when empty, -errno. */
static int peer_get(const struct vringh_peer_ring *r, struct vringh *vrh, u16 *head, u32 *written)
{
	struct iovec riov_buf[8], wiov_buf[8];
	struct kvec rkiov_buf[8], wkiov_buf[8];
	int rc;

	*written = 0;
	if (r->user) {
		struct vringh_iov riov, wiov;

		vringh_iov_init(&riov, riov_buf, 8);
		vringh_iov_init(&wiov, wiov_buf, 8);
		rc = vringh_getdesc_user(vrh, &riov, &wiov, getrange, head);
		for (unsigned i = 0; rc == 1 && i < wiov.used; i++)
			*written += (u32)wiov.iov[i].iov_len;
		return rc;
	}
	struct vringh_kiov rkiov, wkiov;

	vringh_kiov_init(&rkiov, rkiov_buf, 8);
	vringh_kiov_init(&wkiov, wkiov_buf, 8);
	rc = vringh_getdesc_kern(vrh, &rkiov, &wkiov, head, GFP_KERNEL);
	for (unsigned i = 0; rc == 1 && i < wkiov.used; i++)
		*written += (u32)wkiov.iov[i].iov_len;
	return rc;
}

int vringh_peer_serve(const struct vringh_peer_ring *r, uint16_t batch, double seconds,
		      uint64_t *chains, double *elapsed)
{
	struct vringh vrh;
	u16 *avail_idx = (u16 *)((char *)r->avail + 2);
	u16 avail = 0, head;
	u32 written;
	uint64_t n = 0;
	double t0, t;
	int rc;

	if (peer_init(r, &vrh))
		return -EINVAL;
	t0 = bench_cpu_now_s();
	do {
		for (int round = 0; round < BENCH_LAP_KICKS; round++) {
			avail = (u16)(avail + batch);
			__atomic_store_n(avail_idx, avail, __ATOMIC_RELEASE);
			while ((rc = peer_get(r, &vrh, &head, &written)) == 1) {
				rc = r->user ? vringh_complete_user(&vrh, head, written)
					     : vringh_complete_kern(&vrh, head, written);
				if (rc)
					return rc;
				n++;
			}
			if (rc < 0)
				return rc;
			rc = r->user ? vringh_need_notify_user(&vrh)
				     : vringh_need_notify_kern(&vrh);
			if (rc < 0)
				return rc;
		}
		t = bench_cpu_now_s() - t0;
	} while (t < seconds);
	*chains = n;
	*elapsed = t;
	return 0;
}

int vringh_peer_walk(const struct vringh_peer_ring *r, double seconds, uint64_t *rings,
		     double *elapsed)
{
	struct vringh vrh;
	u16 head;
	u32 written;
	uint64_t n = 0;
	double t0, t;
	int rc;

	if (peer_init(r, &vrh))
		return -EINVAL;
	t0 = bench_cpu_now_s();
	do {
		for (int lap = 0; lap < BENCH_LAP_RINGS; lap++) {
			for (unsigned i = 0; i < r->size; i++) {
				rc = peer_get(r, &vrh, &head, &written);
				if (rc != 1)
					return rc < 0 ? rc : -ENODATA;
			}
			if (r->user)
				vringh_abandon_user(&vrh, r->size);
			else
				vringh_abandon_kern(&vrh, r->size);
			n++;
		}
		t = bench_cpu_now_s() - t0;
	} while (t < seconds);
	*rings = n;
	*elapsed = t;
	return 0;
}
