/* test_kvm.c: the KVM layer's slots, GSI routes and irqfds on the host's /dev/kvm, checked
 * against what KVM itself reports (region conflicts, the LAPIC's IRR, the IOAPIC's IRR). */
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "kvm.h"
#include "mvm_testlib.h"

/* MSI address for LAPIC id 0, physical destination mode (Intel SDM vol. 3, 11.11.1). */
#define MSI_ADDR_APIC0 0xfee00000ULL
#define APIC_SPIV      0xf0  /* spurious-interrupt vector register; bit 8: APIC enabled */
#define APIC_IRR       0x200 /* 8 registers, 16 bytes apart, 32 vectors each */

/* A VM with the in-kernel irqchip and one vCPU whose LAPIC accepts fixed interrupts. */
static int irq_vm(struct kvm_vm *vm, struct kvm_vcpu *cpu)
{
	struct err e = { 0 };
	struct kvm_lapic_state l;
	uint32_t spiv;

	if (kvm_vm_open(vm, KVM_DEV, &e) || kvm_vm_create_irqchip(vm, &e) ||
	    kvm_vcpu_open(vm, cpu, 0, &e)) {
		printf("# irq_vm: %s\n", e.msg);
		return -1;
	}
	/* An APIC that is not software-enabled drops fixed interrupts (SDM 11.4.7.2). */
	if (ioctl(cpu->fd, KVM_GET_LAPIC, &l) < 0)
		return -1;
	memcpy(&spiv, &l.regs[APIC_SPIV], 4);
	spiv |= 0x100;
	memcpy(&l.regs[APIC_SPIV], &spiv, 4);
	return ioctl(cpu->fd, KVM_SET_LAPIC, &l);
}

static void irq_vm_close(struct kvm_vm *vm, struct kvm_vcpu *cpu)
{
	kvm_vcpu_close(cpu);
	kvm_vm_close(vm);
}

/* Whether the vCPU's LAPIC has vector pending (requested, not yet serviced). */
static bool lapic_pending(struct kvm_vcpu *cpu, unsigned vector)
{
	struct kvm_lapic_state l;
	uint32_t irr;

	if (ioctl(cpu->fd, KVM_GET_LAPIC, &l) < 0)
		return false;
	memcpy(&irr, &l.regs[APIC_IRR + 0x10 * (vector / 32)], 4);
	return irr >> (vector % 32) & 1;
}

/* Forget every pending vector, so that the next check sees only what comes after. */
static void lapic_clear_pending(struct kvm_vcpu *cpu)
{
	struct kvm_lapic_state l;

	if (ioctl(cpu->fd, KVM_GET_LAPIC, &l) < 0)
		return;
	for (unsigned i = 0; i < 8; i++)
		memset(&l.regs[APIC_IRR + 0x10 * i], 0, 4);
	(void)ioctl(cpu->fd, KVM_SET_LAPIC, &l);
}

/* irqfds inject from a kernel worker: wait up to a second for vector to arrive. */
static bool lapic_pending_soon(struct kvm_vcpu *cpu, unsigned vector, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		if (lapic_pending(cpu, vector))
			return true;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return lapic_pending(cpu, vector);
}

/* Raise an edge on gsi, as a device on that line would. */
static void fire(struct kvm_vm *vm, unsigned gsi)
{
	kvm_vm_irq_line(vm, gsi, 1);
	kvm_vm_irq_line(vm, gsi, 0);
}

static uint32_t ioapic_irr(struct kvm_vm *vm)
{
	struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_IOAPIC };

	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
		return 0;
	return c.chip.ioapic.irr;
}

/*
 * KVM decides whether a slot was really removed: it refuses a region that overlaps a live
 * one (EEXIST) and a new size for a live slot (EINVAL).
 */
