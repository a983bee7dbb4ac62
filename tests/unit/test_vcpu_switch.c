/*
 * test_vcpu_switch.c: the world switch under attack, as gVisor's KVM platform tests it: guests
 * that check their own FPU, registers and segments across exits, kicks and migrations, faults,
 * slot invalidation, and many vCPUs stopped at random, all through mvm-run's own vCPU loop.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "guest64.h"

/* ---- the host side: vector registers in use, vm_run under a watchdog ----------------------- */

/* Fill every vector register of this thread with host values (ymm where the CPU has AVX). */
__attribute__((target("avx"))) static void host_ymm_clobber(void)
{
	static const uint8_t v[32] __attribute__((aligned(32))) = {
		0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
		0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
		0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
	};

	__asm__ volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
			 "vmovdqa %0, %%ymm\\i\n .endr"
			 :
			 : "m"(v)
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
			   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static void host_vector_clobber(void)
{
	static const uint8_t v[16] __attribute__((aligned(16))) = {
		0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
		0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd,
	};

	if (__builtin_cpu_supports("avx")) {
		host_ymm_clobber();
		return;
	}
	__asm__ volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
			 "movdqa %0, %%xmm\\i\n .endr\n fldz\n fstp %%st(0)"
			 :
			 : "m"(v)
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
			   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static void exit_clobber(void *op)
{
	(void)op;
	host_vector_clobber();
}

/* A thread copying large buffers (glibc's vector memcpy) and clobbering vectors until told. */
struct copier {
	volatile int stop;
	unsigned long copies;
};

static void *copier_thread(void *p)
{
	struct copier *c = p;
	size_t n = 8 << 20;
	uint8_t *a = malloc(n), *b = malloc(n);

	memset(a, 0x3c, n);
	while (a && b && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		memcpy(b, a, n);
		memcpy(a, b, n);
		host_vector_clobber();
		c->copies++;
	}
	free(a);
	free(b);
	return NULL;
}

struct runner {
	struct vm *vm;
	pthread_t t;
	enum vm_stop_reason why;
};

static void *runner_thread(void *p)
{
	struct runner *r = p;
	struct err e = { 0 };

	r->why = vm_run(r->vm, &e);
	return NULL;
}

static int run_start(struct runner *r, struct vm *vm)
{
	r->vm = vm;
	r->why = VM_RUNNING;
	return pthread_create(&r->t, NULL, runner_thread, r);
}

/* Wait for the VM to stop, at most timeout_s; false (and the VM stopped) when it did not. */
static bool run_wait(struct runner *r, double timeout_s)
{
	struct timespec dl;
	bool stopped;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)timeout_s;
	dl.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
	if (dl.tv_nsec >= 1000000000L)
		dl.tv_sec++, dl.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&r->vm->lock);
	while (r->vm->stop == VM_RUNNING)
		if (pthread_cond_timedwait(&r->vm->stopped, &r->vm->lock, &dl) == ETIMEDOUT)
			break;
	stopped = r->vm->stop != VM_RUNNING;
	pthread_mutex_unlock(&r->vm->lock);
	if (!stopped)
		vm_request_stop(r->vm, VM_STOP_REQUESTED, 0, "test watchdog");
	/* every vCPU thread must end once the VM stops: vm_run joins them all */
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	if (pthread_timedjoin_np(r->t, NULL, &dl)) {
		printf("# vm_run did not return: a vCPU thread did not end; giving up\n");
		exit(1);
	}
	if (r->why != VM_STOP_REQUESTED)
		printf("# the VM stopped: %s: %s\n", vm_stop_name(r->why), r->vm->stop_detail);
	return stopped;
}

static void sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	nanosleep(&ts, NULL);
}

static uint64_t load64(struct vm *vm, uint64_t off)
{
	return __atomic_load_n((uint64_t *)g64_data(vm, off), __ATOMIC_RELAXED);
}

/* Wait until the guest's counter at off passes after (a bounded spin); false if it never did. */
static bool wait_count(struct vm *vm, uint64_t off, uint64_t after, double timeout_s)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (load64(vm, off) > after)
			return true;
		if (vm_stop_reason(vm) != VM_RUNNING)
			return false;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 >
		    timeout_s)
			return false;
		sleep_ns(20000);
	}
}

