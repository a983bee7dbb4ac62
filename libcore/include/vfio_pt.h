/* vfio_pt.h: PCI passthrough of VFIO devices into a microVM: host bridge, BARs, config, MSI-X. */
#ifndef CORE_VFIO_PT_H
#define CORE_VFIO_PT_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"
#include "layout.h" /* the BAR windows and the GSI plan */
#include "msix.h"
#include "pci_host.h"
#include "pciaddr.h"
#include "vfio.h"
#include "vm.h"
#include "vpci.h"

#define VFIO_PT_MAX 8

struct vfio_pt;

/* Where the guest's expansion ROM comes from (QEMU's romfile= and rombar=0). */
enum vfio_pt_rom {
	VFIO_PT_ROM_DEVICE, /* the device's own, VFIO's ROM region (none if it has none) */
	VFIO_PT_ROM_OFF,    /* none: the ROM BAR reads 0 */
	VFIO_PT_ROM_FILE,   /* the image in rom_file */
};

struct vfio_pt_opts {
	enum vfio_pt_rom rom;
	char rom_file[4096];
};

/* "BDF[,rom=FILE|rom=off]": bdf (of bdf_len bytes) gets the address as written. -EINVAL. */
int vfio_pt_opts_parse(const char *spec, char *bdf, size_t bdf_len, struct vfio_pt_opts *o,
		       struct err *e);

/*
 * A ROM image's PCI Data Structure (PCI Firmware 3.2, 5.1): 0x55AA at 0, the offset of "PCIR"
 * at 0x18, vendor and device IDs after it. 0, or -ENOEXEC when len bytes hold no valid image.
 */
int vfio_pt_rom_check(const uint8_t *rom, size_t len, uint16_t *vendor, uint16_t *device);

/* Read a ROM file into *buf (malloc'd; at most 16 MiB). -errno with a message. */
int vfio_pt_rom_load(const char *path, uint8_t **buf, size_t *len, struct err *e);

/*
 * The guest's BAR windows for a VM with this RAM: the one place that decides where the guest
 * sees passed-through BARs (none overlaps RAM, which is mapped for DMA at IOVA = GPA).
 */
void vfio_pt_alloc_init(struct vpci_alloc *a, const struct vm_ram *ram);

struct vfio_pt_set {
	struct vm *vm;
	struct pci_host host;
	struct vpci_alloc alloc;
	uint64_t mmio64_base, mmio64_size;
	struct vfio_iommu *iommu; /* one DMA address space for every passed device */
	/* BAR, MSI-X and MSI state, touched from vCPU threads; held while calling the KVM layer
	 * for slots, GSIs, routes and irqfds (kvm.h: its own lock is taken after this one). */
	pthread_mutex_t lock;
	unsigned n;
	struct vfio_pt *dev[VFIO_PT_MAX];
};

/*
 * Prepare passthrough for vm (after vm_open, before vCPUs run): the host bridge on 0xcf8, the
 * BAR windows on the MMIO and port buses, KVM's VFIO device and the interrupt routing table.
 */
int vfio_pt_setup(struct vfio_pt_set *s, struct vm *vm, struct err *e);
/*
 * Pass the device at a through: open it (bound to vfio-pci, see vfio-bind) and attach it to the
 * set's one IOMMU (the first device opens it with backend; the others join it, and backend is
 * then ignored), reset it, map all guest RAM at IOVA = GPA once for every device, size its BARs
 * and place them in guest windows, build its config shadow and map the mmappable parts of its
 * BARs as KVM memory slots (around the MSI-X table and PBA, which are emulated). The guest sees
 * it at S:00.0 behind a PCIe root port at 00:S.0 (pcie_port.h); *slot_out gets S.
 */
int vfio_pt_add(struct vfio_pt_set *s, const struct pci_addr *a, enum vfio_backend backend,
		unsigned *slot_out, struct err *e);
/* The same with options (NULL: the defaults): the expansion ROM's source. */
int vfio_pt_add_opts(struct vfio_pt_set *s, const struct pci_addr *a, enum vfio_backend backend,
		     const struct vfio_pt_opts *o, unsigned *slot_out, struct err *e);
/* Disable interrupts, reset and close every device, then the IOMMU (the last device to leave
 * unmaps guest RAM); the devices stay on vfio-pci. */
void vfio_pt_teardown(struct vfio_pt_set *s);

/* A line per device, for -v and tests: "BDF slot N BARi@GPA/SIZE ... ROM@GPA/SIZE msix N". */
int vfio_pt_describe(struct vfio_pt_set *s, unsigned i, char *buf, size_t len);

#endif
