/* vfio_pt_rom.c: a passed-through device's expansion ROM: its source (option), image and check. */
#include "vfio_pt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROM_MAX (16u << 20) /* the largest ROM BAR vpci_cfg_set_rom takes */

int vfio_pt_opts_parse(const char *spec, char *bdf, size_t bdf_len, struct vfio_pt_opts *o,
		       struct err *e)
{
	const char *comma = strchr(spec, ','), *opt;
	size_t n = comma ? (size_t)(comma - spec) : strlen(spec);

	memset(o, 0, sizeof(*o));
	if (n == 0 || n >= bdf_len)
		return err_input(e, EINVAL, "'%s': no PCI address before the options", spec);
	memcpy(bdf, spec, n);
	bdf[n] = 0;
	for (opt = comma; opt; opt = strchr(opt + 1, ',')) {
		const char *val = opt + 1, *end = strchr(val, ',');
		size_t len = end ? (size_t)(end - val) : strlen(val);

		if (len > 4 && strncmp(val, "rom=", 4) == 0) {
			if (len == 7 && strncmp(val + 4, "off", 3) == 0) {
				o->rom = VFIO_PT_ROM_OFF;
				continue;
			}
			if (len - 4 >= sizeof(o->rom_file))
				return err_input(e, ENAMETOOLONG, "'%s': ROM file name too long",
						 spec);
			o->rom = VFIO_PT_ROM_FILE;
			memcpy(o->rom_file, val + 4, len - 4);
			o->rom_file[len - 4] = 0;
			continue;
		}
		return err_input(e, EINVAL, "'%s': unknown option '%.*s' (rom=FILE or rom=off)",
				 spec, (int)len, val);
	}
	return 0;
}

static unsigned get16(const uint8_t *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

int vfio_pt_rom_check(const uint8_t *rom, size_t len, uint16_t *vendor, uint16_t *device)
{
	size_t pcir;

	if (len < 0x1a || rom[0] != 0x55 || rom[1] != 0xaa)
		return -ENOEXEC;
	pcir = get16(rom + 0x18);
	if (pcir + 8 > len || memcmp(rom + pcir, "PCIR", 4))
		return -ENOEXEC;
	*vendor = (uint16_t)get16(rom + pcir + 4);
	*device = (uint16_t)get16(rom + pcir + 6);
	return 0;
}

int vfio_pt_rom_load(const char *path, uint8_t **buf, size_t *len, struct err *e)
{
	struct stat st;
	ssize_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	*buf = NULL;
	if (fd < 0)
		return err_input(e, errno, "ROM file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > ROM_MAX) {
		close(fd);
		return err_input(e, EINVAL, "ROM file %s: not a file of 1 byte to 16 MiB", path);
	}
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		close(fd);
		return err_set(e, ENOMEM, "out of memory");
	}
	for (size_t off = 0; off < (size_t)st.st_size && !rc; off += (size_t)got) {
		got = pread(fd, *buf + off, (size_t)st.st_size - off, (off_t)off);
		if (got <= 0)
			rc = err_input(e, got ? errno : EIO, "ROM file %s: %s", path,
				       got ? strerror(errno) : "short read");
	}
	close(fd);
	if (rc) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	*len = (size_t)st.st_size;
	return 0;
}
