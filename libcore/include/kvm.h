/* kvm.h: KVM objects for a microVM: the VM (memory slots, irqchip, PIT), vCPUs, kicks, dumps. */
#ifndef CORE_KVM_H
#define CORE_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Guest-physical addresses have a type of their own so that they never mix with host pointers. */
typedef uint64_t gpa_t;

/* The signal that kicks a vCPU thread out of KVM_RUN (a no-op handler is installed for it). */
#define KVM_KICK_SIGNAL SIGUSR1

struct kvm_vm {
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	unsigned nr_slots;
	bool irqchip;
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
void kvm_vm_close(struct kvm_vm *vm);
/* Register [gpa, gpa+size) backed by hva as guest RAM (a new memory slot). */
int kvm_vm_add_ram(struct kvm_vm *vm, gpa_t gpa, uint64_t size_bytes, void *hva, struct err *e);
/*
 * In-kernel interrupt controllers (PIC, IOAPIC, LAPICs) and the PIT. Must come before the first
 * vCPU is created (some hypervisors refuse it afterwards).
 */
int kvm_vm_create_irqchip(struct kvm_vm *vm, struct err *e);
/* Level of an IOAPIC/PIC input line (in-kernel irqchip only). */
int kvm_vm_irq_line(struct kvm_vm *vm, unsigned gsi, int level);
/* eventfd → interrupt line (irqfd) and guest write → eventfd (ioeventfd), for devices. */
int kvm_vm_irqfd(struct kvm_vm *vm, int fd, unsigned gsi, struct err *e);
int kvm_vm_ioeventfd(struct kvm_vm *vm, int fd, gpa_t mmio_addr, unsigned len, bool match,
		     uint64_t datamatch, struct err *e);

int kvm_vcpu_open(struct kvm_vm *vm, struct kvm_vcpu *vcpu, unsigned index, struct err *e);
void kvm_vcpu_close(struct kvm_vcpu *vcpu);

/*
 * CPUID (host-supported leaves, with this vCPU's APIC id and the CPU count), the MSRs a fresh
 * x86 CPU has, and LAPIC LINT0 = ExtINT / LINT1 = NMI, as a BIOS would leave them.
 */
int kvm_vcpu_setup_cpuid(struct kvm_vcpu *vcpu, unsigned nr_cpus, struct err *e);
int kvm_vcpu_setup_msrs(struct kvm_vcpu *vcpu, struct err *e);
int kvm_vcpu_setup_lapic(struct kvm_vcpu *vcpu, struct err *e);

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
