/* pcie_port.c: an emulated PCIe root port: type 1 header, PCIe capability, bus and windows. */
#include "pcie_port.h"
#include "layout.h"

#include <string.h>

/* Type 1 header (PCI-to-PCI Bridge 1.2, 3.2) and PCIe capability (PCIe 5.0, 7.5.3) offsets. */
#define CFG_COMMAND	 0x04
#define CFG_STATUS	 0x06
#define CFG_CLASS	 0x09
#define CFG_HEADER_TYPE	 0x0e
#define CFG_PRIMARY_BUS	 0x18
#define CFG_SECONDARY	 0x19
#define CFG_SUBORDINATE	 0x1a
#define CFG_IO_BASE	 0x1c
#define CFG_IO_LIMIT	 0x1d
#define CFG_MEM_BASE	 0x20
#define CFG_MEM_LIMIT	 0x22
#define CFG_PREF_BASE	 0x24
#define CFG_PREF_LIMIT	 0x26
#define CFG_PREF_BASE_HI 0x28
#define CFG_PREF_LIM_HI	 0x2c
#define CFG_CAP_PTR	 0x34
#define CFG_INT_LINE	 0x3c
#define CFG_BRIDGE_CTL	 0x3e
#define PCIE_CAP	 0x40 /* the capability's offset in our header */
#define PCIE_CAP_LEN	 0x3c /* version 2 */
#define MEM_GRAIN	 (1ull << 20)
#define IO_GRAIN	 0x1000ull

static void put(uint8_t *p, unsigned off, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get(const uint8_t *p, unsigned off, unsigned len)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return v;
}

static void header(struct pcie_port *p, unsigned slot)
{
	uint8_t *c = p->cfg, *w = p->wmask;

	put(c, 0x00, 4, 0x000c1b36);
	put(c, CFG_STATUS, 2, 0x0010);	/* capability list */
	put(c, CFG_CLASS, 3, 0x060400); /* bridge, PCI-to-PCI */
	c[CFG_HEADER_TYPE] = 0x01;
	c[CFG_PRIMARY_BUS] = 0;
	c[CFG_SECONDARY] = c[CFG_SUBORDINATE] = (uint8_t)slot;
	c[CFG_CAP_PTR] = PCIE_CAP;
	put(w, CFG_COMMAND, 2, 0x0547); /* I/O, memory, bus master, parity, SERR, INTx off */
	w[0x0c] = 0xff;			/* cache line size */
	put(w, CFG_PRIMARY_BUS, 4, 0xffffffff); /* bus numbers, secondary latency */
	w[CFG_IO_BASE] = w[CFG_IO_LIMIT] = 0xf0;
	put(w, CFG_MEM_BASE, 4, 0xfff0fff0);
	put(w, CFG_PREF_BASE, 4, 0xfff0fff0);
	put(w, CFG_PREF_BASE_HI, 4, 0xffffffff);
	put(w, CFG_PREF_LIM_HI, 4, 0xffffffff);
	w[CFG_INT_LINE] = 0xff;
	put(w, CFG_BRIDGE_CTL, 2, 0x005f); /* parity, SERR, ISA, VGA, VGA 16-bit, bus reset */
}

/* PCIe capability v2: a root port, x1 at 2.5 GT/s with the link up (PCIe 5.0, 7.5.3). */
static void pcie_cap(struct pcie_port *p, unsigned slot)
{
	uint8_t *c = p->cfg + PCIE_CAP, *w = p->wmask + PCIE_CAP;

	c[0] = 0x10;
	c[1] = 0;
	put(c, 0x02, 2, 0x0042);		       /* version 2, root port */
	put(c, 0x04, 4, 0x00008000);		       /* role-based error reporting */
	put(c, 0x0c, 4, slot << 24 | 1u << 20 | 0x11); /* port number, DLL active reporting */
	put(c, 0x12, 2, 0x2011);		       /* DLL link active, x1, 2.5 GT/s */
	put(c, 0x2c, 4, 0x00000002);		       /* supported speeds: 2.5 GT/s */
	put(c, 0x30, 2, 0x0001);		       /* target speed */
	put(w, 0x08, 2, 0xffff);		       /* device control */
	put(w, 0x10, 2, 0x0fff);		       /* link control */
	put(w, 0x1c, 2, 0x001f);		       /* root control */
	put(w, 0x28, 2, 0xffff);		       /* device control 2 */
	put(w, 0x30, 2, 0x0fff);		       /* link control 2 */
}

struct span {
	uint64_t lo, hi; /* [lo, hi], lo > hi when empty */
};

static void span_add(struct span *s, uint64_t lo, uint64_t size, uint64_t grain)
{
	uint64_t a = lo & ~(grain - 1), b = (lo + size - 1) | (grain - 1);

	if (s->lo > s->hi) {
		s->lo = a, s->hi = b;
		return;
	}
	if (a < s->lo)
		s->lo = a;
	if (b > s->hi)
		s->hi = b;
}

