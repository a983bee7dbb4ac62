/* vpci.c: guest BAR placement and the config-space shadow of a passed-through PCI function. */
#include "vpci.h"

#include <string.h>

#define PAGE_SIZE 4096u

/* Standard config-space offsets and IDs (PCI Local Bus 3.0, PCIe 5.0). */
#define CFG_STATUS	    0x06
#define CFG_STATUS_CAP_LIST 0x10
#define CFG_BAR0	    0x10
#define CFG_ROM		    0x30
#define CFG_CAP_PTR	    0x34
#define CFG_INT_LINE	    0x3c
#define CAP_ID_MSI	    0x05
#define CAP_ID_MSIX	    0x11
#define CAP_ID_PCIE	    0x10
#define PCIE_TYPE_RC_END    0x9 /* device/port type: root complex integrated endpoint */
#define EXT_CAP_START	    0x100
#define CAP_WALK_MAX	    48 /* a malicious or broken list must not loop us */

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

void vpci_alloc_init(struct vpci_alloc *a, uint64_t mmio32_base, uint64_t mmio32_size,
		     uint64_t mmio64_base, uint64_t mmio64_size, uint64_t io_base, uint64_t io_size)
{
	a->mmio32 = (struct vpci_window){ mmio32_base, mmio32_base + mmio32_size, mmio32_base };
	a->mmio64 = (struct vpci_window){ mmio64_base, mmio64_base + mmio64_size, mmio64_base };
	a->io = (struct vpci_window){ io_base, io_base + io_size, io_base };
}

int vpci_alloc_bar(struct vpci_alloc *a, uint64_t size, unsigned flags, uint64_t *gpa,
		   struct err *e)
{
	bool io = flags & VPCI_BAR_IO;
	struct vpci_window *w;
	uint64_t span, addr;

