/* guestmem.c: guest memory regions from host buffers, files and running VMMs. */
#include "guestmem.h"
#include "fileio.h"

#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

void guestmem_init(struct guestmem *gm)
{
	memset(gm, 0, sizeof(*gm));
}

static void region_release(struct guestmem_region *r)
{
	if (!r->owned)
		return;
	if (r->owned_is_mmap)
		munmap(r->owned, r->owned_bytes);
	else
		free(r->owned);
	r->owned = NULL;
}

void guestmem_close(struct guestmem *gm)
{
	for (unsigned i = 0; i < gm->nr_regions; i++)
		region_release(&gm->regions[i]);
	gm->nr_regions = 0;
}

/* Insert keeping the table sorted; the region's ownership passes to gm only on success. */
static int region_insert(struct guestmem *gm, const struct guestmem_region *nr, struct err *e)
{
	uint64_t last = nr->gpa + (nr->size_bytes - 1);
	unsigned i;

	if (nr->size_bytes == 0)
		return err_set(e, EINVAL, "region at 0x%" PRIx64 ": size is 0", nr->gpa);
	if (guestmem_range_wraps(nr->gpa, nr->size_bytes))
		return err_set(e, EINVAL,
			       "region at 0x%" PRIx64 " size 0x%" PRIx64 ": wraps past 2^64",
			       nr->gpa, nr->size_bytes);
	if (gm->nr_regions >= GUESTMEM_MAX_REGIONS)
		return err_set(e, ENOSPC, "more than %d memory regions", GUESTMEM_MAX_REGIONS);
	for (i = 0; i < gm->nr_regions; i++) {
		const struct guestmem_region *r = &gm->regions[i];
		uint64_t r_last = r->gpa + (r->size_bytes - 1);

		if (nr->gpa <= r_last && r->gpa <= last)
			return err_set(e, EEXIST,
				       "region [0x%" PRIx64 ", 0x%" PRIx64 "] overlaps [0x%" PRIx64
				       ", 0x%" PRIx64 "]",
				       nr->gpa, last, r->gpa, r_last);
	}
	for (i = 0; i < gm->nr_regions && gm->regions[i].gpa < nr->gpa; i++)
		;
	memmove(&gm->regions[i + 1], &gm->regions[i],
		(gm->nr_regions - i) * sizeof(gm->regions[0]));
	gm->regions[i] = *nr;
	gm->nr_regions++;
	return 0;
}

int guestmem_add(struct guestmem *gm, gpa_t gpa, void *hva, uint64_t size_bytes, struct err *e)
{
	struct guestmem_region r = { .gpa = gpa, .size_bytes = size_bytes, .hva = hva };

	return region_insert(gm, &r, e);
}

/* Read len bytes at offset into a new buffer (for files that cannot be mapped). */
static int read_whole(int fd, const char *path, uint64_t offset, uint64_t len, void **out,
		      struct err *e)
{
	uint8_t *buf;
	uint64_t done = 0;

	if (len > SIZE_MAX)
		return err_set(e, EFBIG, "%s: 0x%" PRIx64 " bytes do not fit in memory", path, len);
	buf = malloc(len);
	if (!buf)
		return err_set(e, ENOMEM, "%s: cannot allocate 0x%" PRIx64 " bytes", path, len);
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int code = n < 0 ? errno : EIO;

			free(buf);
			return err_set(e, code, "%s: read at offset 0x%" PRIx64 ": %s", path,
				       offset + done,
				       n < 0 ? strerror(code) : "unexpected end of file");
		}
		done += (uint64_t)n;
	}
	*out = buf;
	return 0;
}

