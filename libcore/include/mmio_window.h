/* mmio_window.h: the guest's 64-bit MMIO window, sized and placed from the BARs it must hold. */
#ifndef CORE_MMIO_WINDOW_H
#define CORE_MMIO_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "dma.h"
#include "err.h"

/* One 64-bit BAR to place: its size (a power of two), and where it went. */
struct mmio_window_bar {
	uint64_t size_bytes;
	uint64_t gpa; /* out */
};

/* Where the window may go. */
struct mmio_window_limits {
	uint64_t floor_gpa; /* lowest address: the end of guest RAM, at least 4 GiB */
	unsigned phys_bits; /* the guest's physical address width (CPUID 0x80000008 EAX[7:0]) */
	/* The IOVA ranges the IOMMU translates (BARs are DMA targets too, at IOVA = GPA); the
	 * window lies inside one of them. nranges 0: no IOMMU limit. */
	const struct dma_range *ranges;
	size_t nranges;
};

/* The smallest BAR the window holds: smaller ones take a page, a KVM memory slot of its own. */
#define MMIO_WINDOW_MIN_BAR 4096ull

/*
 * Place every BAR of bars[0..n) in one window: largest first from a base aligned to the largest
 * BAR, so that each BAR is naturally aligned and the window is exactly the sum of the (page
 * rounded) sizes, no gap between BARs. The base is the lowest such address at or above
 * floor_gpa, below 2^phys_bits and inside one IOVA range. Fills each bar's gpa, *base and *size
 * (0 for n == 0). -EINVAL for a size that is not a power of two; -ENOSPC when the BARs cannot
 * fit, the message naming their sizes and the limits.
 */
int mmio_window_plan(struct mmio_window_bar *bars, size_t n, const struct mmio_window_limits *lim,
		     uint64_t *base, uint64_t *size, struct err *e);

/* "128G" / "16M" / "4K" / "12345": a size in the unit that states it exactly, for messages. */
void mmio_window_size_str(uint64_t bytes, char *buf, size_t len);

#endif
