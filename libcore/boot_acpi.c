/* boot_acpi.c: ACPI tables (RSDP, XSDT, hardware-reduced FADT, MADT, DSDT with the devices). */
#include <errno.h>
#include <stdio.h>

#include "boot_priv.h"
#include "layout.h"
#include "pci_host.h"

/*
 * Why ACPI at all: distribution kernels (Debian's among them) are built without
 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so the only way they find virtio-mmio devices is the DSDT
 * (_HID "LNRO0005"). The tables live in the BIOS area below 1 MiB, outside e820 RAM.
 */
#define ACPI_BASE_GPA BOOT_ACPI_GPA
#define ACPI_MAX      BOOT_ACPI_MAX

/* A growable byte buffer for AML and tables (fixed capacity: the tables are small). */
struct abuf {
	uint8_t b[8192];
	size_t n;
	int overflow;
};

static void put(struct abuf *a, const void *p, size_t n)
{
	if (a->n + n > sizeof(a->b)) {
		a->overflow = 1;
		return;
	}
	memcpy(a->b + a->n, p, n);
	a->n += n;
}

static void put8(struct abuf *a, uint8_t v)
{
	put(a, &v, 1);
}

static void put16(struct abuf *a, uint16_t v)
{
	uint8_t t[2];

	boot_put16(t, v);
	put(a, t, 2);
}

static void put32(struct abuf *a, uint32_t v)
{
	uint8_t t[4];

	boot_put32(t, v);
	put(a, t, 4);
}

/* AML PkgLength (ACPI 6.4 §20.2.4): the length counts its own encoding bytes. */
static void put_pkg(struct abuf *a, const struct abuf *body)
{
	size_t len = body->n;

	if (len + 1 < 0x40) {
		put8(a, (uint8_t)(len + 1));
	} else if (len + 2 < 0x1000) {
		len += 2;
		put8(a, (uint8_t)(0x40 | (len & 0xf)));
		put8(a, (uint8_t)(len >> 4));
	} else {
		len += 3;
		put8(a, (uint8_t)(0x80 | (len & 0xf)));
		put8(a, (uint8_t)(len >> 4));
		put8(a, (uint8_t)(len >> 12));
	}
	put(a, body->b, body->n);
	if (body->overflow)
		a->overflow = 1;
}

static void aml_name_string(struct abuf *a, const char *name, const char *value)
{
	put8(a, 0x08); /* NameOp */
	put(a, name, 4);
	put8(a, 0x0d); /* StringPrefix */
	put(a, value, strlen(value) + 1);
}

static void aml_name_int(struct abuf *a, const char *name, uint32_t v)
{
	put8(a, 0x08);
	put(a, name, 4);
	put8(a, 0x0c); /* DWordPrefix */
	put32(a, v);
}

/*
 * The end of a Device: Name(_CRS, Buffer() { the resource template in buf, then the End tag })
 * into dev's body, then Device(dev) into a.
 */
static void aml_device_crs(struct abuf *a, struct abuf *dev, struct abuf *buf)
{
	static struct abuf crs;

	memset(&crs, 0, sizeof(crs));
	put8(buf, 0x79); /* End tag */
	put8(buf, 0);
	put8(&crs, 0x0a); /* BytePrefix: the buffer size */
	put8(&crs, (uint8_t)buf->n);
	put(&crs, buf->b, buf->n);
	put8(dev, 0x08); /* NameOp */
	put(dev, "_CRS", 4);
	put8(dev, 0x11); /* BufferOp */
	put_pkg(dev, &crs);
	put8(a, 0x5b); /* DeviceOp */
	put8(a, 0x82);
	put_pkg(a, dev);
}

