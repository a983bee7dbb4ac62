/*
 * bench_mvm_exit.c: the cost of one port-I/O exit handled by mvm-run's vCPU loop (bus dispatch
 * to a device), beside a bare KVM_RUN loop that handles the same exit (the floor).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "mvm.h"

#define EXITS 200000u
#define PORT  0x510

/* 64-bit guest: mov $0x510,%dx; 1: out %al,(%dx); jmp 1b */
static const uint8_t code[] = { 0x66, 0xba, 0x10, 0x05, 0xee, 0xeb, 0xfd };

/* A 64-bit ELF image of the guest code, in a VM built by mvm_open as mvm-run builds it. */
static int make_vm(struct mvm *m, struct err *e)
{
	static uint8_t elf[0x300];
	struct vmconfig cfg;
	struct mvm_config c = { .vm = &cfg,
				.kvm_dev = "/dev/kvm",
				.kernel = elf,
				.kernel_size = sizeof(elf),
				.console_fd = -1 };
	uint64_t entry = 0x200000, phoff = 64, off = 0x200, memsz = 0x1000, fsz = sizeof(code);
	uint16_t u16;
	uint32_t u32;

	memcpy(elf, "\177ELF\2\1\1", 7);
	u16 = 2, memcpy(elf + 16, &u16, 2);  /* ET_EXEC */
	u16 = 62, memcpy(elf + 18, &u16, 2); /* x86-64 */
	memcpy(elf + 24, &entry, 8);
	memcpy(elf + 32, &phoff, 8);
	u16 = 56, memcpy(elf + 54, &u16, 2);
	u16 = 1, memcpy(elf + 56, &u16, 2);
	u32 = 1, memcpy(elf + 64, &u32, 4); /* PT_LOAD */
	memcpy(elf + 64 + 8, &off, 8);
	memcpy(elf + 64 + 16, &entry, 8);
	memcpy(elf + 64 + 24, &entry, 8);
	memcpy(elf + 64 + 32, &fsz, 8);
	memcpy(elf + 64 + 40, &memsz, 8);
	memcpy(elf + off, code, sizeof(code));
	vmconfig_init(&cfg);
	cfg.mem_bytes = 16 << 20;
	cfg.cmdline = "";
	return mvm_open(m, &c, e);
}

struct counter {
	struct vm *vm;
	unsigned n;
};

static void count_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct counter *c = dev;

	(void)off, (void)data, (void)len;
	if (++c->n == EXITS)
		vm_request_stop(c->vm, VM_STOP_REQUESTED, 0, "done");
}

static const struct vm_io_ops count_ops = { .write = count_write };

int main(void)
{
	static struct mvm m;
	struct err e = { 0 };
	struct counter cnt = { &m.vm, 0 };
	double t0, floor_ns, mvm_ns;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		/* a bench that cannot compare fails: make bench never passes on no work */
		fprintf(stderr, "bench_mvm_exit: /dev/kvm: not usable; nothing compared\n");
		return 1;
	}
	/* The floor: KVM_RUN, check the exit, nothing else. */
	if (make_vm(&m, &e)) {
		fprintf(stderr, "bench_mvm_exit: %s\n", e.msg);
		return 1;
	}
	t0 = clock_now_s();
	for (unsigned i = 0; i < EXITS; i++) {
		struct kvm_vcpu *v = &m.vm.vcpu[0];

		if (ioctl(v->fd, KVM_RUN, 0) < 0 || v->run->exit_reason != KVM_EXIT_IO ||
		    v->run->io.port != PORT) {
			fprintf(stderr, "bench_mvm_exit: unexpected exit\n");
			return 1;
		}
	}
	floor_ns = (clock_now_s() - t0) * 1e9 / EXITS;
	mvm_close(&m);

	/* mvm-run's path: vCPU thread, exit loop, port bus lookup, device handler. */
	if (make_vm(&m, &e) ||
	    vm_bus_register(&m.vm.pio, PORT, 1, &count_ops, &cnt, "counter", &e)) {
		fprintf(stderr, "bench_mvm_exit: %s\n", e.msg);
		return 1;
	}
	t0 = clock_now_s();
	vm_run(&m.vm, &e);
	mvm_ns = (clock_now_s() - t0) * 1e9 / cnt.n;
	mvm_close(&m);
	printf("port-I/O exit, bare KVM_RUN loop (floor): %8.0f ns/exit\n", floor_ns);
	printf("port-I/O exit, mvm-run vCPU loop:         %8.0f ns/exit  (%.2fx the floor, %u exits)\n",
	       mvm_ns, mvm_ns / floor_ns, cnt.n);
	return 0;
}
