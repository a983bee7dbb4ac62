/* prefault.h: faulting a memory range in ahead of use (guest RAM before a DMA pin), in threads. */
#ifndef CORE_PREFAULT_H
#define CORE_PREFAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* The most threads prefault_range takes, and the default's cap (zeroing fresh pages is bound
 * by memory bandwidth, which a few cores saturate). */
#define PREFAULT_MAX_THREADS	 64
#define PREFAULT_DEFAULT_THREADS 16

enum prefault_how {
	PREFAULT_AUTO,	   /* MADV_POPULATE_WRITE; touching pages where the kernel lacks it */
	PREFAULT_POPULATE, /* MADV_POPULATE_WRITE only (Linux 5.14+; -EINVAL before) */
	PREFAULT_TOUCH,	   /* a write of one byte per page, its value unchanged */
};

/* One thread's share: a contiguous run of whole pages. */
struct prefault_slice {
	uint8_t *start;
	uint64_t size_bytes;
};

/* The CPUs this process may run on (online and in its affinity mask), at most
 * PREFAULT_DEFAULT_THREADS, at least 1. */
unsigned prefault_default_threads(void);

/* Whether this kernel knows MADV_POPULATE_WRITE (asked once, on a page of our own). */
bool prefault_populate_supported(void);

/*
 * Split the pages covering [hva, hva + size_bytes) (system pages: the start rounded down, the
 * end up) into at most threads slices (1 to PREFAULT_MAX_THREADS) of near-equal size whose
 * boundaries are multiples of page_bytes (the huge page size, so that no huge page is shared
 * by two threads; 0: the system page size). Returns how many (0 for size 0), in address order.
 */
unsigned prefault_slices(void *hva, uint64_t size_bytes, uint64_t page_bytes, unsigned threads,
			 struct prefault_slice *out);

/*
 * Fault in, writable, every page of [hva, hva + size_bytes) with threads threads (0: the
 * default), each a slice as prefault_slices makes them; the contents are kept. For hugetlb,
 * page_bytes is its page size and hva, size_bytes multiples of it; for THP 2 MiB.
 * Errors (the first slice's by address, with a message; every thread joined on every path):
 * -EINVAL bad arguments, a mapping that is not writable (or VM_IO/VM_PFNMAP), or (with
 * PREFAULT_POPULATE) a kernel without MADV_POPULATE_WRITE; -ENOMEM part of the range is not
 * mapped, or no memory; -EFAULT a page that would raise SIGBUS (a file's end, no huge page
 * left); -EHWPOISON. These are madvise's; the touching fallback checks /proc/self/maps first
 * and gives the same for holes and read-only mappings (a file mapped past its end still raises
 * SIGBUS there: kernels before 5.14 offer no way to ask).
 * The caller must not change the mappings of the range meanwhile; with PREFAULT_TOUCH it must
 * not write the range either (each touched byte is written back as read).
 */
int prefault_range(void *hva, uint64_t size_bytes, uint64_t page_bytes, unsigned threads,
		   enum prefault_how how, struct err *e);

#endif