/* Device(VRnn) { _HID "LNRO0005", _UID n, _CRS { Memory32Fixed, Interrupt (edge, high) } } */
static void aml_virtio_mmio(struct abuf *a, unsigned idx, uint32_t base, uint32_t size,
			    uint32_t irq)
{
	static struct abuf dev, buf;
	char name[5];

	memset(&dev, 0, sizeof(dev));
	memset(&buf, 0, sizeof(buf));
	snprintf(name, sizeof(name), "VR%02u", idx % 100);
	put(&dev, name, 4);
	aml_name_string(&dev, "_HID", "LNRO0005");
	aml_name_int(&dev, "_UID", idx);
	/* the resource template: Memory32Fixed + Extended Interrupt + End tag */
	put8(&buf, 0x86);
	put16(&buf, 9);
	put8(&buf, 1); /* read-write */
	put32(&buf, base);
	put32(&buf, size);
	put8(&buf, 0x89);
	put16(&buf, 6);
	put8(&buf, 0x03); /* consumer, edge, active high, exclusive */
	put8(&buf, 1);
	put32(&buf, irq);
	aml_device_crs(a, &dev, &buf);
}

/*
 * Device(NAME) { _HID EisaId(eisa), _UID uid, _CRS { IO port/len..., IRQNoFlags {irq} } }: a
 * hardware-reduced ACPI kernel has no legacy PIC and maps ISA interrupts only for devices the
 * firmware describes, so each legacy device's interrupt must be described here: COM1 (IRQ 4) and
 * the i8042's keyboard (IRQ 1, which Ctrl-Alt-Del raises; without it Linux's i8042 probe fails
 * with EINVAL, requesting an IRQ nothing mapped).
 */
struct aml_isa {
	const char *name;
	uint8_t eisa[4]; /* EisaId() compressed */
	uint32_t uid;
	uint16_t port[2], len[2]; /* len 0: no second range */
	unsigned irq;
};

static void aml_isa_dev(struct abuf *a, const struct aml_isa *d)
{
	static struct abuf dev, buf;

	memset(&dev, 0, sizeof(dev));
	memset(&buf, 0, sizeof(buf));
	put(&dev, d->name, 4);
	put8(&dev, 0x08);
	put(&dev, "_HID", 4);
	put8(&dev, 0x0c);
	put(&dev, d->eisa, 4);
	aml_name_int(&dev, "_UID", d->uid);
	for (unsigned i = 0; i < 2 && d->len[i]; i++) {
		put8(&buf, 0x47); /* I/O port descriptor, 16-bit decode */
		put8(&buf, 1);
		put16(&buf, d->port[i]);
		put16(&buf, d->port[i]);
		put8(&buf, 1);
		put8(&buf, (uint8_t)d->len[i]);
	}
	put8(&buf, 0x22); /* IRQ descriptor without flags: edge, active high */
	put16(&buf, (uint16_t)(1u << d->irq));
	aml_device_crs(a, &dev, &buf);
}

static const struct aml_isa aml_com1 = { "COM1", { 0x41, 0xd0, 0x05, 0x01 } /* PNP0501 */,
					 1,	 { 0x3f8 },
					 { 8 },	 SERIAL_COM1_IRQ };
static const struct aml_isa aml_ps2_keyboard = { "PS2K",   { 0x41, 0xd0, 0x03, 0x03 } /* PNP0303 */,
						 1,	   { I8042_DATA_PORT, I8042_COMMAND_PORT },
						 { 1, 1 }, I8042_KBD_IRQ };
static void put64(struct abuf *a, uint64_t v)
{
	put32(a, (uint32_t)v);
	put32(a, (uint32_t)(v >> 32));
}

/*
 * An address space descriptor (ACPI 6.4 §6.4.3.5.1-3) the bridge produces: fixed minimum and
 * maximum, positive decode; granularity and translation 0. Word, DWord or QWord by width.
 */
enum { ASPACE_MEM = 0, ASPACE_IO = 1, ASPACE_BUS = 2 };

static void aml_addr_space(struct abuf *a, unsigned width, uint8_t type, uint8_t type_flags,
			   uint64_t min, uint64_t len)
{
	static const uint8_t tag[] = { [2] = 0x88, [4] = 0x87, [8] = 0x8a };
	uint64_t v[5] = { 0, min, min + len - 1, 0, len }; /* granularity .. length */

	put8(a, tag[width]);
	put16(a, (uint16_t)(3 + 5 * width));
	put8(a, type);
	put8(a, 0x0c); /* _MAF, _MIF fixed; producer; positive decode */
	put8(a, type_flags);
	for (unsigned i = 0; i < 5; i++) {
		if (width == 2)
			put16(a, (uint16_t)v[i]);
		else if (width == 4)
			put32(a, (uint32_t)v[i]);
		else
			put64(a, v[i]);
	}
}

