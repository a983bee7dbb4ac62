/* test_pcicap.c: MSI/MSI-X capability parsing through libpci's dump method, on config spaces
 * taken from QEMU 7.2's nvme, e1000e and edu (tests/fixtures/pci), plus field-decoding and BAR
 * boundary properties (vfio-property-tests.md section 8). */
#include "check.h"
#include "pcicap.h"

#include <limits.h>

static char fixture_dir[PATH_MAX];

static const char *fixture(const char *name)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
	return path;
}

static int read_dev(const char *file, const char *bdf, struct pcicap_info *info, struct err *e)
{
	struct pcicap_ctx *c;
	struct pci_addr a;
	bool has_domain;
	int rc;

	rc = pci_addr_parse(bdf, &a, &has_domain, e);
	if (rc)
		return rc;
	rc = pcicap_open(&c, fixture(file), e);
	if (rc)
		return rc;
	rc = pcicap_read(c, &a, info, e);
	pcicap_close(c);
	return rc;
}

TEST(nvme_msix_65_vectors_sharing_bar0)
{
	struct pcicap_info i;
	struct err e = { 0 };

	REQUIRE(read_dev("qemu-lab.lspci", "0000:00:04.0", &i, &e) == 0);
	CHECK_EQ_U(i.vendor, 0x1b36);
	CHECK_EQ_U(i.device, 0x0010);
	CHECK(!i.msi.present);
	REQUIRE(i.msix.present);
	CHECK_EQ_U(i.msix.offset, 0x40);
	CHECK_EQ_U(i.msix.table_size, 65);
	CHECK_EQ_U(i.msix.table_bir, 0);
	CHECK_EQ_U(i.msix.table_offset, 0x2000);
	CHECK_EQ_U(i.msix.pba_bir, 0);
	CHECK_EQ_U(i.msix.pba_offset, 0x3000);
	CHECK(!i.msix.enabled && !i.msix.function_mask);
}

TEST(e1000e_msi_and_msix)
{
	struct pcicap_info i;
	struct err e = { 0 };

	REQUIRE(read_dev("qemu-lab.lspci", "01:00.0", &i, &e) == 0);
	CHECK_EQ_U(i.vendor, 0x8086);
	CHECK_EQ_U(i.device, 0x10d3);
	REQUIRE(i.msi.present);
	CHECK_EQ_U(i.msi.offset, 0xd0);
	CHECK_EQ_U(i.msi.vectors_max, 1);
	CHECK_EQ_U(i.msi.vectors_enabled, 1);
	CHECK(i.msi.is_64bit && !i.msi.per_vector_mask && !i.msi.enabled);
	REQUIRE(i.msix.present);
	CHECK_EQ_U(i.msix.offset, 0xa0);
	CHECK_EQ_U(i.msix.table_size, 5);
	CHECK_EQ_U(i.msix.table_bir, 3);
	CHECK_EQ_U(i.msix.table_offset, 0);
	CHECK_EQ_U(i.msix.pba_bir, 3);
	CHECK_EQ_U(i.msix.pba_offset, 0x2000);
}

TEST(edu_msi_only)
{
	struct pcicap_info i;
	struct err e = { 0 };

	REQUIRE(read_dev("qemu-lab.lspci", "0000:00:06.0", &i, &e) == 0);
	CHECK_EQ_U(i.device, 0x11e8);
	REQUIRE(i.msi.present);
	CHECK_EQ_U(i.msi.offset, 0x40);
	CHECK(i.msi.is_64bit && !i.msi.per_vector_mask);
	CHECK_EQ_U(i.msi.vectors_max, 1);
	CHECK(!i.msix.present);
}

TEST(msi_every_field)
{
	struct pcicap_info i;
	struct err e = { 0 };

	REQUIRE(read_dev("variants.lspci", "00:10.0", &i, &e) == 0);
	REQUIRE(i.msi.present);
	CHECK(i.msi.enabled && i.msi.per_vector_mask && !i.msi.is_64bit);
	CHECK_EQ_U(i.msi.vectors_max, 8);
	CHECK_EQ_U(i.msi.vectors_enabled, 4);
	CHECK_EQ_U(i.msi.address, 0xfee01000);
	CHECK_EQ_U(i.msi.data, 0x4021);
	CHECK_EQ_U(i.msi.mask, 0xa);
	CHECK_EQ_U(i.msi.pending, 1);
	REQUIRE(read_dev("variants.lspci", "00:11.0", &i, &e) == 0);
	CHECK(!i.msi.enabled && i.msi.per_vector_mask && i.msi.is_64bit);
	CHECK_EQ_U(i.msi.offset, 0x40);
	CHECK_EQ_U(i.msi.vectors_max, 32);
	CHECK_EQ_U(i.msi.address, 0x1fee02000ull);
	CHECK_EQ_U(i.msi.data, 0x1234);
	CHECK_EQ_U(i.msi.mask, 0x7fffffff);
	CHECK_EQ_U(i.msi.pending, 0x80000000);
	REQUIRE(i.msix.present);
	CHECK(i.msix.enabled && i.msix.function_mask);
	CHECK_EQ_U(i.msix.table_size, 2048);
	CHECK_EQ_U(i.msix.table_bir, 4);
	CHECK_EQ_U(i.msix.table_offset, 0x10000);
	CHECK_EQ_U(i.msix.pba_bir, 5);
	CHECK_EQ_U(i.msix.pba_offset, 0x18000);
}

TEST(no_capabilities_and_no_device)
{
	struct pcicap_info i;
	struct err e = { 0 };

	REQUIRE(read_dev("variants.lspci", "00:12.0", &i, &e) == 0);
	CHECK(!i.msi.present && !i.msix.present);
	CHECK_EQ_I(read_dev("variants.lspci", "00:13.0", &i, &e), -ENODEV);
	CHECK_STR(e.msg, "0000:00:13.0: no such PCI device");
	CHECK(read_dev("missing.lspci", "00:13.0", &i, &e) < 0);
}

