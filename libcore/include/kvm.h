/*
 * kvm.h: the KVM layer, the one owner of a VM's KVM resources: memory slots, the GSI routing
 * table, irqfds and ioeventfds, KVM's VFIO device, the irqchip and PIT, vCPUs, kicks, dumps.
 * No other file issues a KVM ioctl: devices (vmdev.c, vfio_pt.c) allocate through here.
 */
#ifndef CORE_KVM_H
#define CORE_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gpa.h"
#include "layout.h" /* the GSI plan: irqchip pins, then MSI GSIs */

/* The signal that kicks a vCPU thread out of KVM_RUN (a no-op handler is installed for it). */
#define KVM_KICK_SIGNAL SIGUSR1

/* Memory slots this layer hands out (KVM offers more: KVM_CAP_NR_MEMSLOTS, often 32764). */
#define KVM_SLOTS_MAX 512

struct kvm_vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	bool opened; /* by kvm_vm_open: kvm_vm_close on a zeroed object does nothing */
	bool irqchip;
	int vfio_dev_fd; /* KVM's VFIO pseudo device, -1 until kvm_vfio_open */
	/* The guest's physical address width, CPUID 0x80000008 EAX[7:0]: what KVM supports (the
	 * host's, never more), set by the first kvm_vcpu_setup_cpuid; 0 before. */
	unsigned phys_bits;
	/* Memory slots: allocated numbers, and those KVM holds a region for. */
	unsigned nr_slots_max;
	uint64_t slot_used[KVM_SLOTS_MAX / 64];
	uint64_t slot_mapped[KVM_SLOTS_MAX / 64];
	/*
	 * The GSI routing table, committed whole by every change (KVM_SET_GSI_ROUTING replaces
	 * the VM's table): the irqchip's pins, then MSI routes. route_lock guards it and the GSI
	 * bitmap, so devices may route from vCPU threads under their own locks (taken first; this
	 * layer calls out to no one while holding it).
	 */
	pthread_mutex_t route_lock;
	struct kvm_irq_routing *routes; /* NULL until the first route */
	uint64_t gsi_used[(VM_MSI_GSI_END - VM_MSI_FIRST_GSI + 63) / 64];
};

struct kvm_vcpu {
	struct kvm_vm *vm;
	int fd;
	unsigned index;
	struct kvm_run *run;
	pthread_t thread; /* the thread that runs it, for kicks; set by kvm_vcpu_bind_thread */
	bool thread_bound;
};

/* Open the KVM device (normally "/dev/kvm") and create a VM. */
int kvm_vm_open(struct kvm_vm *vm, const char *dev_path, struct err *e);
/* Close it, with its VFIO device, and free the routing table; idempotent. */
void kvm_vm_close(struct kvm_vm *vm);
/* Register [gpa, gpa+size) backed by hva as guest RAM (a new memory slot). */
int kvm_vm_add_ram(struct kvm_vm *vm, gpa_t gpa, uint64_t size_bytes, void *hva, struct err *e);

/*
 * Memory slots. kvm_slot_alloc takes the lowest free number (-ENOSPC when none is left);
 * kvm_slot_set points it at [gpa, gpa+size) backed by hva, or with size 0 removes the region
 * (the number stays allocated, for a BAR the guest moves); kvm_slot_free removes the region if
 * there is one and releases the number for reuse. Callers serialize calls on one VM.
 */
int kvm_slot_alloc(struct kvm_vm *vm, unsigned *slot, struct err *e);
int kvm_slot_set(struct kvm_vm *vm, unsigned slot, gpa_t gpa, uint64_t size_bytes, void *hva,
		 struct err *e);
void kvm_slot_free(struct kvm_vm *vm, unsigned slot);

/*
 * MSI routes (in-kernel irqchip only). kvm_gsi_alloc takes the lowest free GSI of the MSI range
 * (layout.h; -ENOSPC when none is left). kvm_route_msi_set adds or replaces the GSI's MSI
 * route, kvm_route_clear removes it; each commits the whole table, the irqchip's pins
 * included, with one KVM_SET_GSI_ROUTING. kvm_gsi_free clears the route and releases the GSI.
 * Thread-safe (route_lock).
 */
int kvm_gsi_alloc(struct kvm_vm *vm, unsigned *gsi, struct err *e);
void kvm_gsi_free(struct kvm_vm *vm, unsigned gsi);
int kvm_route_msi_set(struct kvm_vm *vm, unsigned gsi, uint64_t addr, uint32_t data, struct err *e);
int kvm_route_clear(struct kvm_vm *vm, unsigned gsi, struct err *e);
/*
 * In-kernel interrupt controllers (PIC, IOAPIC, LAPICs) and the PIT. Must come before the first
 * vCPU is created (some hypervisors refuse it afterwards). The two 8259s are handed over as
 * firmware leaves them: initialised at KVM_PIC_*_VECTOR, every line masked.
 */
