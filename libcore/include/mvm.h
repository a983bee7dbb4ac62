/* mvm.h: a whole microVM built from a plain configuration in one call, run, and handed back. */
#ifndef CORE_MVM_H
#define CORE_MVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "err.h"
#include "i8042.h"
#include "pciaddr.h"
#include "serial.h"
#include "vfio.h"
#include "vfio_pt.h"
#include "vm.h"
#include "vm_sleep.h"
#include "vmconfig.h"
#include "vmdev.h"

/* A guest event (reset, poweroff) the caller wants instead of stopping the VM. */
typedef void mvm_event_fn(void *opaque);

/* What to build: the user's configuration and what only the caller knows (fds, callbacks). */
struct mvm_config {
	/* Kernel and initrd paths, command line (NULL: the default), memory and its huge pages,
	 * vCPUs, disks, taps, rng; its console fields are the caller's business (console_fd). */
	const struct vmconfig *vm;
	const char *kvm_dev; /* NULL: /dev/kvm */
	/* Images already in memory (tests, benches), used instead of vm->kernel / vm->initrd. */
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;
	size_t initrd_size;
	const struct pci_addr *vfio;	      /* vm->nr_vfio devices to pass through, resolved */
	const struct vfio_pt_opts *vfio_opts; /* their options (NULL: defaults) */
	enum vfio_backend vfio_backend;
	enum vfio_pt_p2p vfio_p2p; /* peer-to-peer DMA: BARs mapped in the IOMMU too */
	int console_fd;		   /* COM1's output; -1: discarded (input: mvm_console_input) */
	/* NULL: the VM stops with VM_STOP_RESET / VM_STOP_POWEROFF. Called on a vCPU thread. */
	mvm_event_fn *on_reset, *on_poweroff;
	/* NULL, or called by mvm_run once the devices run, just before the vCPUs start and before
	 * the seccomp filter (it may make any system call: sd_notify's socket, say). */
	mvm_event_fn *on_start;
	void *opaque;
	bool seccomp; /* mvm_run installs the seccomp filter before the vCPUs run */
};

/* Everything one microVM is made of; mvm_open builds it step by step. */
struct mvm {
	struct vm vm;
	struct serial serial;
	struct i8042 i8042;
	struct vm_sleep sleep;
	struct vmdev_set devs;
	struct vfio_pt_set pt;
	struct boot_info boot;
	char cmdline[BOOT_CMDLINE_MAX]; /* as the guest got it, devices announced */
	double pt_setup_ms;		/* passthrough set-up time */
	unsigned prefault_threads;	/* how many faulted guest RAM in (0: none did) */
	double prefault_ms;		/* and how long it took */
	mvm_event_fn *on_reset, *on_poweroff, *on_start;
	void *opaque;
	bool seccomp, devs_started;
};

/*
 * Build the VM of c: KVM and RAM (faulted in by threads with passthrough, or as
 * vm->prefault_threads asks), interrupt controllers, vCPUs, COM1, i8042 and ACPI sleep
 * registers, virtio-mmio devices, passthrough, ACPI and MP tables, kernel and initrd, the boot
 * vCPU's registers. On failure -errno and e says what failed and whose fault it is: ERR_INPUT
 * (an unreadable or unknown kernel, memory too small for it, a missing disk, no KVM device,
 * huge pages the host has not reserved) or ERR_HOST (a KVM or VFIO ioctl, the host's memory);
 * what was built is already handed back.
 */
int mvm_open(struct mvm *m, const struct mvm_config *c, struct err *e);
/* Start the devices, install the seccomp filter if asked, run every vCPU until the VM stops. */
int mvm_run(struct mvm *m, enum vm_stop_reason *why, struct err *e);
/*
 * Pause: every vCPU parked at an exit boundary, then every virtio device quiesced (no chain in
 * progress). Resume undoes both. Called from any thread but a vCPU's; nothing to fail.
 */
void mvm_pause(struct mvm *m);
void mvm_resume(struct mvm *m);
/*
 * Ask the guest to shut down: Ctrl-Alt-Del on its keyboard (i8042_ctrl_alt_del). -ENODEV when
 * the guest has no keyboard driver listening; then only stopping the VM ends it.
 */
int mvm_ctrl_alt_del(struct mvm *m);
/* Firecracker's SendCtrlAltDel (i8042_send_ctrl_alt_del): -EBUSY while keys are queued. */
int mvm_send_ctrl_alt_del(struct mvm *m);
/* Queue console input for the guest's COM1; returns how many bytes fit. */
size_t mvm_console_input(struct mvm *m, const uint8_t *buf, size_t n);
/*
 * Hand passthrough devices back clean (interrupts off, DMA unmapped, reset, still on vfio-pci).
 * Once mvm_run started the virtio devices, their threads may still use guest RAM: the VM itself
 * then stays until the process exits; before that everything is freed.
 */
void mvm_close(struct mvm *m);

#endif
