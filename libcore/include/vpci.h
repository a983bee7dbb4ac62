/* vpci.h: a passed-through PCI function as the guest sees it: BAR placement and config shadow. */
#ifndef CORE_VPCI_H
#define CORE_VPCI_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* ---- guest BAR placement ------------------------------------------------------------------ */

enum {
	VPCI_BAR_IO = 1 << 0,	    /* I/O space BAR */
	VPCI_BAR_64 = 1 << 1,	    /* 64-bit memory BAR (takes two registers) */
	VPCI_BAR_PREFETCH = 1 << 2, /* prefetchable memory */
};

/* One address window the allocator hands out from, bottom up. */
struct vpci_window {
	uint64_t base, end; /* [base, end) */
	uint64_t next;	    /* first free address; only grows */
};

/*
 * Three windows: 32-bit MMIO (the hole below 4 GiB), 64-bit MMIO (above guest RAM, for 64-bit
 * BARs: GPUs have 16-64 GiB ones) and I/O ports. Allocation is natural alignment and bump
 * pointer: never overlapping, monotonic within a window. Memory BARs get at least a page so
 * that each can be a KVM memory slot of its own.
 */
struct vpci_alloc {
	struct vpci_window mmio32, mmio64, io;
};

void vpci_alloc_init(struct vpci_alloc *a, uint64_t mmio32_base, uint64_t mmio32_size,
		     uint64_t mmio64_base, uint64_t mmio64_size, uint64_t io_base,
		     uint64_t io_size);
/* size must be a power of two (>= 4 for I/O, >= 16 for memory). Returns 0 or -EINVAL/-ENOSPC. */
int vpci_alloc_bar(struct vpci_alloc *a, uint64_t size, unsigned flags, uint64_t *gpa,
		   struct err *e);

/* ---- configuration space shadow ----------------------------------------------------------- */

#define VPCI_CFG_SIZE 4096

struct vpci_bar {
	uint64_t size;	   /* 0: not implemented */
	uint64_t gpa;	   /* where the guest placed it (what the VMM maps) */
	unsigned flags;	   /* VPCI_BAR_* */
	uint32_t low_bits; /* the read-only type bits of the low register */
};

/*
 * What the guest reads and writes. Registers that would reveal or move host resources (BARs,
 * expansion ROM, the interrupt line, the links of hidden capabilities) are emulated here;
 * everything else is passed through to the device by the caller.
 */
struct vpci_cfg {
	uint8_t shadow[VPCI_CFG_SIZE];
	uint8_t emulated[VPCI_CFG_SIZE]; /* 1: the byte is served from the shadow */
	uint8_t wmask[VPCI_CFG_SIZE];	 /* bits of emulated bytes the guest may change */
	struct vpci_bar bar[6];		 /* by register: a 64-bit BAR's upper register is empty */
	bool sizing[6];	   /* register r holds all ones: it reads back the size mask */
	uint64_t rom_size; /* expansion ROM BAR: 0 none (register 0x30 reads 0) */
};

/*
 * The extended capabilities a guest does not see (0-terminated): SR-IOV, ATS, PRI, PASID, ACS
 * (host and IOMMU business) and AER (the host handles the device's errors). Resizable BAR stays
 * visible, read-only, at the current sizes.
 */
extern const uint16_t vpci_hidden_ext_caps[];

/*
 * Build the shadow from the device's config space (its first 256 or 4096 bytes as read through
 * VFIO) and the BARs as probed and placed by the VMM. Capabilities whose ID is in hide (a
 * 0-terminated list of standard capability IDs) are unlinked from the list, and so are extended
 * ones in hide_ext (0-terminated; the first, at 0x100, reads as ID 0 keeping its next pointer);
 * resizable BARs read their current size only, read-only. A PCIe capability saying "root
 * complex integrated endpoint" says endpoint: the guest sees the function behind a root port
 * (pcie_port.c). MSI and MSI-X control (and MSI's address and data) are emulated: the VMM
 * programs interrupts itself.
 */
int vpci_cfg_init(struct vpci_cfg *c, const uint8_t *config, unsigned config_len,
		  const struct vpci_bar bars[6], const uint8_t *hide, const uint16_t *hide_ext,
		  struct err *e);

/* Is this access (off, len in 1, 2, 4, naturally aligned) served from the shadow entirely? */
bool vpci_cfg_is_emulated(const struct vpci_cfg *c, unsigned off, unsigned len);

/*
 * A guest read: the emulated bytes of `device_value` (what the device returned for the same
 * access, or 0 when the access is fully emulated) are replaced by the shadow's.
 */
uint32_t vpci_cfg_read(const struct vpci_cfg *c, unsigned off, unsigned len, uint32_t device_value);

/*
 * A guest write. Emulated bytes update the shadow (BAR registers keep their read-only type bits
 * and size alignment). Returns a bitmask of BARs whose guest address changed, so the VMM can move
 * their mappings; *pass_mask gets the bytes (bit per byte of the access) to pass to the device.
 */
unsigned vpci_cfg_write(struct vpci_cfg *c, unsigned off, unsigned len, uint32_t val,
			unsigned *pass_mask);

/*
 * Give the function an expansion ROM BAR of size bytes (a power of two, 2 KiB to 16 MiB) at gpa
 * (aligned to size, below 4 GiB), disabled. The guest sizes, moves and enables it through
 * register 0x30 (PCI Local Bus 3.0, 6.2.5.2); its contents are read-only, served by the VMM.
 * -EINVAL.
 */
int vpci_cfg_set_rom(struct vpci_cfg *c, uint64_t size, uint64_t gpa, struct err *e);
/* Where the guest has the ROM while it is enabled: true and *gpa, or false (none, disabled). */
bool vpci_cfg_rom_at(const struct vpci_cfg *c, uint64_t *gpa);

/* Offset of capability id in the shadow's (visible) list, 0 when absent or hidden. */
unsigned vpci_cfg_find_cap(const struct vpci_cfg *c, uint8_t id);

#endif
