/* test_pciaddr.c: PCI address and selector parsing. */
#include "check.h"
#include "pciaddr.h"

TEST(full_and_short)
{
	struct pci_addr a;
	bool dom;
	char buf[PCI_ADDR_STRLEN];

	CHECK_EQ_I(pci_addr_parse("0000:03:00.0", &a, &dom, NULL), 0);
	CHECK(dom);
	CHECK_STR(pci_addr_format(&a, buf), "0000:03:00.0");
	CHECK_EQ_I(pci_addr_parse("03:1f.7", &a, &dom, NULL), 0);
	CHECK(!dom);
	CHECK_STR(pci_addr_format(&a, buf), "0000:03:1f.7");
	CHECK_EQ_I(pci_addr_parse("10000:ff:00.1", &a, &dom, NULL), 0);
	CHECK_STR(pci_addr_format(&a, buf), "10000:ff:00.1");
	CHECK_EQ_I(pci_addr_parse("0000:0A:0b.3", &a, &dom, NULL), 0);
	CHECK_STR(pci_addr_format(&a, buf), "0000:0a:0b.3");
}

TEST(rejects_with_reason)
{
	static const char *bad[] = {
		"",	    "zz:00.0",	  "0000:00:99.9",  "00:20.0",	    "00:00.8",
		"100:00.0", "0000:00:00", "00.0",	   "0000:00:00.0x", "1:2:3:4.0",
		":00.0",    "00:00.",	  "0000:00:00.00", "00:00.0 ",	    "-1:00.0"
	};
	struct pci_addr a;
	struct err e = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = pci_addr_parse(bad[i], &a, NULL, &e);

		if (rc != -EINVAL)
			CHECK_FAIL_AT("'%s' parsed (rc %d)", bad[i], rc);
	}
	pci_addr_parse("0000:00:99.9", &a, NULL, &e);
	CHECK(strstr(e.msg, "device 0x99 is out of range") != NULL);
	pci_addr_parse("00:00.8", &a, NULL, &e);
	CHECK(strstr(e.msg, "function 8 is out of range") != NULL);
}

/* Exhaustive over bus, device, function (65,536 addresses) in two domains: format then parse. */
TEST(roundtrip_exhaustive)
{
	for (uint32_t dom = 0; dom <= 0x10000; dom += 0x10000)
		for (uint32_t v = 0; v < 65536; v++) {
			struct pci_addr a = { dom, (uint8_t)(v >> 8), (uint8_t)((v >> 3) & 31),
					      (uint8_t)(v & 7) },
					b;
			char buf[PCI_ADDR_STRLEN];
			bool has;

			pci_addr_format(&a, buf);
			if (pci_addr_parse(buf, &b, &has, NULL) || !has || !pci_addr_eq(&a, &b)) {
				CHECK_FAIL_AT("%s does not round-trip", buf);
				return;
			}
			if (v && pci_addr_cmp(&(struct pci_addr){ dom, (uint8_t)((v - 1) >> 8),
								  (uint8_t)(((v - 1) >> 3) & 31),
								  (uint8_t)((v - 1) & 7) },
					      &a) >= 0) {
				CHECK_FAIL_AT("order broken at %s", buf);
				return;
			}
		}
}

TEST(selectors)
{
	struct pci_sel s;
	struct err e = { 0 };

	CHECK_EQ_I(pci_sel_parse("10de:2330", &s, &e), 0);
	CHECK_EQ_I(s.kind, PCI_SEL_ID);
	CHECK_EQ_U(s.vendor, 0x10de);
	CHECK_EQ_U(s.device, 0x2330);
	CHECK_EQ_I(pci_sel_parse("03:00.0", &s, &e), 0);
	CHECK_EQ_I(s.kind, PCI_SEL_SHORT_ADDR);
	CHECK_EQ_I(pci_sel_parse("0000:03:00.0", &s, &e), 0);
	CHECK_EQ_I(s.kind, PCI_SEL_ADDR);
	CHECK_EQ_I(pci_sel_parse("10de:233", &s, &e), -EINVAL);
	CHECK_EQ_I(pci_sel_parse("10de:23300", &s, &e), -EINVAL);
	CHECK_EQ_I(pci_sel_parse("nvidia", &s, &e), -EINVAL);
	CHECK(strstr(e.msg, "'nvidia': not a PCI address or vendor:device ID") != NULL);
	CHECK_EQ_I(pci_sel_parse("", &s, &e), -EINVAL);
}

int main(void)
{
	RUN(full_and_short);
	RUN(rejects_with_reason);
	RUN(roundtrip_exhaustive);
	RUN(selectors);
	return CHECK_MAIN_END();
}
