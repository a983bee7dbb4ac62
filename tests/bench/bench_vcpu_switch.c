/*
 * bench_vcpu_switch.c: the world switch by kind of exit (port I/O, MMIO, a halted vCPU kicked,
 * a spinning vCPU kicked) through mvm-run's vCPU loop, and per-vCPU exit cost with 1, 2 and 8
 * vCPUs exiting at once, each beside a bare KVM_RUN loop doing the same on the same guest (the
 * floor), measured in this run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "guest64.h"

#define EXITS	      20000u /* port-I/O and MMIO round trips per measurement */
#define KICKS	      500u   /* kick round trips per measurement */
#define REPEATS	      3	     /* floor and mvm-run alternately; the best of each counts */
#define THROUGHPUT_MS 200    /* how long the vCPUs of a throughput run exit */

/* ---- the floor: bare KVM_RUN loops on their own threads ----------------------------------- */

struct bare {
	struct kvm_vcpu *v;
	uint32_t reason; /* the exit expected; kicks (-EINTR) are always counted */
	int stop, bad;
	uint64_t n; /* KVM_RUN returns */
	pthread_t t;
};

static void *bare_thread(void *p)
{
	struct bare *b = p;

	kvm_vcpu_bind_thread(b->v);
	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		int rc = kvm_vcpu_run(b->v);

		if (rc == -EINTR || rc == -EAGAIN)
			kvm_vcpu_clear_kick(b->v);
		else if (rc < 0 || b->v->run->exit_reason != b->reason) {
			fprintf(stderr, "bench_vcpu_switch: bare loop: KVM_RUN %d, exit %s\n", rc,
				kvm_exit_name(b->v->run->exit_reason));
			b->bad = 1;
			break;
		}
		__atomic_add_fetch(&b->n, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int bare_start(struct bare *b, struct kvm_vcpu *v, uint32_t reason)
{
	memset(b, 0, sizeof(*b));
	b->v = v;
	b->reason = reason;
	return pthread_create(&b->t, NULL, bare_thread, b);
}

static int bare_stop(struct bare *b)
{
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	kvm_vcpu_kick(b->v);
	pthread_join(b->t, NULL);
	return b->bad ? -1 : 0;
}

/* ---- mvm-run's loop ------------------------------------------------------------------------ */

struct stop_at {
	struct vm *vm;
	uint64_t n, at;
};

static void count_and_stop(void *op)
{
	struct stop_at *s = op;

	if (++s->n == s->at)
		vm_request_stop(s->vm, VM_STOP_REQUESTED, 0, "done");
}

struct runner {
	struct vm *vm;
	pthread_t t;
};

static void *runner_thread(void *p)
{
	struct runner *r = p;
	struct err e = { 0 };

	vm_run(r->vm, &e);
	return NULL;
}

static int open_vm(struct mvm *m, unsigned nr, const uint8_t *entry, struct g64_dev *d)
{
	struct err e = { 0 };

	if (g64_vm_open(m, nr, entry, d, &e)) {
		fprintf(stderr, "bench_vcpu_switch: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* ns per exit of one vCPU in a bare loop that expects reason, EXITS times. */
static double floor_exits(const uint8_t *entry, uint32_t reason)
{
	static struct mvm m;
	struct g64_dev d;
	struct kvm_vcpu *v;
	double t0, ns;

	if (open_vm(&m, 1, entry, &d))
		return -1;
	v = &m.vm.vcpu[0];
	t0 = clock_now_s();
	for (unsigned i = 0; i < EXITS; i++)
		if (kvm_vcpu_run(v) || v->run->exit_reason != reason) {
			mvm_close(&m);
			return -1;
		}
	ns = (clock_now_s() - t0) * 1e9 / EXITS;
	mvm_close(&m);
	return ns;
}

/* The same through vm_run: the test device stops the VM at the EXITS-th access. */
static double mvm_exits(const uint8_t *entry)
{
	static struct mvm m;
	struct g64_dev d;
	struct err e = { 0 };
	struct stop_at s = { &m.vm, 0, EXITS };
	double t0, ns;

	if (open_vm(&m, 1, entry, &d))
		return -1;
	d.on_exit = count_and_stop;
	d.op = &s;
	t0 = clock_now_s();
	vm_run(&m.vm, &e);
	ns = (clock_now_s() - t0) * 1e9 / (double)s.n;
	mvm_close(&m);
	return s.n == EXITS ? ns : -1;
}

/* Kick, wait until the vCPU is out of KVM_RUN (its counter moved), KICKS times: ns each. */
static double kick_rounds(struct vm *vm, struct kvm_vcpu *v, const uint64_t *count, bool via_vm)
{
	double t0;

	while (__atomic_load_n(count, __ATOMIC_ACQUIRE) == 0)
		; /* until the priming kick is through */
	t0 = clock_now_s();
	for (unsigned i = 0; i < KICKS; i++) {
		uint64_t n = __atomic_load_n(count, __ATOMIC_ACQUIRE);
		double t = clock_now_s();

		if (via_vm)
			vm_kick(vm, 0);
		else
			kvm_vcpu_kick(v);
		while (__atomic_load_n(count, __ATOMIC_ACQUIRE) == n)
			if (clock_now_s() - t > 5) {
				fprintf(stderr,
					"bench_vcpu_switch: kick %u: still in KVM_RUN after 5 s\n",
					i);
				return -1;
			}
	}
	return (clock_now_s() - t0) * 1e9 / KICKS;
}

static double floor_kicks(const uint8_t *entry)
{
	static struct mvm m;
	struct g64_dev d;
	struct bare b;
	double ns;

	if (open_vm(&m, 1, entry, &d))
		return -1;
	if (bare_start(&b, &m.vm.vcpu[0], KVM_EXIT_INTR)) {
		mvm_close(&m);
		return -1;
	}
	/* the first KVM_RUN return is the first kick's: count from a kick that primes it */
	kvm_vcpu_kick(&m.vm.vcpu[0]);
	ns = kick_rounds(&m.vm, &m.vm.vcpu[0], &b.n, false);
	if (bare_stop(&b))
		ns = -1;
	mvm_close(&m);
	return ns;
}

static double mvm_kicks(const uint8_t *entry)
{
	static struct mvm m;
	struct g64_dev d;
	struct runner r = { &m.vm, 0 };
	double ns;

	if (open_vm(&m, 1, entry, &d))
		return -1;
	if (pthread_create(&r.t, NULL, runner_thread, &r)) {
		mvm_close(&m);
		return -1;
	}
	while (!__atomic_load_n(&m.vm.vcpu[0].thread_bound, __ATOMIC_ACQUIRE))
		;
	vm_kick(&m.vm, 0);
	ns = kick_rounds(&m.vm, NULL, &m.vm.exits[0], true);
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "done");
	pthread_join(r.t, NULL);
	mvm_close(&m);
	return ns;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* nr vCPUs doing port I/O at once for THROUGHPUT_MS: ns per exit of one vCPU. */
static double floor_throughput(unsigned nr)
{
	static struct mvm m;
	struct g64_dev d;
	struct bare b[8];
	uint64_t n = 0;
	double t0, t;
	int bad = 0;

	if (open_vm(&m, nr, g64_pio, &d))
		return -1;
	t0 = clock_now_s();
	for (unsigned i = 0; i < nr; i++)
		bad |= bare_start(&b[i], &m.vm.vcpu[i], KVM_EXIT_IO);
	sleep_ms(THROUGHPUT_MS);
	for (unsigned i = 0; i < nr; i++)
		n += __atomic_load_n(&b[i].n, __ATOMIC_ACQUIRE);
	t = clock_now_s() - t0;
	for (unsigned i = 0; i < nr; i++)
		bad |= bare_stop(&b[i]);
	mvm_close(&m);
	return bad || !n ? -1 : t * 1e9 * nr / (double)n;
}

static double mvm_throughput(unsigned nr)
{
	static struct mvm m;
	struct g64_dev d;
	struct runner r = { &m.vm, 0 };
	uint64_t n;
	double t0, t;

	if (open_vm(&m, nr, g64_pio, &d))
		return -1;
	t0 = clock_now_s();
	if (pthread_create(&r.t, NULL, runner_thread, &r)) {
		mvm_close(&m);
		return -1;
	}
	sleep_ms(THROUGHPUT_MS);
	n = __atomic_load_n(&d.exits, __ATOMIC_ACQUIRE);
	t = clock_now_s() - t0;
	vm_request_stop(&m.vm, VM_STOP_REQUESTED, 0, "done");
	pthread_join(r.t, NULL);
	mvm_close(&m);
	return n ? t * 1e9 * nr / (double)n : -1;
}

/* One kind of measurement: ns per exit, or < 0 when it failed. */
struct measure {
	double (*fn)(const void *arg);
	const void *arg;
};

static double best_of(const struct measure *m, double best)
{
	double ns = m->fn(m->arg);

	return ns < 0 || best < 0 ? -1 : best == 0 || ns < best ? ns : best;
}

/* Floor and mvm-run alternately, REPEATS times (the host is shared: the best of each counts). */
static int row(const char *what, struct measure floor, struct measure mvm)
{
	double floor_ns = 0, mvm_ns = 0;

	for (unsigned i = 0; i < REPEATS; i++) {
		floor_ns = best_of(&floor, floor_ns);
		mvm_ns = best_of(&mvm, mvm_ns);
	}
	if (floor_ns <= 0 || mvm_ns <= 0) {
		fprintf(stderr, "bench_vcpu_switch: %s: the measurement failed\n", what);
		return 1;
	}
	printf("%-36s bare KVM_RUN loop (floor) %8.0f ns, mvm-run vCPU loop %8.0f ns  (%.2fx "
	       "the floor)\n",
	       what, floor_ns, mvm_ns, mvm_ns / floor_ns);
	return 0;
}

struct exits_arg {
	const uint8_t *entry;
	uint32_t reason;
};

static double floor_exits_m(const void *p)
{
	const struct exits_arg *a = p;

	return floor_exits(a->entry, a->reason);
}

static double mvm_exits_m(const void *p)
{
	return mvm_exits(((const struct exits_arg *)p)->entry);
}

static double floor_kicks_m(const void *p)
{
	return floor_kicks(p);
}

static double mvm_kicks_m(const void *p)
{
	return mvm_kicks(p);
}

static double floor_throughput_m(const void *p)
{
	return floor_throughput(*(const unsigned *)p);
}

static double mvm_throughput_m(const void *p)
{
	return mvm_throughput(*(const unsigned *)p);
}

int main(void)
{
	static const struct exits_arg pio = { g64_pio, KVM_EXIT_IO },
				      mmio = { g64_mmio, KVM_EXIT_MMIO };
	static const unsigned nrs[] = { 1, 2, 8 };
	struct err e = { 0 };
	int bad = 0;
	char what[64];

	if (!kvm_usable() || kvm_kick_init(&e)) {
		/* a bench that cannot compare fails: make bench never passes on no work */
		fprintf(stderr, "bench_vcpu_switch: " KVM_DEV ": not usable; nothing compared\n");
		return 1;
	}
	bad |= row("port-I/O exit round trip", (struct measure){ floor_exits_m, &pio },
		   (struct measure){ mvm_exits_m, &pio });
	bad |= row("MMIO exit round trip", (struct measure){ floor_exits_m, &mmio },
		   (struct measure){ mvm_exits_m, &mmio });
	/* With the in-kernel LAPIC a HLT never leaves KVM_RUN: the VMM's kick is what wakes it. */
	bad |= row("HLT: a halted vCPU kicked out", (struct measure){ floor_kicks_m, g64_hlt },
		   (struct measure){ mvm_kicks_m, g64_hlt });
	bad |= row("kick: a spinning vCPU kicked out", (struct measure){ floor_kicks_m, g64_spin },
		   (struct measure){ mvm_kicks_m, g64_spin });
	for (unsigned i = 0; i < 3; i++) {
		snprintf(what, sizeof(what), "port I/O, %u vCPU%s at once, per vCPU", nrs[i],
			 nrs[i] > 1 ? "s" : "");
		bad |= row(what, (struct measure){ floor_throughput_m, &nrs[i] },
			   (struct measure){ mvm_throughput_m, &nrs[i] });
	}
	return bad;
}
