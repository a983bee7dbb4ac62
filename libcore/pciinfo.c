/* pciinfo.c: the facts about a PCI device that decide whether it can be passed to a VM. */
#include "pciinfo.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind.h"

/* include/linux/ioport.h: the flags column of sysfs "resource". */
#define IORESOURCE_IO	    0x00000100
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64   0x00100000

#define PCI_CAP_ID_EXP	     0x10
#define PCI_EXP_DEVCAP_FLR   (1u << 28)
#define PCI_EXT_CAP_ID_REBAR 0x15
#define PCI_ROM_SIZE_MAX     (16u << 20) /* more than any ROM BAR a device decodes in practice */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

const char *pciinfo_rom_code_name(uint8_t type, char *buf, size_t len)
{
	static const char *const names[] = { "x86", "open-firmware", "hp-pa-risc", "efi" };

	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	snprintf(buf, len, "type-%u", type);
	return buf;
}

void pciinfo_parse_rom(const uint8_t *rom, size_t len, uint16_t vendor, uint16_t device,
		       struct pciinfo_rom *out)
{
	size_t off = 0;

	out->signature = out->pcir = out->valid = false;
	out->nimages = 0;
	while (off + 0x1a <= len && out->nimages < PCIINFO_MAX_ROM_IMAGES) {
		size_t pcir, img_len;

		if (rom[off] != 0x55 || rom[off + 1] != 0xaa)
			break;
		out->signature |= off == 0;
		pcir = off + le16(rom + off + 0x18);
		if (pcir + 0x18 > len || memcmp(rom + pcir, "PCIR", 4))
			break;
		if (off == 0) {
			out->pcir = true;
			out->vendor = le16(rom + pcir + 4);
			out->device = le16(rom + pcir + 6);
		}
		out->code_types[out->nimages++] = rom[pcir + 0x14];
		img_len = (size_t)le16(rom + pcir + 0x10) * 512;
		if ((rom[pcir + 0x15] & 0x80) || img_len == 0)
			break;
		off += img_len;
	}
	out->valid = out->signature && out->pcir && out->vendor == vendor && out->device == device;
}

/* The standard capability list: the offset of capability id, 0 when absent. */
static unsigned find_cap(const uint8_t *cfg, size_t len, uint8_t id)
{
	unsigned pos;

	if (len < 0x40 || !(le16(cfg + 0x06) & 0x10))
		return 0;
	pos = cfg[0x34] & 0xfc;
	for (int guard = 0; pos >= 0x40 && pos + 2 <= len && guard < 48; guard++) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + 1] & 0xfc;
	}
	return 0;
}

static void parse_rebar(const uint8_t *cfg, size_t len, unsigned pos, struct pciinfo *out)
{
	unsigned nbars = pos + 12 <= len ? (le32(cfg + pos + 8) >> 5) & 7 : 0;

	for (unsigned i = 0; i < nbars && out->nrebar < 6 && pos + 12 + 8 * i <= len; i++) {
		uint32_t cap = le32(cfg + pos + 4 + 8 * i), ctrl = le32(cfg + pos + 8 + 8 * i);
		struct pciinfo_rebar *r = &out->rebar[out->nrebar++];

		r->bar = (int)(ctrl & 7);
		r->current_log2 = 20 + (int)((ctrl >> 8) & 0x3f);
		if (r->current_log2 > 63) /* encodings past 2^63 bytes are reserved */
			r->current_log2 = -1;
		/* Capability bits 4..31: 1 MiB .. 128 TiB; control bits 16..31: 256 TiB and up. */
		r->sizes_log2_mask = (uint64_t)(cap >> 4) << 20 | (uint64_t)(ctrl >> 16) << 48;
	}
}

