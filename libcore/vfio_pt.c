/* vfio_pt.c: a VFIO device passed through to the guest: config shadow, BARs as memory slots or
 * trapped accesses, MSI-X table emulation turned into MSI routes with irqfds (slots, GSIs,
 * routes and irqfds all come from the KVM layer, kvm.h; this file issues no KVM ioctl). */
#include "vfio_pt.h"

#include <inttypes.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "mmio_window.h"
#include "pcie_port.h"

#define PAGE		4096ull
#define VFIO_PT_ROM_BAR 6 /* find_bar's answer for the expansion ROM */
#define MSIX_ENTRY	16

struct pt_bar {
	uint64_t size;
	unsigned flags; /* VPCI_BAR_* */
	void *map;	/* host mapping of the whole BAR, NULL when not mmappable */
	int slot[3];	/* KVM memory slots (-1: none) around the MSI-X pages, from kvm.h */
	uint64_t slot_off[3], slot_len[3];
	/* Peer-to-peer: the same parts mapped in the IOMMU at IOVA = p2p_gpa + slot_off[k]. */
	bool p2p[3];
	uint64_t p2p_gpa;
};

struct pt_vec {
	uint32_t entry[4]; /* the guest's table entry: address low/high, data, vector control */
	int eventfd;	   /* the device signals it; -1 until first needed */
	unsigned gsi;	   /* 0 until a route is allocated */
	bool irqfd;	   /* assigned to KVM */
	bool armed;	   /* handed to VFIO */
};

struct vfio_pt {
	struct vfio_pt_set *set;
	struct vfio_dev *dev;
	unsigned slot; /* of its root port on bus 0; the function is at slot:00.0 */
	struct pcie_port port;
	uint8_t *rom; /* the expansion ROM image the guest reads (NULL: none) */
	size_t rom_len;
	uint64_t rom_size, rom_gpa; /* its BAR */
	struct vpci_cfg cfg;
	unsigned cfg_size;
	uint8_t *config;       /* the device's own config space, until vfio_pt_realize */
	struct vpci_bar vb[6]; /* BARs as sized and placed, until vfio_pt_realize */
	struct pt_bar bar[6];
	/* MSI-X */
	unsigned msix_cap;
	uint32_t msix_n;
	int table_bar, pba_bar;
	uint64_t table_off, pba_off;
	bool msix_armed;
	struct msix_state *msix;
	struct pt_vec *vec;
	/* MSI (for devices without MSI-X, or guests that prefer it) */
	unsigned msi_cap;
	bool msi_64, msi_maskable, msi_armed;
	uint32_t msi_n; /* vectors armed on the device */
	struct pt_vec msi_vec[32];
	/* INTx: VFIO's eventfd into a level irqfd whose resample unmasks the device's line */
	unsigned intx_gsi; /* 0: the device has no INTx */
	int intx_fd, intx_unmask_fd;
	bool intx_armed;
};

/* ---- interrupt routing -------------------------------------------------------------------- */

/* GSIs, routes and irqfds come from the KVM layer (kvm.h), called under s->lock. */

/* Stop delivering a vector: its interrupts wait in the eventfd until it is routed again. */
static int vec_detach(struct vfio_pt_set *s, struct pt_vec *v, struct err *e)
{
	int rc = v->irqfd ? kvm_irqfd_deassign(&s->vm->kvm, v->eventfd, v->gsi, e) : 0;

	if (!rc)
		v->irqfd = false;
	return rc;
}

/* ---- MSI-X -------------------------------------------------------------------------------- */

static int vec_route(struct vfio_pt_set *s, struct pt_vec *v, uint64_t addr, uint32_t data,
		     bool deliver, struct err *e);

static uint64_t vec_addr(const struct pt_vec *v)
{
	return (uint64_t)v->entry[1] << 32 | v->entry[0];
}

/*
 * Bring vector i in line with what the guest asked: delivering when MSI-X is enabled, the
 * function and the vector are unmasked (then: eventfd, MSI route, irqfd, VFIO trigger); while
 * masked the irqfd is detached, so interrupts wait in the eventfd and arrive at unmask.
 */
static int msix_sync(struct vfio_pt *p, uint32_t i, struct err *e)
{
	struct vfio_pt_set *s = p->set;
	struct pt_vec *v = &p->vec[i];
	struct msix_vec *mv = &p->msix->vec[i];
	bool want = p->msix->enabled && !p->msix->function_mask && !(v->entry[3] & 1);
	int rc, fd;

	msix_vec_mask(p->msix, i, v->entry[3] & 1, NULL);
	if (mv->state == MSIX_VEC_ENABLED &&
	    (!want || mv->addr != vec_addr(v) || mv->data != v->entry[2])) {
		if ((rc = vec_detach(s, v, e)))
			return rc;
		msix_vec_disable(p->msix, i, &fd, NULL); /* the fd stays ours, in v->eventfd */
	}
	if (!want || mv->state == MSIX_VEC_ENABLED)
		return 0;
	if (v->eventfd < 0) {
		v->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->eventfd < 0)
			return err_set(e, errno, "eventfd: %s", strerror(errno));
	}
	rc = msix_vec_configure(p->msix, i, v->eventfd, vec_addr(v), v->entry[2], e);
	if (!rc && !v->armed) {
		rc = vfio_irq_enable(p->dev, VFIO_PCI_MSIX_IRQ_INDEX, i, 1, &v->eventfd, e);
		v->armed = !rc;
	}
	if (!rc)
		rc = vec_route(s, v, vec_addr(v), v->entry[2], true, e);
	if (!rc)
		rc = msix_vec_enable(p->msix, i, e);
	return rc;
}

/*
 * INTx is armed on the device whenever neither MSI nor MSI-X is (VFIO refuses to enable either
 * while INTx is: QEMU switches the same way). Its irqfd stays assigned throughout.
 */