TEST(msix_bars_of_the_lab_devices)
{
	struct pcicap_info i;
	struct err e = { 0 };
	uint64_t nvme[6] = { 16384 }, e1000e[6] = { 128 << 10, 128 << 10, 32, 16 << 10 };

	REQUIRE(read_dev("qemu-lab.lspci", "00:04.0", &i, &e) == 0);
	CHECK_EQ_I(pcicap_msix_check_bars(&i.msix, nvme, &e), 0);
	nvme[0] = 0x2000 + 65 * 16 - 1;
	CHECK_EQ_I(pcicap_msix_check_bars(&i.msix, nvme, &e), -EINVAL);
	REQUIRE(read_dev("qemu-lab.lspci", "01:00.0", &i, &e) == 0);
	CHECK_EQ_I(pcicap_msix_check_bars(&i.msix, e1000e, &e), 0);
	e1000e[3] = 0;
	CHECK_EQ_I(pcicap_msix_check_bars(&i.msix, e1000e, &e), -EINVAL);
	CHECK(strstr(e.msg, "BAR 3 is not implemented") != NULL);
}

/* Decoding: every control/table/PBA word decodes to fields that re-encode to the same bits. */
TEST(prop_decode_roundtrip)
{
	struct prop_rng r = { prop_seed("prop_decode_roundtrip") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		uint16_t ctl = (uint16_t)prop_next(&r);
		uint32_t tab = (uint32_t)prop_next(&r), pba = (uint32_t)prop_next(&r);
		struct pcicap_msix x;
		struct pcicap_msi m;
		bool ok = true;

		pcicap_decode_msix(ctl, tab, pba, &x);
		ok &= x.table_size >= 1 && x.table_size <= 2048;
		ok &= (uint16_t)((x.table_size - 1) | (x.function_mask << 14) |
				 (x.enabled << 15)) == (ctl & 0xc7ff);
		ok &= (x.table_offset | x.table_bir) == tab && (x.pba_offset | x.pba_bir) == pba;
		ok &= x.table_offset % 8 == 0 && x.table_bir < 8;
		pcicap_decode_msi_control(ctl, &m);
		ok &= m.vectors_max >= 1 && m.vectors_max <= 128 &&
		      !(m.vectors_max & (m.vectors_max - 1));
		ok &= m.enabled == (ctl & 1) && m.is_64bit == !!(ctl & 0x80) &&
		      m.per_vector_mask == !!(ctl & 0x100);
		if (!ok) {
			CHECK_FAIL_AT("case %" PRIu64 ": control 0x%04x table 0x%08x pba 0x%08x", c,
				      ctl, tab, pba);
			return;
		}
	}
}

/*
 * Section 8 (BAR boundaries): for BIR 0..7 and random BAR sizes and offsets, the table and PBA
 * are accepted exactly when the BIR names an implemented BAR (0..5) and the area fits without
 * wrapping.
 */
TEST(prop_msix_bar_boundaries)
{
	struct prop_rng r = { prop_seed("prop_msix_bar_boundaries") };
	uint64_t cases = prop_cases(10000);

	for (uint64_t c = 0; c < cases; c++) {
		uint64_t bars[6];
		struct pcicap_msix x = { .present = true };
		struct err e = { 0 };
		bool want;

		for (int b = 0; b < 6; b++)
			bars[b] = prop_below(&r, 4) ? 0x1000ull << prop_below(&r, 12) : 0;
		x.table_size = 1 + (unsigned)prop_below(&r, 2048);
		x.table_bir = (uint8_t)prop_below(&r, 8);
		x.pba_bir = (uint8_t)prop_below(&r, 8);
		x.table_offset = (uint32_t)(prop_below(&r, 2) ? prop_next(&r) & ~7u
							      : (prop_below(&r, 64) * 0x1000));
		x.pba_offset = (uint32_t)(prop_below(&r, 64) * 0x1000);
		want = x.table_bir < 6 && x.pba_bir < 6 && bars[x.table_bir] && bars[x.pba_bir] &&
		       (uint64_t)x.table_offset + 16ull * x.table_size <= bars[x.table_bir] &&
		       (uint64_t)x.pba_offset + 8ull * ((x.table_size + 63) / 64) <=
			       bars[x.pba_bir];
		if ((pcicap_msix_check_bars(&x, bars, &e) == 0) != want) {
			CHECK_FAIL_AT("case %" PRIu64 ": bir %u/%u offsets 0x%x/0x%x size %u: %s",
				      c, x.table_bir, x.pba_bir, x.table_offset, x.pba_offset,
				      x.table_size, e.msg);
			return;
		}
	}
}

int main(void)
{
	const char *slash;

	/* Fixtures live beside this file's tests/ folder, wherever the binary runs from. */
	snprintf(fixture_dir, sizeof(fixture_dir), "%s", __FILE__);
	slash = strstr(fixture_dir, "unit/test_pcicap.c");
	if (slash)
		snprintf(fixture_dir + (slash - fixture_dir),
			 sizeof(fixture_dir) - (size_t)(slash - fixture_dir), "fixtures/pci");
	RUN(nvme_msix_65_vectors_sharing_bar0);
	RUN(e1000e_msi_and_msix);
	RUN(edu_msi_only);
	RUN(msi_every_field);
	RUN(no_capabilities_and_no_device);
	RUN(msix_bars_of_the_lab_devices);
	RUN(prop_decode_roundtrip);
	RUN(prop_msix_bar_boundaries);
	return CHECK_MAIN_END();
}