/* An AML integer in its shortest encoding (ZeroOp, OneOp, Byte/Word/DWordPrefix). */
static void aml_int(struct abuf *a, uint32_t v)
{
	if (v <= 1) {
		put8(a, (uint8_t)v);
	} else if (v <= 0xff) {
		put8(a, 0x0a);
		put8(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		put8(a, 0x0b);
		put16(a, (uint16_t)v);
	} else {
		put8(a, 0x0c);
		put32(a, v);
	}
}

/*
 * Name(_PRT, Package { Package { 0xSSSSFFFF, pin, Zero, GSI }, ... }) (ACPI 6.4 §6.2.13): every
 * slot's INTA-INTD straight to an IOAPIC pin (no link device), swizzled as layout.h says.
 */
static void aml_pci_prt(struct abuf *a)
{
	static struct abuf prt, entry;

	memset(&prt, 0, sizeof(prt));
	put8(&prt, (PCI_HOST_SLOTS - 1) * 4); /* NumElements */
	for (unsigned slot = 1; slot < PCI_HOST_SLOTS; slot++) {
		for (unsigned pin = 1; pin <= 4; pin++) {
			memset(&entry, 0, sizeof(entry));
			put8(&entry, 4);
			aml_int(&entry, slot << 16 | 0xffff);
			aml_int(&entry, pin - 1);
			aml_int(&entry, 0);
			aml_int(&entry, pci_intx_gsi(slot, pin));
			put8(&prt, 0x12); /* PackageOp */
			put_pkg(&prt, &entry);
		}
	}
	put8(a, 0x08);
	put(a, "_PRT", 4);
	put8(a, 0x12);
	put_pkg(a, &prt);
}

/*
 * Device(PCI0) { _HID EisaId("PNP0A03"), _UID 0, _BBN 0, _PRT, _CRS { bus 0, I/O 0xcf8/8, the
 * I/O, 32-bit and 64-bit windows } }: the guest finds bus 0 and where its BARs may live through
 * ACPI, so it also takes its interrupt routing (the MADT's IOAPIC) from ACPI. A kernel told
 * pci=noacpi instead ignores the MADT's IOAPIC and, built without the MP table parser (Debian's
 * cloud flavour), has no interrupt controller left.
 */
static void aml_pci_host(struct abuf *a, const struct boot_acpi_pci *pci)
{
	static struct abuf dev, buf;
	static const uint8_t pnp0a03[4] = { 0x41, 0xd0, 0x0a, 0x03 };

	memset(&dev, 0, sizeof(dev));
	memset(&buf, 0, sizeof(buf));
	put(&dev, "PCI0", 4);
	put8(&dev, 0x08);
	put(&dev, "_HID", 4);
	put8(&dev, 0x0c);
	put(&dev, pnp0a03, 4);
	aml_name_int(&dev, "_UID", 0);
	aml_name_int(&dev, "_BBN", 0);
	aml_pci_prt(&dev);
	aml_addr_space(&buf, 2, ASPACE_BUS, 0, 0, 1);
	put8(&buf, 0x47); /* I/O port descriptor: configuration mechanism #1 */
	put8(&buf, 1);
	put16(&buf, PCI_HOST_CONF_ADDR);
	put16(&buf, PCI_HOST_CONF_ADDR);
	put8(&buf, 1);
	put8(&buf, PCI_HOST_CONF_PORTS);
	aml_addr_space(&buf, 2, ASPACE_IO, 0x03, pci->io_port, pci->io_size); /* entire range */
	aml_addr_space(&buf, 4, ASPACE_MEM, 0x01, pci->mmio32_gpa, pci->mmio32_size); /* RW */
	if (pci->mmio64_size) /* sized from the devices' 64-bit BARs: none, no window */
		aml_addr_space(&buf, 8, ASPACE_MEM, 0x01, pci->mmio64_gpa, pci->mmio64_size);
	aml_device_crs(a, &dev, &buf);
}

static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	boot_put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "MVMRUN", 6);
	memcpy(t + 16, "MICROVM ", 8);
	boot_put32(t + 24, 1);
	memcpy(t + 28, "MVMR", 4);
	boot_put32(t + 32, 1);
}