#define KVM_PIC_MASTER_VECTOR 0x20
#define KVM_PIC_SLAVE_VECTOR  0x28
int kvm_vm_create_irqchip(struct kvm_vm *vm, struct err *e);
/* Level of an IOAPIC/PIC input line (in-kernel irqchip only). */
int kvm_vm_irq_line(struct kvm_vm *vm, unsigned gsi, int level);
/*
 * eventfd → GSI (irqfd): a write to fd raises the GSI through its route; deassign stops that
 * (later writes wait in the eventfd). Guest write → eventfd (ioeventfd), for devices.
 */
int kvm_irqfd_assign(struct kvm_vm *vm, int fd, unsigned gsi, struct err *e);
int kvm_irqfd_deassign(struct kvm_vm *vm, int fd, unsigned gsi, struct err *e);
/*
 * A level-triggered line (PCI INTx): a write to fd asserts the GSI until the guest's EOI, then
 * KVM lowers it and writes resample_fd (for VFIO to unmask the device's line). Deassign as
 * above.
 */
int kvm_irqfd_assign_level(struct kvm_vm *vm, int fd, int resample_fd, unsigned gsi, struct err *e);
int kvm_vm_ioeventfd(struct kvm_vm *vm, int fd, gpa_t mmio_addr, unsigned len, bool match,
		     uint64_t datamatch, struct err *e);

/*
 * KVM's VFIO pseudo device, which tells KVM the VFIO groups (or cdevs) the VM uses, for
 * coherent DMA and IRQ bypass: open it once, add each device's fd (a group already added is
 * not an error), close it when passthrough ends (kvm_vm_close closes it too).
 */
int kvm_vfio_open(struct kvm_vm *vm, struct err *e);
int kvm_vfio_add(struct kvm_vm *vm, int vfio_fd, struct err *e);
void kvm_vfio_close(struct kvm_vm *vm);

int kvm_vcpu_open(struct kvm_vm *vm, struct kvm_vcpu *vcpu, unsigned index, struct err *e);
void kvm_vcpu_close(struct kvm_vcpu *vcpu);

/*
 * CPUID (host-supported leaves, with this vCPU's APIC id and the CPU count, and the TSC deadline
 * timer where KVM emulates it: with the in-kernel irqchip, created first), the MSRs a fresh
 * x86 CPU has, and LAPIC LINT0 = ExtINT / LINT1 = NMI, as a BIOS would leave them.
 */
int kvm_vcpu_setup_cpuid(struct kvm_vcpu *vcpu, unsigned nr_cpus, struct err *e);
int kvm_vcpu_setup_msrs(struct kvm_vcpu *vcpu, struct err *e);
int kvm_vcpu_setup_lapic(struct kvm_vcpu *vcpu, struct err *e);
/* Boot registers: read the special registers, then set both; the FPU in its reset state. */
int kvm_vcpu_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs, struct err *e);
int kvm_vcpu_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs,
		      const struct kvm_sregs *sregs, struct err *e);
int kvm_vcpu_reset_fpu(struct kvm_vcpu *vcpu, struct err *e);

/*
 * Kicks: the thread that will call kvm_vcpu_run binds itself first; any other thread may then
 * call kvm_vcpu_kick, which makes the current or next KVM_RUN return -EINTR. kvm_kick_init
 * installs the signal handler once per process (idempotent).
 */
int kvm_kick_init(struct err *e);
void kvm_vcpu_bind_thread(struct kvm_vcpu *vcpu);
void kvm_vcpu_kick(struct kvm_vcpu *vcpu);
/* Clears a pending kick (before running again after a handled -EINTR). */
void kvm_vcpu_clear_kick(struct kvm_vcpu *vcpu);

/* One KVM_RUN; 0 with vcpu->run->exit_reason set, or -errno (-EINTR after a kick). */
int kvm_vcpu_run(struct kvm_vcpu *vcpu);

/* Register state as text (general, segment and control registers), for crash reports. */
int kvm_vcpu_dump(struct kvm_vcpu *vcpu, char *buf, size_t len);
/* Name of a KVM_EXIT_* reason ("SHUTDOWN", "IO", ...). */
const char *kvm_exit_name(uint32_t reason);

#endif
