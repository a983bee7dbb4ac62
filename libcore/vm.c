/* vm.c: building blocks of a microVM and the vCPU exit loop (I/O dispatch, crashes, stops). */
#include "vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int vm_open(struct vm *vm, const char *kvm_dev, uint64_t mem_bytes, struct err *e)
{
	return vm_open_backed(vm, kvm_dev, mem_bytes, DMA_BACKING_ANON, e);
}

int vm_open_backed(struct vm *vm, const char *kvm_dev, uint64_t mem_bytes, enum dma_backing backing,
		   struct err *e)
{
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->kvm.kvm_fd = vm->kvm.vm_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->stopped, NULL);
	rc = kvm_vm_open(&vm->kvm, kvm_dev, e);
	if (rc)
		return rc;
	rc = vm_ram_alloc_backed(&vm->ram, mem_bytes, backing, e);
	if (rc)
		return rc;
	for (unsigned i = 0; i < vm->ram.nr_regions; i++) {
		rc = kvm_vm_add_ram(&vm->kvm, vm->ram.region[i].gpa, vm->ram.region[i].size_bytes,
				    vm->ram.region[i].hva, e);
		if (rc)
			return rc;
	}
	return 0;
}

int vm_create_vcpus(struct vm *vm, unsigned nr, struct err *e)
{
	int rc;

	if (nr == 0 || nr > BOOT_MAX_CPUS)
		return err_input(e, EINVAL, "%u vCPUs: between 1 and %u are supported", nr,
				 BOOT_MAX_CPUS);
	for (unsigned i = 0; i < nr; i++) {
		struct kvm_vcpu *v = &vm->vcpu[i];

		rc = kvm_vcpu_open(&vm->kvm, v, i, e);
		if (rc)
			return rc;
		vm->nr_vcpus = i + 1;
		rc = kvm_vcpu_setup_cpuid(v, nr, e);
		if (!rc)
			rc = kvm_vcpu_setup_msrs(v, e);
		if (!rc && vm->kvm.irqchip)
			rc = kvm_vcpu_setup_lapic(v, e);
		if (rc)
			return rc;
	}
	return 0;
}

int vm_set_boot_regs(struct vm *vm, const struct boot_info *info, struct err *e)
{
	struct kvm_vcpu *v = &vm->vcpu[0];
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int rc = kvm_vcpu_get_sregs(v, &sregs, e);

	if (rc)
		return rc;
	boot_vcpu_regs(info, &regs, &sregs);
	rc = kvm_vcpu_set_regs(v, &regs, &sregs, e);
	if (!rc)
		rc = kvm_vcpu_reset_fpu(v, e);
	return rc;
}

void vm_close(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		kvm_vcpu_close(&vm->vcpu[i]);
	vm->nr_vcpus = 0;
	kvm_vm_close(&vm->kvm);
	vm_ram_free(&vm->ram);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->stopped);
}

const char *vm_stop_name(enum vm_stop_reason r)
{
	switch (r) {
	case VM_RUNNING:
		return "running";
	case VM_STOP_RESET:
		return "reset";
	case VM_STOP_POWEROFF:
		return "poweroff";
	case VM_STOP_REQUESTED:
		return "stopped";
	case VM_STOP_TRIPLE_FAULT:
		return "triple-fault";
	case VM_STOP_INTERNAL_ERROR:
		return "internal-error";
	case VM_STOP_HOST_ERROR:
		return "host-error";
	}
	return "?";
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason why, unsigned vcpu, const char *detail)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->stop == VM_RUNNING) {
		vm->stop_vcpu = vcpu;
		snprintf(vm->stop_detail, sizeof(vm->stop_detail), "%s", detail ? detail : "");
		__atomic_store_n(&vm->stop, why, __ATOMIC_SEQ_CST);
		/*
		 * Kick under the lock: vm_run joins the threads only after it has taken the lock
		 * again, so no thread is signalled after it ended.
		 */
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			kvm_vcpu_kick(&vm->vcpu[i]);
		pthread_cond_broadcast(&vm->stopped);
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->pause, true, __ATOMIC_SEQ_CST);
	/* Kicked under the lock, as in vm_request_stop: no thread has ended meanwhile. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		kvm_vcpu_kick(&vm->vcpu[i]);
	while (vm->parked < vm->running && vm->stop == VM_RUNNING)
		pthread_cond_wait(&vm->stopped, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->pause, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->stopped);
	pthread_mutex_unlock(&vm->lock);
}

bool vm_paused(struct vm *vm)
{
	return __atomic_load_n(&vm->pause, __ATOMIC_SEQ_CST);
}

/* A pause was asked for: park until resumed or stopped. The kick that woke us is spent. */
static void vcpu_park(struct vm *vm, struct kvm_vcpu *v)
{
	pthread_mutex_lock(&vm->lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->stopped);
	while (vm->pause && vm->stop == VM_RUNNING)
		pthread_cond_wait(&vm->stopped, &vm->lock);
	vm->parked--;
	kvm_vcpu_clear_kick(v);
	pthread_mutex_unlock(&vm->lock);
}

enum vm_stop_reason vm_stop_reason(struct vm *vm)
{
	return __atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST);
}

void vm_kick(struct vm *vm, unsigned index)
{
	/* Under the lock, as vm_request_stop: a thread leaves its loop only once stop is set. */
	pthread_mutex_lock(&vm->lock);
	if (vm->stop == VM_RUNNING && index < vm->nr_vcpus)
		kvm_vcpu_kick(&vm->vcpu[index]);
	pthread_mutex_unlock(&vm->lock);
}