static void intx_arm(struct vfio_pt *p)
{
	struct err e = { 0 };

	if (!p->intx_gsi || p->intx_armed || p->msix_armed || p->msi_armed)
		return;
	if (vfio_irq_enable(p->dev, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &p->intx_fd, &e))
		return;
	if (vfio_irq_unmask_fd(p->dev, VFIO_PCI_INTX_IRQ_INDEX, p->intx_unmask_fd, &e))
		vfio_irq_disable(p->dev, VFIO_PCI_INTX_IRQ_INDEX, &e);
	else
		p->intx_armed = true;
}

static void intx_disarm(struct vfio_pt *p)
{
	struct err e = { 0 };

	if (p->intx_armed)
		vfio_irq_disable(p->dev, VFIO_PCI_INTX_IRQ_INDEX, &e);
	p->intx_armed = false;
}

/* The guest wrote MSI-X control: enable and function mask. */
static void msix_control(struct vfio_pt *p, uint16_t ctl)
{
	bool enable = ctl & 0x8000, fmask = ctl & 0x4000;
	struct err e = { 0 };

	if (enable && !p->msix_armed) {
		/* Enable MSI-X on the device with every vector, none signalling yet (6.1 kernels
		 * cannot grow the vector count later). */
		int *fds = malloc(p->msix_n * sizeof(int));

		intx_disarm(p);
		if (fds) {
			for (uint32_t i = 0; i < p->msix_n; i++)
				fds[i] = -1;
			p->msix_armed = !vfio_irq_enable(p->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0,
							 p->msix_n, fds, &e);
			free(fds);
		}
	}
	msix_set_enable(p->msix, enable);
	msix_set_function_mask(p->msix, fmask);
	for (uint32_t i = 0; i < p->msix_n; i++)
		msix_sync(p, i, &e);
	if (!enable && p->msix_armed) {
		vfio_irq_disable(p->dev, VFIO_PCI_MSIX_IRQ_INDEX, &e);
		p->msix_armed = false;
		for (uint32_t i = 0; i < p->msix_n; i++)
			p->vec[i].armed = false;
	}
	if (!enable)
		intx_arm(p);
}

static void table_access(struct vfio_pt *p, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	uint32_t i = (uint32_t)(off / MSIX_ENTRY), w = (uint32_t)(off % MSIX_ENTRY) / 4;
	struct err e = { 0 };

	if (i >= p->msix_n || (len != 4 && len != 8) || (off & (len - 1))) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	for (unsigned k = 0; k < len / 4; k++, w++) {
		uint32_t val;

		if (!write) {
			val = p->vec[i].entry[w];
			memcpy(data + 4 * k, &val, 4);
			continue;
		}
		memcpy(&val, data + 4 * k, 4);
		p->vec[i].entry[w] = w == 3 ? (val & 1) : val;
	}
	if (write)
		msix_sync(p, i, &e);
}

/* ---- MSI ---------------------------------------------------------------------------------- */

static int vec_route(struct vfio_pt_set *s, struct pt_vec *v, uint64_t addr, uint32_t data,
		     bool deliver, struct err *e)
{
	struct kvm_vm *kvm = &s->vm->kvm;
	int rc = 0;

	if (!v->gsi && (rc = kvm_gsi_alloc(kvm, &v->gsi, e)))
		return rc;
	if (!deliver)
		return vec_detach(s, v, e);
	rc = kvm_route_msi_set(kvm, v->gsi, addr, data, e);
	if (!rc && !v->irqfd) {
		rc = kvm_irqfd_assign(kvm, v->eventfd, v->gsi, e);
		if (!rc)
			v->irqfd = true;
	}
	return rc;
}

static void msi_disarm(struct vfio_pt *p)
{
	struct err e = { 0 };

	for (uint32_t i = 0; i < p->msi_n; i++)
		vec_detach(p->set, &p->msi_vec[i], &e);
	if (p->msi_armed)
		vfio_irq_disable(p->dev, VFIO_PCI_MSI_IRQ_INDEX, &e);
	p->msi_armed = false;
	p->msi_n = 0;
}

/*
 * The guest wrote the MSI capability: arm the device with one eventfd per enabled vector (the
 * Multiple Message Enable count), route vector i to data | i, and follow per-vector masks.
 */
static void msi_sync(struct vfio_pt *p)
{
	const struct vpci_cfg *c = &p->cfg;
	unsigned cap = p->msi_cap, data_off = cap + (p->msi_64 ? 12 : 8);
	uint16_t ctl = (uint16_t)vpci_cfg_read(c, cap + 2, 2, 0);
	uint64_t addr = vpci_cfg_read(c, cap + 4, 4, 0);
	uint32_t data = vpci_cfg_read(c, data_off, 2, 0), mask = 0, n;
	struct err e = { 0 };

	if (p->msi_64)
		addr |= (uint64_t)vpci_cfg_read(c, cap + 8, 4, 0) << 32;
	if (p->msi_maskable)
		mask = vpci_cfg_read(c, data_off + 4, 4, 0);
	n = 1u << ((ctl >> 4) & 7);
	if (n > 32)
		n = 32;
	if (!(ctl & 1) || (p->msi_armed && n != p->msi_n)) {
		msi_disarm(p);
		if (!(ctl & 1)) {
			intx_arm(p);
			return;
		}
	}
	if (!p->msi_armed) {
		int fds[32];

		intx_disarm(p);
		for (uint32_t i = 0; i < n; i++) {
			if (p->msi_vec[i].eventfd < 0)
				p->msi_vec[i].eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			fds[i] = p->msi_vec[i].eventfd;
		}
		if (vfio_irq_enable(p->dev, VFIO_PCI_MSI_IRQ_INDEX, 0, n, fds, &e))
			return;
		p->msi_armed = true;
		p->msi_n = n;
	}
	for (uint32_t i = 0; i < n; i++)
		vec_route(p->set, &p->msi_vec[i], addr, (data & ~(n - 1)) | i, !(mask & (1u << i)),
			  &e);
}