/*
 * Windows that cover the BARs: I/O ones in the I/O window, prefetchable memory in the 64-bit
 * prefetchable window, the rest in the 32-bit memory window (which cannot reach above 4 GiB:
 * such a BAR is left for the guest to reassign). Empty windows have base above limit.
 */
static void windows(struct pcie_port *p, const struct vpci_bar bars[6], const struct vpci_bar *rom)
{
	struct span io = { 1, 0 }, mem = { 1, 0 }, pref = { 1, 0 };
	uint8_t *c = p->cfg;

	for (int r = 0; r < 6; r++) {
		const struct vpci_bar *b = &bars[r];

		if (!b->size)
			continue;
		if (b->flags & VPCI_BAR_IO)
			span_add(&io, b->gpa, b->size, IO_GRAIN);
		else if (b->flags & VPCI_BAR_PREFETCH)
			span_add(&pref, b->gpa, b->size, MEM_GRAIN);
		else if (b->gpa + b->size <= VM_4G_GPA)
			span_add(&mem, b->gpa, b->size, MEM_GRAIN);
	}
	if (rom && rom->size) /* a 32-bit memory BAR, never prefetchable */
		span_add(&mem, rom->gpa, rom->size, MEM_GRAIN);
	if (io.lo > io.hi)
		io = (struct span){ 0xf000, 0x0fff };
	if (mem.lo > mem.hi)
		mem = (struct span){ 0xfff00000, 0x000fffff };
	if (pref.lo > pref.hi)
		pref = (struct span){ 0xfff00000, 0x000fffff };
	c[CFG_IO_BASE] = (uint8_t)((io.lo >> 8) & 0xf0);
	c[CFG_IO_LIMIT] = (uint8_t)((io.hi >> 8) & 0xf0);
	put(c, CFG_MEM_BASE, 2, (uint32_t)(mem.lo >> 16) & 0xfff0);
	put(c, CFG_MEM_LIMIT, 2, (uint32_t)(mem.hi >> 16) & 0xfff0);
	put(c, CFG_PREF_BASE, 2, ((uint32_t)(pref.lo >> 16) & 0xfff0) | 1); /* 64-bit */
	put(c, CFG_PREF_LIMIT, 2, ((uint32_t)(pref.hi >> 16) & 0xfff0) | 1);
	put(c, CFG_PREF_BASE_HI, 4, (uint32_t)(pref.lo >> 32));
	put(c, CFG_PREF_LIM_HI, 4, (uint32_t)(pref.hi >> 32));
}

static uint32_t port_read(void *dev, unsigned off, unsigned len)
{
	struct pcie_port *p = dev;

	return off + len <= sizeof(p->cfg) ? get(p->cfg, off, len) : 0; /* no extended caps */
}

static void port_write(void *dev, unsigned off, unsigned len, uint32_t val)
{
	struct pcie_port *p = dev;

	for (unsigned i = 0; i < len && off + i < sizeof(p->cfg); i++) {
		uint8_t m = p->wmask[off + i], b = (uint8_t)(val >> (8 * i));

		p->cfg[off + i] = (uint8_t)((p->cfg[off + i] & ~m) | (b & m));
	}
}

/* The one function on the secondary bus, at device 0 function 0 (PCIe: a link has one device). */
static void *port_below(void *dev, unsigned bus, unsigned devfn, const struct pci_fn_ops **ops)
{
	struct pcie_port *p = dev;

	if (!p->child || devfn || bus != p->cfg[CFG_SECONDARY] || !bus)
		return NULL;
	*ops = p->child_ops;
	return p->child;
}

static const struct pci_fn_ops port_ops = {
	.cfg_read = port_read,
	.cfg_write = port_write,
	.below = port_below,
};

int pcie_port_plug(struct pcie_port *p, struct pci_host *h, const struct pci_fn_ops *ops, void *dev,
		   const struct vpci_bar bars[6], const struct vpci_bar *rom, unsigned *slot_out,
		   struct err *e)
{
	unsigned slot;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = pci_host_add(h, 0, &port_ops, p, &slot, e);
	if (rc)
		return rc;
	if (slot >= PCI_ECAM_BUSES) {
		h->slot[slot].ops = NULL;
		return err_set(e, ENOSPC, "no PCIe root port left (buses 1-%d)",
			       PCI_ECAM_BUSES - 1);
	}
	header(p, slot);
	pcie_cap(p, slot);
	windows(p, bars, rom);
	p->child_ops = ops;
	p->child = dev;
	if (slot_out)
		*slot_out = slot;
	return 0;
}

static void align_next(struct vpci_window *w, uint64_t grain)
{
	uint64_t n = (w->next + grain - 1) & ~(grain - 1);

	if (n >= w->next && n <= w->end)
		w->next = n;
	else
		w->next = w->end;
}

void pcie_port_align_alloc(struct vpci_alloc *a)
{
	align_next(&a->mmio32, MEM_GRAIN);
	align_next(&a->mmio64, MEM_GRAIN);
	align_next(&a->io, IO_GRAIN);
}