	if (!is_pow2(size) || size < (io ? 4u : 16u))
		return err_set(e, EINVAL, "BAR size 0x%llx is not a power of two >= %u",
			       (unsigned long long)size, io ? 4u : 16u);
	if (io && size > 0x10000)
		return err_set(e, EINVAL, "I/O BAR size 0x%llx exceeds the I/O space",
			       (unsigned long long)size);
	if (!io && !(flags & VPCI_BAR_64) && size > (1ull << 31))
		return err_set(e, EINVAL, "32-bit BAR of 0x%llx bytes cannot be placed below 4 GiB",
			       (unsigned long long)size);
	span = io || size >= PAGE_SIZE ? size : PAGE_SIZE;
	if (io)
		w = &a->io;
	else if (flags & VPCI_BAR_64 && a->mmio64.end > a->mmio64.base)
		w = &a->mmio64;
	else
		w = &a->mmio32;
	/* Align up without wrapping past 2^64. */
	if (w->next > UINT64_MAX - (span - 1))
		return err_set(e, ENOSPC, "no room for a BAR of 0x%llx bytes",
			       (unsigned long long)size);
	addr = (w->next + span - 1) & ~(span - 1);
	if (addr < w->base || addr > w->end || w->end - addr < span)
		return err_set(e, ENOSPC, "no room for a BAR of 0x%llx bytes in [0x%llx, 0x%llx)",
			       (unsigned long long)size, (unsigned long long)w->base,
			       (unsigned long long)w->end);
	w->next = addr + span;
	*gpa = addr;
	return 0;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void emulate(struct vpci_cfg *c, unsigned off, unsigned len, uint8_t wmask)
{
	for (unsigned i = off; i < off + len && i < VPCI_CFG_SIZE; i++) {
		c->emulated[i] = 1;
		c->wmask[i] = wmask;
	}
}

/* The value register r reads as: the guest's placement, or the size mask while sizing. */
static uint32_t bar_reg_value(const struct vpci_cfg *c, int r)
{
	const struct vpci_bar *lo = &c->bar[r];

	if (lo->size) {
		uint64_t mask = ~(lo->size - 1);

		return (uint32_t)((c->sizing[r] ? mask : lo->gpa) &
				  (lo->flags & VPCI_BAR_IO ? ~3u : ~15u)) |
		       lo->low_bits;
	}
	if (r > 0 && c->bar[r - 1].size && (c->bar[r - 1].flags & VPCI_BAR_64)) {
		const struct vpci_bar *b = &c->bar[r - 1];

		return (uint32_t)((c->sizing[r] ? ~(b->size - 1) : b->gpa) >> 32);
	}
	return 0; /* not implemented: reads 0, ignores writes */
}

static void sync_bars(struct vpci_cfg *c)
{
	for (int r = 0; r < 6; r++)
		wr32(&c->shadow[CFG_BAR0 + 4 * r], bar_reg_value(c, r));
}

static bool in_list8(const uint8_t *l, uint8_t v)
{
	for (; l && *l; l++)
		if (*l == v)
			return true;
	return false;
}

static bool in_list16(const uint16_t *l, uint16_t v)
{
	for (; l && *l; l++)
		if (*l == v)
			return true;
	return false;
}

/* Unlink hidden standard capabilities; emulate MSI/MSI-X control registers. */
static void walk_caps(struct vpci_cfg *c, const uint8_t *hide)
{
	unsigned link = CFG_CAP_PTR; /* the byte that points at the current capability */
	uint8_t seen[256] = { 0 };

	if (!(c->shadow[CFG_STATUS] & CFG_STATUS_CAP_LIST)) {
		emulate(c, CFG_CAP_PTR, 1, 0);
		c->shadow[CFG_CAP_PTR] = 0;
		return;
	}
	for (int n = 0; n < CAP_WALK_MAX; n++) {
		unsigned cap = c->shadow[link] & 0xfc;

		if (cap < 0x40 || seen[cap]) {
			if (cap) { /* a loop or a pointer into the header: end the list here */
				emulate(c, link, 1, 0);
				c->shadow[link] = 0;
			}
			return;
		}
		seen[cap] = 1;
		if (in_list8(hide, c->shadow[cap])) {
			emulate(c, link, 1, 0);
			c->shadow[link] = c->shadow[cap + 1];
			continue; /* same link, now pointing past the hidden one */
		}
		if (c->shadow[cap] == CAP_ID_PCIE &&
		    (c->shadow[cap + 2] >> 4) == PCIE_TYPE_RC_END) {
			c->shadow[cap + 2] &= 0x0f; /* PCI Express endpoint, below a root port */
			emulate(c, cap + 2, 1, 0);
		}
		if (c->shadow[cap] == CAP_ID_MSIX) {
			emulate(c, cap + 2, 1, 0);
			emulate(c, cap + 3, 1, 0xc0); /* MSI-X enable, function mask */
		} else if (c->shadow[cap] == CAP_ID_MSI) {
			uint16_t ctl = (uint16_t)(c->shadow[cap + 2] | c->shadow[cap + 3] << 8);
			unsigned len = 10 + (ctl & 0x80 ? 4 : 0) + (ctl & 0x100 ? 10 : 0);

			if (cap + len >
			    EXT_CAP_START) { /* would spill into extended space: drop it */
				emulate(c, link, 1, 0);
				c->shadow[link] = c->shadow[cap + 1];
				continue;
			}
			emulate(c, cap + 2, 1, 0x71); /* enable, multiple message enable */
			emulate(c, cap + 3, 1, 0);
			emulate(c, cap + 4, len - 4, 0xff);
			emulate(c, cap + 4, 1, 0xfc); /* address is dword aligned */
		}
		link = cap + 1;
	}
}

const uint16_t vpci_hidden_ext_caps[] = {
	0x0001, /* AER: the host handles the device's errors; its masks are host policy */
	0x000d, /* ACS: isolation is the host's business */
	0x000f, /* ATS: the guest's addresses are not the IOMMU's */
	0x0010, /* SR-IOV: virtual functions belong to the host */
	0x0013, /* PRI */
	0x001b, /* PASID */
	0,
};

/* Bytes of a hidden capability that read 0: its length by the spec (PCIe 5.0, chapter 7), the
 * ACS egress vector aside. SR-IOV's VF BARs are host addresses. */
static unsigned hidden_len(uint16_t id)
{
	switch (id) {
	case 0x0001:
		return 0x48;
	case 0x0010:
		return 0x40;
	case 0x0013:
		return 0x10;
	default:
		return 8;
	}
}

/* Zero the body of the hidden capability at off, up to its length or the next header. */
static void hide_body(struct vpci_cfg *c, unsigned off, uint16_t id, const uint16_t *chain,
		      unsigned n)
{
	unsigned end = off + hidden_len(id);

	if (end > VPCI_CFG_SIZE)
		end = VPCI_CFG_SIZE;
	for (unsigned i = 0; i < n; i++)
		if (chain[i] > off && chain[i] < end)
			end = chain[i];
	memset(&c->shadow[off + 4], 0, end - off - 4);
	emulate(c, off + 4, end - off - 4, 0);
}

#define EXT_CAP_ID_REBAR    0x15
#define EXT_CAP_ID_VF_REBAR 0x24

static uint32_t ext_next(uint32_t h)
{
	return (h >> 20) & 0xffc;
}

/*
 * Resizable BAR: the guest sees each BAR at its current size only (capability bits naming just
 * that size) and cannot change it: the BARs were sized and placed when the VM was built.
 */
static void rebar_freeze(struct vpci_cfg *c, unsigned cap)
{
	unsigned n;

	if (cap + 12 > VPCI_CFG_SIZE)
		return; /* no room for its control register: nothing there to freeze */
	n = (c->shadow[cap + 8] >> 5) & 7;

	for (unsigned i = 0; i < n && i < 6 && cap + 12 + 8 * i <= VPCI_CFG_SIZE; i++) {
		unsigned ent = cap + 4 + 8 * i, size_enc = c->shadow[ent + 5] & 0x3f;

		wr32(&c->shadow[ent], size_enc < 28 ? 1u << (4 + size_enc) : 0);
		emulate(c, ent, 8, 0);
	}
}

/*
 * The chain's headers in order, into chain[] (at most VPCI_CFG_SIZE / 4). A loop or a pointer
 * into the standard header ends the chain: that next pointer then reads 0.
 */
static unsigned ext_chain(struct vpci_cfg *c, uint16_t *chain)
{
	static const unsigned max = VPCI_CFG_SIZE / 4;
	uint8_t seen[VPCI_CFG_SIZE / 4] = { 0 };
	unsigned off = EXT_CAP_START, n = 0;

	while (n < max) {
		uint32_t h = rd32(&c->shadow[off]), next = ext_next(h);

		if (!h)
			break;
		chain[n++] = (uint16_t)off;
		seen[off / 4] = 1;
		if (next < EXT_CAP_START || seen[next / 4]) {
			if (next) {
				wr32(&c->shadow[off], h & 0x000fffff);
				emulate(c, off, 4, 0);
			}
			break;
		}
		off = next;
	}
	return n;
}

/*
 * Hidden extended capabilities are unlinked: the previous header points past them, their own
 * header and body read 0. The first one, at 0x100, cannot move: it becomes ID 0, version 0 with
 * its next pointer kept (as QEMU's vfio does).
 */
static void walk_ext_caps(struct vpci_cfg *c, const uint16_t *hide_ext)
{
	uint16_t chain[VPCI_CFG_SIZE / 4];
	unsigned n = ext_chain(c, chain), prev = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned off = chain[i];
		uint32_t h = rd32(&c->shadow[off]);
		uint16_t id = (uint16_t)(h & 0xffff);

		if (!in_list16(hide_ext, id)) {
			if (id == EXT_CAP_ID_REBAR || id == EXT_CAP_ID_VF_REBAR)
				rebar_freeze(c, off);
			prev = off;
			continue;
		}
		hide_body(c, off, id, chain, n);
		if (off == EXT_CAP_START) {
			wr32(&c->shadow[off], h & 0xfff00000);
			prev = off;
		} else {
			uint32_t ph = rd32(&c->shadow[prev]);

			wr32(&c->shadow[prev], (ph & 0x000fffff) | (h & 0xfff00000));
			emulate(c, prev, 4, 0);
			wr32(&c->shadow[off], 0);
		}
		emulate(c, off, 4, 0);
	}
}