/*
 * Random values for the guest's vector registers (PAT), general registers (EXP) and its FXSAVE
 * image (IMG: the x87 stack full of random 80-bit values, all valid; MXCSR at reset; xmm_i the
 * low half of PAT's ymm_i). The guest loads the image with FXRSTOR rather than x87 and SSE
 * instructions: PVM, this project's host hypervisor, stops a guest with a KVM emulation error
 * on any x87 or SSE arithmetic (measured), and runs FXSAVE, FXRSTOR and moves.
 */
static void fill_random(struct vm *vm, struct prop_rng *r)
{
	uint8_t *img = g64_data(vm, G64_IMG);

	for (unsigned i = 0; i < 16 * 32 / 8; i++)
		*(uint64_t *)g64_data(vm, G64_PAT + 8 * i) = prop_next(r);
	for (unsigned i = 0; i < 16; i++)
		*(uint64_t *)g64_data(vm, G64_EXP + 8 * i) = prop_next(r);
	memset(img, 0, 512);
	*(uint16_t *)img = 0x037f; /* FCW: all exceptions masked, extended precision */
	img[4] = 0xff;		   /* abridged FTW: all eight registers valid */
	*(uint32_t *)(img + 24) = 0x1f80;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t mant = prop_next(r) | (1ULL << 63); /* normal: integer bit set */
		uint16_t se = (uint16_t)(0x3fff - 32 + prop_below(r, 64)) |
			      (uint16_t)(prop_below(r, 2) << 15);

		memcpy(img + 32 + 16 * i, &mant, 8);
		memcpy(img + 32 + 16 * i + 8, &se, 2);
	}
	for (unsigned i = 0; i < 16; i++)
		memcpy(img + 160 + 16 * i, g64_data(vm, G64_PAT + 32 * i), 16);
}

/* The guest's registers after loading: its own FXSAVE equals the image the host gave it. */
static void check_loaded(struct vm *vm)
{
	const uint8_t *img = g64_data(vm, G64_IMG), *ref = g64_data(vm, G64_REF);

	CHECK(memcmp(img, ref, 2) == 0 && memcmp(img + 24, ref + 24, 4) == 0);
	for (unsigned i = 0; i < 8; i++)
		if (memcmp(img + 32 + 16 * i, ref + 32 + 16 * i, 10))
			CHECK_FAIL_AT("st(%u) not as loaded", i);
	CHECK(memcmp(img + 160, ref + 160, 256) == 0);
}

/*
 * Whether this host's hypervisor runs AVX in a guest that enables it: a probe VM loads one
 * ymm register. Asked once; the answer is printed.
 */
static bool guest_avx_runs(void)
{
	static int runs = -1;
	static struct mvm m;
	struct g64_dev d;
	struct err e = { 0 };

	if (runs >= 0)
		return runs;
	runs = 0;
	if (!__builtin_cpu_supports("avx") || g64_vm_open(&m, 1, g64_avx, &d, &e))
		return false;
	*(uint64_t *)g64_data(&m.vm, G64_USE_AVX) = 1;
	if (vm_run(&m.vm, &e) == VM_STOP_REQUESTED && d.nr_done == 1 &&
	    load64(&m.vm, G64_AVX_ON) == 1)
		runs = 1;
	else
		printf("# AVX: the guest sees it in CPUID, but the hypervisor stops it on an AVX "
		       "load (%s): ymm upper halves not checked on this host\n",
		       vm_stop_name(vm_stop_reason(&m.vm)));
	mvm_close(&m);
	return runs;
}

