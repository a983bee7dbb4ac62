/* vm_sleep.c: ACPI sleep registers: the guest's S5 request (SLP_EN, SLP_TYP 5) powers off. */
#include "vm_sleep.h"

#include <string.h>

#define SLP_EN	   0x20
#define SLP_TYP(v) (((v) >> 2) & 7)
#define SLP_TYP_S5 5

static void sleep_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len); /* status: no wake event pending */
}

static void sleep_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct vm_sleep *s = dev;

	(void)len;
	if (off == 0 && (data[0] & SLP_EN) && SLP_TYP(data[0]) == SLP_TYP_S5 && s->poweroff)
		s->poweroff(s->opaque);
}

const struct vm_io_ops vm_sleep_io_ops = { .read = sleep_read, .write = sleep_write };