/* ---- BARs --------------------------------------------------------------------------------- */

/* Page range [lo, hi) of the BAR that belongs to the MSI-X table or PBA, for BAR b. */
static void msix_pages(const struct vfio_pt *p, int b, uint64_t *lo, uint64_t *hi, int which)
{
	uint64_t off = which ? p->pba_off : p->table_off;
	uint64_t len = which ? (p->msix_n + 63) / 64 * 8 : (uint64_t)p->msix_n * MSIX_ENTRY;

	*lo = *hi = 0;
	if (!p->msix_cap || (which ? p->pba_bar : p->table_bar) != b)
		return;
	*lo = off & ~(PAGE - 1);
	*hi = (off + len + PAGE - 1) & ~(PAGE - 1);
}

/* Split a mapped BAR into up to three slots that skip the MSI-X table and PBA pages. */
static void plan_slots(struct vfio_pt *p, int b)
{
	struct pt_bar *bar = &p->bar[b];
	uint64_t cut_lo[2], cut_hi[2], pos = 0;
	int n = 0;

	for (int k = 0; k < 3; k++)
		bar->slot[k] = -1, bar->slot_len[k] = 0;
	if (!bar->map || bar->size < PAGE)
		return;
	msix_pages(p, b, &cut_lo[0], &cut_hi[0], 0);
	msix_pages(p, b, &cut_lo[1], &cut_hi[1], 1);
	if (cut_lo[1] < cut_lo[0]) { /* order the two holes */
		uint64_t t;

		t = cut_lo[0], cut_lo[0] = cut_lo[1], cut_lo[1] = t;
		t = cut_hi[0], cut_hi[0] = cut_hi[1], cut_hi[1] = t;
	}
	for (int h = 0; h <= 2; h++) {
		uint64_t end = h < 2 ? cut_lo[h] : bar->size;

		if (h < 2 && cut_hi[h] == cut_lo[h])
			continue;
		if (end > pos && n < 3) {
			bar->slot_off[n] = pos;
			bar->slot_len[n] = end - pos;
			n++;
		}
		if (h < 2 && cut_hi[h] > pos)
			pos = cut_hi[h];
	}
}

/* Map (or, with map false, remove) the memory slots of BAR b placed at gpa. */
static int bar_map(struct vfio_pt *p, int b, uint64_t gpa, bool map, struct err *e)
{
	struct pt_bar *bar = &p->bar[b];
	struct kvm_vm *kvm = &p->set->vm->kvm;
	int rc = 0;

	for (int k = 0; k < 3 && !rc; k++) {
		unsigned slot;

		if (!bar->slot_len[k])
			continue;
		if (bar->slot[k] < 0 && !(rc = kvm_slot_alloc(kvm, &slot, e)))
			bar->slot[k] = (int)slot;
		if (!rc)
			rc = kvm_slot_set(kvm, (unsigned)bar->slot[k], gpa + bar->slot_off[k],
					  map ? bar->slot_len[k] : 0,
					  (uint8_t *)bar->map + bar->slot_off[k], e);
	}
	return rc;
}

/*
 * Peer-to-peer: map (or unmap) the memory-slot parts of BAR b in the IOMMU at IOVA = gpa, so
 * that other devices can DMA into it as the guest addresses it. A guest move passes through
 * addresses the IOMMU refuses (half-written 64-bit BARs, over RAM): those parts stay unmapped
 * until the next move.
 */
static int bar_p2p(struct vfio_pt *p, int b, uint64_t gpa, bool map, struct err *e)
{
	struct pt_bar *bar = &p->bar[b];
	struct vfio_iommu *io = p->set->iommu;
	int rc = 0, r;

	for (int k = 0; k < 3; k++) {
		if (!bar->slot_len[k] || bar->p2p[k] == map)
			continue;
		if (!map) { /* from where it was mapped; forgotten even if the kernel refuses */
			r = vfio_dma_unmap(io, dma_iova(bar->p2p_gpa + bar->slot_off[k]),
					   bar->slot_len[k], rc ? NULL : e);
			rc = rc ? rc : r;
			bar->p2p[k] = false;
			continue;
		}
		if (gpa != bar->p2p_gpa && (bar->p2p[0] || bar->p2p[1] || bar->p2p[2]))
			return err_set(e, EBUSY, "BAR%d: still mapped for P2P at 0x%" PRIx64, b,
				       bar->p2p_gpa);
		bar->p2p_gpa = gpa;
		rc = vfio_dma_map(io, dma_iova(gpa + bar->slot_off[k]), bar->slot_len[k],
				  (uint8_t *)bar->map + bar->slot_off[k], DMA_BACKING_EXTERNAL, e);
		if (rc)
			return rc;
		bar->p2p[k] = true;
	}
	return rc;
}

/* Which device and BAR an address of the windows falls in (lock held). */
static struct vfio_pt *find_bar(struct vfio_pt_set *s, uint64_t addr, bool io, int *b,
				uint64_t *off)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct vfio_pt *p = s->dev[i];
		uint64_t rom;

		if (!io && vpci_cfg_rom_at(&p->cfg, &rom) && addr >= rom &&
		    addr - rom < p->rom_size) {
			*b = VFIO_PT_ROM_BAR;
			*off = addr - rom;
			return p;
		}
		for (int k = 0; k < 6; k++) {
			const struct vpci_bar *vb = &p->cfg.bar[k];

			if (!vb->size || !(vb->flags & VPCI_BAR_IO) != !io)
				continue;
			if (addr >= vb->gpa && addr - vb->gpa < vb->size) {
				*b = k;
				*off = addr - vb->gpa;
				return p;
			}
		}
	}
	return NULL;
}