void pciinfo_parse_config(const uint8_t *cfg, size_t len, struct pciinfo *out)
{
	unsigned pos = find_cap(cfg, len, PCI_CAP_ID_EXP);

	out->flr = -1;
	out->rebar_known = len >= 0x104;
	out->nrebar = 0;
	if (len >= 0x28 && (cfg[0x0e] & 0x7f) == 0) {
		for (size_t i = 0; i < out->nbars; i++) {
			uint32_t reg = le32(cfg + 0x10 + 4 * out->bars[i].index);

			if (out->bars[i].io)
				continue;
			out->bars[i].is_64bit = ((reg >> 1) & 3) == 2;
			out->bars[i].prefetchable = reg & 8;
		}
	}
	/* With 64 bytes (what a non-root reader gets) the PCIe capability is out of sight. */
	if (pos && pos + 8 <= len)
		out->flr = (le32(cfg + pos + 4) & PCI_EXP_DEVCAP_FLR) != 0;
	if (pos == 0 && len >= 0x100)
		out->flr = 0;
	pos = 0x100;
	for (int guard = 0; out->rebar_known && pos >= 0x100 && pos + 4 <= len && guard < 256;
	     guard++) {
		uint32_t h = le32(cfg + pos);

		if (h == 0 || h == 0xffffffff)
			break;
		if ((h & 0xffff) == PCI_EXT_CAP_ID_REBAR)
			parse_rebar(cfg, len, pos, out);
		/* a pointer that does not move forward would loop (the list is in ascending order)
		 */
		if (((h >> 20) & 0xffc) <= pos)
			break;
		pos = (h >> 20) & 0xffc;
	}
}

/* BARs from the device (libpci's sizes) and the kernel's resource flags. */
static void read_bars(const struct sysfs *s, struct pcidev *d, struct pciinfo *out)
{
	char path[PATH_MAX], line[128];
	unsigned long long start, end, flags;
	FILE *f = NULL;

	if (!sysfs_path(s, path, sizeof(path), "/sys/bus/pci/devices/%s/resource", d->bdf))
		f = fopen(path, "re");
	for (int i = 0; i < 7 && f && fgets(line, sizeof(line), f); i++) {
		if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3 || !end)
			continue;
		if (i == 6) {
			out->rom.size_bytes = end - start + 1;
			continue;
		}
		out->bars[out->nbars++] = (struct pciinfo_bar){
			.index = i,
			.base = start,
			.size_bytes = end - start + 1,
			.io = flags & IORESOURCE_IO,
			.is_64bit = flags & IORESOURCE_MEM_64,
			.prefetchable = flags & IORESOURCE_PREFETCH,
		};
	}
	if (f)
		fclose(f);
	if (out->nbars || !f)
		return;
	for (int i = 0; i < 6; i++) /* a resource file without sizes: libpci's view */
		if (d->bar_size[i])
			out->bars[out->nbars++] = (struct pciinfo_bar){
				.index = i,
				.base = d->bar_base[i],
				.size_bytes = d->bar_size[i],
				.io = d->bar_io[i],
			};
}

static void read_config(const struct sysfs *s, const struct pcidev *d, struct pciinfo *out)
{
	char path[PATH_MAX];
	uint8_t cfg[4096];
	ssize_t n = -1;
	int fd;

	if (!sysfs_path(s, path, sizeof(path), "/sys/bus/pci/devices/%s/config", d->bdf) &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = pread(fd, cfg, sizeof(cfg), 0);
		close(fd);
	}
	pciinfo_parse_config(cfg, n > 0 ? (size_t)n : 0, out);
}

static void read_rom(const struct sysfs *s, const struct pcidev *d, unsigned flags,
		     struct pciinfo_rom *rom)
{
	char path[PATH_MAX];
	bool enable = flags & PCIINFO_ENABLE_ROM;
	size_t cap = rom->size_bytes < PCI_ROM_SIZE_MAX ? rom->size_bytes : PCI_ROM_SIZE_MAX;
	uint8_t *buf;
	ssize_t n = 0, r;
	int fd, rc;

