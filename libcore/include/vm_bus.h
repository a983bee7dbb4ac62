/* vm_bus.h: where guest port I/O and MMIO accesses go: devices register a range with one call. */
#ifndef CORE_VM_BUS_H
#define CORE_VM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* A device's access handlers; off is relative to the registered base, len is 1, 2, 4 or 8. */
struct vm_io_ops {
	void (*read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data, unsigned len);
};

#define VM_BUS_MAX 32

struct vm_bus_entry {
	uint64_t base, len;
	const struct vm_io_ops *ops;
	void *dev;
	const char *name;
};

/* Filled while the VM is built, read-only once vCPUs run (so lookups need no lock). */
struct vm_bus {
	unsigned n;
	struct vm_bus_entry e[VM_BUS_MAX];
};

/* -EEXIST on overlap, -ENOSPC when full, -EINVAL for an empty or wrapping range. */
int vm_bus_register(struct vm_bus *b, uint64_t base, uint64_t len, const struct vm_io_ops *ops,
		    void *dev, const char *name, struct err *e);
/* false when no device claims addr (reads then see all ones, writes are dropped). */
bool vm_bus_read(const struct vm_bus *b, uint64_t addr, uint8_t *data, unsigned len);
bool vm_bus_write(const struct vm_bus *b, uint64_t addr, const uint8_t *data, unsigned len);

#endif
