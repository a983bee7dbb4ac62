/* test_pcie_port.c: the emulated root port as a guest's PCI code sees it through ECAM: a type 1
 * header, a PCIe capability saying root port, the function on the secondary bus, and bridge
 * windows that cover its BARs, decoded as the PCI-to-PCI Bridge spec (1.2, 3.2.5) says. */
#include "check.h"
#include "layout.h"
#include "pcie_port.h"
#include "vfio_pt.h"
#include "vm_bus.h"

#define GIB (1ull << 30)

struct fake {
	uint8_t cfg[4096];
};

static uint32_t fake_read(void *dev, unsigned off, unsigned len)
{
	struct fake *f = dev;
	uint32_t v = 0;

	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}

static void fake_write(void *dev, unsigned off, unsigned len, uint32_t val)
{
	(void)dev, (void)off, (void)len, (void)val;
}

static const struct pci_fn_ops fake_ops = { .cfg_read = fake_read, .cfg_write = fake_write };

static uint64_t ecam(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return PCI_ECAM_GPA + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | reg);
}

static uint32_t rd(const struct vm_bus *b, uint64_t a, unsigned len)
{
	uint8_t d[4] = { 0 };
	uint32_t v = 0;

	vm_bus_read(b, a, d, len);
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void wr(const struct vm_bus *b, uint64_t a, unsigned len, uint32_t v)
{
	uint8_t d[4];

	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	vm_bus_write(b, a, d, len);
}

/* A bridge's windows as the guest decodes them; base > limit when closed. */
struct win {
	uint64_t io_base, io_limit, mem_base, mem_limit, pref_base, pref_limit;
};

static struct win decode(const struct vm_bus *b, unsigned slot)
{
	struct win w;
	uint32_t io = rd(b, ecam(0, slot, 0, 0x1c), 2), mem = rd(b, ecam(0, slot, 0, 0x20), 4);
	uint32_t pref = rd(b, ecam(0, slot, 0, 0x24), 4);

	w.io_base = (uint64_t)(io & 0xf0) << 8;
	w.io_limit = (uint64_t)(io >> 8 & 0xf0) << 8 | 0xfff;
	w.mem_base = (uint64_t)(mem & 0xfff0) << 16;
	w.mem_limit = (uint64_t)(mem >> 16 & 0xfff0) << 16 | 0xfffff;
	w.pref_base = (uint64_t)(pref & 0xfff0) << 16 | (uint64_t)rd(b, ecam(0, slot, 0, 0x28), 4)
								<< 32;
	w.pref_limit = (uint64_t)(pref >> 16 & 0xfff0) << 16 | 0xfffff |
		       (uint64_t)rd(b, ecam(0, slot, 0, 0x2c), 4) << 32;
	return w;
}

/* Is BAR b inside the window of its kind (false for a non-prefetchable BAR above 4 GiB)? */
static bool covered(const struct win *w, const struct vpci_bar *b)
{
	uint64_t lo = b->gpa, hi = b->gpa + b->size - 1;

	if (b->flags & VPCI_BAR_IO)
		return lo >= w->io_base && hi <= w->io_limit;
	if (b->flags & VPCI_BAR_PREFETCH)
		return lo >= w->pref_base && hi <= w->pref_limit;
	return lo >= w->mem_base && hi <= w->mem_limit;
}

TEST(root_port_header_and_bus)
{
	static struct pci_host h;
	static struct pcie_port port;
	static struct fake f;
	struct vm_bus mmio = { 0 };
	struct err e = { 0 };
	struct vpci_bar bars[6] = {
		{ 0x4000, 0xe0200000, VPCI_BAR_64, 0 },
		{ 0 },
		{ 16ull << 30, 0x1000000000, VPCI_BAR_64 | VPCI_BAR_PREFETCH, 0 },
		{ 0 },
		{ 0x100, 0xc100, VPCI_BAR_IO, 0 },
	};
	unsigned slot, cap;
	struct win w;

	f.cfg[0] = 0x36, f.cfg[1] = 0x1b, f.cfg[2] = 0x10, f.cfg[3] = 0x00;
	REQUIRE(pci_host_init(&h, NULL, &e) == 0);
	REQUIRE(pci_ecam_init(&h, &mmio, &e) == 0);
	REQUIRE(pcie_port_plug(&port, &h, &fake_ops, &f, bars, NULL, &slot, &e) == 0);
	CHECK_EQ_U(slot, 1);
	/* 00:01.0: a PCI-to-PCI bridge with a type 1 header, 1b36:000c. */
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0), 4), 0x000c1b36);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x0a), 2), 0x0604);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x0e), 1) & 0x7f, 1);
	/* Its capability list holds a PCIe capability of port type root port (4). */
	CHECK(rd(&mmio, ecam(0, 1, 0, 0x06), 2) & 0x10);
	cap = rd(&mmio, ecam(0, 1, 0, 0x34), 1);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, cap), 1), 0x10);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, cap + 2), 2) >> 4 & 0xf, 4);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x100), 4), 0); /* no extended capabilities */
	/* Buses: primary 0, secondary = subordinate = 1; the function alone at 01:00.0. */
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x18), 4) & 0xffffff, 0x010100);
	CHECK_EQ_U(rd(&mmio, ecam(1, 0, 0, 0), 4), 0x00101b36);
	CHECK_EQ_U(rd(&mmio, ecam(1, 1, 0, 0), 4), 0xffffffff);
	CHECK_EQ_U(rd(&mmio, ecam(1, 0, 1, 0), 4), 0xffffffff);
	CHECK_EQ_U(rd(&mmio, ecam(2, 0, 0, 0), 4), 0xffffffff);
	CHECK_EQ_U(rd(&mmio, ecam(0, 2, 0, 0), 4), 0xffffffff);
	/* The same through 0xcf8/0xcfc. */
	pci_host_conf_write(&h, 0, 4, 0x80000000u | 1u << 16);
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0x00101b36);
	/* The windows cover the BARs. */
	w = decode(&mmio, 1);
	CHECK(covered(&w, &bars[0]));
	CHECK(covered(&w, &bars[2]));
	CHECK(covered(&w, &bars[4]));
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x24), 2) & 0xf, 1); /* 64-bit prefetchable */
	/* The guest renumbers: the function follows its secondary bus. */
	wr(&mmio, ecam(0, 1, 0, 0x18), 4, 0x00050500);
	CHECK_EQ_U(rd(&mmio, ecam(5, 0, 0, 0), 4), 0x00101b36);
	CHECK_EQ_U(rd(&mmio, ecam(1, 0, 0, 0), 4), 0xffffffff);
	/* Identity, class, header type and port type are read-only. */
	wr(&mmio, ecam(0, 1, 0, 0), 4, 0);
	wr(&mmio, ecam(0, 1, 0, 0x08), 4, 0);
	wr(&mmio, ecam(0, 1, 0, 0x0c), 4, 0);
	wr(&mmio, ecam(0, 1, 0, cap), 4, 0);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0), 4), 0x000c1b36);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x0a), 2), 0x0604);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, 0x0e), 1) & 0x7f, 1);
	CHECK_EQ_U(rd(&mmio, ecam(0, 1, 0, cap + 2), 2) >> 4 & 0xf, 4);
	pci_host_destroy(&h);
}

