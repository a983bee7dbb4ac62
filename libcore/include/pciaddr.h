/* pciaddr.h: PCI addresses (domain:bus:device.function) and device selectors as users type them. */
#ifndef CORE_PCIADDR_H
#define CORE_PCIADDR_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct pci_addr {
	uint32_t domain; /* 0..0xffff on Linux, 0..0xffffffff in sysfs for some hosts (VMD) */
	uint8_t bus;
	uint8_t dev; /* 0..31 */
	uint8_t fn;  /* 0..7 */
};

/* "0000:03:00.0" plus NUL; domains above 0xffff print with more digits. */
#define PCI_ADDR_STRLEN 20

enum pci_sel_kind {
	PCI_SEL_ADDR,	    /* full address with domain */
	PCI_SEL_SHORT_ADDR, /* bus:dev.fn, domain to be resolved */
	PCI_SEL_ID,	    /* vendor:device, every matching device */
};

struct pci_sel {
	enum pci_sel_kind kind;
	struct pci_addr addr;
	uint16_t vendor, device;
};

/* Parse a full or short address. Returns 0, or -EINVAL with a message saying what is wrong. */
int pci_addr_parse(const char *s, struct pci_addr *a, bool *has_domain, struct err *e);
/* Format as "dddd:bb:dd.f". */
const char *pci_addr_format(const struct pci_addr *a, char buf[PCI_ADDR_STRLEN]);
int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b);
bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b);

/* Parse what a user may name a device by: "0000:03:00.0", "03:00.0" or "10de:2330". */
int pci_sel_parse(const char *s, struct pci_sel *sel, struct err *e);

#endif
