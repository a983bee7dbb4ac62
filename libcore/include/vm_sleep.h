/* vm_sleep.h: the ACPI sleep control/status registers of a hardware-reduced FADT (poweroff). */
#ifndef CORE_VM_SLEEP_H
#define CORE_VM_SLEEP_H

#include "vm_bus.h"

typedef void vm_sleep_fn(void *opaque);

struct vm_sleep {
	vm_sleep_fn *poweroff;
	void *opaque;
};

/* Two ports: control (SLP_EN with SLP_TYP 5 = S5, power off) and status. */
#define VM_SLEEP_PORTS 2
extern const struct vm_io_ops vm_sleep_io_ops;

#endif
