/* test_mvm_vcpu.c: vCPUs on the host's /dev/kvm: register round trips, kicks, whole-VM stops. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "check.h"
#include "mvm_testlib.h"
#include "vm.h"

#define KVM_DEV "/dev/kvm"

/* 64-bit guest code at 2 MiB: out %al,(%dx); jmp back. And a spin loop: jmp . */
static const uint8_t code_out[] = { 0xee, 0xeb, 0xfd };
static const uint8_t code_spin[] = { 0xeb, 0xfe };

static bool kvm_usable(void)
{
	int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A VM with nr vCPUs and the code loaded as a 64-bit ELF (Linux boot protocol entry). */
static int make_vm(struct vm *vm, unsigned nr, const uint8_t *code, size_t len)
{
	struct err e = { 0 };
	struct boot_info bi;
	size_t n;
	uint8_t *k = mvm_test_elf(1, 0x200000, code, len, 0x1000, 0x200000, 0, &n);
	struct boot_image img = { k, n, NULL, 0, "", 0 };
	int rc = vm_open(vm, KVM_DEV, 16 << 20, &e);

	if (!rc)
		rc = kvm_vm_create_irqchip(&vm->kvm, &e);
	if (!rc)
		rc = vm_create_vcpus(vm, nr, &e);
	if (!rc)
		rc = boot_load(&vm->ram, &img, &bi, &e);
	if (!rc)
		rc = vm_set_boot_regs(vm, &bi, &e);
	if (rc)
		printf("# make_vm: %s\n", e.msg);
	free(k);
	return rc;
}

/*
 * gVisor-style round trip: the host writes random values into every general register, the
 * guest exits with an OUT, and every register must come back as written. 64-bit mode, so
 * r8-r15 are covered too.
 */
TEST(registers_survive_exits)
{
	struct prop_rng r = { prop_seed("registers_survive_exits") };
	static struct vm vm;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(make_vm(&vm, 1, code_out, sizeof(code_out)) == 0);
	struct kvm_vcpu *v = &vm.vcpu[0];

	for (unsigned round = 0; round < 2000; round++) {
		struct kvm_regs in, out;

		REQUIRE(ioctl(v->fd, KVM_GET_REGS, &in) == 0);
		uint64_t *g = (uint64_t *)&in;

		/* rax..r15 are the first 16 fields; keep rsp sane and dx on the port */
		for (unsigned i = 0; i < 16; i++)
			g[i] = prop_next(&r);
		in.rsp = 0x8000;
		in.rdx = (in.rdx & ~0xffffULL) | 0x510;
		REQUIRE(ioctl(v->fd, KVM_SET_REGS, &in) == 0);
		REQUIRE(kvm_vcpu_run(v) == 0);
		REQUIRE(v->run->exit_reason == KVM_EXIT_IO);
		CHECK_EQ_U(v->run->io.port, 0x510);
		CHECK_EQ_U(v->run->io.direction, KVM_EXIT_IO_OUT);
		CHECK_EQ_U(*((uint8_t *)v->run + v->run->io.data_offset), in.rax & 0xff);
		REQUIRE(ioctl(v->fd, KVM_GET_REGS, &out) == 0);
		for (unsigned i = 0; i < 16; i++)
			if (((uint64_t *)&out)[i] != g[i]) {
				CHECK_FAIL_AT("round %u: register %u was 0x%llx, now 0x%llx", round, i,
					      (unsigned long long)g[i],
					      (unsigned long long)((uint64_t *)&out)[i]);
				goto done;
			}
		/* rip is back at the OUT after the jmp, or just past it */
		CHECK(out.rip >= 0x200000 && out.rip < 0x200003);
	}
done:
	vm_close(&vm);
}

struct bounce {
	struct kvm_vcpu *v;
	volatile int go, in_run, done, stop;
	int rc;
	uint32_t reason;
};

static void *bounce_thread(void *p)
{
	struct bounce *b = p;

	kvm_vcpu_bind_thread(b->v);
	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		if (!__atomic_load_n(&b->go, __ATOMIC_ACQUIRE))
			continue;
		__atomic_store_n(&b->go, 0, __ATOMIC_RELEASE);
		kvm_vcpu_clear_kick(b->v);
		__atomic_store_n(&b->in_run, 1, __ATOMIC_RELEASE);
		b->rc = kvm_vcpu_run(b->v);
		b->reason = b->v->run->exit_reason;
		__atomic_store_n(&b->in_run, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void wait_flag(volatile int *f)
{
	while (!__atomic_load_n(f, __ATOMIC_ACQUIRE))
		;
}

/* "Bounce": a vCPU spinning in the guest is kicked out from another thread, 1,000 times. */
TEST(kick_spinning_vcpu_1000_times)
{
	static struct vm vm;
	struct err e = { 0 };
	struct bounce b = { 0 };
	pthread_t t;
	struct prop_rng r = { 12345 };

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(kvm_kick_init(&e) == 0);
	REQUIRE(make_vm(&vm, 1, code_spin, sizeof(code_spin)) == 0);
	b.v = &vm.vcpu[0];
	REQUIRE(pthread_create(&t, NULL, bounce_thread, &b) == 0);
	for (unsigned i = 0; i < 1000; i++) {
		struct timespec ts = { 0, (long)prop_below(&r, 200000) };

		b.done = 0;
		__atomic_store_n(&b.go, 1, __ATOMIC_RELEASE);
		wait_flag(&b.in_run);
		nanosleep(&ts, NULL); /* sometimes before KVM_RUN is entered, mostly inside it */
		kvm_vcpu_kick(b.v);
		wait_flag(&b.done);
		if (b.rc != -EINTR && !(b.rc == 0 && b.reason == KVM_EXIT_INTR)) {
			CHECK_FAIL_AT("kick %u: KVM_RUN returned %d, exit %u", i, b.rc, b.reason);
			break;
		}
	}
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	{
		struct kvm_regs regs;

		REQUIRE(ioctl(b.v->fd, KVM_GET_REGS, &regs) == 0);
		CHECK_EQ_U(regs.rip, 0x200000); /* still in the spin loop */
	}
	vm_close(&vm);
}

struct stopper {
	struct vm *vm;
	long delay_ns;
};

static void *stop_later(void *p)
{
	struct stopper *s = p;
	struct timespec ts = { 0, s->delay_ns };

	nanosleep(&ts, NULL);
	vm_request_stop(s->vm, VM_STOP_REQUESTED, 0, "test");
	return NULL;
}

/* Whole VMs with 2 vCPUs (one spinning, one waiting for SIPI) stop cleanly when asked. */
TEST(vm_run_stops_cleanly_100_times)
{
	static struct vm vm;
	struct err e = { 0 };
	struct prop_rng r = { 777 };

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	for (unsigned i = 0; i < 100; i++) {
		struct stopper s = { &vm, (long)prop_below(&r, 2000000) };
		pthread_t t;

		REQUIRE(make_vm(&vm, 2, code_spin, sizeof(code_spin)) == 0);
		REQUIRE(pthread_create(&t, NULL, stop_later, &s) == 0);
		CHECK_EQ_I(vm_run(&vm, &e), VM_STOP_REQUESTED);
		pthread_join(t, NULL);
		vm_close(&vm);
	}
}

/* A guest that writes 0xfe to the i8042 command port is a reset; unclaimed ports are counted. */
TEST(unclaimed_io_is_counted_not_fatal)
{
	static struct vm vm;
	struct err e = { 0 };
	/* mov $0x510,%dx; out %al,(%dx) x3; then spin until stopped */
	static const uint8_t code[] = { 0x66, 0xba, 0x10, 0x05, 0xee, 0xee, 0xee, 0xeb, 0xfe };
	struct stopper s = { &vm, 20000000 };
	pthread_t t;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(make_vm(&vm, 1, code, sizeof(code)) == 0);
	REQUIRE(pthread_create(&t, NULL, stop_later, &s) == 0);
	CHECK_EQ_I(vm_run(&vm, &e), VM_STOP_REQUESTED);
	pthread_join(t, NULL);
	CHECK_EQ_U(vm.unhandled_io[0], 3);
	vm_close(&vm);
}

int main(void)
{
	RUN(registers_survive_exits);
	RUN(kick_spinning_vcpu_1000_times);
	RUN(vm_run_stops_cleanly_100_times);
	RUN(unclaimed_io_is_counted_not_fatal);
	return CHECK_MAIN_END();
}