int vpci_cfg_init(struct vpci_cfg *c, const uint8_t *config, unsigned config_len,
		  const struct vpci_bar bars[6], const uint8_t *hide, const uint16_t *hide_ext,
		  struct err *e)
{
	if (config_len < 64 || config_len > VPCI_CFG_SIZE)
		return err_set(e, EINVAL, "config space of %u bytes (expected 64..4096)",
			       config_len);
	memset(c, 0, sizeof(*c));
	memcpy(c->shadow, config, config_len);
	for (int r = 0; r < 6; r++) {
		const struct vpci_bar *b = &bars[r];

		if (!b->size)
			continue;
		if (!is_pow2(b->size) || (b->gpa & (b->size - 1)) ||
		    ((b->flags & VPCI_BAR_64) && r == 5) ||
		    (!(b->flags & VPCI_BAR_64) && b->size > (1ull << 32)))
			return err_set(e, EINVAL, "BAR%d: size 0x%llx at 0x%llx is not valid", r,
				       (unsigned long long)b->size, (unsigned long long)b->gpa);
		c->bar[r] = *b;
		c->bar[r].low_bits = b->flags & VPCI_BAR_IO
					     ? 0x1
					     : (b->flags & VPCI_BAR_64 ? 0x4 : 0) |
						       (b->flags & VPCI_BAR_PREFETCH ? 0x8 : 0);
		if (b->flags & VPCI_BAR_64) {
			memset(&c->bar[r + 1], 0, sizeof(c->bar[r + 1]));
			r++;
		}
	}
	emulate(c, CFG_BAR0, 24, 0xff);
	emulate(c, CFG_ROM, 4, 0); /* no expansion ROM until vpci_cfg_set_rom */
	memset(&c->shadow[CFG_ROM], 0, 4);
	emulate(c, CFG_INT_LINE, 1, 0xff);
	sync_bars(c);
	walk_caps(c, hide);
	if (config_len > EXT_CAP_START)
		walk_ext_caps(c, hide_ext);
	return 0;
}