/*
 * Up to eight devices with random BARs placed as vfio_pt places them (aligned around each
 * device): each BAR lies in its own port's window of its kind, and no two ports' windows of a
 * kind overlap (a guest would see conflicts and move things).
 */
TEST(prop_windows_cover_and_apart)
{
	struct prop_rng r = { prop_seed("prop_windows_cover_and_apart") };
	uint64_t cases = prop_cases(2000);
	static struct pci_host h;
	static struct pcie_port port[8];
	static struct fake f;

	for (uint64_t n = 0; n < cases; n++) {
		struct vm_bus mmio = { 0 };
		struct vm_ram ram;
		struct vpci_alloc a;
		struct vpci_bar bars[8][6];
		struct win w[8];
		unsigned ndev = 1 + (unsigned)prop_below(&r, 8);
		struct err e = { 0 };

		REQUIRE(vm_ram_alloc(&ram, (1 + prop_below(&r, 8)) * GIB / 2, &e) == 0);
		vfio_pt_alloc_init(&a, &ram);
		vm_ram_free(&ram);
		REQUIRE(pci_host_init(&h, NULL, &e) == 0);
		REQUIRE(pci_ecam_init(&h, &mmio, &e) == 0);
		memset(bars, 0, sizeof(bars));
		for (unsigned d = 0; d < ndev; d++) {
			pcie_port_align_alloc(&a);
			for (int i = 0; i < 6; i++) {
				unsigned kind = (unsigned)prop_below(&r, 4), flags;
				uint64_t size;

				if (kind == 0) {
					flags = VPCI_BAR_IO, size = 4ull << prop_below(&r, 7);
				} else if (kind == 1) {
					flags = 0, size = 16ull << prop_below(&r, 20);
				} else {
					flags = VPCI_BAR_64 | VPCI_BAR_PREFETCH;
					size = 4096ull << prop_below(&r, 23);
				}
				if (i == 5 && (flags & VPCI_BAR_64))
					continue;
				if (vpci_alloc_bar(&a, size, flags, &bars[d][i].gpa, NULL))
					continue;
				bars[d][i].size = size, bars[d][i].flags = flags;
				if (flags & VPCI_BAR_64)
					i++;
			}
			pcie_port_align_alloc(&a);
			REQUIRE(pcie_port_plug(&port[d], &h, &fake_ops, &f, bars[d], NULL, NULL,
					       &e) == 0);
			w[d] = decode(&mmio, d + 1);
			for (int i = 0; i < 6; i++)
				if (bars[d][i].size && !covered(&w[d], &bars[d][i])) {
					CHECK_FAIL_AT("case %" PRIu64
						      ": device %u BAR%d at 0x%" PRIx64
						      " outside its port's window",
						      n, d, i, bars[d][i].gpa);
					return;
				}
			for (unsigned o = 0; o < d; o++) {
				bool io = w[d].io_base <= w[d].io_limit &&
					  w[o].io_base <= w[o].io_limit &&
					  w[d].io_base <= w[o].io_limit &&
					  w[o].io_base <= w[d].io_limit;
				bool mem = w[d].mem_base <= w[d].mem_limit &&
					   w[o].mem_base <= w[o].mem_limit &&
					   w[d].mem_base <= w[o].mem_limit &&
					   w[o].mem_base <= w[d].mem_limit;
				bool pref = w[d].pref_base <= w[d].pref_limit &&
					    w[o].pref_base <= w[o].pref_limit &&
					    w[d].pref_base <= w[o].pref_limit &&
					    w[o].pref_base <= w[d].pref_limit;

				if (io || mem || pref) {
					CHECK_FAIL_AT("case %" PRIu64 ": ports %u and %u share a %s"
						      " window range",
						      n, o, d,
						      io    ? "I/O"
						      : mem ? "memory"
							    : "prefetch");
					return;
				}
			}
		}
		pci_host_destroy(&h);
	}
}

int main(void)
{
	RUN(root_port_header_and_bus);
	RUN(prop_windows_cover_and_apart);
	return CHECK_MAIN_END();
}