static void bar_access(struct vfio_pt_set *s, uint64_t addr, uint8_t *data, unsigned len,
		       bool write, bool io)
{
	struct err e = { 0 };
	struct vfio_pt *p;
	uint64_t off;
	int b;

	pthread_mutex_lock(&s->lock);
	p = find_bar(s, addr, io, &b, &off);
	if (!p) {
		if (!write)
			memset(data, 0xff, len);
	} else if (b == VFIO_PT_ROM_BAR) {
		if (!write) /* read-only; past the image it reads all ones, as an erased ROM */
			for (unsigned i = 0; i < len; i++)
				data[i] = off + i < p->rom_len ? p->rom[off + i] : 0xff;
	} else if (p->msix_cap && b == p->table_bar && off >= p->table_off &&
		   off - p->table_off < (uint64_t)p->msix_n * MSIX_ENTRY) {
		table_access(p, off - p->table_off, data, len, write);
	} else if (write) {
		vfio_region_write(p->dev, (uint32_t)b, off, data, len, &e);
	} else if (vfio_region_read(p->dev, (uint32_t)b, off, data, len, &e)) {
		memset(data, 0xff, len);
	}
	pthread_mutex_unlock(&s->lock);
}

/* The windows are registered at their bases; turn offsets back into addresses. */
static void win32_read(void *dev, uint64_t off, uint8_t *d, unsigned len)
{
	bar_access(dev, VFIO_PT_MMIO32_BASE + off, d, len, false, false);
}
static void win32_write(void *dev, uint64_t off, const uint8_t *d, unsigned len)
{
	bar_access(dev, VFIO_PT_MMIO32_BASE + off, (uint8_t *)d, len, true, false);
}
static void win64_read(void *dev, uint64_t off, uint8_t *d, unsigned len)
{
	struct vfio_pt_set *s = dev;

	bar_access(s, s->mmio64_base + off, d, len, false, false);
}
static void win64_write(void *dev, uint64_t off, const uint8_t *d, unsigned len)
{
	struct vfio_pt_set *s = dev;

	bar_access(s, s->mmio64_base + off, (uint8_t *)d, len, true, false);
}
static void io_read(void *dev, uint64_t off, uint8_t *d, unsigned len)
{
	bar_access(dev, VFIO_PT_IO_BASE + off, d, len, false, true);
}
static void io_write(void *dev, uint64_t off, const uint8_t *d, unsigned len)
{
	bar_access(dev, VFIO_PT_IO_BASE + off, (uint8_t *)d, len, true, true);
}

static const struct vm_io_ops win32_ops = { win32_read, win32_write };
static const struct vm_io_ops win64_ops = { win64_read, win64_write };
static const struct vm_io_ops io_ops = { io_read, io_write };

/* ---- configuration space ------------------------------------------------------------------ */

static uint32_t cfg_read(void *dev, unsigned off, unsigned len)
{
	struct vfio_pt *p = dev;
	uint32_t v = 0;
	struct err e = { 0 };

	if (off + len > p->cfg_size)
		return 0; /* beyond what the device has (e.g. extended space without ECAM) */
	if (!vpci_cfg_is_emulated(&p->cfg, off, len) &&
	    vfio_region_read(p->dev, VFIO_PCI_CONFIG_REGION_INDEX, off, &v, len, &e))
		v = 0xffffffff;
	return vpci_cfg_read(&p->cfg, off, len, v);
}

static void cfg_write(void *dev, unsigned off, unsigned len, uint32_t val)
{
	struct vfio_pt *p = dev;
	struct vfio_pt_set *s = p->set;
	struct err e = { 0 };
	unsigned pass, moved, msix_ctl = p->msix_cap + 2;
	uint64_t old[6];

	if (off + len > p->cfg_size)
		return;
	pthread_mutex_lock(&s->lock);
	for (int b = 0; b < 6; b++)
		old[b] = p->cfg.bar[b].gpa;
	moved = vpci_cfg_write(&p->cfg, off, len, val, &pass);
	/* Pass the device's own bytes through, one at a time where the access was split. */
	for (unsigned i = 0; i < len; i++) {
		if (!(pass & (1u << i)))
			continue;
		if (pass == (1u << len) - 1) {
			vfio_region_write(p->dev, VFIO_PCI_CONFIG_REGION_INDEX, off, &val, len, &e);
			break;
		}
		uint8_t byte = (uint8_t)(val >> (8 * i));

		vfio_region_write(p->dev, VFIO_PCI_CONFIG_REGION_INDEX, off + i, &byte, 1, &e);
	}
	/* Move the memory slots of BARs the guest relocated. */
	for (int b = 0; b < 6; b++) {
		if (!(moved & (1u << b)))
			continue;
		bar_map(p, b, old[b], false, &e);
		bar_map(p, b, p->cfg.bar[b].gpa, true, &e);
		if (s->p2p) {
			bar_p2p(p, b, old[b], false, &e);
			bar_p2p(p, b, p->cfg.bar[b].gpa, true, &e);
		}
	}
	if (p->msix_cap && off <= msix_ctl + 1 && off + len > msix_ctl)
		msix_control(p, (uint16_t)vpci_cfg_read(&p->cfg, msix_ctl, 2, 0));
	if (p->msi_cap && off + len > p->msi_cap + 2 && off < p->msi_cap + 24)
		msi_sync(p);
	pthread_mutex_unlock(&s->lock);
}

static const struct pci_fn_ops pt_cfg_ops = { .cfg_read = cfg_read, .cfg_write = cfg_write };

