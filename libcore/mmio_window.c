/* mmio_window.c: size and place the guest's 64-bit MMIO window from the BARs it must hold. */
#include "mmio_window.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint64_t span_of(uint64_t size)
{
	return size < MMIO_WINDOW_MIN_BAR ? MMIO_WINDOW_MIN_BAR : size;
}

void mmio_window_size_str(uint64_t bytes, char *buf, size_t len)
{
	static const char unit[] = "KMGTPE";
	int u = -1;

	while (u < 5 && bytes && !(bytes & 1023)) {
		bytes >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else
		snprintf(buf, len, "%" PRIu64 "%c", bytes, unit[u]);
}

/* "2x128G+16M": the sizes, largest first (order[] sorts them), for the refusal. */
static void sizes_str(const struct mmio_window_bar *bars, const size_t *order, size_t n, char *buf,
		      size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && used < len;) {
		uint64_t s = bars[order[i]].size_bytes;
		size_t same = 0;
		char one[24];

		while (i < n && bars[order[i]].size_bytes == s)
			i++, same++;
		mmio_window_size_str(s, one, sizeof(one));
		if (same > 1)
			used += (size_t)snprintf(buf + used, len - used, "%s%zux%s",
						 used ? "+" : "", same, one);
		else
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "+" : "",
						 one);
	}
}

/* The lowest base >= floor aligned to align with [base, base + total) inside [start, last]. */
static bool fit_in(uint64_t start, uint64_t last, uint64_t floor, uint64_t align, uint64_t total,
		   uint64_t *base)
{
	uint64_t b = start > floor ? start : floor;

	if (b > UINT64_MAX - (align - 1))
		return false;
	b = (b + align - 1) & ~(align - 1);
	if (b > last || last - b < total - 1)
		return false;
	*base = b;
	return true;
}

/* Where the window goes: the first IOVA range (clipped to phys_bits) that holds it. */
static bool find_base(const struct mmio_window_limits *lim, uint64_t align, uint64_t total,
		      uint64_t *base)
{
	uint64_t top = lim->phys_bits >= 64 ? UINT64_MAX : (1ull << lim->phys_bits) - 1;

	if (!lim->nranges)
		return fit_in(0, top, lim->floor_gpa, align, total, base);
	for (size_t i = 0; i < lim->nranges; i++) {
		uint64_t start = lim->ranges[i].start.v, last = lim->ranges[i].last.v;

		if (start > top)
			continue;
		if (fit_in(start, last < top ? last : top, lim->floor_gpa, align, total, base))
			return true;
	}
	return false;
}

/* order[] = indexes of bars, largest first, equal sizes by index (n is small: a few per device). */
static void sort_desc(const struct mmio_window_bar *bars, size_t *order, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i, k = order[i] = i;

		for (; j > 0 && bars[order[j - 1]].size_bytes < bars[k].size_bytes; j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
}

int mmio_window_plan(struct mmio_window_bar *bars, size_t n, const struct mmio_window_limits *lim,
		     uint64_t *base, uint64_t *size, struct err *e)
{
	uint64_t total = 0, at;
	size_t *order;
	char sizes[160], all[24], align[24];

	*base = *size = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_pow2(bars[i].size_bytes))
			return err_set(e, EINVAL,
				       "64-bit BAR size 0x%" PRIx64 " is not a power of two",
				       bars[i].size_bytes);
		if (total + span_of(bars[i].size_bytes) < total)
			return err_set(e, ENOSPC, "64-bit BARs exceed the address space");
		total += span_of(bars[i].size_bytes);
	}
	order = malloc(n * sizeof(*order));
	if (!order)
		return err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_desc(bars, order, n);
	/* Largest first: each BAR's offset is a sum of larger powers of two, so aligned. */
	if (!find_base(lim, span_of(bars[order[0]].size_bytes), total, &at)) {
		sizes_str(bars, order, n, sizes, sizeof(sizes));
		mmio_window_size_str(total, all, sizeof(all));
		mmio_window_size_str(span_of(bars[order[0]].size_bytes), align, sizeof(align));
		free(order);
		return err_set(
			e, ENOSPC,
			"64-bit BARs %s (%s in all) do not fit: no window aligned to %s from "
			"0x%" PRIx64 " (above guest RAM) up to 2^%u (the guest's physical "
			"address bits)%s",
			sizes, all, align, lim->floor_gpa, lim->phys_bits,
			lim->nranges ? " inside one IOVA range of the IOMMU" : "");
	}
	*base = at;
	*size = total;
	for (size_t i = 0; i < n; i++) {
		bars[order[i]].gpa = at;
		at += span_of(bars[order[i]].size_bytes);
	}
	free(order);
	return 0;
}
