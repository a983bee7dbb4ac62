/* pcidev.c: PCI device enumeration through libpci, with the sysfs attributes binding needs. */
#include "pcidev.h"
#include "pci_priv.h"

#include <dirent.h>
#include <pci/pci.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int addr_order(const void *a, const void *b)
{
	return pci_addr_cmp(&((const struct pcidev *)a)->addr, &((const struct pcidev *)b)->addr);
}

/*
 * libpci's sysfs back-end at ROOT/sys/bus/pci: the live system, or a snapshot tree. Call with
 * pciacc_jmp set: pci_init reports errors by jumping there.
 */
static struct pci_access *acc_open(const struct sysfs *s)
{
	char path[PATH_MAX];
	struct pci_access *pacc;

	if (sysfs_path(s, path, sizeof(path), "/sys/bus/pci") || !(pacc = pciacc_alloc()))
		return NULL;
	pacc->method = PCI_ACCESS_SYS_BUS_PCI;
	pci_set_param(pacc, "sysfs.path", path);
	pci_init(pacc);
	return pacc;
}

/* The driver and IOMMU group as libpci reads them: its driver and iommu_group links. */
static void fill_links(struct pci_dev *p, struct pcidev *d)
{
	const char *drv, *group;
	char *end;
	long g;

	pci_fill_info(p, PCI_FILL_DRIVER | PCI_FILL_IOMMU_GROUP);
	drv = pci_get_string_property(p, PCI_FILL_DRIVER);
	group = pci_get_string_property(p, PCI_FILL_IOMMU_GROUP);
	if (!drv || strlen(drv) >= sizeof(d->driver))
		drv = "";
	snprintf(d->driver, sizeof(d->driver), "%s", drv);
	d->iommu_group = -1;
	if (group && *group) {
		g = strtol(group, &end, 10);
		if (!*end && g >= 0 && g <= INT32_MAX)
			d->iommu_group = (int)g;
	}
}

static void read_boot_vga(const struct sysfs *s, struct pcidev *d)
{
	uint64_t v;

	d->boot_vga = -1;
	if (!sysfs_read_u64(s, &v, "/sys/bus/pci/devices/%s/boot_vga", d->bdf))
		d->boot_vga = v != 0;
}

void pcidev_refresh(const struct sysfs *s, struct pcidev *d)
{
	struct pci_access *volatile pacc = NULL;
	struct pci_dev *volatile p = NULL;

	d->driver[0] = '\0';
	d->iommu_group = -1;
	/* libpci's errors (a path too long) leave the device with neither */
	if (!setjmp(pciacc_jmp) && (pacc = acc_open(s))) {
		p = pci_get_dev(pacc, (int)d->addr.domain, d->addr.bus, d->addr.dev, d->addr.fn);
		fill_links(p, d);
	}
	if (p)
		pci_free_dev(p); /* pci_get_dev's device is not on pacc's list */
	if (pacc)
		pci_cleanup(pacc);
	read_boot_vga(s, d);
}

