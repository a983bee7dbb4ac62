/* boot_mptable.c: the Intel MP table (spec 1.4) that tells an ACPI-less guest its CPUs and IRQs. */
#include <errno.h>

#include "boot_priv.h"
#include "layout.h"

#define MP_LAPIC_GPA   ((uint32_t)LAPIC_GPA)
#define MP_IOAPIC_GPA  ((uint32_t)IOAPIC_GPA)
#define MP_IOAPIC_PINS IOAPIC_PINS
#define MP_TABLE_MAX   (BOOT_LOWMEM_END_GPA - BOOT_EBDA_GPA)

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return (uint8_t)(0 - s);
}

int boot_mptable_write(const struct vm_ram *ram, unsigned nr_cpus, struct err *e)
{
	uint8_t *base = vm_ram_hva(ram, BOOT_EBDA_GPA, MP_TABLE_MAX);
	uint8_t *fp, *cfg, *p;
	unsigned entries = 0, ioapic_id = nr_cpus;
	size_t need = 16 + 44 + 20 * (size_t)nr_cpus + 8 + 8 + 8 * MP_IOAPIC_PINS + 2 * 8;

	if (!base)
		return err_input(e, ENOMEM, "memory too small for the MP table");
	if (nr_cpus == 0 || nr_cpus > BOOT_MAX_CPUS || need > MP_TABLE_MAX)
		return err_input(e, EINVAL, "%u CPUs: between 1 and %u are supported", nr_cpus,
				 BOOT_MAX_CPUS);
	memset(base, 0, MP_TABLE_MAX);
	fp = base;
	cfg = base + 16;
	p = cfg + 44;
	for (unsigned i = 0; i < nr_cpus; i++, entries++, p += 20) {
		p[0] = 0;				/* processor */
		p[1] = (uint8_t)i;			/* local APIC id */
		p[2] = 0x14;				/* local APIC version */
		p[3] = (uint8_t)(1 | (i == 0 ? 2 : 0)); /* enabled, bootstrap */
		boot_put32(p + 4, 0x600);		/* family 6 */
		boot_put32(p + 8, 0x201);		/* FPU, APIC */
	}
	p[0] = 1; /* bus 0: ISA */
	p[1] = 0;
	memcpy(p + 2, "ISA   ", 6);
	p += 8, entries++;
	p[0] = 2; /* IOAPIC */
	p[1] = (uint8_t)ioapic_id;
	p[2] = 0x11;
	p[3] = 1; /* enabled */
	boot_put32(p + 4, MP_IOAPIC_GPA);
	p += 8, entries++;
	for (unsigned irq = 0; irq < MP_IOAPIC_PINS; irq++, entries++, p += 8) {
		p[0] = 3;	      /* I/O interrupt: ISA irq → same IOAPIC pin */
		p[1] = 0;	      /* INT */
		boot_put16(p + 2, 0); /* conforming polarity and trigger */
		p[4] = 0;
		p[5] = (uint8_t)irq;
		p[6] = (uint8_t)ioapic_id;
		p[7] = (uint8_t)irq;
	}
	p[0] = 4; /* local interrupt: ExtINT on LINT0 of the BSP */
	p[1] = 3;
	p[6] = 0;
	p[7] = 0;
	p += 8, entries++;
	p[0] = 4; /* NMI on LINT1 of every CPU */
	p[1] = 1;
	p[6] = 0xff;
	p[7] = 1;
	p += 8, entries++;

	memcpy(cfg, "PCMP", 4);
	boot_put16(cfg + 4, (uint16_t)(p - cfg));
	cfg[6] = 4; /* spec 1.4 */
	memcpy(cfg + 8, "MVMRUN  ", 8);
	memcpy(cfg + 16, "MICROVM     ", 12);
	boot_put16(cfg + 34, (uint16_t)entries);
	boot_put32(cfg + 36, MP_LAPIC_GPA);
	cfg[7] = checksum(cfg, (size_t)(p - cfg));

	memcpy(fp, "_MP_", 4);
	boot_put32(fp + 4, (uint32_t)(BOOT_EBDA_GPA + 16));
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = 4;
	fp[10] = checksum(fp, 16);
	return 0;
}
