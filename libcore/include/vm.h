/* vm.h: a microVM: KVM VM + RAM + vCPUs + I/O buses, its vCPU threads and how it stops. */
#ifndef CORE_VM_H
#define CORE_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot.h"
#include "err.h"
#include "kvm.h"
#include "vm_bus.h"
#include "vm_mem.h"

/* Why the VM stopped; the first reason reported wins. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_RESET,		/* guest reset (i8042 0xfe, KVM system event) */
	VM_STOP_POWEROFF,	/* guest powered off or halted for good */
	VM_STOP_REQUESTED,	/* the host asked (signal, console escape) */
	VM_STOP_TRIPLE_FAULT,	/* KVM_EXIT_SHUTDOWN */
	VM_STOP_INTERNAL_ERROR, /* KVM could not go on (emulation failure, entry failure, ...) */
	VM_STOP_HOST_ERROR,	/* KVM_RUN itself failed */
};

struct vm {
	struct kvm_vm kvm;
	struct vm_ram ram;
	unsigned nr_vcpus;
	struct kvm_vcpu vcpu[BOOT_MAX_CPUS];
	struct vm_bus pio, mmio;

	pthread_mutex_t lock;
	pthread_cond_t stopped; /* broadcast on every stop, pause and resume */
	enum vm_stop_reason stop;
	bool pause;	  /* asked to pause: each vCPU thread parks at its next exit */
	unsigned running; /* vCPU threads in their exit loop */
	unsigned parked;  /* of those, how many are parked */
	unsigned stop_vcpu;
	char stop_detail[3072]; /* what happened, with a register dump when it was a crash */

	/* Statistics, each written by its own vCPU thread only. */
	uint64_t exits[BOOT_MAX_CPUS];
	uint64_t unhandled_io[BOOT_MAX_CPUS];
};

/* Open KVM and map RAM into it (the first steps of building a VM). */
int vm_open(struct vm *vm, const char *kvm_dev, uint64_t mem_bytes, struct err *e);
/* The same with guest RAM on huge pages (see vm_ram_alloc_backed). */
int vm_open_backed(struct vm *vm, const char *kvm_dev, uint64_t mem_bytes, enum dma_backing backing,
		   struct err *e);
/* Create nr vCPUs with CPUID, MSRs and LAPIC set up (after the irqchip). */
int vm_create_vcpus(struct vm *vm, unsigned nr, struct err *e);
/* Boot vCPU's registers for the loaded kernel; the others wait for INIT/SIPI. */
int vm_set_boot_regs(struct vm *vm, const struct boot_info *info, struct err *e);
void vm_close(struct vm *vm);

/* Record why the VM stops (first call wins) and kick every vCPU. Safe from any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason why, unsigned vcpu, const char *detail);
enum vm_stop_reason vm_stop_reason(struct vm *vm);
/*
 * Kick vCPU index out of KVM_RUN; its loop re-enters the guest unless the VM is stopping. Never
 * lost: after the call the vCPU passes its loop at least once (its exits count moves). A no-op
 * once the VM stopped (its thread may be gone: kvm_vcpu_kick would signal a dead thread). Safe
 * from any thread.
 */
void vm_kick(struct vm *vm, unsigned index);
const char *vm_stop_name(enum vm_stop_reason r);

/*
 * Stop every vCPU at an exit boundary: kick each out of KVM_RUN and wait until all vCPU threads
 * are parked (or the VM stopped). vm_resume lets them go on. Safe from any thread but a vCPU's.
 */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);

/* The exit loop of one vCPU, on the calling thread; returns when the VM stops. */
void vm_vcpu_loop(struct vm *vm, unsigned index);
/* Run every vCPU on a thread of its own until the VM stops; returns the reason. */
enum vm_stop_reason vm_run(struct vm *vm, struct err *e);

#endif
