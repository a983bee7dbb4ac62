/*
 * bench_prefault.c: faulting in 1 GiB of fresh memory (what a cold DMA pin of guest RAM mostly
 * is: zeroing the pages) with prefault_range in 1 thread and in N, beside MAP_POPULATE and mlock
 * of the same memory (the kernel's own single-threaded ways), for anonymous 4K pages,
 * transparent huge pages and 2M hugetlb pages; ms per GiB, best of ROUNDS, sides interleaved.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "hostmem.h"
#include "prefault.h"

#define SIZE	(1ULL << 30)
#define HUGE_2M (2ULL << 20)
#define ROUNDS	3

enum backing { B_4K, B_THP, B_2M, B_NR };
enum way { W_ONE, W_MANY, W_POPULATE, W_MLOCK, W_NR };

static const char *const backing_name[B_NR] = { "4K", "THP", "2M" };
static unsigned threads;

/* Fresh memory of the backing, not yet faulted in (MAP_POPULATE: faulted by mmap, timed). */
static uint8_t *map_fresh(enum backing b, bool populate)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0);
	uint8_t *raw, *p;

	if (b == B_2M)
		flags |= MAP_HUGETLB;
	if (b != B_THP) {
		p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, flags, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	/* THP: on a 2 MiB boundary, advised before any fault (so MAP_POPULATE has no THP row) */
	raw = mmap(NULL, SIZE + HUGE_2M, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)raw + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	munmap(p + SIZE, (size_t)(raw + SIZE + HUGE_2M - (p + SIZE)));
	if (madvise(p, SIZE, MADV_HUGEPAGE)) {
		munmap(p, SIZE);
		return NULL;
	}
	return p;
}

/* One cold fault-in of 1 GiB, in ns (-1 on failure, said on stderr); *huge: THP bytes got. */
static int64_t one_round(enum backing b, enum way w, uint64_t *huge)
{
	uint64_t page = b == B_4K ? 0 : HUGE_2M;
	int64_t t0 = clock_now_ns(), t;
	uint8_t *p = map_fresh(b, w == W_POPULATE);
	struct err e = { 0 };
	int rc = p ? 0 : -errno;

	if (!rc && w == W_MLOCK && mlock(p, SIZE))
		rc = -errno;
	if (!rc && (w == W_ONE || w == W_MANY))
		rc = prefault_range(p, SIZE, page, w == W_ONE ? 1 : threads, PREFAULT_POPULATE, &e);
	t = clock_now_ns() - t0;
	if (rc)
		fprintf(stderr, "bench_prefault: %s: %s\n", backing_name[b],
			e.msg[0] ? e.msg : strerror(-rc));
	if (p && b == B_THP)
		*huge = smaps_anon_huge_bytes(p);
	if (p)
		munmap(p, SIZE);
	return rc ? -1 : t;
}

static double ms_per_gib(int64_t ns)
{
	return ns < 0 ? -1 : (double)ns / 1e6 / ((double)SIZE / (1ULL << 30));
}

static void print_ms(int64_t ns)
{
	if (ns < 0)
		printf(" %10s", "-");
	else
		printf(" %10.1f", ms_per_gib(ns));
}

/* Best of ROUNDS for each way, interleaved; 0, or -1 when a way that must run failed. */
static int bench_backing(enum backing b)
{
	int64_t best[W_NR];
	uint64_t huge[W_NR] = { 0 };
	int status = 0;

	for (int w = 0; w < W_NR; w++)
		best[w] = INT64_MAX;
	for (int r = 0; r < ROUNDS; r++)
		for (int w = 0; w < W_NR; w++) {
			int64_t t;

			if (w == W_POPULATE && b == B_THP)
				continue;
			t = one_round(b, (enum way)w, &huge[w]);
			if (t < 0)
				status = -1;
			else if (t < best[w])
				best[w] = t;
		}
	printf("  %-4s", backing_name[b]);
	for (int w = 0; w < W_NR; w++)
		print_ms(best[w] == INT64_MAX ? -1 : best[w]);
	if (best[W_ONE] != INT64_MAX && best[W_MANY] != INT64_MAX)
		printf("  %5.2fx", (double)best[W_ONE] / (double)best[W_MANY]);
	else
		printf("  %6s", "-");
	if (b == B_THP)
		printf("  THP bytes got: %" PRIu64 " MiB (1 thread), %" PRIu64 " MiB (%u threads)",
		       huge[W_ONE] >> 20, huge[W_MANY] >> 20, threads);
	if (b == B_THP && huge[W_MANY] < huge[W_ONE]) {
		fprintf(stderr, "bench_prefault: THP: %u threads got fewer huge pages than 1\n",
			threads);
		status = -1;
	}
	printf("\n");
	return status;
}

int main(void)
{
	uint64_t nr0 = 0;
	bool raised = false;
	double load[1];
	const char *why;
	int status = 0;

	threads = prefault_default_threads();
	if (!prefault_populate_supported()) {
		fprintf(stderr, "bench_prefault: this kernel has no MADV_POPULATE_WRITE (5.14): "
				"nothing compared\n");
		return 1;
	}
	printf("prefault of 1 GiB of fresh memory, ms per GiB (best of %d): prefault_range with 1 "
	       "and %u threads (the default here: online CPUs, at most %d), MAP_POPULATE and mlock "
	       "(single-threaded, in the kernel); speed-up = 1 thread / %u threads\n",
	       ROUNDS, threads, PREFAULT_DEFAULT_THREADS, threads);
	/* threads only help with idle CPUs: say how busy the machine was */
	if (getloadavg(load, 1) == 1)
		printf("  (%ld CPUs online, load average %.2f at the start)\n",
		       sysconf(_SC_NPROCESSORS_ONLN), load[0]);
	printf("  %-4s %10s %10s %10s %10s  %s\n", "page", "1 thread", "N threads", "MAP_POPUL.",
	       "mlock", "speed-up");
	if (bench_backing(B_4K) || bench_backing(B_THP))
		status = 1;
	why = hugepages_2m_reserve(SIZE / HUGE_2M, &nr0, &raised);
	if (why)
		printf("  %-4s %10s %10s %10s %10s  %6s  %s\n", "2M", "-", "-", "-", "-", "-", why);
	else if (bench_backing(B_2M))
		status = 1;
	if (hugepages_2m_release(nr0, raised))
		fprintf(stderr, "bench_prefault: could not give the 2M huge pages back (%s)\n",
			HOSTMEM_HP2M "nr_hugepages");
	return status;
}