bool vpci_cfg_is_emulated(const struct vpci_cfg *c, unsigned off, unsigned len)
{
	for (unsigned i = off; i < off + len; i++)
		if (i >= VPCI_CFG_SIZE || !c->emulated[i])
			return false;
	return true;
}

uint32_t vpci_cfg_read(const struct vpci_cfg *c, unsigned off, unsigned len, uint32_t device_value)
{
	uint32_t v = device_value;

	for (unsigned i = 0; i < len && off + i < VPCI_CFG_SIZE; i++)
		if (c->emulated[off + i])
			v = (v & ~(0xffu << (8 * i))) | (uint32_t)c->shadow[off + i] << (8 * i);
	if (len < 4)
		v &= (1u << (8 * len)) - 1;
	return v;
}

unsigned vpci_cfg_write(struct vpci_cfg *c, unsigned off, unsigned len, uint32_t val,
			unsigned *pass_mask)
{
	uint64_t before[6];
	unsigned moved = 0;

	*pass_mask = 0;
	for (int r = 0; r < 6; r++)
		before[r] = c->bar[r].gpa;
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));

		if (o >= VPCI_CFG_SIZE)
			break;
		if (!c->emulated[o]) {
			*pass_mask |= 1u << i;
			continue;
		}
		c->shadow[o] = (uint8_t)((c->shadow[o] & ~c->wmask[o]) | (b & c->wmask[o]));
	}
	/* BAR registers: interpret what the guest wrote, then rebuild them. */
	for (int r = 0; r < 6; r++) {
		unsigned ro = CFG_BAR0 + 4 * (unsigned)r;
		uint32_t w;

		if (off + len <= ro || off >= ro + 4)
			continue;
		w = rd32(&c->shadow[ro]);
		if (c->bar[r].size) {
			struct vpci_bar *b = &c->bar[r];
			uint32_t type = b->flags & VPCI_BAR_IO ? 3u : 15u;

			c->sizing[r] = (w | type) == 0xffffffffu;
			if (!c->sizing[r])
				b->gpa = ((b->gpa & ~0xffffffffull) | (w & ~type)) & ~(b->size - 1);
		} else if (r > 0 && c->bar[r - 1].size && (c->bar[r - 1].flags & VPCI_BAR_64)) {
			struct vpci_bar *b = &c->bar[r - 1];

			c->sizing[r] = w == 0xffffffffu;
			if (!c->sizing[r])
				b->gpa = (((uint64_t)w << 32) | (b->gpa & 0xffffffffull)) &
					 ~(b->size - 1);
		}
	}
	sync_bars(c);
	for (int r = 0; r < 6; r++)
		if (c->bar[r].size && c->bar[r].gpa != before[r])
			moved |= 1u << r;
	return moved;
}

unsigned vpci_cfg_find_cap(const struct vpci_cfg *c, uint8_t id)
{
	unsigned cap = c->shadow[CFG_CAP_PTR] & 0xfc;

	for (int n = 0; n < CAP_WALK_MAX && cap >= 0x40; n++) {
		if (c->shadow[cap] == id)
			return cap;
		cap = c->shadow[cap + 1] & 0xfc;
	}
	return 0;
}

int vpci_cfg_set_rom(struct vpci_cfg *c, uint64_t size, uint64_t gpa, struct err *e)
{
	uint32_t mask;

	if (!is_pow2(size) || size < 2048 || size > (16u << 20) || (gpa & (size - 1)) ||
	    gpa + size > (1ull << 32))
		return err_set(e, EINVAL, "expansion ROM of 0x%llx bytes at 0x%llx is not valid",
			       (unsigned long long)size, (unsigned long long)gpa);
	/* The address bits below the size read 0 whatever is written: writing all ones reads
	 * back the size, as sizing expects. Bit 0 enables decoding. */
	mask = (uint32_t) ~(size - 1) | 1u;
	c->rom_size = size;
	wr32(&c->shadow[CFG_ROM], (uint32_t)gpa);
	for (unsigned i = 0; i < 4; i++) {
		c->emulated[CFG_ROM + i] = 1;
		c->wmask[CFG_ROM + i] = (uint8_t)(mask >> (8 * i));
	}
	return 0;
}

bool vpci_cfg_rom_at(const struct vpci_cfg *c, uint64_t *gpa)
{
	uint32_t reg = rd32(&c->shadow[CFG_ROM]);

	if (!c->rom_size || !(reg & 1))
		return false;
	*gpa = reg & ~(uint32_t)(c->rom_size - 1);
	return true;
}