static void print_bad(const struct g64_dev *d)
{
	if (d->nr_bad)
		printf("# guest reported bad state: code 0x%08x\n", d->bad);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/*
 * x87, SSE and AVX registers hold the guest's values across thousands of port-I/O and MMIO
 * exits while the VMM's exit handler and another thread fill the host's vector registers.
 * (Across kicks: bounce_stress_1000_random_kicks. Across pause/resume: once mvm-run can pause.)
 */
TEST(fpu_survives_exits_under_host_vector_load)
{
	static struct mvm m;
	struct prop_rng r = { prop_seed("fpu_survives_exits_under_host_vector_load") };
	struct g64_dev d;
	struct err e = { 0 };
	struct copier c = { 0 };
	struct runner run;
	pthread_t ct;
	const unsigned rounds = 3000;
	bool avx;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	avx = guest_avx_runs();
	REQUIRE(g64_vm_open(&m, 1, g64_fpu, &d, &e) == 0);
	fill_random(&m.vm, &r);
	*(uint64_t *)g64_data(&m.vm, G64_ROUNDS) = rounds;
	*(uint64_t *)g64_data(&m.vm, G64_USE_AVX) = avx;
	d.on_exit = exit_clobber;
	REQUIRE(pthread_create(&ct, NULL, copier_thread, &c) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	CHECK(run_wait(&run, 20));
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ct, NULL);
	printf("# ymm upper halves %s; %lu host copies of 8 MiB meanwhile\n",
	       load64(&m.vm, G64_AVX_ON) ? "checked" : "not checked", c.copies);
	print_bad(&d);
	check_loaded(&m.vm);
	CHECK_EQ_U(d.nr_bad, 0);
	CHECK_EQ_U(d.nr_done, 1);
	CHECK_EQ_U(d.done, rounds);
	/* half the rounds exit by OUT, half by an MMIO write and a read */
	CHECK_EQ_U(d.exits, rounds / 2);
	CHECK_EQ_U(d.mmio, rounds);
	CHECK_EQ_U(load64(&m.vm, G64_AVX_ON), avx);
	mvm_close(&m);
}

/*
 * Through mvm-run's loop: each round the guest loads every general register (rsp included)
 * and rflags with new values, exits with an OUT, and checks them, its six segment selectors
 * (its own GDT, its own code selector) and FS/GS/kernel-GS bases itself.
 */
TEST(registers_and_segments_survive_mvm_loop)
{
	static struct mvm m;
	/* null, code32, code64, data, then four more data selectors and a second code64 */
	static const uint64_t gdt[] = { 0,
					0x00cf9b000000ffffULL,
					0x00af9b000000ffffULL,
					0x00cf93000000ffffULL,
					0x00cf93000000ffffULL,
					0x00cf93000000ffffULL,
					0x00cf93000000ffffULL,
					0x00cf93000000ffffULL,
					0x00af9b000000ffffULL };
	struct g64_dev d;
	struct err e = { 0 };
	struct runner run;
	const unsigned rounds = 2000;
	const uint64_t base = G64_DATA + G64_GDT;
	uint16_t limit;
	uint8_t *gdtr;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(g64_vm_open(&m, 1, g64_regs, &d, &e) == 0);
	memcpy(g64_data(&m.vm, G64_GDT), gdt, sizeof(gdt));
	gdtr = g64_data(&m.vm, G64_GDTR);
	limit = sizeof(gdt) - 1;
	memcpy(gdtr, &limit, 2);
	memcpy(gdtr + 2, &base, 8);
	*(uint64_t *)g64_data(&m.vm, G64_ROUNDS) = rounds;
	REQUIRE(run_start(&run, &m.vm) == 0);
	CHECK(run_wait(&run, 20));
	if (d.nr_bad)
		printf("# round %llu: damaged mask 0x%08x (bit i: register i, 16 rflags, 17-22 "
		       "ds es ss fs gs cs, 23-25 fs/gs/kernel-gs base)\n",
		       (unsigned long long)load64(&m.vm, G64_ROUND), d.bad);
	CHECK_EQ_U(d.nr_bad, 0);
	CHECK_EQ_U(d.done, rounds);
	CHECK_EQ_U(d.exits, rounds);
	CHECK_EQ_I(run.why, VM_STOP_REQUESTED);
	mvm_close(&m);
}

/*
 * An access where the guest has no memory slot and no device is ignored, as mvm-run(1) says:
 * reads see all ones (the PC's floating bus), writes are dropped, each is counted, the VM runs
 * on; it neither hangs nor crashes.
 */
TEST(unclaimed_access_reads_ones_and_runs_on)
{
	static struct mvm m;
	struct g64_dev d;
	struct err e = { 0 };
	struct runner run;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(g64_vm_open(&m, 1, g64_fault, &d, &e) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	CHECK(run_wait(&run, 10));
	CHECK_EQ_I(run.why, VM_STOP_REQUESTED);
	CHECK_EQ_U(d.nr_done, 1);
	CHECK_EQ_U(load64(&m.vm, G64_GOT), ~0ULL);	       /* 8-byte read */
	CHECK_EQ_U(load64(&m.vm, G64_GOT + 8), 0xffffffffULL); /* 4-byte read, after the write */
	CHECK_EQ_U(m.vm.unhandled_io[0], 3);
	CHECK_EQ_U(d.mmio + d.slot_reads, 0);
	mvm_close(&m);
}

/*
 * gVisor's invalidation: a memory slot removed while the vCPU spins reading it takes effect
 * at the guest's next access, which reaches the device behind it (exactly one read), never a
 * stale page.
 */
TEST(slot_removed_while_running_takes_effect)
{
	static struct mvm m;
	struct g64_dev d;
	struct err e = { 0 };
	struct runner run;
	const uint64_t xval = 0x1122334455667788ULL;
	uint64_t *page = aligned_alloc(4096, 4096);
	unsigned slot;
	uint64_t before;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(page != NULL);
	for (unsigned i = 0; i < 512; i++)
		page[i] = xval;
	REQUIRE(g64_vm_open(&m, 1, g64_slot, &d, &e) == 0);
	*(uint64_t *)g64_data(&m.vm, G64_XVAL) = xval;
	REQUIRE(kvm_slot_alloc(&m.vm.kvm, &slot, &e) == 0);
	REQUIRE(kvm_slot_set(&m.vm.kvm, slot, G64_SLOT_GPA, 4096, page, &e) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	/* the guest reads the slot's page, many times, without an exit */
	CHECK(wait_count(&m.vm, G64_COUNT, 100000, 10));
	before = load64(&m.vm, G64_COUNT);
	CHECK_EQ_U(d.slot_reads, 0);
	CHECK_EQ_I(kvm_slot_set(&m.vm.kvm, slot, G64_SLOT_GPA, 0, NULL, &e), 0);
	if (!run_wait(&run, 10))
		CHECK_FAIL_AT("the removed slot never took effect: the guest still reads memory");
	CHECK_EQ_U(d.nr_done, 1);
	CHECK_EQ_U(d.slot_reads, 1);
	CHECK_EQ_U(load64(&m.vm, G64_GOT), 0xa7a7a7a7a7a7a7a7ULL);
	CHECK(load64(&m.vm, G64_COUNT) > before);
	kvm_slot_free(&m.vm.kvm, slot);
	mvm_close(&m);
	free(page);
}

/*
 * BounceStress: a spinning guest that checks its registers and FPU without pause is kicked
 * out of KVM_RUN 1,000 times at random moments (0.1-1 ms apart); each time the loop resumes
 * it and the guest goes on, every check passing.
 */
TEST(bounce_stress_1000_random_kicks)
{
	static struct mvm m;
	struct prop_rng r = { prop_seed("bounce_stress_1000_random_kicks") };
	struct g64_dev d;
	struct err e = { 0 };
	struct copier c = { 0 };
	struct runner run;
	pthread_t ct;
	unsigned i;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(g64_vm_open(&m, 1, g64_check, &d, &e) == 0);
	fill_random(&m.vm, &r);
	*(uint64_t *)g64_data(&m.vm, G64_USE_AVX) = guest_avx_runs();
	REQUIRE(pthread_create(&ct, NULL, copier_thread, &c) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	CHECK(wait_count(&m.vm, G64_COUNT, 0, 10));
	for (i = 0; i < 1000 && !d.nr_bad; i++) {
		uint64_t exits = __atomic_load_n(&m.vm.exits[0], __ATOMIC_RELAXED);
		uint64_t count;

		sleep_ns(100000 + (long)prop_below(&r, 900000));
		count = load64(&m.vm, G64_COUNT);
		vm_kick(&m.vm, 0);
		/* out of KVM_RUN, then back in the guest and through another check */
		while (__atomic_load_n(&m.vm.exits[0], __ATOMIC_RELAXED) == exits &&
		       vm_stop_reason(&m.vm) == VM_RUNNING)
			sleep_ns(20000);
		if (!wait_count(&m.vm, G64_COUNT, count, 5)) {
			CHECK_FAIL_AT("kick %u: the guest did not resume", i);
			break;
		}
	}
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "test done");
	CHECK(run_wait(&run, 10));
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ct, NULL);
	print_bad(&d);
	check_loaded(&m.vm);
	CHECK_EQ_U(d.nr_bad, 0);
	CHECK_EQ_U(i, 1000);
	CHECK(m.vm.exits[0] >= 1000);
	mvm_close(&m);
}

/*
 * Pause and resume (mvm_pause, the API's PATCH /vm) at random moments, 200 times: while paused
 * the guest's count stands still; resumed, it goes on with every register and FPU check of the
 * guest passing, while the VMM's threads use vector registers.
 */
TEST(pause_resume_keeps_registers_and_fpu)
{
	static struct mvm m;
	struct prop_rng r = { prop_seed("pause_resume_keeps_registers_and_fpu") };
	struct g64_dev d;
	struct err e = { 0 };
	struct copier c = { 0 };
	struct runner run;
	pthread_t ct;
	unsigned i;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(g64_vm_open(&m, 1, g64_check, &d, &e) == 0);
	fill_random(&m.vm, &r);
	*(uint64_t *)g64_data(&m.vm, G64_USE_AVX) = guest_avx_runs();
	REQUIRE(pthread_create(&ct, NULL, copier_thread, &c) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	CHECK(wait_count(&m.vm, G64_COUNT, 0, 10));
	for (i = 0; i < 200 && !d.nr_bad; i++) {
		uint64_t count;

		sleep_ns(100000 + (long)prop_below(&r, 900000));
		mvm_pause(&m);
		count = load64(&m.vm, G64_COUNT);
		sleep_ns(2000000);
		if (load64(&m.vm, G64_COUNT) != count) {
			CHECK_FAIL_AT("pause %u: the guest ran on while paused", i);
			mvm_resume(&m);
			break;
		}
		mvm_resume(&m);
		if (!wait_count(&m.vm, G64_COUNT, count, 5)) {
			CHECK_FAIL_AT("resume %u: the guest did not go on", i);
			break;
		}
	}
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "test done");
	CHECK(run_wait(&run, 10));
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ct, NULL);
	print_bad(&d);
	check_loaded(&m.vm);
	CHECK_EQ_U(d.nr_bad, 0);
	CHECK_EQ_U(i, 200);
	mvm_close(&m);
}

/*
 * A kick is never lost: one sent as soon as the vCPU is out of KVM_RUN from the previous one
 * (before its loop has re-entered) must bring it out again. The guest spins without exits, so
 * only kicks end its KVM_RUN.
 */
TEST(back_to_back_kicks_are_never_lost)
{
	static struct mvm m;
	struct g64_dev d;
	struct err e = { 0 };
	struct runner run;
	unsigned i, lost = 0;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(g64_vm_open(&m, 1, g64_spin, &d, &e) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	while (!__atomic_load_n(&m.vm.vcpu[0].thread_bound, __ATOMIC_ACQUIRE))
		sched_yield();
	for (i = 0; i < 1000 && !lost; i++) {
		uint64_t exits = __atomic_load_n(&m.vm.exits[0], __ATOMIC_ACQUIRE);
		struct timespec t0, t;
		unsigned spins = 0;

		vm_kick(&m.vm, 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* a tight spin: the next kick follows the exit as closely as it can */
		while (__atomic_load_n(&m.vm.exits[0], __ATOMIC_ACQUIRE) == exits) {
			if (++spins % 4096)
				continue;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec >= 2) {
				CHECK_FAIL_AT("kick %u lost: the vCPU stayed in KVM_RUN for 2 s",
					      i);
				lost++;
				break;
			}
		}
	}
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "test done");
	CHECK(run_wait(&run, 10));
	CHECK_EQ_U(lost, 0);
	mvm_close(&m);
}

/* Entries of a /proc directory: fds or threads of this process. */
static unsigned count_dir(const char *path)
{
	DIR *dir = opendir(path);
	unsigned n = 0;

	if (!dir)
		return 0;
	for (struct dirent *d; (d = readdir(dir));)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* nr vCPUs exit in a loop, checking their own registers, kicked at random, stopped at random. */
static void many_vcpus(unsigned nr, struct prop_rng *r)
{
	static struct mvm m;
	struct g64_dev d;
	struct err e = { 0 };
	struct runner run;
	unsigned fds = count_dir("/proc/self/fd"), tasks = count_dir("/proc/self/task");
	long phase_ns = 20000000 + (long)prop_below(r, 80000000);
	struct timespec t0, t;

	REQUIRE(g64_vm_open(&m, nr, g64_many, &d, &e) == 0);
	REQUIRE(run_start(&run, &m.vm) == 0);
	for (unsigned i = 0; i < nr; i++)
		if (!wait_count(&m.vm, G64_COUNT + 8 * i, 0, 20)) {
			CHECK_FAIL_AT("%u vCPUs: vCPU %u never ran", nr, i);
			break;
		}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		vm_kick(&m.vm, (unsigned)prop_below(r, nr));
		sleep_ns(50000 + (long)prop_below(r, 200000));
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < phase_ns);
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "test stop");
	CHECK(run_wait(&run, 20));
	CHECK_EQ_I(run.why, VM_STOP_REQUESTED);
	print_bad(&d);
	CHECK_EQ_U(d.nr_bad, 0);
	CHECK(d.exits >= nr);
	mvm_close(&m);
	/* every vCPU thread ended and every fd is closed (LeakSanitizer checks memory) */
	CHECK_EQ_U(count_dir("/proc/self/task"), tasks);
	CHECK_EQ_U(count_dir("/proc/self/fd"), fds);
}