/* ---- setup and teardown ------------------------------------------------------------------- */

void vfio_pt_alloc_init(struct vpci_alloc *a, const struct vm_ram *ram)
{
	uint64_t ram_end = VM_4G_GPA, mmio64_base;

	for (unsigned i = 0; i < ram->nr_regions; i++) {
		uint64_t end = ram->region[i].gpa + ram->region[i].size_bytes;

		if (end > ram_end)
			ram_end = end;
	}
	mmio64_base = (ram_end + VFIO_PT_MMIO64_ALIGN - 1) & ~(VFIO_PT_MMIO64_ALIGN - 1);
	vpci_alloc_init(a, VFIO_PT_MMIO32_BASE, VFIO_PT_MMIO32_SIZE, mmio64_base,
			VFIO_PT_MMIO64_SIZE, VFIO_PT_IO_BASE, VFIO_PT_IO_SIZE);
}

int vfio_pt_setup(struct vfio_pt_set *s, struct vm *vm, struct err *e)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->vm = vm;
	pthread_mutex_init(&s->lock, NULL);
	vfio_pt_alloc_init(&s->alloc, &vm->ram);
	rc = pci_host_init(&s->host, &vm->pio, e);
	if (!rc)
		rc = pci_ecam_init(&s->host, &vm->mmio, e);
	if (!rc)
		rc = vm_bus_register(&vm->mmio, VFIO_PT_MMIO32_BASE, VFIO_PT_MMIO32_SIZE,
				     &win32_ops, s, "pci-mmio32", e);
	if (!rc)
		rc = vm_bus_register(&vm->pio, VFIO_PT_IO_BASE, VFIO_PT_IO_SIZE, &io_ops, s,
				     "pci-io", e);
	if (!rc)
		rc = kvm_vfio_open(&vm->kvm, e);
	return rc;
}

