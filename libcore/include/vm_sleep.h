/* vm_sleep.h: the ACPI sleep control/status registers of a hardware-reduced FADT (poweroff). */
#ifndef CORE_VM_SLEEP_H
#define CORE_VM_SLEEP_H

#include "layout.h" /* BOOT_ACPI_SLEEP_PORT, VM_SLEEP_PORTS */
#include "vm_bus.h"

typedef void vm_sleep_fn(void *opaque);

struct vm_sleep {
	vm_sleep_fn *poweroff;
	void *opaque;
};

/* Two ports (VM_SLEEP_PORTS): control (SLP_EN with SLP_TYP 5 = S5, power off) and status. */
extern const struct vm_io_ops vm_sleep_io_ops;

#endif
