/* dmamem.c: memory for DMA mappings: anonymous, THP, hugetlb 2M/1G, memfd or a file. */
#include "dma.h"
#include "parse.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

enum dma_backing dma_backing_parse(const char *s)
{
	if (!strcmp(s, "anon"))
		return DMA_BACKING_ANON;
	if (!strcmp(s, "2M") || !strcmp(s, "2m"))
		return DMA_BACKING_HUGE_2M;
	if (!strcmp(s, "1G") || !strcmp(s, "1g"))
		return DMA_BACKING_HUGE_1G;
	if (!strcmp(s, "memfd"))
		return DMA_BACKING_MEMFD;
	if (!strcmp(s, "thp"))
		return DMA_BACKING_THP;
	return DMA_BACKING_FILE;
}

static int read_u64_file(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu64, v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

int dma_huge_free_pages(uint64_t page_bytes, uint64_t *free_pages, uint64_t *total_pages)
{
	char path[128];
	int rc;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/free_hugepages",
		 page_bytes >> 10);
	rc = read_u64_file(path, free_pages);
	if (rc)
		return rc;
	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/nr_hugepages", page_bytes >> 10);
	return read_u64_file(path, total_pages);
}

static int check_multiple(uint64_t size, uint64_t page, struct err *e)
{
	char a[32], b[32];

	if (size == 0)
		return err_input(e, EINVAL, "size is zero");
	if (size % page)
		return err_input(e, EINVAL, "size %s is not a multiple of the %s page size",
				 format_size(size, a, sizeof(a)), format_size(page, b, sizeof(b)));
	return 0;
}

static int huge_alloc(struct dma_mem *mem, uint64_t page, struct err *e)
{
	uint64_t need = mem->size_bytes / page, nfree = 0, total = 0;
	int shift = page == (1ULL << 30) ? 30 : 21;
	int rc = dma_huge_free_pages(page, &nfree, &total);
	const char *name = shift == 30 ? "1G" : "2M";

	/* Asking for more huge pages than the host reserved is a configuration to fix: input. */
	if (rc == -ENOENT)
		return err_input(e, ENOMEM,
				 "this kernel offers no %s huge pages "
				 "(no /sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB)",
				 name, page >> 10);
	if (rc)
		return err_set(e, -rc, "reading the %s huge page counts: %s", name, strerror(-rc));
	if (nfree < need)
		return err_input(
			e, ENOMEM,
			"%" PRIu64 " free %s huge pages needed, %" PRIu64 " free of %" PRIu64
			" reserved "
			"(reserve more: echo N > /sys/kernel/mm/hugepages/hugepages-%" PRIu64
			"kB/nr_hugepages)",
			need, name, nfree, total, page >> 10);
	mem->hva =
		mmap(NULL, mem->size_bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT), -1, 0);
	if (mem->hva == MAP_FAILED) {
		mem->hva = NULL;
		return err_set(e, errno, "mmap of %" PRIu64 " %s huge pages: %s", need, name,
			       strerror(errno));
	}
	return 0;
}