static int read_config(struct vfio_pt *p, uint8_t *cfg, struct err *e)
{
	struct vfio_region r;
	int rc = vfio_region_info(p->dev, VFIO_PCI_CONFIG_REGION_INDEX, &r, e);

	if (rc)
		return rc;
	p->cfg_size = r.size_bytes >= VPCI_CFG_SIZE ? VPCI_CFG_SIZE : 256;
	for (unsigned off = 0; off < p->cfg_size; off += 4) {
		rc = vfio_region_read(p->dev, VFIO_PCI_CONFIG_REGION_INDEX, off, cfg + off, 4, e);
		if (rc && off >= 256) { /* no extended space readable: present 256 bytes */
			p->cfg_size = 256;
			return 0;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* Where the MSI and MSI-X capabilities are, and what they offer. */
static void find_msi_caps(struct vfio_pt *p, const uint8_t *cfg)
{
	unsigned cap = cfg[0x34] & 0xfc;

	for (int n = 0; n < 48 && cap >= 0x40 && cap < 0xff; n++) {
		if (cfg[cap] == 0x05 && !p->msi_cap) {
			uint16_t ctl = (uint16_t)(cfg[cap + 2] | cfg[cap + 3] << 8);

			p->msi_cap = cap;
			p->msi_64 = ctl & 0x80;
			p->msi_maskable = ctl & 0x100;
		}
		if (cfg[cap] == 0x11 && !p->msix_cap) {
			uint32_t t, b;

			memcpy(&t, &cfg[cap + 4], 4);
			memcpy(&b, &cfg[cap + 8], 4);
			p->msix_cap = cap;
			p->msix_n = (uint32_t)((cfg[cap + 2] | cfg[cap + 3] << 8) & 0x7ff) + 1;
			p->table_bar = (int)(t & 7);
			p->table_off = t & ~7u;
			p->pba_bar = (int)(b & 7);
			p->pba_off = b & ~7u;
		}
		cap = cfg[cap + 1] & 0xfc;
	}
}

/*
 * Size BARs from VFIO's region info and their type bits from config; place the 32-bit and I/O
 * ones, largest first. 64-bit ones wait for vfio_pt_realize, which sizes the window for all.
 */
static int place_bars(struct vfio_pt *p, const uint8_t *cfg, struct vpci_bar *vb, struct err *e)
{
	int order[6], n = 0, rc;

	memset(vb, 0, 6 * sizeof(*vb));
	for (int b = 0; b < 6; b++) {
		struct vfio_region r;
		uint32_t reg;

		memcpy(&reg, &cfg[0x10 + 4 * b], 4);
		if (vfio_region_info(p->dev, (uint32_t)b, &r, NULL) || !r.size_bytes)
			continue;
		p->bar[b].size = r.size_bytes;
		p->bar[b].flags = reg & 1 ? VPCI_BAR_IO
					  : ((reg & 6) == 4 ? VPCI_BAR_64 : 0) |
						    (reg & 8 ? VPCI_BAR_PREFETCH : 0);
		if (r.flags & VFIO_REGION_INFO_FLAG_MMAP && !(reg & 1)) {
			void *m = mmap(NULL, r.size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
				       vfio_dev_fd(p->dev), (off_t)r.offset);

			p->bar[b].map = m == MAP_FAILED ? NULL : m;
		}
		order[n++] = b;
		if (p->bar[b].flags & VPCI_BAR_64)
			b++;
	}
	for (int i = 1; i < n; i++) /* insertion sort by size, largest first */
		for (int j = i; j > 0 && p->bar[order[j]].size > p->bar[order[j - 1]].size; j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		int b = order[i];

		vb[b].size = p->bar[b].size;
		vb[b].flags = p->bar[b].flags;
		/* A non-prefetchable BAR must lie in the root port's 32-bit window: below 4 GiB
		 * even when 64-bit, where it fits (as SeaBIOS places them). The other 64-bit ones
		 * wait for the 64-bit window (place_window; gpa 0 until then). */
		if ((vb[b].flags & (VPCI_BAR_64 | VPCI_BAR_PREFETCH)) == VPCI_BAR_64 &&
		    !vpci_alloc_bar(&p->set->alloc, vb[b].size, 0, &vb[b].gpa, NULL))
			continue;
		if (vb[b].flags & VPCI_BAR_64) {
			vb[b].gpa = 0;
			continue;
		}
		rc = vpci_alloc_bar(&p->set->alloc, vb[b].size, vb[b].flags, &vb[b].gpa, e);
		if (rc)
			return err_prefix(e, "%s: BAR%d", vfio_dev_bdf(p->dev), b);
	}
	return 0;
}

/* A vector's eventfd and GSI (with its route) go back, once its irqfd is detached. */
static void vec_free(struct vfio_pt_set *s, struct pt_vec *v)
{
	if (v->eventfd >= 0)
		close(v->eventfd);
	v->eventfd = -1;
	if (v->gsi)
		kvm_gsi_free(&s->vm->kvm, v->gsi);
	v->gsi = 0;
}

/* Remove BAR b from the guest and give its memory slots back. */
static void bar_free(struct vfio_pt *p, int b)
{
	struct pt_bar *bar = &p->bar[b];

	for (int k = 0; k < 3; k++) {
		if (bar->slot_len[k] && bar->slot[k] >= 0)
			kvm_slot_free(&p->set->vm->kvm, (unsigned)bar->slot[k]);
		bar->slot[k] = -1;
	}
}

static void pt_free(struct vfio_pt *p)
{
	struct err e = { 0 };

	if (!p)
		return;
	if (p->msix_armed)
		vfio_irq_disable(p->dev, VFIO_PCI_MSIX_IRQ_INDEX, &e);
	if (p->dev) {
		msi_disarm(p);
		intx_disarm(p);
	}
	if (p->intx_gsi)
		kvm_irqfd_deassign(&p->set->vm->kvm, p->intx_fd, p->intx_gsi, &e);
	if (p->intx_fd >= 0)
		close(p->intx_fd);
	if (p->intx_unmask_fd >= 0)
		close(p->intx_unmask_fd);
	for (int i = 0; i < 32; i++)
		vec_free(p->set, &p->msi_vec[i]);
	for (uint32_t i = 0; p->vec && i < p->msix_n; i++) {
		vec_detach(p->set, &p->vec[i], &e);
		vec_free(p->set, &p->vec[i]);
	}
	for (int b = 0; b < 6; b++) {
		if (p->bar[b].map) {
			bar_p2p(p, b, 0, false, &e);
			bar_free(p, b);
			munmap(p->bar[b].map, p->bar[b].size);
		}
	}
	if (p->dev && vfio_dev_has_reset(p->dev))
		vfio_dev_reset(p->dev, &e);
	vfio_dev_close(p->dev); /* the last device unmaps guest RAM from the IOMMU */
	free(p->vec);
	free(p->msix);
	free(p->rom);
	free(p->config);
	free(p);
}

/* The device's own ROM through VFIO's ROM region, read once (as QEMU does); none if unreadable. */
static void rom_from_device(struct vfio_pt *p)
{
	struct vfio_region r;
	ssize_t got;

	if (vfio_region_info(p->dev, VFIO_PCI_ROM_REGION_INDEX, &r, NULL) || !r.size_bytes ||
	    r.size_bytes > (16u << 20) || !(p->rom = malloc(r.size_bytes)))
		return;
	got = pread(vfio_dev_fd(p->dev), p->rom, r.size_bytes, (off_t)r.offset);
	if (got <= 0) {
		free(p->rom);
		p->rom = NULL;
		return;
	}
	p->rom_len = (size_t)got;
}

/* Load the guest's expansion ROM as o says and place its BAR in the 32-bit window. */
static int rom_setup(struct vfio_pt *p, const struct vfio_pt_opts *o, struct err *e)
{
	int rc;

	if (o && o->rom == VFIO_PT_ROM_OFF)
		return 0;
	if (o && o->rom == VFIO_PT_ROM_FILE) {
		rc = vfio_pt_rom_load(o->rom_file, &p->rom, &p->rom_len, e);
		if (rc)
			return err_prefix(e, "%s", vfio_dev_bdf(p->dev));
	} else {
		rom_from_device(p);
	}
	if (!p->rom)
		return 0;
	for (p->rom_size = 2048; p->rom_size < p->rom_len;)
		p->rom_size <<= 1;
	rc = vpci_alloc_bar(&p->set->alloc, p->rom_size, 0, &p->rom_gpa, e);
	return rc ? err_prefix(e, "%s: expansion ROM", vfio_dev_bdf(p->dev)) : 0;
}

/*
 * The device's INTx pin (config 0x3d, as VFIO reports it) on the IOAPIC pin its slot swizzles
 * to (layout.h, the DSDT's _PRT): eventfds, the level irqfd, then armed until MSI takes over.
 */
static int intx_init(struct vfio_pt *p, uint8_t pin, struct err *e)
{
	struct vfio_irq irq;
	unsigned gsi = pci_intx_gsi(p->slot, pin);
	int rc;

	if (pin < 1 || pin > 4 || vfio_irq_info(p->dev, VFIO_PCI_INTX_IRQ_INDEX, &irq, NULL) ||
	    irq.count < 1)
		return 0; /* no INTx: MSI or MSI-X only */
	p->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->intx_unmask_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->intx_fd < 0 || p->intx_unmask_fd < 0)
		return err_set(e, errno, "%s: INTx eventfd: %s", vfio_dev_bdf(p->dev),
			       strerror(errno));
	rc = kvm_irqfd_assign_level(&p->set->vm->kvm, p->intx_fd, p->intx_unmask_fd, gsi, e);
	if (rc)
		return err_prefix(e, "%s", vfio_dev_bdf(p->dev));
	p->intx_gsi = gsi;
	intx_arm(p);
	return 0;
}

int vfio_pt_add(struct vfio_pt_set *s, const struct pci_addr *a, enum vfio_backend backend,
		struct err *e)
{
	return vfio_pt_add_opts(s, a, backend, NULL, e);
}

int vfio_pt_add_opts(struct vfio_pt_set *s, const struct pci_addr *a, enum vfio_backend backend,
		     const struct vfio_pt_opts *o, struct err *e)
{
	struct vfio_pt *p = calloc(1, sizeof(*p));
	bool map_ram;
	int rc;

	if (!p || !(p->config = calloc(1, VPCI_CFG_SIZE))) {
		free(p);
		return err_set(e, ENOMEM, "out of memory");
	}
	p->intx_fd = p->intx_unmask_fd = -1;
	if (s->n >= VFIO_PT_MAX) {
		rc = err_set(e, ENOSPC, "at most %d passthrough devices", VFIO_PT_MAX);
		goto fail;
	}
	p->set = s;
	for (int i = 0; i < 32; i++)
		p->msi_vec[i].eventfd = -1;
	/* One IOMMU for every passed device: guest RAM is mapped, and pinned, once. */
	if (!s->iommu && (rc = vfio_iommu_open(&s->iommu, backend, e)))
		goto fail;
	map_ram = vfio_dma_registry(s->iommu)->n == 0;
	rc = vfio_dev_open(&p->dev, a, s->iommu, e);
	if (rc) {
		p->dev = NULL;
		goto fail;
	}
	/* Tell KVM that the VM uses this device's group (or cdev), for coherent DMA and IRQ
	 * bypass. */
	rc = kvm_vfio_add(&s->vm->kvm, vfio_dev_kvm_fd(p->dev), e);
	if (rc)
		err_prefix(e, "%s", vfio_dev_bdf(p->dev));
	/* Start from a clean device where it can be reset (some, like QEMU's edu, cannot). */
	if (!rc && vfio_dev_has_reset(p->dev))
		rc = vfio_dev_reset(p->dev, e);
	/* All guest RAM at IOVA = GPA (the guest's driver programs GPAs into the device), by the
	 * first device attached: the others see the same mappings. */
	for (unsigned i = 0; !rc && map_ram && i < s->vm->ram.nr_regions; i++) {
		const struct vm_ram_region *r = &s->vm->ram.region[i];

		rc = vfio_dma_map(s->iommu, dma_iova_from_gpa(r->gpa), r->size_bytes, r->hva,
				  s->vm->ram.backing, e);
	}
	if (!rc)
		rc = read_config(p, p->config, e);
	if (rc)
		goto fail;
	find_msi_caps(p, p->config);
	pcie_port_align_alloc(&s->alloc); /* its root port's windows are its own */
	rc = place_bars(p, p->config, p->vb, e);
	if (!rc)
		rc = rom_setup(p, o, e);
	pcie_port_align_alloc(&s->alloc);
	if (rc)
		goto fail;
	s->dev[s->n++] = p;
	return 0;
fail:
	pt_free(p);
	return rc;
}

/* The end of guest RAM (at least 4 GiB): the 64-bit window starts above it. */
static uint64_t ram_end(const struct vm_ram *ram)
{
	uint64_t end = VM_4G_GPA;

	for (unsigned i = 0; i < ram->nr_regions; i++)
		if (ram->region[i].gpa + ram->region[i].size_bytes > end)
			end = ram->region[i].gpa + ram->region[i].size_bytes;
	return end;
}

/* The 64-bit BARs of one device still to place (gpa 0), as mmio_window_plan takes them. */
static size_t window_bars(const struct vfio_pt *p, struct mmio_window_bar *wb, int *which)
{
	size_t n = 0;

	for (int b = 0; b < 6; b++)
		if ((p->vb[b].flags & VPCI_BAR_64) && !p->vb[b].gpa) {
			wb[n].size_bytes = p->vb[b].size;
			which[n++] = b;
		}
	return n;
}

/*
 * Size the 64-bit window from every device's 64-bit BARs and place them in it. A device's BARs
 * stay together, because its root port's prefetchable window must hold them and nothing of
 * another device: each device's BARs are packed largest first into a block (offsets from 0),
 * the block is rounded up to a power of two (at least the ports' 1 MiB grain) and the blocks
 * are placed like BARs. A device with one such BAR (a GPU's BAR1) wastes nothing.
 */
static int place_window(struct vfio_pt_set *s, struct err *e)
{
	struct mmio_window_bar blocks[VFIO_PT_MAX], wb[6];
	struct mmio_window_limits lim, from0 = { 0, 64, NULL, 0 };
	struct vfio_iommu_info info;
	unsigned owner[VFIO_PT_MAX], m = 0;
	uint64_t base, size;
	int which[6];
	int rc;

	for (unsigned i = 0; i < s->n; i++) {
		rc = mmio_window_plan(wb, window_bars(s->dev[i], wb, which), &from0, &base, &size,
				      e);
		if (rc)
			return err_prefix(e, "%s", vfio_dev_bdf(s->dev[i]->dev));
		if (!size)
			continue; /* no 64-bit BAR: no block */
		for (blocks[m].size_bytes = 1ull << 20; blocks[m].size_bytes < size;)
			blocks[m].size_bytes <<= 1;
		owner[m++] = i;
	}
	rc = vfio_iommu_info(s->iommu, &info, e); /* every device attached: the final ranges */
	if (rc)
		return rc;
	lim = (struct mmio_window_limits){ ram_end(&s->vm->ram),
					   s->vm->kvm.phys_bits ? s->vm->kvm.phys_bits : 36,
					   info.ranges, info.nranges };
	rc = mmio_window_plan(blocks, m, &lim, &s->mmio64_base, &s->mmio64_size, e);
	if (rc)
		return rc;
	for (unsigned k = 0; k < m; k++) {
		struct vfio_pt *p = s->dev[owner[k]];
		size_t n = window_bars(p, wb, which);

		mmio_window_plan(wb, n, &from0, &base, &size, e); /* the same offsets as above */
		for (size_t j = 0; j < n; j++)
			p->vb[which[j]].gpa = blocks[k].gpa + wb[j].gpa;
	}
	if (!s->mmio64_size)
		return 0;
	return vm_bus_register(&s->vm->mmio, s->mmio64_base, s->mmio64_size, &win64_ops, s,
			       "pci-mmio64", e);
}

/* A placed device into the guest: config shadow, MSI-X state, BAR slots (and P2P), bus slot. */
static int realize_one(struct vfio_pt *p, struct err *e)
{
	struct vfio_pt_set *s = p->set;
	int rc;

	rc = vpci_cfg_init(&p->cfg, p->config, p->cfg_size, p->vb, NULL, vpci_hidden_ext_caps, e);
	if (!rc && p->rom)
		rc = vpci_cfg_set_rom(&p->cfg, p->rom_size, p->rom_gpa, e);
	if (rc)
		return rc;
	if (p->msix_cap) {
		p->msix = malloc(sizeof(*p->msix));
		p->vec = calloc(p->msix_n, sizeof(*p->vec));
		if (!p->msix || !p->vec)
			return err_set(e, ENOMEM, "out of memory");
		for (uint32_t i = 0; i < p->msix_n; i++) {
			p->vec[i].eventfd = -1;
			p->vec[i].entry[3] = 1; /* masked at reset, as the spec says */
		}
		rc = msix_state_init(p->msix, p->msix_n, e);
		if (rc)
			return rc;
	}
	for (int b = 0; b < 6 && !rc; b++) {
		plan_slots(p, b);
		if (p->bar[b].map)
			rc = bar_map(p, b, p->cfg.bar[b].gpa, true, e);
		if (!rc && p->bar[b].map && s->p2p &&
		    (rc = bar_p2p(p, b, p->cfg.bar[b].gpa, true, e)))
			err_prefix(e, "BAR%d for peer-to-peer DMA (--vfio-p2p off goes without)",
				   b);
	}
	if (!rc) {
		struct vpci_bar rom = { p->rom_size, p->rom_gpa, 0, 0 };

		rc = pcie_port_plug(&p->port, &s->host, &pt_cfg_ops, p, p->cfg.bar,
				    p->rom ? &rom : NULL, &p->slot, e);
	}
	/* behind its root port at 00:S.0, the device's pin swizzles to the port's (device 0) */
	if (!rc)
		rc = intx_init(p, p->config[0x3d] /* Interrupt Pin */, e);
	free(p->config);
	p->config = NULL;
	return rc;
}

int vfio_pt_p2p_parse(const char *str, enum vfio_pt_p2p *out)
{
	static const char *const names[] = { "auto", "on", "off" };

	for (int i = 0; i < 3; i++)
		if (!strcmp(str, names[i])) {
			*out = (enum vfio_pt_p2p)i;
			return 0;
		}
	return -EINVAL;
}

int vfio_pt_realize(struct vfio_pt_set *s, enum vfio_pt_p2p p2p, struct err *e)
{
	int rc;

	if (!s->n)
		return 0;
	s->p2p = p2p == VFIO_PT_P2P_ON || (p2p == VFIO_PT_P2P_AUTO &&
					   vfio_iommu_backend(s->iommu) == VFIO_BACKEND_CONTAINER);
	rc = place_window(s, e);
	if (rc)
		return rc;
	for (unsigned i = 0; i < s->n; i++)
		if ((rc = realize_one(s->dev[i], e)))
			return err_prefix(e, "%s", vfio_dev_bdf(s->dev[i]->dev));
	return 0;
}

void vfio_pt_teardown(struct vfio_pt_set *s)
{
	for (unsigned i = s->n; i-- > 0;)
		pt_free(s->dev[i]);
	s->n = 0;
	vfio_iommu_close(s->iommu); /* every device is closed: it cannot refuse */
	s->iommu = NULL;
	kvm_vfio_close(&s->vm->kvm);
	pci_host_destroy(&s->host);
	pthread_mutex_destroy(&s->lock);
}

int vfio_pt_describe(struct vfio_pt_set *s, unsigned i, char *buf, size_t len)
{
	struct vfio_pt *p;
	size_t used;

	if (i >= s->n)
		return -ENOENT;
	p = s->dev[i];
	used = (size_t)snprintf(buf, len, "%s slot %u", vfio_dev_bdf(p->dev), p->slot);
	for (int b = 0; b < 6 && used < len; b++)
		if (p->cfg.bar[b].size)
			used += (size_t)snprintf(buf + used, len - used,
						 " BAR%d@0x%" PRIx64 "/0x%" PRIx64 "%s", b,
						 p->cfg.bar[b].gpa, p->cfg.bar[b].size,
						 p->bar[b].map ? "" : "(trapped)");
	if (used < len && p->rom)
		used += (size_t)snprintf(buf + used, len - used, " ROM@0x%" PRIx64 "/0x%" PRIx64,
					 p->rom_gpa, p->rom_size);
	if (used < len && p->msix_cap)
		used += (size_t)snprintf(buf + used, len - used, " msix %u", p->msix_n);
	if (used < len && s->p2p)
		snprintf(buf + used, len - used, " p2p");
	return 0;
}
