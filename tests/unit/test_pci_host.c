/* test_pci_host.c: configuration mechanism #1 as a guest's PCI code drives it. */
#include "check.h"
#include "layout.h"
#include "pci_host.h"
#include "vm_bus.h"

struct fake {
	uint8_t cfg[4096];
	unsigned writes;
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
	struct fake *f = dev;

	for (unsigned i = 0; i < len; i++)
		f->cfg[off + i] = (uint8_t)(val >> (8 * i));
	f->writes++;
}

static const struct pci_fn_ops fake_ops = { .cfg_read = fake_read, .cfg_write = fake_write };

static uint32_t addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg;
}

TEST(conf1)
{
	struct pci_host h;
	struct fake f = { .cfg = { 0x86, 0x80, 0xd3, 0x10 } };
	unsigned slot;
	struct err e = { 0 };

	REQUIRE(pci_host_init(&h, NULL, &e) == 0);
	REQUIRE(pci_host_add(&h, 0, &fake_ops, &f, &slot, &e) == 0);
	CHECK_EQ_U(slot, 1);
	CHECK_EQ_I(pci_host_add(&h, 1, &fake_ops, &f, NULL, &e), -EEXIST);
	CHECK_EQ_I(pci_host_add(&h, 32, &fake_ops, &f, NULL, &e), -EINVAL);

	/* The address register reads back; the host bridge answers at 00:00.0. */
	pci_host_conf_write(&h, 0, 4, addr(0, 0, 0, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 0, 4), addr(0, 0, 0, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0x00081b36);
	pci_host_conf_write(&h, 0, 4, addr(0, 0, 0, 8));
	CHECK_EQ_U(pci_host_conf_read(&h, 7, 1), 0x06);

	/* Our function at 00:01.0, by dword, word and byte. */
	pci_host_conf_write(&h, 0, 4, addr(0, 1, 0, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0x10d38086);
	CHECK_EQ_U(pci_host_conf_read(&h, 6, 2), 0x10d3);
	CHECK_EQ_U(pci_host_conf_read(&h, 5, 1), 0x80);
	pci_host_conf_write(&h, 0, 4, addr(0, 1, 0, 0x3c));
	pci_host_conf_write(&h, 5, 1, 0xab);
	CHECK_EQ_U(f.cfg[0x3d], 0xab);

	/* Empty slots, other functions, other buses and a disabled address read all ones. */
	pci_host_conf_write(&h, 0, 4, addr(0, 2, 0, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0xffffffff);
	pci_host_conf_write(&h, 0, 4, addr(0, 1, 1, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 2), 0xffff);
	pci_host_conf_write(&h, 0, 4, addr(1, 1, 0, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0xffffffff);
	pci_host_conf_write(&h, 0, 4, addr(0, 1, 0, 0) & 0x7fffffff);
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0xffffffff);
	f.writes = 0;
	pci_host_conf_write(&h, 4, 4, 0);
	CHECK_EQ_U(f.writes, 0);
	/* Byte writes to the address port do not change it (only dword writes do). */
	pci_host_conf_write(&h, 0, 4, addr(0, 1, 0, 0));
	pci_host_conf_write(&h, 0, 1, 0);
	CHECK_EQ_U(pci_host_conf_read(&h, 0, 4), addr(0, 1, 0, 0));
	pci_host_destroy(&h);
}

/* ECAM address of bus:dev.fn register reg (PCIe 5.0, 7.2.2), independent of pci_ecam.c. */
static uint64_t ecam(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0xc0000000ull + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | reg);
}

static uint32_t mmio_rd(const struct vm_bus *b, uint64_t a, unsigned len)
{
	uint8_t d[4] = { 0 };
	uint32_t v = 0;

	CHECK(vm_bus_read(b, a, d, len));
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void mmio_wr(const struct vm_bus *b, uint64_t a, unsigned len, uint32_t v)
{
	uint8_t d[4];

	for (unsigned i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	CHECK(vm_bus_write(b, a, d, len));
}

/* ECAM reaches the same functions as 0xcf8/0xcfc, and their extended space (0x100-0xfff). */
TEST(ecam_reaches_extended_space)
{
	static struct pci_host h;
	static struct fake f;
	struct vm_bus mmio = { 0 };
	struct err e = { 0 };

	f.cfg[0] = 0x86, f.cfg[1] = 0x80, f.cfg[2] = 0xd3, f.cfg[3] = 0x10;
	f.cfg[0x100] = 0x01, f.cfg[0x102] = 0x01, f.cfg[0x103] = 0x14; /* AER, next 0x140 */
	f.cfg[0xffc] = 0x5a;
	REQUIRE(pci_host_init(&h, NULL, &e) == 0);
	REQUIRE(pci_ecam_init(&h, &mmio, &e) == 0);
	REQUIRE(pci_host_add(&h, 3, &fake_ops, &f, NULL, &e) == 0);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 0, 0, 0), 4), 0x00081b36);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 3, 0, 0), 4), 0x10d38086);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 3, 0, 2), 2), 0x10d3);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 3, 0, 0x100), 4), 0x14010001);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 3, 0, 0xffc), 1), 0x5a);
	/* The same function through mechanism #1, which stops at 0xff. */
	pci_host_conf_write(&h, 0, 4, addr(0, 3, 0, 0));
	CHECK_EQ_U(pci_host_conf_read(&h, 4, 4), 0x10d38086);
	/* Writes land in the function, extended space included. */
	mmio_wr(&mmio, ecam(0, 3, 0, 0x204), 4, 0xcafef00d);
	CHECK_EQ_U(f.cfg[0x204], 0x0d);
	CHECK_EQ_U(f.cfg[0x207], 0xca);
	mmio_wr(&mmio, ecam(0, 3, 0, 0x3d), 1, 0x77);
	CHECK_EQ_U(f.cfg[0x3d], 0x77);
	/* Nothing else answers: other slots, functions, buses read all ones; misaligned too. */
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 4, 0, 0), 4), 0xffffffff);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 3, 1, 0), 4), 0xffffffff);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(1, 3, 0, 0), 4), 0xffffffff);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(15, 0, 0, 0), 2), 0xffff);
	CHECK_EQ_U(mmio_rd(&mmio, ecam(0, 3, 0, 1), 2), 0xffff);
	f.writes = 0;
	mmio_wr(&mmio, ecam(0, 3, 0, 0x102), 4, 0);
	mmio_wr(&mmio, ecam(2, 3, 0, 0x100), 4, 0);
	CHECK_EQ_U(f.writes, 0);
	/* The window is PCI_ECAM_BUSES MiB: bus 16 is not ours. */
	{
		uint8_t d[4];

		CHECK(!vm_bus_read(&mmio, ecam(PCI_ECAM_BUSES, 0, 0, 0), d, 4));
	}
	pci_host_destroy(&h);
}

int main(void)
{
	RUN(conf1);
	RUN(ecam_reaches_extended_space);
	return CHECK_MAIN_END();
}
