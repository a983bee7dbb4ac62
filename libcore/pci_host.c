/* pci_host.c: PCI configuration mechanism #1 for bus 0, and the host bridge at 00:00.0. */
#include "pci_host.h"
#include "layout.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The function at bus:devfn: on bus 0 a slot's function 0, further down whatever a bridge
 * on bus 0 has below it. NULL when nothing answers. */
static void *route(struct pci_host *h, unsigned bus, unsigned devfn, const struct pci_fn_ops **ops)
{
	if (bus == 0) {
		if ((devfn & 7) || !h->slot[devfn >> 3].ops)
			return NULL;
		*ops = h->slot[devfn >> 3].ops;
		return h->slot[devfn >> 3].dev;
	}
	for (unsigned s = 1; s < PCI_HOST_SLOTS; s++) {
		void *d;

		if (h->slot[s].ops && h->slot[s].ops->below &&
		    (d = h->slot[s].ops->below(h->slot[s].dev, bus, devfn, ops)))
			return d;
	}
	return NULL;
}

static uint32_t cfg_read_locked(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
				unsigned len)
{
	uint32_t v = 0;
	const struct pci_fn_ops *ops;
	void *dev;

	if (bus == 0 && devfn == 0) { /* the host bridge's own header */
		for (unsigned i = 0; i < len; i++)
			v |= (uint32_t)(off + i < sizeof(h->bridge) ? h->bridge[off + i] : 0)
			     << (8 * i);
		return v;
	}
	if (!(dev = route(h, bus, devfn, &ops)))
		return len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1;
	return ops->cfg_read(dev, off, len);
}

uint32_t pci_host_cfg_read(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
			   unsigned len)
{
	uint32_t v;

	pthread_mutex_lock(&h->lock);
	v = cfg_read_locked(h, bus, devfn, off, len);
	pthread_mutex_unlock(&h->lock);
	return v;
}

void pci_host_cfg_write(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off,
			unsigned len, uint32_t val)
{
	const struct pci_fn_ops *ops;
	void *dev;

	pthread_mutex_lock(&h->lock);
	/* The bridge's own header (00:00.0) is read-only. */
	if ((bus || devfn) && (dev = route(h, bus, devfn, &ops)))
		ops->cfg_write(dev, off, len, val);
	pthread_mutex_unlock(&h->lock);
}

/* CONFIG_ADDRESS: enable (31), bus (23:16), device and function (15:8), register (7:2). */
#define CONF1_ENABLED(a) ((a)&0x80000000u)
#define CONF1_BUS(a)	 (((a) >> 16) & 0xff)
#define CONF1_DEVFN(a)	 (((a) >> 8) & 0xff)
#define CONF1_REG(a)	 ((a)&0xfc)

uint32_t pci_host_conf_read(struct pci_host *h, unsigned port_off, unsigned len)
{
	uint32_t all = len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1, v = all, a;

	pthread_mutex_lock(&h->lock);
	a = h->conf_addr;
	if (port_off < 4)
		v = port_off == 0 && len == 4 ? a : all;
	else if (CONF1_ENABLED(a))
		v = cfg_read_locked(h, CONF1_BUS(a), CONF1_DEVFN(a), CONF1_REG(a) + port_off - 4,
				    len);
	pthread_mutex_unlock(&h->lock);
	return v;
}

void pci_host_conf_write(struct pci_host *h, unsigned port_off, unsigned len, uint32_t val)
{
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->conf_addr;
	if (port_off == 0 && len == 4)
		h->conf_addr = val & 0x80fffffcu;
	pthread_mutex_unlock(&h->lock);
	if (port_off >= 4 && CONF1_ENABLED(a))
		pci_host_cfg_write(h, CONF1_BUS(a), CONF1_DEVFN(a), CONF1_REG(a) + port_off - 4,
				   len, val);
}

static void pio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci_host *h = dev;
	unsigned port_off = (unsigned)off;
	uint32_t v;

	if (len > 4 || (port_off >= 4 && port_off - 4 + len > 4)) {
		memset(data, 0xff, len);
		return;
	}
	v = pci_host_conf_read(h, port_off, len);
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void pio_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pci_host *h = dev;
	uint32_t v = 0;

	if (len > 4 || (off >= 4 && off - 4 + len > 4))
		return;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	pci_host_conf_write(h, (unsigned)off, len, v);
}

static const struct vm_io_ops pio_ops = { pio_read, pio_write };

int pci_host_init(struct pci_host *h, struct vm_bus *pio, struct err *e)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	put16(&h->bridge[0x00], 0x1b36); /* Red Hat, QEMU's PCIe host bridge ID */
	put16(&h->bridge[0x02], 0x0008);
	h->bridge[0x0b] = 0x06; /* class: bridge, host */
	h->bridge[0x0a] = 0x00;
	if (pio)
		return vm_bus_register(pio, PCI_HOST_CONF_ADDR, PCI_HOST_CONF_PORTS, &pio_ops, h,
				       "pci-conf1", e);
	return 0;
}

void pci_host_destroy(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, unsigned slot, const struct pci_fn_ops *ops, void *dev,
		 unsigned *slot_out, struct err *e)
{
	if (slot >= PCI_HOST_SLOTS)
		return err_set(e, EINVAL, "PCI slot %u does not exist (0-31)", slot);
	if (!slot) {
		for (slot = 1; slot < PCI_HOST_SLOTS && h->slot[slot].ops; slot++)
			;
		if (slot == PCI_HOST_SLOTS)
			return err_set(e, ENOSPC, "no free PCI slot on bus 0");
	} else if (h->slot[slot].ops) {
		return err_set(e, EEXIST, "PCI slot %u is taken", slot);
	}
	h->slot[slot].ops = ops;
	h->slot[slot].dev = dev;
	if (slot_out)
		*slot_out = slot;
	return 0;
}
