/* vringh_peer.h: the kernel's vringh driven over a split ring the bench laid out (plain C types
 * only: the peer builds with the kernel's tools/virtio headers, the bench with libcore's). */
#ifndef BENCH_VRINGH_PEER_H
#define BENCH_VRINGH_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Every side of the bench, the peer's as the bench's own, times itself the same way: its own CPU
 * time (bench_cpu_now_s), read once per lap of BENCH_LAP_KICKS rounds of serving or of
 * BENCH_LAP_RINGS full-ring walks, so that reading that clock (a system call, some 0.4 us) costs
 * every side under 0.2% of its time.
 */
#define BENCH_LAP_KICKS 1024
#define BENCH_LAP_RINGS 16

static inline double bench_cpu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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
 * vringh_need_notify" for about seconds of CPU time. *chains served, *elapsed seconds. -errno on
 * a vringh error.
 */
int vringh_peer_serve(const struct vringh_peer_ring *r, uint16_t batch, double seconds,
		      uint64_t *chains, double *elapsed);

/* Full-ring walks (all size entries pending: getdesc each, then abandon them all). */
int vringh_peer_walk(const struct vringh_peer_ring *r, double seconds, uint64_t *rings,
		     double *elapsed);

#endif
