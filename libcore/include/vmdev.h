/* vmdev.h: the virtio-mmio devices of a microVM, created from its configuration in one call. */
#ifndef CORE_VMDEV_H
#define CORE_VMDEV_H

#include <stddef.h>

#include "err.h"
#include "guestmem.h"
#include "layout.h" /* the virtio-mmio slots and their IOAPIC pins */
#include "vm.h"
#include "vmconfig.h"

struct virtio_mmio;

/* Where device i lives and which IOAPIC pin it uses. */
static inline gpa_t vmdev_mmio_gpa(unsigned i)
{
	return VMDEV_MMIO_BASE + VMDEV_MMIO_SIZE * i;
}
static inline unsigned vmdev_irq(unsigned i)
{
	return VMDEV_FIRST_IRQ + i;
}

struct vmdev;

struct vmdev_set {
	unsigned n;
	struct vmdev *dev[VMDEV_MAX];
	const struct guestmem *mem; /* guest RAM as the queues see it: the VM's (vm_mem.h) */
};

/* Device i's transport, for status and tests. */
struct virtio_mmio *vmdev_transport(struct vmdev_set *s, unsigned i);
/* One line per device that the driver broke ("virtio-blk at 0x...: why"); 0 when none. */
unsigned vmdev_report_broken(struct vmdev_set *s, void (*fn)(const char *line, void *arg),
			     void *arg);

/*
 * Create the disks, network interfaces and rng of cfg as virtio-mmio devices on vm's MMIO bus
 * and append "virtio_mmio.device=4K@ADDR:IRQ" for each to cmdline (of cmdline_len bytes).
 */
int vmdev_create_all(struct vmdev_set *s, struct vm *vm, const struct vmconfig *cfg, char *cmdline,
		     size_t cmdline_len, struct err *e);
/* Start the devices' worker threads (after the VM is built, before it runs). */
int vmdev_start_all(struct vmdev_set *s, struct err *e);
/* Quiesce every device (virtio_mmio_pause), and let them go on. */
void vmdev_pause_all(struct vmdev_set *s);
void vmdev_resume_all(struct vmdev_set *s);
/* Pause the devices that may have requests in flight (Async disks) once these have finished:
 * before guest memory goes away. */
void vmdev_finish_in_flight(struct vmdev_set *s);
/* Where device i lives: its MMIO window and IOAPIC pin; -ENOENT past the last one. */
int vmdev_where(struct vmdev_set *s, unsigned i, gpa_t *gpa, unsigned *irq);

#endif
