/* vringh_peer.h: the kernel's vringh driven over a split ring the bench laid out (plain C types
 * only: the peer builds with the kernel's tools/virtio headers, the bench with libcore's). */
#ifndef BENCH_VRINGH_PEER_H
#define BENCH_VRINGH_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ring's three areas and the guest memory they and the buffers lie in, as host pointers. */
struct vringh_peer_ring {
	void *desc, *avail, *used;
	unsigned size;
	uint8_t *mem; /* host address of guest address mem_gpa */
	uint64_t mem_gpa;
	size_t mem_bytes;
	bool user; /* the _user flavour (vhost: ranges translated by getrange) or _kern */
};

/*
 * Rounds of "the driver publishes batch chains, vringh_getdesc + vringh_complete serve them, then
 * vringh_need_notify" for about seconds. *chains served, *elapsed seconds. -errno on a vringh
 * error.
 */
int vringh_peer_serve(const struct vringh_peer_ring *r, uint16_t batch, double seconds,
		      uint64_t *chains, double *elapsed);

/* Full-ring walks (all size entries pending: getdesc each, then abandon them all). */
int vringh_peer_walk(const struct vringh_peer_ring *r, double seconds, uint64_t *rings,
		     double *elapsed);

#endif
