/* test_pci_host.c: configuration mechanism #1 as a guest's PCI code drives it. */
#include "check.h"
#include "pci_host.h"

struct fake {
	uint8_t cfg[256];
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

static const struct pci_fn_ops fake_ops = { fake_read, fake_write };

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

int main(void)
{
	RUN(conf1);
	return CHECK_MAIN_END();
}