int pcidev_scan(const struct sysfs *s, struct pcidev_list *out, struct err *e)
{
	char path[PATH_MAX];
	struct pci_access *volatile pacc = NULL;
	struct pci_dev *p;
	struct pcidev *volatile v = NULL;
	volatile size_t n = 0;
	volatile size_t cap = 0;

	out->dev = NULL;
	out->n = 0;
	if (sysfs_path(s, path, sizeof(path), "/sys/bus/pci"))
		return err_set(e, ENAMETOOLONG, "sysfs root: path too long");
	if (sysfs_exists(s, "/sys/bus/pci/devices"))
		return err_set(e, ENOENT, "%s/devices: no PCI devices in sysfs", path);
	if (setjmp(pciacc_jmp)) {
		free(v);
		if (pacc)
			pci_cleanup(pacc);
		return err_set(e, EIO, "libpci: %s", pciacc_errmsg);
	}
	pacc = acc_open(s);
	if (!pacc)
		return err_set(e, ENOMEM, "libpci: out of memory");
	pci_scan_bus(pacc);
	for (p = pacc->devices; p; p = p->next) {
		struct pcidev *d;

		if (n == cap) {
			struct pcidev *nv;

			cap = cap ? 2 * cap : 32;
			nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				free(v);
				pci_cleanup(pacc);
				return err_set(e, ENOMEM, "out of memory");
			}
			v = nv;
		}
		d = &v[n++];
		memset(d, 0, sizeof(*d));
		pci_fill_info(p, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT |
					 PCI_FILL_BASES | PCI_FILL_SIZES | PCI_FILL_IO_FLAGS);
		d->addr.domain = (uint32_t)p->domain;
		d->addr.bus = p->bus;
		d->addr.dev = p->dev;
		d->addr.fn = p->func;
		pci_addr_format(&d->addr, d->bdf);
		d->vendor = p->vendor_id;
		d->device = p->device_id;
		d->class = (uint32_t)p->device_class << 8 | p->prog_if;
		d->is_bridge = p->device_class == PCI_CLASS_BRIDGE_PCI ||
			       p->device_class == PCI_CLASS_BRIDGE_CARDBUS;
		for (int i = 0; i < 6; i++) {
			pciaddr_t b = p->base_addr[i];

			d->bar_io[i] = b & PCI_BASE_ADDRESS_SPACE_IO;
			d->bar_base[i] = d->bar_io[i] ? (b & PCI_BASE_ADDRESS_IO_MASK)
						      : (b & PCI_BASE_ADDRESS_MEM_MASK);
			d->bar_size[i] = p->size[i];
		}
		fill_links(p, d);
		read_boot_vga(s, d);
	}
	pci_cleanup(pacc);
	qsort(v, n, sizeof(*v), addr_order);
	out->dev = v;
	out->n = n;
	return 0;
}

void pcidev_list_free(struct pcidev_list *l)
{
	free(l->dev);
	l->dev = NULL;
	l->n = 0;
}

struct pcidev *pcidev_find(const struct pcidev_list *l, const struct pci_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (pci_addr_eq(&l->dev[i].addr, a))
			return &l->dev[i];
	return NULL;
}

static int push(size_t *idx, size_t cap, size_t *n, size_t i, struct err *e)
{
	for (size_t k = 0; k < *n; k++)
		if (idx[k] == i)
			return 0; /* named twice: once is enough */
	if (*n >= cap)
		return err_set(e, E2BIG, "too many devices (at most %zu)", cap);
	idx[(*n)++] = i;
	return 0;
}

int pcidev_resolve(const struct pcidev_list *l, const struct pci_sel *sel, const char *text,
		   size_t *idx, size_t cap, size_t *n, struct err *e)
{
	size_t found = 0, first = 0;
	char a[PCI_ADDR_STRLEN], b[PCI_ADDR_STRLEN];

	for (size_t i = 0; i < l->n; i++) {
		const struct pcidev *d = &l->dev[i];
		bool match;

		switch (sel->kind) {
		case PCI_SEL_ADDR:
			match = pci_addr_eq(&d->addr, &sel->addr);
			break;
		case PCI_SEL_SHORT_ADDR:
			match = d->addr.bus == sel->addr.bus && d->addr.dev == sel->addr.dev &&
				d->addr.fn == sel->addr.fn;
			break;
		default:
			match = d->vendor == sel->vendor && d->device == sel->device;
			break;
		}
		if (!match)
			continue;
		if (sel->kind == PCI_SEL_SHORT_ADDR && found == 1)
			return err_set(e, EINVAL,
				       "%s: ambiguous: both %s and %s match; give the domain", text,
				       pci_addr_format(&l->dev[first].addr, a),
				       pci_addr_format(&d->addr, b));
		if (!found)
			first = i;
		found++;
		if (sel->kind == PCI_SEL_ID && push(idx, cap, n, i, e))
			return -E2BIG;
	}
	if (!found)
		return err_set(e, ENODEV, "%s: no such PCI device", text);
	if (sel->kind != PCI_SEL_ID)
		return push(idx, cap, n, first, e);
	return 0;
}

bool pcidev_have_iommu(const struct sysfs *s)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool any = false;
	DIR *d;

	if (sysfs_path(s, path, sizeof(path), "/sys/kernel/iommu_groups"))
		return false;
	d = opendir(path);
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			any = true;
			break;
		}
	closedir(d);
	return any;
}