TEST(slot_alloc_free_reuse)
{
	static struct kvm_vm vm;
	struct err e = { 0 };
	unsigned a, b, c, again;
	const uint64_t mib = 1 << 20;
	uint8_t *mem;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(kvm_vm_open(&vm, KVM_DEV, &e) == 0);
	mem = mmap(NULL, 4 * mib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(mem != MAP_FAILED);
	REQUIRE(kvm_slot_alloc(&vm, &a, &e) == 0);
	REQUIRE(kvm_slot_alloc(&vm, &b, &e) == 0);
	REQUIRE(kvm_slot_alloc(&vm, &c, &e) == 0);
	CHECK(a != b && b != c && a != c);
	CHECK_EQ_I(kvm_slot_set(&vm, a, mib, mib, mem, &e), 0);
	/* the same range in another slot: KVM sees the overlap */
	CHECK_EQ_I(kvm_slot_set(&vm, b, mib, mib, mem + mib, &e), -EEXIST);
	/* removing a region KVM never had is not an error (KVM itself would say EINVAL) */
	CHECK_EQ_I(kvm_slot_set(&vm, c, 0, 0, NULL, &e), 0);

	kvm_slot_free(&vm, a);
	CHECK_EQ_I(kvm_slot_set(&vm, a, 8 * mib, mib, mem, &e), -EINVAL); /* no longer ours */
	/* the region went with the slot: b may take its range now */
	CHECK_EQ_I(kvm_slot_set(&vm, b, mib, mib, mem + mib, &e), 0);
	REQUIRE(kvm_slot_alloc(&vm, &again, &e) == 0);
	CHECK_EQ_U(again, a);
	/* a new size for the reused number: KVM would refuse it on a live slot */
	CHECK_EQ_I(kvm_slot_set(&vm, again, 16 * mib, 4096, mem + 2 * mib, &e), 0);

	/* a moved region: removed (size 0), then set again elsewhere */
	CHECK_EQ_I(kvm_slot_set(&vm, b, mib, 0, NULL, &e), 0);
	CHECK_EQ_I(kvm_slot_set(&vm, again, mib, mib, mem, &e), -EINVAL); /* live: no resize */
	CHECK_EQ_I(kvm_slot_set(&vm, b, 32 * mib, mib, mem + mib, &e), 0);

	/* every number handed out is one KVM accepts */
	{
		int cap = ioctl(vm.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
		unsigned last = 0, n = 3;
		int rc;

		while ((rc = kvm_slot_alloc(&vm, &last, &e)) == 0)
			n++;
		CHECK_EQ_I(rc, -ENOSPC);
		CHECK(cap <= 0 || n <= (unsigned)cap);
		CHECK_EQ_I(kvm_slot_set(&vm, n - 1, 64 * mib, 4096, mem + 3 * mib, &e), 0);
	}
	kvm_vm_close(&vm);
	kvm_vm_close(&vm); /* idempotent */
	munmap(mem, 4 * mib);
}

TEST(route_table_add_replace_remove)
{
	static struct kvm_vm vm;
	struct kvm_vcpu cpu;
	struct err e = { 0 };
	unsigned g1, g2, g3;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(irq_vm(&vm, &cpu) == 0);
	REQUIRE(kvm_gsi_alloc(&vm, &g1, &e) == 0);
	REQUIRE(kvm_gsi_alloc(&vm, &g2, &e) == 0);
	CHECK(g1 >= IOAPIC_PINS && g2 >= IOAPIC_PINS && g1 != g2); /* off the IOAPIC's pins */

	/* add: the GSI delivers the route's vector */
	REQUIRE(kvm_route_msi_set(&vm, g1, MSI_ADDR_APIC0, 0x45, &e) == 0);
	fire(&vm, g1);
	CHECK(lapic_pending(&cpu, 0x45));

	/* replace: the new vector only (KVM refuses two MSI routes for one GSI anyway) */
	lapic_clear_pending(&cpu);
	CHECK_EQ_I(kvm_route_msi_set(&vm, g1, MSI_ADDR_APIC0, 0x46, &e), 0);
	fire(&vm, g1);
	CHECK(lapic_pending(&cpu, 0x46));
	CHECK(!lapic_pending(&cpu, 0x45));

	/* a second route leaves the first in place */
	lapic_clear_pending(&cpu);
	CHECK_EQ_I(kvm_route_msi_set(&vm, g2, MSI_ADDR_APIC0, 0x50, &e), 0);
	fire(&vm, g1);
	fire(&vm, g2);
	CHECK(lapic_pending(&cpu, 0x46));
	CHECK(lapic_pending(&cpu, 0x50));

	/* remove: g1 delivers nothing, g2 still does */
	lapic_clear_pending(&cpu);
	CHECK_EQ_I(kvm_route_clear(&vm, g1, &e), 0);
	fire(&vm, g1);
	fire(&vm, g2);
	CHECK(!lapic_pending(&cpu, 0x46));
	CHECK(lapic_pending(&cpu, 0x50));

	/* the irqchip's pins survived every commit: GSI 5 still reaches IOAPIC pin 5 */
	kvm_vm_irq_line(&vm, 5, 1);
	CHECK(ioapic_irr(&vm) & (1u << 5));
	kvm_vm_irq_line(&vm, 5, 0);

	/* a freed GSI loses its route and is handed out again */
	kvm_gsi_free(&vm, g2);
	lapic_clear_pending(&cpu);
	fire(&vm, g2);
	CHECK(!lapic_pending(&cpu, 0x50));
	REQUIRE(kvm_gsi_alloc(&vm, &g3, &e) == 0);
	CHECK_EQ_U(g3, g2);
	irq_vm_close(&vm, &cpu);
}

/* Every MSI GSI can hold a route at once: the table has room for them and the pins. */
TEST(route_table_full_range)
{
	static struct kvm_vm vm;
	struct kvm_vcpu cpu;
	struct err e = { 0 };
	unsigned g, n = 0, first = 0;
	int rc;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(irq_vm(&vm, &cpu) == 0);
	while ((rc = kvm_gsi_alloc(&vm, &g, &e)) == 0) {
		if (!n++)
			first = g;
		if (kvm_route_msi_set(&vm, g, MSI_ADDR_APIC0, 0x40 + g % 0xb0, &e)) {
			CHECK_FAIL_AT("route for GSI %u (%u routed): %s", g, n - 1, e.msg);
			break;
		}
	}
	CHECK_EQ_I(rc, -ENOSPC);
	CHECK_EQ_U(n, VM_MSI_GSI_END - VM_MSI_FIRST_GSI);
	lapic_clear_pending(&cpu);
	fire(&vm, first);
	CHECK(lapic_pending(&cpu, 0x40 + first % 0xb0));
	irq_vm_close(&vm, &cpu);
}

/* An eventfd write raises the GSI; after deassign it waits in the eventfd until assigned again. */
TEST(irqfd_assign_deassign_delivers)
{
	static struct kvm_vm vm;
	struct kvm_vcpu cpu;
	struct err e = { 0 };
	uint64_t one = 1;
	unsigned g;
	int fd;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(irq_vm(&vm, &cpu) == 0);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	REQUIRE(fd >= 0);
	REQUIRE(kvm_gsi_alloc(&vm, &g, &e) == 0);
	REQUIRE(kvm_route_msi_set(&vm, g, MSI_ADDR_APIC0, 0x61, &e) == 0);
	CHECK_EQ_I(kvm_irqfd_assign(&vm, fd, g, &e), 0);
	CHECK(!lapic_pending(&cpu, 0x61));
	CHECK(write(fd, &one, 8) == 8);
	CHECK(lapic_pending_soon(&cpu, 0x61, 1000));

	CHECK_EQ_I(kvm_irqfd_deassign(&vm, fd, g, &e), 0);
	lapic_clear_pending(&cpu);
	CHECK(write(fd, &one, 8) == 8);
	CHECK(!lapic_pending_soon(&cpu, 0x61, 50));
	/* KVM delivers what waited in the eventfd as soon as it is assigned again */
	CHECK_EQ_I(kvm_irqfd_assign(&vm, fd, g, &e), 0);
	CHECK(lapic_pending_soon(&cpu, 0x61, 1000));
	CHECK_EQ_I(kvm_irqfd_deassign(&vm, fd, g, &e), 0);
	close(fd);
	irq_vm_close(&vm, &cpu);
}

/*
 * A level irqfd (PCI INTx): a write asserts its IOAPIC pin and the line stays up, as KVM's own
 * IOAPIC IRR shows, until the guest's EOI (which no vCPU gives here); a plain irqfd pulses the
 * line, so its IRR bit falls again at once. Deassigned, the line is not raised again.
 */
TEST(level_irqfd_holds_the_ioapic_line)
{
	static struct kvm_vm vm;
	struct kvm_vcpu cpu;
	struct err e = { 0 };
	uint64_t one = 1;
	const unsigned gsi = 22;
	int fd, resample;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(irq_vm(&vm, &cpu) == 0);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	resample = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	REQUIRE(fd >= 0 && resample >= 0);
	CHECK_EQ_I(kvm_irqfd_assign_level(&vm, fd, resample, gsi, &e), 0);
	CHECK_EQ_U(ioapic_irr(&vm) >> gsi & 1, 0);
	CHECK(write(fd, &one, 8) == 8);
	for (int i = 0; i < 1000 && !(ioapic_irr(&vm) >> gsi & 1); i++)
		usleep(1000);
	usleep(20000); /* a pulse would have fallen by now */
	CHECK_EQ_U(ioapic_irr(&vm) >> gsi & 1, 1);
	CHECK_EQ_I(kvm_irqfd_deassign(&vm, fd, gsi, &e), 0);
	close(fd);
	close(resample);
	irq_vm_close(&vm, &cpu);
}

struct router {
	struct kvm_vm *vm;
	unsigned gsi, vector;
	int failures;
};

/* Each thread adds, replaces and removes its own GSI's route, ending with its vector routed. */
static void *route_churn(void *p)
{
	struct router *r = p;
	struct err e = { 0 };

	for (unsigned i = 0; i < 2000; i++) {
		if (kvm_route_msi_set(r->vm, r->gsi, MSI_ADDR_APIC0, r->vector + 1, &e) ||
		    kvm_route_msi_set(r->vm, r->gsi, MSI_ADDR_APIC0, r->vector, &e) ||
		    (i < 1999 && kvm_route_clear(r->vm, r->gsi, &e)))
			r->failures++;
	}
	return NULL;
}

/* vCPU threads route under their devices' locks only: the layer's own lock keeps the table. */
TEST(routes_from_several_threads)
{
	static struct kvm_vm vm;
	struct kvm_vcpu cpu;
	struct err e = { 0 };
	struct router r[4];
	pthread_t t[4];

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(irq_vm(&vm, &cpu) == 0);
	for (unsigned i = 0; i < 4; i++) {
		r[i] = (struct router){ &vm, 0, 0x70 + 2 * i, 0 };
		REQUIRE(kvm_gsi_alloc(&vm, &r[i].gsi, &e) == 0);
	}
	for (unsigned i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, route_churn, &r[i]) == 0);
	for (unsigned i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	lapic_clear_pending(&cpu);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ_I(r[i].failures, 0);
		fire(&vm, r[i].gsi);
		/* each thread's last change routed its vector */
		CHECK(lapic_pending(&cpu, r[i].vector));
		CHECK(!lapic_pending(&cpu, r[i].vector + 1));
	}
	CHECK_EQ_U(vm.routes->nr, IOAPIC_PINS + PIC_PINS + 4); /* one entry per GSI, no more */
	irq_vm_close(&vm, &cpu);
}

TEST(vfio_device_needs_open)
{
	static struct kvm_vm vm;
	struct err e = { 0 };
	int fd;

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(kvm_vm_open(&vm, KVM_DEV, &e) == 0);
	fd = eventfd(0, EFD_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK_EQ_I(kvm_vfio_add(&vm, fd, &e), -EBADF);
	if (kvm_vfio_open(&vm, &e) == 0) {
		/* an eventfd is no VFIO group: KVM refuses it */
		CHECK(kvm_vfio_add(&vm, fd, &e) < 0);
		CHECK(vm.vfio_dev_fd >= 0);
	}
	kvm_vm_close(&vm);
	CHECK_EQ_I(vm.vfio_dev_fd, -1);
	close(fd);
}

/*
 * The 8259s as firmware hands them over: every line masked and, were one unmasked without
 * reinitialising the chip, a vector outside the 32 the CPU reserves for exceptions (SDM vol. 3,
 * 6.2). Read back from KVM. KVM's own reset state (base 0, nothing masked) delivered COM1's IRQ
 * 4 at vector 4 (#OF) to a guest that never programs the 8259 (hardware-reduced ACPI).
 */
TEST(pic_handed_over_masked_off_exception_vectors)
{
	static struct kvm_vm vm;
	struct err e = { 0 };
	const uint32_t chips[2] = { KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE };

	if (!kvm_usable())
		SKIP("no usable " KVM_DEV);
	REQUIRE(kvm_vm_open(&vm, KVM_DEV, &e) == 0);
	REQUIRE(kvm_vm_create_irqchip(&vm, &e) == 0);
	for (unsigned i = 0; i < 2; i++) {
		struct kvm_irqchip c = { .chip_id = chips[i] };

		REQUIRE(ioctl(vm.vm_fd, KVM_GET_IRQCHIP, &c) == 0);
		CHECK_EQ_U(c.chip.pic.imr, 0xff);
		CHECK(c.chip.pic.irq_base >= 32);
		CHECK_EQ_U(c.chip.pic.irq_base % 8, 0); /* ICW2: T7-T3 only */
	}
	kvm_vm_close(&vm);
}

int main(void)
{
	RUN(slot_alloc_free_reuse);
	RUN(route_table_add_replace_remove);
	RUN(route_table_full_range);
	RUN(irqfd_assign_deassign_delivers);
	RUN(routes_from_several_threads);
	RUN(vfio_device_needs_open);
	RUN(pic_handed_over_masked_off_exception_vectors);
	RUN(level_irqfd_holds_the_ioapic_line);
	return CHECK_MAIN_END();
}
