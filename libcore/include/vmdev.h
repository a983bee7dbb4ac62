/* vmdev.h: the virtio-mmio devices of a microVM, created from its configuration in one call. */
#ifndef CORE_VMDEV_H
#define CORE_VMDEV_H

#include <stddef.h>

#include "err.h"
#include "vm.h"
#include "vmconfig.h"

#define VMDEV_MAX 16
/* Where virtio-mmio devices live (inside the MMIO hole) and their first IOAPIC pin. */
#define VMDEV_MMIO_BASE 0xd0000000ULL
#define VMDEV_MMIO_SIZE 0x1000ULL
#define VMDEV_FIRST_IRQ 5

struct virtio_mmio;

struct vmdev_set {
	unsigned n;
	struct virtio_mmio *dev[VMDEV_MAX];
};

/*
 * Create the disks, network interfaces and rng of cfg as virtio-mmio devices on vm's MMIO bus
 * and append "virtio_mmio.device=4K@ADDR:IRQ" for each to cmdline (of cmdline_len bytes).
 */
int vmdev_create_all(struct vmdev_set *s, struct vm *vm, const struct vmconfig *cfg,
		     char *cmdline, size_t cmdline_len, struct err *e);
/* Start the devices' worker threads (after the VM is built, before it runs). */
int vmdev_start_all(struct vmdev_set *s, struct err *e);

#endif
