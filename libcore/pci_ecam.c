/* pci_ecam.c: PCIe enhanced configuration access (ECAM): 4 KiB of config space per function. */
#include "layout.h"
#include "pci_host.h"

#include <string.h>

/*
 * ECAM address bits (PCIe 5.0, 7.2.2): bus 27:20, device 19:15, function 14:12, register 11:0.
 * An access is one naturally aligned byte, word or dword; anything else reads all ones and is
 * dropped on write, as a root complex that does not support it may do.
 */
static bool ecam_decode(uint64_t off, unsigned len, unsigned *bus, unsigned *devfn, unsigned *reg)
{
	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)) || off >= PCI_ECAM_SIZE)
		return false;
	*bus = (unsigned)(off >> 20);
	*devfn = (unsigned)(off >> 12) & 0xff;
	*reg = (unsigned)off & 0xfff;
	return true;
}

static void ecam_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	unsigned bus, devfn, reg;
	uint32_t v;

	if (!ecam_decode(off, len, &bus, &devfn, &reg)) {
		memset(data, 0xff, len);
		return;
	}
	v = pci_host_cfg_read(dev, bus, devfn, reg, len);
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void ecam_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	unsigned bus, devfn, reg;
	uint32_t v = 0;

	if (!ecam_decode(off, len, &bus, &devfn, &reg))
		return;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	pci_host_cfg_write(dev, bus, devfn, reg, len, v);
}

static const struct vm_io_ops ecam_ops = { ecam_read, ecam_write };

int pci_ecam_init(struct pci_host *h, struct vm_bus *mmio, struct err *e)
{
	return vm_bus_register(mmio, PCI_ECAM_GPA, PCI_ECAM_SIZE, &ecam_ops, h, "pci-ecam", e);
}
