/* pcicap.h: MSI and MSI-X capabilities of a PCI device, parsed through libpci (sysfs or a dump). */
#ifndef CORE_PCICAP_H
#define CORE_PCICAP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "pciaddr.h"

struct pcicap_msi {
	bool present;
	uint8_t offset;		  /* of the capability in config space */
	uint16_t control;	  /* Message Control, raw */
	bool enabled;		  /* MSI Enable */
	unsigned vectors_max;	  /* Multiple Message Capable: 1..32 */
	unsigned vectors_enabled; /* Multiple Message Enable */
	bool is_64bit;
	bool per_vector_mask;
	uint64_t address;
	uint16_t data;
	uint32_t mask, pending; /* only with per_vector_mask */
};

struct pcicap_msix {
	bool present;
	uint8_t offset;
	uint16_t control; /* Message Control, raw */
	bool enabled;	  /* MSI-X Enable */
	bool function_mask;
	unsigned table_size; /* 1..2048 */
	uint8_t table_bir, pba_bir;
	uint32_t table_offset, pba_offset;
};

struct pcicap_info {
	struct pci_addr addr;
	uint16_t vendor, device;
	struct pcicap_msi msi;
	struct pcicap_msix msix;
};

/* Field decoders, shared with code that reads config space through VFIO. */
void pcicap_decode_msi_control(uint16_t control, struct pcicap_msi *msi);
void pcicap_decode_msix(uint16_t control, uint32_t table, uint32_t pba, struct pcicap_msix *msix);

/*
 * Do the MSI-X table (16 bytes per vector) and PBA (one bit per vector, in 64-bit words) lie
 * inside implemented BARs? bar_size[i] is 0 for a BAR that is not implemented; BIR 6 and 7 are
 * reserved. 0, or -EINVAL with a message.
 */
int pcicap_msix_check_bars(const struct pcicap_msix *m, const uint64_t bar_size[6], struct err *e);

struct pcicap_ctx;

/*
 * Open libpci on the running system (dump_file NULL: sysfs) or on a dump in `lspci -xxx`
 * format (libpci's dump method), for tests and for inspecting other machines.
 */
int pcicap_open(struct pcicap_ctx **out, const char *dump_file, struct err *e);
void pcicap_close(struct pcicap_ctx *c);

/*
 * Parse the device's MSI and MSI-X capabilities. -ENODEV when there is no such device; -EACCES
 * when the capabilities lie in the part of config space only root may read.
 */
int pcicap_read(struct pcicap_ctx *c, const struct pci_addr *a, struct pcicap_info *out,
		struct err *e);

#endif