static void handle_io(struct vm *vm, struct kvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		bool ok;

		if (run->io.direction == KVM_EXIT_IO_OUT)
			ok = vm_bus_write(&vm->pio, run->io.port, data, run->io.size);
		else
			ok = vm_bus_read(&vm->pio, run->io.port, data, run->io.size);
		if (!ok)
			vm->unhandled_io[v->index]++;
	}
}

static void handle_mmio(struct vm *vm, struct kvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	bool ok;

	if (run->mmio.len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		ok = vm_bus_write(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
	else
		ok = vm_bus_read(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
	if (!ok)
		vm->unhandled_io[v->index]++;
}

/* A crash: the reason, then the registers at the moment of the exit. */
static void stop_with_dump(struct vm *vm, struct kvm_vcpu *v, enum vm_stop_reason why,
			   const char *what)
{
	char detail[sizeof(vm->stop_detail)];
	int n = snprintf(detail, sizeof(detail), "%s\n", what);

	if (n > 0 && (size_t)n < sizeof(detail))
		kvm_vcpu_dump(v, detail + n, sizeof(detail) - (size_t)n);
	vm_request_stop(vm, why, v->index, detail);
}

/* Handles one exit; false when the vCPU must stop. */
static bool handle_exit(struct vm *vm, struct kvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vm, v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vm, v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC: nothing can wake the vCPU again. */
		vm_request_stop(vm, VM_STOP_POWEROFF, v->index, "guest halted");
		return false;
	case KVM_EXIT_SHUTDOWN:
		snprintf(what, sizeof(what), "vCPU %u: triple fault", v->index);
		stop_with_dump(vm, v, VM_STOP_TRIPLE_FAULT, what);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_stop(vm, VM_STOP_RESET, v->index, "guest reset");
			return false;
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_stop(vm, VM_STOP_POWEROFF, v->index, "guest powered off");
			return false;
		default:
			snprintf(what, sizeof(what), "vCPU %u: system event %u", v->index,
				 run->system_event.type);
			stop_with_dump(vm, v, VM_STOP_INTERNAL_ERROR, what);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "vCPU %u: KVM internal error (suberror %u)", v->index,
			 run->internal.suberror);
		stop_with_dump(vm, v, VM_STOP_INTERNAL_ERROR, what);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "vCPU %u: VM entry failed (reason 0x%llx)", v->index,
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		stop_with_dump(vm, v, VM_STOP_INTERNAL_ERROR, what);
		return false;
	default:
		snprintf(what, sizeof(what), "vCPU %u: unexpected exit %s (%u)", v->index,
			 kvm_exit_name(run->exit_reason), run->exit_reason);
		stop_with_dump(vm, v, VM_STOP_INTERNAL_ERROR, what);
		return false;
	}
}

void vm_vcpu_loop(struct vm *vm, unsigned index)
{
	struct kvm_vcpu *v = &vm->vcpu[index];

	kvm_vcpu_bind_thread(v);
	pthread_mutex_lock(&vm->lock);
	vm->running++;
	pthread_mutex_unlock(&vm->lock);
	while (vm_stop_reason(vm) == VM_RUNNING) {
		int rc;

		if (vm_paused(vm))
			vcpu_park(vm, v);
		if (vm_stop_reason(vm) != VM_RUNNING)
			break;
		rc = kvm_vcpu_run(v);

		if (rc == -EINTR || rc == -EAGAIN) {
			/*
			 * A kick, cleared before anything else (the exit count included, which
			 * others watch): one sent after the clear makes the next KVM_RUN return at
			 * once, one sent before it finds its reason (a stop) seen by the loop.
			 * Cleared after that check, a kick landing between the two was lost.
			 */
			kvm_vcpu_clear_kick(v);
			vm->exits[index]++;
			continue;
		}
		vm->exits[index]++;
		if (rc < 0) {
			char what[128];

			snprintf(what, sizeof(what), "vCPU %u: KVM_RUN: %s", index, strerror(-rc));
			vm_request_stop(vm, VM_STOP_HOST_ERROR, index, what);
			break;
		}
		if (!handle_exit(vm, v))
			break;
	}
	pthread_mutex_lock(&vm->lock);
	vm->running--;
	pthread_cond_broadcast(&vm->stopped);
	pthread_mutex_unlock(&vm->lock);
}

struct vcpu_thread_arg {
	struct vm *vm;
	unsigned index;
};

static void *vcpu_thread(void *p)
{
	struct vcpu_thread_arg *a = p;

	vm_vcpu_loop(a->vm, a->index);
	return NULL;
}

enum vm_stop_reason vm_run(struct vm *vm, struct err *e)
{
	struct vcpu_thread_arg args[BOOT_MAX_CPUS];
	pthread_t threads[BOOT_MAX_CPUS];
	unsigned started = 0;
	int rc = kvm_kick_init(e);

	if (rc) {
		vm_request_stop(vm, VM_STOP_HOST_ERROR, 0, e ? e->msg : "signal setup failed");
		return VM_STOP_HOST_ERROR;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		args[i] = (struct vcpu_thread_arg){ vm, i };
		rc = pthread_create(&threads[i], NULL, vcpu_thread, &args[i]);
		if (rc) {
			err_set(e, rc, "vCPU thread: %s", strerror(rc));
			vm_request_stop(vm, VM_STOP_HOST_ERROR, i, e ? e->msg : "thread");
			break;
		}
		started++;
	}
	pthread_mutex_lock(&vm->lock);
	while (vm->stop == VM_RUNNING)
		pthread_cond_wait(&vm->stopped, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	return vm_stop_reason(vm);
}
