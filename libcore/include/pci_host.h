/* pci_host.h: the microVM's PCI host bridge: bus 0 and the buses behind its bridges, reached by
 * configuration mechanism #1 (0xcf8/0xcfc, 256 bytes per function) and by ECAM (pci_ecam.c). */
#ifndef CORE_PCI_HOST_H
#define CORE_PCI_HOST_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"
#include "layout.h" /* PCI_HOST_CONF_ADDR, PCI_HOST_CONF_DATA */
#include "vm_bus.h"

#define PCI_HOST_SLOTS 32

/*
 * A function's configuration space (0-0xfff); off + len never crosses a dword, len is 1, 2 or 4.
 * A bridge also answers below(): the function at bus:devfn on its side of the bridge, or NULL.
 */
struct pci_fn_ops {
	uint32_t (*cfg_read)(void *dev, unsigned off, unsigned len);
	void (*cfg_write)(void *dev, unsigned off, unsigned len, uint32_t val);
	void *(*below)(void *dev, unsigned bus, unsigned devfn, const struct pci_fn_ops **ops);
};

struct pci_host {
	pthread_mutex_t lock; /* configuration cycles are serialised, as on real chipsets */
	uint32_t conf_addr;
	struct {
		const struct pci_fn_ops *ops;
		void *dev;
	} slot[PCI_HOST_SLOTS];
	uint8_t bridge[64]; /* 00:00.0, the host bridge itself */
};

/* Register the host bridge on the port I/O bus (slot 0 is the bridge). */
int pci_host_init(struct pci_host *h, struct vm_bus *pio, struct err *e);
void pci_host_destroy(struct pci_host *h);
/* Put a function at 00:slot.0 (slot 0: the first free one); *slot_out gets where. */
int pci_host_add(struct pci_host *h, unsigned slot, const struct pci_fn_ops *ops, void *dev,
		 unsigned *slot_out, struct err *e);

/*
 * A configuration access by address, from either mechanism: off 0-0xfff, len 1, 2 or 4 within
 * a dword. Nothing there reads all ones; writes to it are dropped.
 */
uint32_t pci_host_cfg_read(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
			   unsigned len);
void pci_host_cfg_write(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
			unsigned len, uint32_t val);

/* Put ECAM at PCI_ECAM_GPA on the MMIO bus (pci_ecam.c). */
int pci_ecam_init(struct pci_host *h, struct vm_bus *mmio, struct err *e);

/* A configuration read or write as the guest issues it on 0xcf8/0xcfc (exposed for tests). */
uint32_t pci_host_conf_read(struct pci_host *h, unsigned port_off, unsigned len);
void pci_host_conf_write(struct pci_host *h, unsigned port_off, unsigned len, uint32_t val);

#endif