TEST(many_vcpus_8_and_32_stop_without_leaks)
{
	struct prop_rng r = { prop_seed("many_vcpus_8_and_32_stop_without_leaks") };

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	many_vcpus(8, &r);
	many_vcpus(32, &r);
}

/* The checking guest's vCPU thread is moved from host CPU to host CPU while it runs. */
TEST(vcpu_moved_between_host_cpus_keeps_state)
{
	static struct mvm m;
	struct prop_rng r = { prop_seed("vcpu_moved_between_host_cpus_keeps_state") };
	struct g64_dev d;
	struct err e = { 0 };
	struct runner run;
	cpu_set_t all;
	int cpus[CPU_SETSIZE], nr = 0, moves = 0;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(sched_getaffinity(0, sizeof(all), &all) == 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all))
			cpus[nr++] = c;
	if (nr < 2)
		SKIP("one host CPU: nowhere to move a vCPU");
	REQUIRE(g64_vm_open(&m, 1, g64_check, &d, &e) == 0);
	fill_random(&m.vm, &r);
	*(uint64_t *)g64_data(&m.vm, G64_USE_AVX) = guest_avx_runs();
	REQUIRE(run_start(&run, &m.vm) == 0);
	CHECK(wait_count(&m.vm, G64_COUNT, 0, 10));
	for (unsigned i = 0; i < 200 && !d.nr_bad; i++) {
		cpu_set_t one;
		uint64_t count = load64(&m.vm, G64_COUNT);

		CPU_ZERO(&one);
		CPU_SET(cpus[i % (unsigned)nr], &one);
		if (pthread_setaffinity_np(m.vm.vcpu[0].thread, sizeof(one), &one) == 0)
			moves++;
		sleep_ns(100000 + (long)prop_below(&r, 900000));
		if (!wait_count(&m.vm, G64_COUNT, count, 5)) {
			CHECK_FAIL_AT("move %u: the guest stopped running", i);
			break;
		}
	}
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "test done");
	CHECK(run_wait(&run, 10));
	print_bad(&d);
	check_loaded(&m.vm);
	CHECK_EQ_U(d.nr_bad, 0);
	CHECK_EQ_I(moves, 200);
	CHECK(d.mmio > 0);
	mvm_close(&m);
}

int main(void)
{
	RUN(fpu_survives_exits_under_host_vector_load);
	RUN(registers_and_segments_survive_mvm_loop);
	RUN(unclaimed_access_reads_ones_and_runs_on);
	RUN(slot_removed_while_running_takes_effect);
	RUN(bounce_stress_1000_random_kicks);
	RUN(back_to_back_kicks_are_never_lost);
	RUN(pause_resume_keeps_registers_and_fpu);
	RUN(many_vcpus_8_and_32_stop_without_leaks);
	RUN(vcpu_moved_between_host_cpus_keeps_state);
	return CHECK_MAIN_END();
}