int dma_thp_mode(const char *path, char *mode, size_t len)
{
	char buf[128], *open, *close;
	FILE *f = fopen(path ? path : DMA_THP_ENABLED, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "always [madvise] never": the choice in brackets */
	open = strchr(buf, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!close)
		return -EINVAL;
	snprintf(mode, len, "%.*s", (int)(close - open - 1), open + 1);
	return 0;
}

/*
 * Anonymous memory starting on a 2 MiB boundary (so that every 2 MiB of it can be one huge page),
 * advised MADV_HUGEPAGE: with THP "madvise" or "always" the kernel backs it with huge pages as it
 * faults in. "never" (or no THP in the kernel) is refused: the caller would silently get 4K
 * pages.
 */
static int thp_alloc(struct dma_mem *mem, struct err *e)
{
	uint64_t size = mem->size_bytes, head;
	uint8_t *raw, *base;
	char mode[32];
	int rc = dma_thp_mode(NULL, mode, sizeof(mode));

	if (rc)
		return err_set(e, -rc, "transparent huge pages: %s: %s", DMA_THP_ENABLED,
			       strerror(-rc));
	if (strcmp(mode, "never") == 0)
		return err_set(e, EOPNOTSUPP,
			       "transparent huge pages are disabled on this host (%s: never)",
			       DMA_THP_ENABLED);
	raw = mmap(NULL, size + DMA_THP_BYTES, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return err_input(e, errno, "mmap of %" PRIu64 " bytes (thp): %s", size,
				 strerror(errno));
	base = (uint8_t *)(((uintptr_t)raw + DMA_THP_BYTES - 1) & ~(uintptr_t)(DMA_THP_BYTES - 1));
	head = (uint64_t)(base - raw);
	if (head)
		munmap(raw, head);
	if (DMA_THP_BYTES - head)
		munmap(base + size, DMA_THP_BYTES - head);
	if (madvise(base, size, MADV_HUGEPAGE) < 0) {
		rc = err_set(e, errno, "madvise(MADV_HUGEPAGE): %s", strerror(errno));
		munmap(base, size);
		return rc;
	}
	mem->hva = base;
	return 0;
}

static int mem_map(struct dma_mem *mem, enum dma_backing backing, uint64_t size_bytes,
		   const char *path, struct err *e)
{
	long sys_page = sysconf(_SC_PAGESIZE);
	struct stat st;
	int rc;

	memset(mem, 0, sizeof(*mem));
	mem->backing = backing;
	mem->size_bytes = size_bytes;
	mem->fd = -1;
	mem->page_bytes = sys_page > 0 ? (uint64_t)sys_page : 4096;

	switch (backing) {
	case DMA_BACKING_HUGE_2M:
	case DMA_BACKING_HUGE_1G:
		mem->page_bytes = backing == DMA_BACKING_HUGE_1G ? 1ULL << 30 : 2ULL << 20;
		rc = check_multiple(size_bytes, mem->page_bytes, e);
		return rc ? rc : huge_alloc(mem, mem->page_bytes, e);
	case DMA_BACKING_ANON:
		rc = check_multiple(size_bytes, mem->page_bytes, e);
		if (rc)
			return rc;
		mem->hva = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case DMA_BACKING_MEMFD:
		rc = check_multiple(size_bytes, mem->page_bytes, e);
		if (rc)
			return rc;
		mem->fd = memfd_create("vfio-dma", MFD_CLOEXEC);
		if (mem->fd < 0)
			return err_set(e, errno, "memfd_create: %s", strerror(errno));
		if (ftruncate(mem->fd, (off_t)size_bytes)) {
			rc = err_set(e, errno, "memfd: sizing to %" PRIu64 " bytes: %s", size_bytes,
				     strerror(errno));
			dma_mem_free(mem);
			return rc;
		}
		mem->hva = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, mem->fd, 0);
		break;
	case DMA_BACKING_FILE:
		if (!path || !*path)
			return err_set(e, EINVAL, "file backing needs a path");
		mem->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (mem->fd >= 0) {
			if (ftruncate(mem->fd, (off_t)size_bytes)) {
				rc = err_set(e, errno, "%s: sizing to %" PRIu64 " bytes: %s", path,
					     size_bytes, strerror(errno));
				dma_mem_free(mem);
				return rc;
			}
		} else if (errno == EEXIST) {
			mem->fd = open(path, O_RDWR | O_CLOEXEC);
		}
		if (mem->fd < 0)
			return err_set(e, errno, "%s: %s", path, strerror(errno));
		if (fstat(mem->fd, &st)) {
			rc = err_set(e, errno, "%s: %s", path, strerror(errno));
			dma_mem_free(mem);
			return rc;
		}
		if (st.st_blksize >= 4096 && dma_is_pow2((uint64_t)st.st_blksize))
			mem->page_bytes = (uint64_t)st.st_blksize; /* hugetlbfs: the huge page */
		rc = check_multiple(size_bytes, mem->page_bytes, e);
		if (!rc && (uint64_t)st.st_size < size_bytes)
			rc = err_set(e, EINVAL, "%s: %" PRIu64 " bytes, smaller than %" PRIu64,
				     path, (uint64_t)st.st_size, size_bytes);
		if (rc) {
			dma_mem_free(mem);
			return rc;
		}
		mem->hva = mmap(NULL, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, mem->fd, 0);
		break;
	case DMA_BACKING_THP:
		/* 4K multiples are fine (the tail is 4K pages); IOVAs align to the huge page */
		rc = check_multiple(size_bytes, mem->page_bytes, e);
		mem->page_bytes = DMA_THP_BYTES;
		return rc ? rc : thp_alloc(mem, e);
	case DMA_BACKING_EXTERNAL:
		return err_set(e, EINVAL, "%s memory is not allocated here",
			       dma_backing_name(backing));
	}
	if (mem->hva == MAP_FAILED) {
		mem->hva = NULL;
		rc = err_set(e, errno, "mmap of %" PRIu64 " bytes (%s): %s", size_bytes,
			     dma_backing_name(backing), strerror(errno));
		dma_mem_free(mem);
		return rc;
	}
	return 0;
}

/*
 * Memory handed to a device is never inherited: a fork would copy every pinned anonymous page into
 * the child at once (the kernel cannot share a page a device may write) and split the parent's
 * pinned transparent huge pages into 4K entries for good (copy_huge_pmd); a COMMAND run beside
 * the mappings (vfio-dmamap map -- COMMAND) needs none of it.
 */
int dma_mem_alloc(struct dma_mem *mem, enum dma_backing backing, uint64_t size_bytes,
		  const char *path, struct err *e)
{
	int rc = mem_map(mem, backing, size_bytes, path, e);

	if (rc || !mem->hva)
		return rc;
	if (madvise(mem->hva, mem->size_bytes, MADV_DONTFORK) < 0) {
		rc = err_set(e, errno, "madvise(MADV_DONTFORK): %s", strerror(errno));
		dma_mem_free(mem);
	}
	return rc;
}

void dma_mem_free(struct dma_mem *mem)
{
	if (mem->hva)
		munmap(mem->hva, mem->size_bytes);
	if (mem->fd >= 0)
		close(mem->fd);
	mem->hva = NULL;
	mem->fd = -1;
}

int dma_mem_discard(struct dma_mem *mem, struct err *e)
{
	int advice = mem->backing == DMA_BACKING_MEMFD ? MADV_REMOVE : MADV_DONTNEED;

	if (mem->backing == DMA_BACKING_FILE || mem->backing == DMA_BACKING_EXTERNAL)
		return err_set(e, EOPNOTSUPP,
			       "%s memory cannot be discarded without losing its data",
			       dma_backing_name(mem->backing));
	if (madvise(mem->hva, mem->size_bytes, advice))
		return err_set(e, errno, "madvise(%s) of %" PRIu64 " bytes (%s): %s",
			       advice == MADV_REMOVE ? "MADV_REMOVE" : "MADV_DONTNEED",
			       mem->size_bytes, dma_backing_name(mem->backing), strerror(errno));
	return 0;
}
