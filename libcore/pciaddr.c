/* pciaddr.c: parsing and formatting PCI addresses and device selectors. */
#include "pciaddr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Read exactly 1..max hex digits; returns the number consumed, 0 when none. */
static int hex_field(const char *s, int max, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0;

	while (n < max && isxdigit((unsigned char)s[n])) {
		int c = tolower((unsigned char)s[n]);

		v = v * 16 + (uint32_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
		n++;
	}
	*out = v;
	return n;
}

/* What the user typed, quoted and escaped for a message (it may hold anything). */
#define SHOWN(s) err_escape((char[80]){ 0 }, 80, s)

int pci_addr_parse(const char *s, struct pci_addr *a, bool *has_domain, struct err *e)
{
	uint32_t f[4];
	int nf = 0;
	const char *p = s;

	if (!s || !*s)
		return err_set(e, EINVAL, "'': not a PCI address (empty)");
	/* Up to three colon-separated hex fields, then ".fn". */
	for (;;) {
		int n;

		if (nf == 3)
			goto bad;
		n = hex_field(p, 8, &f[nf]);
		if (n == 0 || (isxdigit((unsigned char)p[n])))
			goto bad;
		nf++;
		p += n;
		if (*p == ':') {
			p++;
			continue;
		}
		break;
	}
	if (*p != '.' || nf < 2)
		goto bad;
	p++;
	if (!isdigit((unsigned char)p[0]) || p[1] != '\0')
		goto bad;
	f[nf] = (uint32_t)(p[0] - '0');
	{
		uint32_t dom = nf == 3 ? f[0] : 0, bus = f[nf - 2], dev = f[nf - 1], fn = f[nf];

		if (bus > 0xff)
			return err_set(e, EINVAL, "'%s': bus 0x%x is out of range (00-ff)",
				       SHOWN(s), bus);
		if (dev > 0x1f)
			return err_set(e, EINVAL, "'%s': device 0x%x is out of range (00-1f)",
				       SHOWN(s), dev);
		if (fn > 7)
			return err_set(e, EINVAL, "'%s': function %u is out of range (0-7)",
				       SHOWN(s), fn);
		a->domain = dom;
		a->bus = (uint8_t)bus;
		a->dev = (uint8_t)dev;
		a->fn = (uint8_t)fn;
		if (has_domain)
			*has_domain = nf == 3;
	}
	return 0;
bad:
	return err_set(e, EINVAL,
		       "'%s': not a PCI address (expected [DOMAIN:]BUS:DEVICE.FUNCTION, e.g. "
		       "0000:03:00.0 or 03:00.0)",
		       SHOWN(s));
}

const char *pci_addr_format(const struct pci_addr *a, char buf[PCI_ADDR_STRLEN])
{
	snprintf(buf, PCI_ADDR_STRLEN, "%04x:%02x:%02x.%u", a->domain, a->bus, a->dev, a->fn);
	return buf;
}

int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b)
{
	uint64_t ka =
		(uint64_t)a->domain << 16 | (uint64_t)a->bus << 8 | (uint64_t)a->dev << 3 | a->fn;
	uint64_t kb =
		(uint64_t)b->domain << 16 | (uint64_t)b->bus << 8 | (uint64_t)b->dev << 3 | b->fn;

	return ka < kb ? -1 : ka > kb;
}

bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b)
{
	return pci_addr_cmp(a, b) == 0;
}

int pci_sel_parse(const char *s, struct pci_sel *sel, struct err *e)
{
	bool has_domain;
	uint32_t v, d;
	int n, m;

	memset(sel, 0, sizeof(*sel));
	if (s && !strchr(s, '.')) {
		/* vendor:device, exactly four hex digits each (as lspci -d prints them) */
		n = hex_field(s, 5, &v);
		if (n == 4 && s[4] == ':') {
			m = hex_field(s + 5, 5, &d);
			if (m == 4 && s[9] == '\0') {
				sel->kind = PCI_SEL_ID;
				sel->vendor = (uint16_t)v;
				sel->device = (uint16_t)d;
				return 0;
			}
		}
		return err_set(e, EINVAL,
			       "'%s': not a PCI address or vendor:device ID (expected e.g. "
			       "0000:03:00.0, 03:00.0 or 10de:2330)",
			       SHOWN(s));
	}
	if (pci_addr_parse(s, &sel->addr, &has_domain, e))
		return -EINVAL;
	sel->kind = has_domain ? PCI_SEL_ADDR : PCI_SEL_SHORT_ADDR;
	return 0;
}
