/* pciinfo.h: what a person needs to know before passing a PCI device: BARs, ROM, resets, holders.
 */
#ifndef CORE_PCIINFO_H
#define CORE_PCIINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pcidev.h"
#include "sysfs.h"

#define PCIINFO_MAX_PEERS      64
#define PCIINFO_MAX_ROM_IMAGES 8

struct pciinfo_bar {
	int index; /* 0..5 */
	uint64_t base, size_bytes;
	bool io, is_64bit, prefetchable;
};

/* One BAR of the Resizable BAR extended capability (PCIe 6.0, 7.8.6). */
struct pciinfo_rebar {
	int bar;
	uint64_t sizes_log2_mask; /* bit n: 2^n bytes is supported (n = 20..63) */
	int current_log2;	  /* the size the control register selects now, -1 reserved */
};

/* The expansion ROM (PCI Firmware 3.3, 5.1): its images and their PCI data structures. */
struct pciinfo_rom {
	uint64_t size_bytes;	 /* from the ROM BAR's resource, 0 without a ROM */
	bool read;		 /* its contents could be read (root, on the running system) */
	int read_errno;		 /* why not, when !read and size_bytes (positive errno, 0 unread) */
	bool signature;		 /* the first image starts with 0x55 0xAA */
	bool pcir;		 /* its PCI data structure ("PCIR") was found */
	uint16_t vendor, device; /* from that structure */
	bool valid;		 /* signature, PCIR, and PCIR's IDs are the device's */
	uint8_t code_types[PCIINFO_MAX_ROM_IMAGES]; /* 0 x86, 1 Open Firmware, 2 HP PA, 3 EFI */
	size_t nimages;
};

struct pciinfo {
	struct pcidev *dev;
	char *holders; /* what uses it now, one line each ('\n'-separated, malloc'd, or NULL) */
	int nholders;
	struct pci_addr group[PCIINFO_MAX_PEERS]; /* IOMMU group members, this device included */
	size_t ngroup;
	char reset_method[128]; /* sysfs reset_method ("" when absent or none) */
	int flr; /* FLR in PCIe DevCap: 1, 0, or -1 when config space is not readable */
	bool bus_reset_possible; /* there is a parent bridge whose secondary bus can be reset */
	struct pci_addr bus_peers[PCIINFO_MAX_PEERS]; /* other devices a bus reset would hit */
	size_t nbus_peers;
	struct pciinfo_bar bars[6];
	size_t nbars;
	struct pciinfo_rebar rebar[6];
	size_t nrebar;
	int rebar_known; /* 1 the extended capabilities were read, 0 not readable (not root) */
	struct pciinfo_rom rom;
	int sriov_total, sriov_num; /* -1 when the device is not an SR-IOV PF */
	char vfio_driver[PCIDEV_NAME_MAX];
};

enum pciinfo_flags {
	/*
	 * Enable the ROM through sysfs ("1" to rom), read it, disable it again ("0"): root only,
	 * and only for a device with no driver or on vfio-pci; else EBUSY, nothing written.
	 */
	PCIINFO_ENABLE_ROM = 1 << 0,
};

/*
 * Gather everything about d (one of l's devices). Reads sysfs, config space and /proc below
 * s->root; writes only the rom attribute, and only with PCIINFO_ENABLE_ROM. What cannot be read
 * is reported as unknown in the fields, not as an error; returns 0, or -errno (-ENOMEM).
 */
int pciinfo_read(const struct sysfs *s, const struct pcidev_list *l, struct pcidev *d,
		 unsigned flags, struct pciinfo *out, struct err *e);
void pciinfo_destroy(struct pciinfo *p);

/* Parse a ROM image (exposed for tests): fills signature, pcir, ids, code types, valid. */
void pciinfo_parse_rom(const uint8_t *rom, size_t len, uint16_t vendor, uint16_t device,
		       struct pciinfo_rom *out);
/* Parse config space (len bytes; 64 for a non-root reader): FLR, BAR types, Resizable BAR. */
void pciinfo_parse_config(const uint8_t *cfg, size_t len, struct pciinfo *out);

/* The names of ROM code types, "type-N" for others. */
const char *pciinfo_rom_code_name(uint8_t type, char *buf, size_t len);

#endif
