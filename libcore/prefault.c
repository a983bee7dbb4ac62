/* prefault.c: fault a memory range in with several threads, each a slice of whole pages. */
#include "prefault.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static uint64_t sys_page_bytes(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (uint64_t)page : 4096;
}

unsigned prefault_default_threads(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = online > 0 ? (unsigned)online : 1;
	cpu_set_t set;

	/* taskset or a cgroup's cpuset may give us fewer than are online */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0 &&
	    (unsigned)CPU_COUNT(&set) < n)
		n = (unsigned)CPU_COUNT(&set);
	return n < PREFAULT_DEFAULT_THREADS ? n : PREFAULT_DEFAULT_THREADS;
}

static bool populate_ok;

static void populate_probe(void)
{
	void *p = mmap(NULL, sys_page_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return;
	/* an unknown advice is EINVAL: kernels before 5.14 */
	populate_ok = madvise(p, sys_page_bytes(), MADV_POPULATE_WRITE) == 0;
	munmap(p, sys_page_bytes());
}

bool prefault_populate_supported(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, populate_probe);
	return populate_ok;
}

/* v rounded up to a multiple of align (a power of two), capped at limit. */
static uintptr_t align_up_capped(uintptr_t v, uint64_t align, uintptr_t limit)
{
	uintptr_t r = (v + (uintptr_t)(align - 1)) & ~(uintptr_t)(align - 1);

	return r < v || r > limit ? limit : r;
}

unsigned prefault_slices(void *hva, uint64_t size_bytes, uint64_t page_bytes, unsigned threads,
			 struct prefault_slice *out)
{
	uint64_t sys = sys_page_bytes(), gran = page_bytes > sys ? page_bytes : sys;
	uintptr_t lo = (uintptr_t)hva & ~(uintptr_t)(sys - 1), hi, prev;
	uint64_t len;
	unsigned n = 0;

	if (!size_bytes || !threads)
		return 0;
	hi = align_up_capped((uintptr_t)hva + size_bytes, sys, UINTPTR_MAX & ~(uintptr_t)(sys - 1));
	len = hi - lo;
	prev = lo;
	for (unsigned k = 1; k <= threads; k++) {
		/* the k-th share's end (len / threads * k + len % threads * k / threads: no
		 * overflow), moved up to the next boundary of the huge page size */
		uint64_t share = len / threads * k + len % threads * k / threads;
		uintptr_t end = k == threads ? hi : align_up_capped(lo + share, gran, hi);

		if (end <= prev)
			continue;
		out[n++] = (struct prefault_slice){ (uint8_t *)prev, end - prev };
		prev = end;
	}
	return n;
}

struct worker {
	struct prefault_slice s;
	bool touch;
	bool started; /* a thread runs it (else the caller does) */
	pthread_t tid;
	int rc; /* -errno */
};

static int slice_populate(const struct prefault_slice *s)
{
	while (madvise(s->start, s->size_bytes, MADV_POPULATE_WRITE))
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Checked first (range_writable): every page is mapped and writable, so no touch can fault. */
static void slice_touch(const struct prefault_slice *s)
{
	uint64_t sys = sys_page_bytes();

	for (uint64_t off = 0; off < s->size_bytes; off += sys) {
		volatile uint8_t *b = s->start + off;

		*b = *b;
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	if (w->touch)
		slice_touch(&w->s);
	else
		w->rc = slice_populate(&w->s);
	return NULL;
}

/*
 * The fallback for kernels without MADV_POPULATE_WRITE (before 5.14) writes to each page, which
 * would kill the process on a hole or a read-only mapping: /proc/self/maps says first whether
 * every byte of [lo, hi) is mapped (-ENOMEM otherwise) and writable (-EINVAL otherwise), the
 * errors madvise gives.
 */
static int range_writable(uintptr_t lo, uintptr_t hi, uintptr_t *bad)
{
	FILE *f = fopen("/proc/self/maps", "re");
	uintptr_t next = lo;
	int rc = -ENOMEM;
	char line[512];

	*bad = lo;
	if (!f)
		return -errno;
	while (next < hi && fgets(line, sizeof(line), f)) {
		uintptr_t start, end;
		char perms[5];

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &start, &end, perms) != 3)
			continue;
		if (end <= next)
			continue;
		if (start > next)
			break; /* a hole at next */
		if (perms[1] != 'w') {
			rc = -EINVAL;
			break;
		}
		next = end;
	}
	fclose(f);
	*bad = next;
	return next >= hi ? 0 : rc;
}

static int run_workers(struct worker *w, unsigned n)
{
	int rc = 0;

	/* slice 0 is the caller's own; a thread that cannot be created leaves its slice to us */
	for (unsigned i = 1; i < n; i++)
		w[i].started = pthread_create(&w[i].tid, NULL, worker_run, &w[i]) == 0;
	for (unsigned i = 0; i < n; i++)
		if (!w[i].started)
			worker_run(&w[i]);
	for (unsigned i = 1; i < n; i++)
		if (w[i].started)
			pthread_join(w[i].tid, NULL);
	for (unsigned i = 0; i < n && !rc; i++)
		rc = w[i].rc;
	return rc;
}

int prefault_range(void *hva, uint64_t size_bytes, uint64_t page_bytes, unsigned threads,
		   enum prefault_how how, struct err *e)
{
	struct prefault_slice s[PREFAULT_MAX_THREADS];
	struct worker w[PREFAULT_MAX_THREADS];
	bool touch = how == PREFAULT_TOUCH;
	uintptr_t bad;
	unsigned n;
	int rc;

	if (threads > PREFAULT_MAX_THREADS)
		return err_set(e, EINVAL, "prefault: %u threads, at most %d", threads,
			       PREFAULT_MAX_THREADS);
	if (page_bytes & (page_bytes - 1))
		return err_set(e, EINVAL, "prefault: page size %" PRIu64 " is not a power of two",
			       page_bytes);
	if (size_bytes > UINTPTR_MAX - (uintptr_t)hva)
		return err_set(e, EINVAL, "prefault: [%p, +0x%" PRIx64 ") wraps", hva, size_bytes);
	if (!prefault_populate_supported()) {
		if (how == PREFAULT_POPULATE)
			return err_set(e, EINVAL,
				       "prefault: this kernel has no "
				       "MADV_POPULATE_WRITE (Linux 5.14)");
		touch = true;
	}
	n = prefault_slices(hva, size_bytes, page_bytes,
			    threads ? threads : prefault_default_threads(), s);
	if (!n)
		return 0;
	if (touch) {
		rc = range_writable((uintptr_t)s[0].start,
				    (uintptr_t)s[n - 1].start + s[n - 1].size_bytes, &bad);
		if (rc)
			return err_set(e, -rc, "prefault: page at 0x%" PRIxPTR ": %s", bad,
				       rc == -EINVAL ? "not writable" : strerror(-rc));
	}
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < n; i++)
		w[i] = (struct worker){ .s = s[i], .touch = touch };
	rc = run_workers(w, n);
	for (unsigned i = 0; i < n; i++)
		if (w[i].rc)
			return err_set(e, -w[i].rc,
				       "prefault: madvise(MADV_POPULATE_WRITE) of [%p, +0x%" PRIx64
				       "): %s",
				       (void *)w[i].s.start, w[i].s.size_bytes, strerror(-w[i].rc));
	return rc;
}
