/* pcidev.h: the PCI devices of a system (or a sysfs snapshot), enumerated through libpci. */
#ifndef CORE_PCIDEV_H
#define CORE_PCIDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pciaddr.h"
#include "sysfs.h"

#define PCIDEV_NAME_MAX 64

struct pcidev {
	struct pci_addr addr;
	char bdf[PCI_ADDR_STRLEN];
	uint16_t vendor, device;
	uint32_t class; /* 24-bit class code: base, sub, prog-if */
	bool is_bridge; /* a PCI-to-PCI or CardBus bridge: vfio-pci never binds these */
	char driver[PCIDEV_NAME_MAX]; /* "" when no driver is bound */
	int iommu_group;	      /* -1 when the device has none */
	int boot_vga;		      /* 1, 0, or -1 when the attribute is absent */
	uint64_t bar_base[6], bar_size[6];
	bool bar_io[6];
};

struct pcidev_list {
	struct pcidev *dev;
	size_t n;
};

/* Enumerate with libpci (its sysfs path set below s->root), sorted by address. */
int pcidev_scan(const struct sysfs *s, struct pcidev_list *out, struct err *e);
void pcidev_list_free(struct pcidev_list *l);
struct pcidev *pcidev_find(const struct pcidev_list *l, const struct pci_addr *a);
/* Re-read what changes while binding: driver and IOMMU group. */
void pcidev_refresh(const struct sysfs *s, struct pcidev *d);

/*
 * Resolve a user's selector to devices: a full address must exist, a short one must match
 * exactly one domain, a vendor:device ID matches every device with that ID (at least one).
 * Appends indexes into l to idx (capacity cap, count *n). -ENODEV / -EINVAL with a message.
 */
int pcidev_resolve(const struct pcidev_list *l, const struct pci_sel *sel, const char *text,
		   size_t *idx, size_t cap, size_t *n, struct err *e);

/* Does the system have IOMMU groups at all? (No groups: the IOMMU is off.) */
bool pcidev_have_iommu(const struct sysfs *s);

#endif