static uint8_t acpi_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void finish(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)(0 - acpi_sum(t, len));
}

/* A Generic Address Structure for an 8-bit I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = 1; /* system I/O */
	g[1] = 8;
	g[2] = 0;
	g[3] = 1; /* byte access */
	boot_put64(g + 4, port);
}

int boot_acpi_write(const struct vm_ram *ram, unsigned nr_cpus, const struct boot_acpi_dev *devs,
		    unsigned nr_devs, const struct boot_acpi_pci *pci, gpa_t *rsdp_gpa,
		    struct err *e)
{
	uint8_t *base = vm_ram_hva(ram, ACPI_BASE_GPA, ACPI_MAX);
	static struct abuf body;
	gpa_t rsdp = ACPI_BASE_GPA, xsdt = rsdp + 0x40, fadt = xsdt + 0x40, madt = fadt + 0x140;
	gpa_t dsdt = madt + 0x400;
	uint8_t *t;
	size_t len;

	if (!base)
		return err_input(e, ENOMEM, "memory too small for the ACPI tables");
	if (nr_cpus == 0 || nr_cpus > BOOT_MAX_CPUS)
		return err_input(e, EINVAL, "%u CPUs: between 1 and %u are supported", nr_cpus,
				 BOOT_MAX_CPUS);
	memset(base, 0, ACPI_MAX);

	/* DSDT: \_S5 (so that poweroff uses the sleep register) and the virtio-mmio devices. */
	memset(&body, 0, sizeof(body));
	{
		static struct abuf s5, sb;

		memset(&s5, 0, sizeof(s5));
		memset(&sb, 0, sizeof(sb));
		put8(&body, 0x08);
		put(&body, "_S5_", 4);
		put8(&body, 0x12); /* PackageOp */
		put8(&s5, 2);	   /* NumElements */
		put8(&s5, 0x0a);
		put8(&s5, 5); /* SLP_TYPa = 5 */
		put8(&s5, 0x00);
		put_pkg(&body, &s5);
		put(&sb, "_SB_", 4);
		aml_isa_dev(&sb, &aml_com1);
		aml_isa_dev(&sb, &aml_ps2_keyboard);
		for (unsigned i = 0; i < nr_devs; i++)
			aml_virtio_mmio(&sb, i, (uint32_t)devs[i].mmio_gpa,
					(uint32_t)devs[i].mmio_size, devs[i].irq);
		if (pci)
			aml_pci_host(&sb, pci);
		put8(&body, 0x10); /* ScopeOp */
		put_pkg(&body, &sb);
	}
	if (body.overflow || 36 + body.n > ACPI_MAX - (dsdt - ACPI_BASE_GPA))
		return err_input(e, E2BIG, "ACPI DSDT too large for %u devices", nr_devs);
	t = base + (dsdt - ACPI_BASE_GPA);
	len = 36 + body.n;
	table_header(t, "DSDT", (uint32_t)len, 2);
	memcpy(t + 36, body.b, body.n);
	finish(t, len);

	/* MADT: the LAPICs, the IOAPIC, NMI on LINT1. */
	t = base + (madt - ACPI_BASE_GPA);
	len = 44;
	boot_put32(t + 36, (uint32_t)LAPIC_GPA);
	boot_put32(t + 40, 1); /* PCAT_COMPAT: there are 8259s too */
	for (unsigned i = 0; i < nr_cpus; i++, len += 8) {
		t[len] = 0;
		t[len + 1] = 8;
		t[len + 2] = (uint8_t)i;
		t[len + 3] = (uint8_t)i;
		boot_put32(t + len + 4, 1); /* enabled */
	}
	t[len] = 1;
	t[len + 1] = 12;
	t[len + 2] = (uint8_t)nr_cpus; /* IOAPIC id after the CPUs', as in the MP table */
	boot_put32(t + len + 4, (uint32_t)IOAPIC_GPA);
	boot_put32(t + len + 8, 0);
	len += 12;
	t[len] = 4;
	t[len + 1] = 6;
	t[len + 2] = 0xff; /* all processors */
	boot_put16(t + len + 3, 0);
	t[len + 5] = 1; /* LINT1 */
	len += 6;
	table_header(t, "APIC", (uint32_t)len, 4);
	finish(t, len);