	/* A snapshot's rom file is plain data; on the running system reading needs the enable. */
	if (!rom->size_bytes || (!enable && !s->root[0])) {
		rom->read_errno = rom->size_bytes ? EPERM : 0;
		return;
	}
	/*
	 * Never enable the ROM of a device a host driver is using: on many GPUs the ROM shares an
	 * address decoder with a BAR the driver maps (PCI 3.0 6.2.5.2), and the driver is not told.
	 */
	if (enable && *d->driver && strcmp(d->driver, BIND_DRIVER)) {
		rom->read_errno = EBUSY;
		return;
	}
	if (sysfs_path(s, path, sizeof(path), "/sys/bus/pci/devices/%s/rom", d->bdf) ||
	    !(buf = malloc(cap))) {
		rom->read_errno = ENOMEM;
		return;
	}
	if (enable && (rc = sysfs_write_path(path, "1"))) {
		rom->read_errno = -rc;
		free(buf);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	rom->read_errno = fd < 0 ? errno : 0;
	while (fd >= 0 && (size_t)n < cap && (r = read(fd, buf + n, cap - (size_t)n)) > 0)
		n += r;
	if (fd >= 0 && n == 0)
		rom->read_errno = EIO; /* the kernel found no 0x55AA image (pci_map_rom) */
	if (fd >= 0)
		close(fd);
	if (enable) /* what `echo 0 > rom` writes; anything else not starting with '0' enables */
		sysfs_write_path(path, "0\n");
	rom->read = n > 0;
	if (rom->read)
		pciinfo_parse_rom(buf, (size_t)n, d->vendor, d->device, rom);
	free(buf);
}

/* Devices that a secondary bus reset of the parent bridge would also reset. */
static void read_bus_reset(const struct sysfs *s, const struct pcidev_list *l,
			   const struct pcidev *d, struct pciinfo *out)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct pci_addr parent;
	bool dom;

	if (!sysfs_path(s, path, sizeof(path), "/sys/bus/pci/devices/%s", d->bdf) &&
	    realpath(path, real))
		out->bus_reset_possible =
			!pci_addr_parse(basename(dirname(real)), &parent, &dom, NULL) && dom;
	for (size_t i = 0;
	     out->bus_reset_possible && i < l->n && out->nbus_peers < PCIINFO_MAX_PEERS; i++) {
		const struct pci_addr *a = &l->dev[i].addr;

		if (a->domain == d->addr.domain && a->bus == d->addr.bus &&
		    !pci_addr_eq(a, &d->addr))
			out->bus_peers[out->nbus_peers++] = *a;
	}
}

static int addr_cmp(const void *a, const void *b)
{
	return pci_addr_cmp(a, b);
}

static int sysfs_int(const struct sysfs *s, const char *bdf, const char *attr)
{
	uint64_t v;

	if (sysfs_read_u64(s, &v, "/sys/bus/pci/devices/%s/%s", bdf, attr) || v > INT32_MAX)
		return -1;
	return (int)v;
}

int pciinfo_read(const struct sysfs *s, const struct pcidev_list *l, struct pcidev *d,
		 unsigned flags, struct pciinfo *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	out->dev = d;
	pcidev_refresh(s, d);
	if (!bind_check_target(d, NULL)) {
		out->nholders = bind_preflight(s, d, &out->holders, e);
		if (out->nholders < 0)
			return out->nholders;
	}
	bind_group_members(l, d->iommu_group, out->group, PCIINFO_MAX_PEERS, &out->ngroup);
	qsort(out->group, out->ngroup, sizeof(out->group[0]), addr_cmp);
	if (sysfs_read(s, out->reset_method, sizeof(out->reset_method),
		       "/sys/bus/pci/devices/%s/reset_method", d->bdf) < 0)
		out->reset_method[0] = '\0';
	read_bars(s, d, out);
	read_config(s, d, out);
	read_bus_reset(s, l, d, out);
	read_rom(s, d, flags, &out->rom);
	out->sriov_total = sysfs_int(s, d->bdf, "sriov_totalvfs");
	out->sriov_num = sysfs_int(s, d->bdf, "sriov_numvfs");
	{
		/* the driver a bind would choose: a variant driver by modules.alias, or vfio-pci */
		char module[PCIDEV_NAME_MAX];
		struct err ignored = { 0 };

		if (bind_choose_driver(s, d, out->vfio_driver, module, sizeof(out->vfio_driver),
				       &ignored) < 0)
			snprintf(out->vfio_driver, sizeof(out->vfio_driver), "%s", BIND_DRIVER);
	}
	return 0;
}

void pciinfo_destroy(struct pciinfo *p)
{
	free(p->holders);
	p->holders = NULL;
}