static bool is_procfs(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

int guestmem_add_file(struct guestmem *gm, const char *path, uint64_t file_offset, gpa_t gpa,
		      uint64_t size_bytes, struct err *e)
{
	struct guestmem_region r = { .gpa = gpa };
	struct stat st;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t pg_off;
	int fd, rc;

	/* a FIFO or a device is refused before it can block us */
	fd = file_open_regular(path, O_RDONLY, &st, e);
	if (fd < 0)
		return fd;
	/* procfs files (/proc/PID/mem) report size 0: trust the caller's size there, and only
	 * there (a size given for an empty file would map nothing: SIGBUS on the first read) */
	if (!is_procfs(fd)) {
		uint64_t fsize = (uint64_t)st.st_size;

		if (file_offset > fsize || (size_bytes && size_bytes > fsize - file_offset)) {
			rc = err_set(e, EINVAL,
				     "%s: offset 0x%" PRIx64 " size 0x%" PRIx64
				     " is past the end of the file (0x%" PRIx64 " bytes)",
				     path, file_offset, size_bytes, fsize);
			goto out;
		}
		if (!size_bytes)
			size_bytes = fsize - file_offset;
	}
	if (!size_bytes) {
		rc = err_set(e, EINVAL, "%s: empty, or its size is unknown: give a size", path);
		goto out;
	}
	r.size_bytes = size_bytes;
	if (guestmem_range_wraps(gpa, size_bytes)) {
		rc = err_set(e, EINVAL, "%s at 0x%" PRIx64 ": wraps past 2^64", path, gpa);
		goto out;
	}
	/* mmap needs a page-aligned offset: map from the page start and skip the head. */
	pg_off = file_offset & ~((uint64_t)page - 1);
	if (size_bytes + (file_offset - pg_off) <= SIZE_MAX) {
		size_t map_len = (size_t)(size_bytes + (file_offset - pg_off));
		void *p =
			mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)pg_off);

		if (p != MAP_FAILED) {
			r.owned = p;
			r.owned_bytes = map_len;
			r.owned_is_mmap = true;
			r.hva = (uint8_t *)p + (file_offset - pg_off);
		}
	}
	if (!r.owned) {
		rc = read_whole(fd, path, file_offset, size_bytes, &r.owned, e);
		if (rc)
			goto out;
		r.owned_bytes = size_bytes;
		r.hva = r.owned;
	}
	rc = region_insert(gm, &r, e);
	if (rc) {
		err_prefix(e, "%s", path);
		region_release(&r);
	}
out:
	close(fd);
	return rc;
}

int guestmem_add_file_layout(struct guestmem *gm, const char *path,
			     const struct guestmem_layout *layout, unsigned nr, struct err *e)
{
	uint64_t offset = 0;

	for (unsigned i = 0; i < nr; i++) {
		int rc;

		if (!layout[i].size_bytes)
			return err_set(e, EINVAL, "%s: region %u at 0x%" PRIx64 " has size 0", path,
				       i, layout[i].gpa);
		rc = guestmem_add_file(gm, path, offset, layout[i].gpa, layout[i].size_bytes, e);
		if (rc)
			return rc;
		if (offset + layout[i].size_bytes < offset)
			return err_set(e, EINVAL, "%s: layout wraps past 2^64", path);
		offset += layout[i].size_bytes;
	}
	return 0;
}

int guestmem_read(const struct guestmem *gm, gpa_t gpa, void *buf, uint64_t len, struct err *e)
{
	const uint8_t *p = guestmem_ptr(gm, gpa, len);

	if (!p)
		return err_set(e, EFAULT,
			       "[0x%" PRIx64 ", +0x%" PRIx64 ") is not inside guest memory", gpa,
			       len);
	memcpy(buf, p, len);
	return 0;
}

int guestmem_write(const struct guestmem *gm, gpa_t gpa, const void *buf, uint64_t len,
		   struct err *e)
{
	uint8_t *p = guestmem_ptr(gm, gpa, len);

	if (!p)
		return err_set(e, EFAULT,
			       "[0x%" PRIx64 ", +0x%" PRIx64 ") is not inside guest memory", gpa,
			       len);
	memcpy(p, buf, len);
	return 0;
}

int guestmem_read_le16(const struct guestmem *gm, gpa_t gpa, uint16_t *v)
{
	uint16_t raw = 0;
	int rc = guestmem_read(gm, gpa, &raw, sizeof(raw), NULL);

	if (!rc)
		*v = le16toh(raw);
	return rc;
}

int guestmem_read_le32(const struct guestmem *gm, gpa_t gpa, uint32_t *v)
{
	uint32_t raw = 0;
	int rc = guestmem_read(gm, gpa, &raw, sizeof(raw), NULL);

	if (!rc)
		*v = le32toh(raw);
	return rc;
}

int guestmem_read_le64(const struct guestmem *gm, gpa_t gpa, uint64_t *v)
{
	uint64_t raw = 0;
	int rc = guestmem_read(gm, gpa, &raw, sizeof(raw), NULL);

	if (!rc)
		*v = le64toh(raw);
	return rc;
}
