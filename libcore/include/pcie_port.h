/* pcie_port.h: an emulated PCIe root port, the bridge each passed-through function sits behind. */
#ifndef CORE_PCIE_PORT_H
#define CORE_PCIE_PORT_H

#include <stdint.h>

#include "err.h"
#include "pci_host.h"
#include "vpci.h"

/*
 * What q35 gives GPU drivers: a type 1 header (1b36:000c, QEMU's generic root port) with a PCIe
 * capability of port type "root port", the function alone on its secondary bus, and bridge
 * windows (I/O, 32-bit memory, 64-bit prefetchable) that cover the function's BARs.
 */
struct pcie_port {
	uint8_t cfg[256];
	uint8_t wmask[256]; /* bits the guest may change; the rest is read-only */
	const struct pci_fn_ops *child_ops;
	void *child;
};

/*
 * Put a root port at the first free slot S of bus 0 with the function (ops, dev) at S:00.0 and
 * windows covering bars and the expansion ROM (as placed, vpci.h; rom may be NULL). *slot_out
 * gets S. -ENOSPC when no slot is left whose bus ECAM reaches (layout.h: PCI_ECAM_BUSES).
 */
int pcie_port_plug(struct pcie_port *p, struct pci_host *h, const struct pci_fn_ops *ops, void *dev,
		   const struct vpci_bar bars[6], const struct vpci_bar *rom, unsigned *slot_out,
		   struct err *e);

/*
 * Round the allocator's free addresses up to the windows' granularity (1 MiB memory, 4 KiB
 * I/O; PCI-to-PCI Bridge 1.2, 3.2.5): called around each device's placement, so that no two
 * ports' windows share a granule.
 */
void pcie_port_align_alloc(struct vpci_alloc *a);

#endif