	/* FADT, revision 6, hardware-reduced: no PM timer, no SCI, sleep via one I/O port. */
	t = base + (fadt - ACPI_BASE_GPA);
	len = 276;
	boot_put32(t + 40, (uint32_t)dsdt);
	boot_put16(t + 109, (1 << 1) | (1 << 2) | (1 << 5)); /* 8042, no VGA, no CMOS RTC */
	boot_put32(t + 112, 1u << 20);			     /* HW_REDUCED_ACPI */
	t[131] = 4;					     /* minor version: 6.4 */
	boot_put64(t + 140, dsdt);
	gas_io8(t + 244, BOOT_ACPI_SLEEP_PORT);
	gas_io8(t + 256, BOOT_ACPI_SLEEP_PORT + 1);
	memcpy(t + 268, "MVMRUN  ", 8);
	table_header(t, "FACP", (uint32_t)len, 6);
	finish(t, len);

	/* XSDT */
	t = base + (xsdt - ACPI_BASE_GPA);
	len = 36 + 16;
	boot_put64(t + 36, fadt);
	boot_put64(t + 44, madt);
	table_header(t, "XSDT", (uint32_t)len, 1);
	finish(t, len);

	/* RSDP (ACPI 2.0+) */
	t = base;
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, "MVMRUN", 6);
	t[15] = 2;
	boot_put32(t + 20, 36);
	boot_put64(t + 24, xsdt);
	t[8] = (uint8_t)(0 - acpi_sum(t, 20));
	t[32] = (uint8_t)(0 - acpi_sum(t, 36));
	*rsdp_gpa = rsdp;
	return 0;
}

/*
 * MCFG (PCI Firmware 3.2, 4.1.2): one ECAM segment. It sits in the last bytes of the ACPI area,
 * beyond anything boot_acpi_write places (the DSDT body is bounded by struct abuf), and joins
 * the XSDT, which has room for one more entry before the FADT.
 */
#define MCFG_LEN 60

int boot_acpi_add_mcfg(const struct vm_ram *ram, gpa_t rsdp_gpa, uint64_t ecam_gpa,
		       unsigned bus_end, struct err *e)
{
	gpa_t mcfg = ACPI_BASE_GPA + ACPI_MAX - 64, xsdt;
	uint8_t *base = vm_ram_hva(ram, ACPI_BASE_GPA, ACPI_MAX), *t, *x;
	uint32_t xlen;

	_Static_assert(0x5c0 + 36 + sizeof(((struct abuf *)0)->b) <= ACPI_MAX - 64,
		       "the DSDT may run into the MCFG");
	if (!base || rsdp_gpa != ACPI_BASE_GPA || bus_end > 255)
		return err_input(e, EINVAL, "no ACPI tables to add an MCFG to");
	xsdt = boot_get64(base + 24);
	x = base + (xsdt - ACPI_BASE_GPA);
	xlen = boot_get32(x + 4);
	if (xsdt != ACPI_BASE_GPA + 0x40 || xlen + 8 > 0x40)
		return err_input(e, E2BIG, "no room in the XSDT for the MCFG");
	t = base + (mcfg - ACPI_BASE_GPA);
	memset(t, 0, MCFG_LEN);
	boot_put64(t + 44, ecam_gpa);
	boot_put16(t + 52, 0); /* segment 0 */
	t[54] = 0;	       /* start bus */
	t[55] = (uint8_t)bus_end;
	table_header(t, "MCFG", MCFG_LEN, 1);
	finish(t, MCFG_LEN);
	boot_put64(x + xlen, mcfg);
	boot_put32(x + 4, xlen + 8);
	finish(x, xlen + 8);
	return 0;
}
