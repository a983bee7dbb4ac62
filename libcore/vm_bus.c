/* vm_bus.c: address-range dispatch of port I/O and MMIO to devices. */
#include "vm_bus.h"

#include <string.h>

int vm_bus_register(struct vm_bus *b, uint64_t base, uint64_t len, const struct vm_io_ops *ops,
		    void *dev, const char *name, struct err *e)
{
	if (len == 0 || base + (len - 1) < base)
		return err_set(e, EINVAL, "%s: empty or wrapping range", name);
	for (unsigned i = 0; i < b->n; i++) {
		const struct vm_bus_entry *o = &b->e[i];

		if (base <= o->base + (o->len - 1) && o->base <= base + (len - 1))
			return err_set(e, EEXIST, "%s at 0x%llx overlaps %s at 0x%llx", name,
				       (unsigned long long)base, o->name,
				       (unsigned long long)o->base);
	}
	if (b->n == VM_BUS_MAX)
		return err_set(e, ENOSPC, "%s: too many devices", name);
	b->e[b->n++] = (struct vm_bus_entry){ base, len, ops, dev, name };
	return 0;
}

static const struct vm_bus_entry *lookup(const struct vm_bus *b, uint64_t addr, unsigned len)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct vm_bus_entry *x = &b->e[i];

		if (addr >= x->base && addr - x->base < x->len && len <= x->len - (addr - x->base))
			return x;
	}
	return NULL;
}

bool vm_bus_read(const struct vm_bus *b, uint64_t addr, uint8_t *data, unsigned len)
{
	const struct vm_bus_entry *x = lookup(b, addr, len);

	if (!x || !x->ops->read) {
		memset(data, 0xff, len);
		return x != NULL;
	}
	x->ops->read(x->dev, addr - x->base, data, len);
	return true;
}

bool vm_bus_write(const struct vm_bus *b, uint64_t addr, const uint8_t *data, unsigned len)
{
	const struct vm_bus_entry *x = lookup(b, addr, len);

	if (!x)
		return false;
	if (x->ops->write)
		x->ops->write(x->dev, addr - x->base, data, len);
	return true;
}
