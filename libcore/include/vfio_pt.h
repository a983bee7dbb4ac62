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

/* Peer-to-peer DMA (BARs mapped in the IOMMU): AUTO is on with the container back-end, off with
 * iommufd, which cannot map device memory (it pins pages; a BAR has none). */
enum vfio_pt_p2p { VFIO_PT_P2P_AUTO, VFIO_PT_P2P_ON, VFIO_PT_P2P_OFF };

/* "auto", "on", "off": 0, or -EINVAL. */
int vfio_pt_p2p_parse(const char *s, enum vfio_pt_p2p *out);

/*
 * The guest's 32-bit and I/O BAR windows for a VM with this RAM (none overlaps RAM, which is
 * mapped for DMA at IOVA = GPA). Its 64-bit window is a fixed default for callers of
 * vpci_alloc_bar; passthrough sizes its own from the devices' BARs (vfio_pt_realize).
 */
void vfio_pt_alloc_init(struct vpci_alloc *a, const struct vm_ram *ram);

struct vfio_pt_set {
	struct vm *vm;
	struct pci_host host;
	struct vpci_alloc alloc; /* the 32-bit and I/O windows */
	/* The 64-bit window, sized from the devices' BARs by vfio_pt_realize (mmio_window.h). */
	uint64_t mmio64_base, mmio64_size;
	bool p2p;		  /* BARs mapped in the IOMMU at IOVA = GPA, for peer-to-peer DMA */
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
 * Pass the device at a through, first step: open it (bound to vfio-pci, see vfio-bind) and
 * attach it to the set's one IOMMU (the first device opens it with backend; the others join it,
 * and backend is then ignored), reset it, map all guest RAM at IOVA = GPA once for every device,
 * size its BARs and place the 32-bit and I/O ones. vfio_pt_realize finishes every device.
 */
int vfio_pt_add(struct vfio_pt_set *s, const struct pci_addr *a, enum vfio_backend backend,
		struct err *e);
/* The same with options (NULL: the defaults): the expansion ROM's source. */
int vfio_pt_add_opts(struct vfio_pt_set *s, const struct pci_addr *a, enum vfio_backend backend,
		     const struct vfio_pt_opts *o, struct err *e);
/*
 * Once every device is added: size the 64-bit MMIO window from all their 64-bit BARs and place
 * them in it (above RAM, below the guest's physical address width, inside the IOMMU's IOVA
 * ranges: mmio_window_plan, whose refusal names the sizes), then give each device its config
 * shadow, map the mmappable parts of its BARs as KVM memory slots (around the MSI-X table and
 * PBA, which are emulated) and, with p2p on (or AUTO on the container), in the IOMMU at IOVA = GPA
 * so that devices can DMA into each other's BARs (moved when the guest moves a BAR, unmapped at
 * teardown). Each device is seen at S:00.0 behind a PCIe root port at 00:S.0 of its own
 * (pcie_port.h), S the next slot in the order added; the port's windows hold its BARs.
 */
int vfio_pt_realize(struct vfio_pt_set *s, enum vfio_pt_p2p p2p, struct err *e);
/* Disable interrupts, reset and close every device, then the IOMMU (the last device to leave
 * unmaps guest RAM); the devices stay on vfio-pci. */
void vfio_pt_teardown(struct vfio_pt_set *s);

/* A line per device, for -v and tests: "BDF slot N BARi@GPA/SIZE ... ROM@GPA/SIZE msix N [p2p]". */
int vfio_pt_describe(struct vfio_pt_set *s, unsigned i, char *buf, size_t len);

#endif
