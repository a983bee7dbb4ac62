/* vm_mem.c: guest RAM allocation; its guest-physical → host translation is guestmem's. */
#include "vm_mem.h"
#include "layout.h"
#include "prefault.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int vm_ram_alloc(struct vm_ram *ram, uint64_t size_bytes, struct err *e)
{
	return vm_ram_alloc_backed(ram, size_bytes, DMA_BACKING_ANON, e);
}

/*
 * Anonymous memory on a 2 MiB boundary, as QEMU places guest RAM: KVM maps a guest's 2 MiB page
 * with one large page only where the host address is congruent with the guest address modulo
 * 2 MiB (arch/x86/kvm/x86.c: kvm_alloc_memslot_metadata disallows large pages in a memslot
 * whose two addresses are not), so RAM anywhere else gets 4K mappings even where the host's THP
 * backs it with huge pages. Nested, each 4K mapping is a nested page fault: thousands in a boot.
 */
static uint8_t *map_2m_aligned(uint64_t size_bytes)
{
	uint8_t *raw = mmap(NULL, size_bytes + DMA_THP_BYTES, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *base;
	uint64_t head;

	if (raw == MAP_FAILED)
		return NULL;
	base = (uint8_t *)(((uintptr_t)raw + DMA_THP_BYTES - 1) & ~(uintptr_t)(DMA_THP_BYTES - 1));
	head = (uint64_t)(base - raw);
	if (head)
		munmap(raw, head);
	munmap(base + size_bytes, DMA_THP_BYTES - head);
	return base;
}

int vm_ram_alloc_backed(struct vm_ram *ram, uint64_t size_bytes, enum dma_backing backing,
			struct err *e)
{
	uint64_t low;

	memset(ram, 0, sizeof(*ram));
	ram->huge.fd = -1;
	if (size_bytes == 0 || size_bytes & 0xfff)
		return err_input(e, EINVAL, "memory size %llu: not a non-zero multiple of 4 KiB",
				 (unsigned long long)size_bytes);
	if (backing == DMA_BACKING_HUGE_2M || backing == DMA_BACKING_HUGE_1G ||
	    backing == DMA_BACKING_THP) {
		int rc = dma_mem_alloc(&ram->huge, backing, size_bytes, NULL, e);

		if (rc)
			return err_prefix(e, "guest memory");
		ram->base = ram->huge.hva;
	} else if (backing != DMA_BACKING_ANON) {
		return err_input(e, EINVAL, "guest memory: backing %s is not supported",
				 dma_backing_name(backing));
	} else {
		ram->base = map_2m_aligned(size_bytes);
		if (!ram->base) {
			/* Lazily backed: only a size beyond the address space limit fails here. */
			return err_input(e, errno, "guest memory (%llu bytes): %s",
					 (unsigned long long)size_bytes, strerror(errno));
		}
	}
	ram->backing = backing;
	/* Guest memory is worthless in a core dump and may be large. */
	(void)madvise(ram->base, size_bytes, MADV_DONTDUMP);
	ram->size_bytes = size_bytes;
	low = size_bytes < VM_MMIO_HOLE_GPA ? size_bytes : VM_MMIO_HOLE_GPA;
	ram->region[0] = (struct vm_ram_region){ .gpa = 0, .size_bytes = low, .hva = ram->base };
	ram->nr_regions = 1;
	if (size_bytes > low) {
		ram->region[1] = (struct vm_ram_region){
			.gpa = VM_4G_GPA,
			.size_bytes = size_bytes - low,
			.hva = ram->base + low,
		};
		ram->nr_regions = 2;
	}
	guestmem_init(&ram->mem);
	for (unsigned i = 0; i < ram->nr_regions; i++) {
		const struct vm_ram_region *r = &ram->region[i];
		int rc = guestmem_add(&ram->mem, r->gpa, r->hva, r->size_bytes, e);

		if (rc) { /* two regions apart: cannot happen */
			vm_ram_free(ram);
			return rc;
		}
	}
	return 0;
}

void vm_ram_free(struct vm_ram *ram)
{
	if (ram->huge.hva)
		dma_mem_free(&ram->huge);
	else if (ram->base)
		munmap(ram->base, ram->size_bytes);
	memset(ram, 0, sizeof(*ram));
}

int vm_ram_prefault(struct vm_ram *ram, unsigned threads, struct err *e)
{
	uint64_t page_bytes = ram->huge.hva ? ram->huge.page_bytes : 0;

	if (prefault_range(ram->base, ram->size_bytes, page_bytes, threads, PREFAULT_AUTO, e))
		return err_prefix(e, "guest memory");
	return 0;
}

void *vm_ram_hva(const struct vm_ram *ram, gpa_t gpa, uint64_t len)
{
	return guestmem_ptr(&ram->mem, gpa, len);
}

gpa_t vm_ram_low_end(const struct vm_ram *ram)
{
	return ram->nr_regions ? ram->region[0].size_bytes : 0;
}

int vm_ram_write(const struct vm_ram *ram, gpa_t gpa, const void *src, uint64_t len, struct err *e)
{
	void *dst = vm_ram_hva(ram, gpa, len);

	if (!dst)
		return err_set(e, EFAULT, "[0x%llx, +0x%llx) is outside guest memory",
			       (unsigned long long)gpa, (unsigned long long)len);
	memcpy(dst, src, len);
	return 0;
}
