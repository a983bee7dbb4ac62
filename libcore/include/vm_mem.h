/* vm_mem.h: guest RAM of a microVM: one host mapping split around the 32-bit MMIO hole. */
#ifndef CORE_VM_MEM_H
#define CORE_VM_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "dma.h"
#include "err.h"
#include "gpa.h"
#include "guestmem.h"
#include "layout.h" /* the MMIO hole: the top 1 GiB below 4 GiB holds no RAM */

struct vm_ram_region {
	gpa_t gpa;
	uint64_t size_bytes;
	uint8_t *hva;
};

struct vm_ram {
	uint8_t *base; /* the whole mapping */
	uint64_t size_bytes;
	enum dma_backing backing; /* anonymous 4K pages, transparent huge pages, or 2M/1G ones */
	struct dma_mem huge;	  /* the mapping when backing is huge pages (hugetlb or THP) */
	unsigned nr_regions;
	struct vm_ram_region region[2];
	struct guestmem mem; /* the same regions as devices and loaders see them */
};

/* Map size_bytes of anonymous RAM (lazily backed) on a 2 MiB boundary, so that KVM can map it
 * with large pages wherever the host backs it with them; regions: below the hole, then above
 * 4 GiB. */
int vm_ram_alloc(struct vm_ram *ram, uint64_t size_bytes, struct err *e);
/*
 * The same with a chosen backing: DMA_BACKING_ANON, _HUGE_2M or _HUGE_1G (size a multiple of
 * the page; a clear error says how many huge pages are missing), or _THP: anonymous memory on a
 * 2 MiB boundary advised MADV_HUGEPAGE (-EOPNOTSUPP when the host's THP setting is "never").
 * Huge pages make pinning guest RAM for passthrough DMA much cheaper.
 */
int vm_ram_alloc_backed(struct vm_ram *ram, uint64_t size_bytes, enum dma_backing backing,
			struct err *e);
void vm_ram_free(struct vm_ram *ram);
/*
 * Fault every page of guest RAM in, writable, with threads threads (0: prefault_default_threads),
 * slices split on the backing's huge pages; the contents are kept. -errno from prefault_range
 * (e.g. -EFAULT when no huge page is left), with a message.
 */
int vm_ram_prefault(struct vm_ram *ram, unsigned threads, struct err *e);
/* Host pointer for [gpa, gpa+len) if that range lies inside one region, else NULL (guestmem_ptr
 * on ram->mem). */
void *vm_ram_hva(const struct vm_ram *ram, gpa_t gpa, uint64_t len);
/* End of the RAM below the hole (the highest GPA + 1 reachable by 32-bit code). */
gpa_t vm_ram_low_end(const struct vm_ram *ram);
/* Copy into guest RAM with bounds checks; -EFAULT with a message when out of range. */
int vm_ram_write(const struct vm_ram *ram, gpa_t gpa, const void *src, uint64_t len, struct err *e);

#endif
