/* pci_host.h: the microVM's PCI host bridge: bus 0 behind configuration mechanism #1 (0xcf8/0xcfc).
 */
#ifndef CORE_PCI_HOST_H
#define CORE_PCI_HOST_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"
#include "layout.h" /* PCI_HOST_CONF_ADDR, PCI_HOST_CONF_DATA */
#include "vm_bus.h"

#define PCI_HOST_SLOTS 32

/* A function's configuration space; off + len never crosses a dword, len is 1, 2 or 4. */
struct pci_fn_ops {
	uint32_t (*cfg_read)(void *dev, unsigned off, unsigned len);
	void (*cfg_write)(void *dev, unsigned off, unsigned len, uint32_t val);
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

/* A configuration read or write as the guest issues it (exposed for tests). */
uint32_t pci_host_conf_read(struct pci_host *h, unsigned port_off, unsigned len);
void pci_host_conf_write(struct pci_host *h, unsigned port_off, unsigned len, uint32_t val);

#endif
