/* kvm.c: the KVM layer on /dev/kvm: memory slots, GSI routes, irqfds, irqchip, vCPUs, dumps. */
#include "kvm.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* KVM_TSS_GPA, KVM_IDENTITY_MAP_GPA: Intel's real-mode pages, inside the MMIO hole (layout.h). */

int kvm_vm_open(struct kvm_vm *vm, const char *dev_path, struct err *e)
{
	int version, slots;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = vm->vfio_dev_fd = -1;
	pthread_mutex_init(&vm->route_lock, NULL);
	vm->opened = true;
	vm->kvm_fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) /* the device the caller named: no KVM there is bad input */
		return err_input(e, errno, "%s: %s", dev_path, strerror(errno));
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		kvm_vm_close(vm);
		return err_set(e, ENOTSUP, "%s: KVM API version %d, expected %d", dev_path, version,
			       KVM_API_VERSION);
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
		int rc = err_set(e, errno ? errno : EINVAL, "%s: KVM_GET_VCPU_MMAP_SIZE: %s",
				 dev_path, strerror(errno ? errno : EINVAL));
		kvm_vm_close(vm);
		return rc;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		int rc = err_set(e, errno, "KVM_CREATE_VM: %s", strerror(errno));
		kvm_vm_close(vm);
		return rc;
	}
	slots = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (slots <= 0)
		slots = 32; /* what KVM offered before it said */
	vm->nr_slots_max = slots < KVM_SLOTS_MAX ? (unsigned)slots : KVM_SLOTS_MAX;
	/* Intel needs these below 4 GiB and outside RAM; other back-ends ignore or refuse them. */
	(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA);
	{
		uint64_t idmap = KVM_IDENTITY_MAP_GPA;

		(void)ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	return 0;
}

void kvm_vm_close(struct kvm_vm *vm)
{
	if (!vm->opened) /* never opened, or closed already */
		return;
	kvm_vfio_close(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	free(vm->routes);
	vm->routes = NULL;
	pthread_mutex_destroy(&vm->route_lock);
	vm->opened = false;
}

int kvm_vm_add_ram(struct kvm_vm *vm, gpa_t gpa, uint64_t size_bytes, void *hva, struct err *e)
{
	unsigned slot;
	int rc = kvm_slot_alloc(vm, &slot, e);

	if (!rc)
		rc = kvm_slot_set(vm, slot, gpa, size_bytes, hva, e);
	return rc;
}

/* ---- memory slots ---------------------------------------------------------------------------- */

static bool bit_test(const uint64_t *map, unsigned i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *map, unsigned i, bool on)
{
	if (on)
		map[i / 64] |= 1ULL << (i % 64);
	else
		map[i / 64] &= ~(1ULL << (i % 64));
}

/* The lowest clear bit below n, or n when every one is set. */
static unsigned bit_first_clear(const uint64_t *map, unsigned n)
{
	unsigned i = 0;

	while (i < n && bit_test(map, i))
		i++;
	return i;
}

int kvm_slot_alloc(struct kvm_vm *vm, unsigned *slot, struct err *e)
{
	unsigned i = bit_first_clear(vm->slot_used, vm->nr_slots_max);

	if (i == vm->nr_slots_max)
		return err_set(e, ENOSPC, "out of KVM memory slots (%u)", vm->nr_slots_max);
	bit_set(vm->slot_used, i, true);
	*slot = i;
	return 0;
}

int kvm_slot_set(struct kvm_vm *vm, unsigned slot, gpa_t gpa, uint64_t size_bytes, void *hva,
		 struct err *e)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size_bytes,
		.userspace_addr = (uintptr_t)hva,
	};

	if (slot >= vm->nr_slots_max || !bit_test(vm->slot_used, slot))
		return err_set(e, EINVAL, "memory slot %u is not allocated", slot);
	/* KVM refuses to delete a region it does not hold: removing none is done already. */
	if (!size_bytes && !bit_test(vm->slot_mapped, slot))
		return 0;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return err_set(e, errno, "KVM_SET_USER_MEMORY_REGION slot %u [0x%llx, +0x%llx): %s",
			       slot, (unsigned long long)gpa, (unsigned long long)size_bytes,
			       strerror(errno));
	bit_set(vm->slot_mapped, slot, size_bytes != 0);
	return 0;
}

void kvm_slot_free(struct kvm_vm *vm, unsigned slot)
{
	if (slot >= vm->nr_slots_max || !bit_test(vm->slot_used, slot))
		return;
	(void)kvm_slot_set(vm, slot, 0, 0, NULL, NULL);
	bit_set(vm->slot_used, slot, false);
}

/* ---- GSI routes ------------------------------------------------------------------------------ */

static struct kvm_irq_routing_entry *route_add(struct kvm_irq_routing *r, unsigned gsi,
					       uint32_t type)
{
	struct kvm_irq_routing_entry *x = &r->entries[r->nr++];

	memset(x, 0, sizeof(*x));
	x->gsi = gsi;
	x->type = type;
	return x;
}

/*
 * The table starts with the routes KVM set up with the irqchip (PIC and IOAPIC for GSI 0-15,
 * IOAPIC for 16-23), which committing a table without them would erase.
 */
static int routes_get(struct kvm_vm *vm, struct err *e)
{
	struct kvm_irq_routing *r;

	if (vm->routes)
		return 0;
	r = calloc(1, sizeof(*r) + VM_MAX_ROUTES * sizeof(r->entries[0]));
	if (!r)
		return err_set(e, ENOMEM, "interrupt routes: %s", strerror(ENOMEM));
	for (unsigned gsi = 0; vm->irqchip && gsi < IOAPIC_PINS; gsi++) {
		struct kvm_irq_routing_entry *x;

		if (gsi < PIC_PINS) {
			x = route_add(r, gsi, KVM_IRQ_ROUTING_IRQCHIP);
			x->u.irqchip.irqchip =
				gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			x->u.irqchip.pin = gsi % 8;
		}
		x = route_add(r, gsi, KVM_IRQ_ROUTING_IRQCHIP);
		x->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		x->u.irqchip.pin = gsi;
	}
	vm->routes = r;
	return 0;
}

static struct kvm_irq_routing_entry *route_find_msi(struct kvm_irq_routing *r, unsigned gsi)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (r->entries[i].gsi == gsi && r->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &r->entries[i];
	return NULL;
}

static int routes_commit(struct kvm_vm *vm, struct err *e)
{
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routes) < 0)
		return err_set(e, errno, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
	return 0;
}

int kvm_gsi_alloc(struct kvm_vm *vm, unsigned *gsi, struct err *e)
{
	const unsigned n = VM_MSI_GSI_END - VM_MSI_FIRST_GSI;
	unsigned i;

	pthread_mutex_lock(&vm->route_lock);
	i = bit_first_clear(vm->gsi_used, n);
	if (i < n)
		bit_set(vm->gsi_used, i, true);
	pthread_mutex_unlock(&vm->route_lock);
	if (i == n)
		return err_set(e, ENOSPC, "out of GSIs for MSI");
	*gsi = VM_MSI_FIRST_GSI + i;
	return 0;
}

void kvm_gsi_free(struct kvm_vm *vm, unsigned gsi)
{
	if (gsi < VM_MSI_FIRST_GSI || gsi >= VM_MSI_GSI_END)
		return;
	(void)kvm_route_clear(vm, gsi, NULL);
	pthread_mutex_lock(&vm->route_lock);
	bit_set(vm->gsi_used, gsi - VM_MSI_FIRST_GSI, false);
	pthread_mutex_unlock(&vm->route_lock);
}

int kvm_route_msi_set(struct kvm_vm *vm, unsigned gsi, uint64_t addr, uint32_t data, struct err *e)
{
	struct kvm_irq_routing_entry *x;
	int rc;

	pthread_mutex_lock(&vm->route_lock);
	rc = routes_get(vm, e);
	if (rc)
		goto out;
	x = route_find_msi(vm->routes, gsi);
	if (!x && vm->routes->nr >= VM_MAX_ROUTES) {
		rc = err_set(e, ENOSPC, "out of interrupt routes");
		goto out;
	}
	if (!x)
		x = route_add(vm->routes, gsi, KVM_IRQ_ROUTING_MSI);
	x->u.msi.address_lo = (uint32_t)addr;
	x->u.msi.address_hi = (uint32_t)(addr >> 32);
	x->u.msi.data = data;
	rc = routes_commit(vm, e);
out:
	pthread_mutex_unlock(&vm->route_lock);
	return rc;
}

int kvm_route_clear(struct kvm_vm *vm, unsigned gsi, struct err *e)
{
	struct kvm_irq_routing_entry *x;
	int rc = 0;

	pthread_mutex_lock(&vm->route_lock);
	x = vm->routes ? route_find_msi(vm->routes, gsi) : NULL;
	if (x) {
		*x = vm->routes->entries[--vm->routes->nr]; /* order does not matter to KVM */
		rc = routes_commit(vm, e);
	}
	pthread_mutex_unlock(&vm->route_lock);
	return rc;
}

/*
 * One 8259 as firmware leaves it (SeaBIOS's pic_setup): initialised (ICW1-4 done, 8086 mode)
 * and every line masked. KVM creates it uninitialised: vector base 0 and nothing masked, and
 * the boot vCPU's LINT0 takes its output as ExtINT. A guest told that there is no 8259
 * (hardware-reduced ACPI: Linux's null_legacy_pic) never programs it, so any ISA line the
 * guest has no IOAPIC route for (COM1's IRQ 4 under a kernel without IOAPIC) would arrive at
 * an exception vector (4: #OF). Vectors 0x20-0x2f are the usual protected-mode remap, outside
 * the exceptions, should a guest unmask a line without reinitialising the chip.
 */
static int pic_handoff(struct kvm_vm *vm, uint32_t chip_id, uint8_t vector_base, uint8_t imr,
		       struct err *e)
{
	struct kvm_irqchip c = { .chip_id = chip_id };

	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
		return err_set(e, errno, "KVM_GET_IRQCHIP (PIC): %s", strerror(errno));
	c.chip.pic.irq_base = vector_base;
	c.chip.pic.imr = imr;
	c.chip.pic.init_state = 0;
	c.chip.pic.init4 = 1;
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
		return err_set(e, errno, "KVM_SET_IRQCHIP (PIC): %s", strerror(errno));
	return 0;
}

int kvm_vm_create_irqchip(struct kvm_vm *vm, struct err *e)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int rc;

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(e, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if ((rc = pic_handoff(vm, KVM_IRQCHIP_PIC_MASTER, KVM_PIC_MASTER_VECTOR, 0xff, e)) ||
	    (rc = pic_handoff(vm, KVM_IRQCHIP_PIC_SLAVE, KVM_PIC_SLAVE_VECTOR, 0xff, e)))
		return rc;
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(e, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	vm->irqchip = true;
	return 0;
}

int kvm_vm_irq_line(struct kvm_vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}

static int irqfd(struct kvm_vm *vm, int fd, unsigned gsi, bool assign, struct err *e)
{
	struct kvm_irqfd f = { .fd = (uint32_t)fd,
			       .gsi = gsi,
			       .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	if (ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0)
		return err_set(e, errno, "KVM_IRQFD%s gsi %u: %s", assign ? "" : " deassign", gsi,
			       strerror(errno));
	return 0;
}

int kvm_irqfd_assign(struct kvm_vm *vm, int fd, unsigned gsi, struct err *e)
{
	return irqfd(vm, fd, gsi, true, e);
}

int kvm_irqfd_assign_level(struct kvm_vm *vm, int fd, int resample_fd, unsigned gsi, struct err *e)
{
	struct kvm_irqfd f = { .fd = (uint32_t)fd,
			       .gsi = gsi,
			       .flags = KVM_IRQFD_FLAG_RESAMPLE,
			       .resamplefd = (uint32_t)resample_fd };

	if (ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0)
		return err_set(e, errno, "KVM_IRQFD (resample) gsi %u: %s", gsi, strerror(errno));
	return 0;
}

int kvm_irqfd_deassign(struct kvm_vm *vm, int fd, unsigned gsi, struct err *e)
{
	return irqfd(vm, fd, gsi, false, e);
}

int kvm_vm_ioeventfd(struct kvm_vm *vm, int fd, gpa_t mmio_addr, unsigned len, bool match,
		     uint64_t datamatch, struct err *e)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = mmio_addr,
		.len = len,
		.fd = fd,
		.flags = match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0,
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_set(e, errno, "KVM_IOEVENTFD at 0x%llx: %s",
			       (unsigned long long)mmio_addr, strerror(errno));
	return 0;
}

/* ---- KVM's VFIO device ----------------------------------------------------------------------- */

int kvm_vfio_open(struct kvm_vm *vm, struct err *e)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

	if (vm->vfio_dev_fd >= 0)
		return 0;
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &cd) < 0)
		return err_set(e, errno, "KVM_CREATE_DEVICE(VFIO): %s", strerror(errno));
	vm->vfio_dev_fd = (int)cd.fd;
	return 0;
}

int kvm_vfio_add(struct kvm_vm *vm, int vfio_fd, struct err *e)
{
	int32_t fd = vfio_fd;
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_GROUP,
					.attr = KVM_DEV_VFIO_GROUP_ADD,
					.addr = (uintptr_t)&fd };

	if (vm->vfio_dev_fd < 0)
		return err_set(e, EBADF, "KVM_DEV_VFIO_GROUP_ADD: KVM's VFIO device is not open");
	/* EEXIST: another function of the same group is already known to KVM. */
	if (ioctl(vm->vfio_dev_fd, KVM_SET_DEVICE_ATTR, &attr) < 0 && errno != EEXIST)
		return err_set(e, errno, "KVM_DEV_VFIO_GROUP_ADD: %s", strerror(errno));
	return 0;
}

void kvm_vfio_close(struct kvm_vm *vm)
{
	if (vm->vfio_dev_fd >= 0)
		close(vm->vfio_dev_fd);
	vm->vfio_dev_fd = -1;
}

/* ---- vCPUs ----------------------------------------------------------------------------------- */

int kvm_vcpu_open(struct kvm_vm *vm, struct kvm_vcpu *vcpu, unsigned index, struct err *e)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0)
		return err_set(e, errno, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
	vcpu->run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		int rc = err_set(e, errno, "mmap vCPU %u: %s", index, strerror(errno));

		close(vcpu->fd);
		vcpu->fd = -1;
		vcpu->run = NULL;
		return rc;
	}
	return 0;
}

void kvm_vcpu_close(struct kvm_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->vm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

/*
 * CPUID leaf 1 and 0xb identify the vCPU; leaf 4 describes the cores of one package. The TSC
 * deadline timer is emulated by KVM's in-kernel LAPIC once the guest's CPUID has it, but older
 * KVMs' KVM_GET_SUPPORTED_CPUID do not offer it (6.1's arch/x86/kvm/cpuid.c: a 0 at bit 24; QEMU
 * sets it itself): without it Linux calibrates its LAPIC timer for 100 ms at boot (apic.c:
 * calibrate_APIC_clock, LAPIC_CAL_LOOPS) and then runs it in one-shot mode.
 */
static void cpuid_fix(struct kvm_cpuid_entry2 *c, unsigned index, unsigned nr_cpus,
		      bool tsc_deadline)
{
	switch (c->function) {
	case 1:
		c->ebx &= 0x0000ffffu;
		c->ebx |= (index << 24) | ((nr_cpus & 0xff) << 16);
		c->ecx |= 1u << 31; /* hypervisor present */
		if (tsc_deadline)
			c->ecx |= 1u << 24;
		if (nr_cpus > 1)
			c->edx |= 1u << 28; /* HTT: the logical count in ebx is valid */
		break;
	case 0xb:
		/* x2APIC topology: one level of nr_cpus cores, thread level of one. */
		c->edx = index;
		if (c->index == 0) {
			c->eax = 0;
			c->ebx = 1;
			c->ecx = (1u << 8) | 0;
		} else if (c->index == 1) {
			unsigned shift = 0;

			while ((1u << shift) < nr_cpus)
				shift++;
			c->eax = shift;
			c->ebx = nr_cpus;
			c->ecx = (2u << 8) | 1;
		} else {
			c->eax = c->ebx = 0;
			c->ecx = c->index & 0xff;
		}
		break;
	case 0x80000008:
		/* The guest's address width is KVM's (the host's): the 64-bit MMIO window is placed
		 * below it (mmio_window.h). EAX[23:16] 0: no separate guest width (AMD APM 3
		 * E.4.7). */
		c->eax &= 0xff00ffffu;
		break;
	case 4:
		c->eax &= 0x3ff; /* keep cache type/level; set cores per package below */
		if (c->eax & 0x1f)
			c->eax |= ((nr_cpus - 1) & 0x3f) << 26;
		break;
	default:
		break;
	}
}

int kvm_vcpu_setup_cpuid(struct kvm_vcpu *vcpu, unsigned nr_cpus, struct err *e)
{
	unsigned n = 128;
	struct kvm_cpuid2 *cpuid = NULL;
	/* KVM emulates the deadline MSR only in its in-kernel LAPIC. */
	int kvm_fd = vcpu->vm->kvm_fd;
	bool tsc_deadline = vcpu->vm->irqchip &&
			    ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return err_set(e, ENOMEM, "CPUID table: %s", strerror(ENOMEM));
		cpuid->nent = n;
		if (ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		free(cpuid);
		if (errno != E2BIG || n >= 4096)
			return err_set(e, errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		n *= 2;
	}
	for (unsigned i = 0; i < cpuid->nent; i++) {
		cpuid_fix(&cpuid->entries[i], vcpu->index, nr_cpus, tsc_deadline);
		if (cpuid->entries[i].function == 0x80000008)
			vcpu->vm->phys_bits = cpuid->entries[i].eax & 0xff;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0) {
		int rc = err_set(e, errno, "KVM_SET_CPUID2 (vCPU %u): %s", vcpu->index,
				 strerror(errno));
		free(cpuid);
		return rc;
	}
	free(cpuid);
	return 0;
}

int kvm_vcpu_setup_msrs(struct kvm_vcpu *vcpu, struct err *e)
{
	/* The values a CPU has at reset that Linux relies on (fast strings on, syscall MSRs 0). */
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{ 0x174, 0 },	   /* IA32_SYSENTER_CS */
		{ 0x175, 0 },	   /* IA32_SYSENTER_ESP */
		{ 0x176, 0 },	   /* IA32_SYSENTER_EIP */
		{ 0xc0000081, 0 }, /* STAR */
		{ 0xc0000082, 0 }, /* LSTAR */
		{ 0xc0000083, 0 }, /* CSTAR */
		{ 0xc0000084, 0 }, /* SYSCALL_MASK */
		{ 0xc0000102, 0 }, /* KERNEL_GS_BASE */
		{ 0x1a0, 1 },	   /* IA32_MISC_ENABLE: fast strings */
	};
	const unsigned n = sizeof(init) / sizeof(init[0]);
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) +
			    sizeof(init) / sizeof(init[0]) * sizeof(struct kvm_msr_entry)];
	} msrs;
	int set;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs.hdr.entries[i].index = init[i].index;
		msrs.hdr.entries[i].data = init[i].data;
	}
	set = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (set < 0)
		return err_set(e, errno, "KVM_SET_MSRS (vCPU %u): %s", vcpu->index,
			       strerror(errno));
	if ((unsigned)set != n)
		return err_set(e, EINVAL, "KVM_SET_MSRS (vCPU %u): MSR 0x%x refused", vcpu->index,
			       init[set].index);
	return 0;
}

#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static void lapic_set_mode(struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

int kvm_vcpu_setup_lapic(struct kvm_vcpu *vcpu, struct err *e)
{
	struct kvm_lapic_state l;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &l) < 0)
		return err_set(e, errno, "KVM_GET_LAPIC (vCPU %u): %s", vcpu->index,
			       strerror(errno));
	lapic_set_mode(&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lapic_set_mode(&l, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &l) < 0)
		return err_set(e, errno, "KVM_SET_LAPIC (vCPU %u): %s", vcpu->index,
			       strerror(errno));
	return 0;
}

int kvm_vcpu_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs, struct err *e)
{
	if (ioctl(vcpu->fd, KVM_GET_SREGS, sregs) < 0)
		return err_set(e, errno, "KVM_GET_SREGS: %s", strerror(errno));
	return 0;
}

int kvm_vcpu_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *regs,
		      const struct kvm_sregs *sregs, struct err *e)
{
	if (ioctl(vcpu->fd, KVM_SET_SREGS, sregs) < 0)
		return err_set(e, errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(vcpu->fd, KVM_SET_REGS, regs) < 0)
		return err_set(e, errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int kvm_vcpu_reset_fpu(struct kvm_vcpu *vcpu, struct err *e)
{
	/* x87 and SSE in their reset state (Linux checks MXCSR early). */
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(e, errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

static void kick_handler(int sig)
{
	(void)sig; /* only here to interrupt KVM_RUN */
}

int kvm_kick_init(struct err *e)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(KVM_KICK_SIGNAL, &sa, NULL) < 0)
		return err_set(e, errno, "sigaction: %s", strerror(errno));
	return 0;
}

void kvm_vcpu_bind_thread(struct kvm_vcpu *vcpu)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, KVM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	vcpu->thread = pthread_self();
	__atomic_store_n(&vcpu->thread_bound, true, __ATOMIC_RELEASE);
}

void kvm_vcpu_kick(struct kvm_vcpu *vcpu)
{
	/*
	 * immediate_exit covers a thread that is between KVM_RUN calls; the signal covers one
	 * that is inside KVM_RUN.
	 */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vcpu->thread_bound, __ATOMIC_ACQUIRE))
		pthread_kill(vcpu->thread, KVM_KICK_SIGNAL);
}

void kvm_vcpu_clear_kick(struct kvm_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

int kvm_vcpu_run(struct kvm_vcpu *vcpu)
{
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0)
		return -errno;
	return 0;
}

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
};

const char *kvm_exit_name(uint32_t reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	return "OTHER";
}

static int dump_seg(char *buf, size_t len, const char *name, const struct kvm_segment *s)
{
	return snprintf(buf, len,
			"%-3s sel=0x%04x base=0x%016llx limit=0x%08x type=%u s=%u dpl=%u "
			"p=%u db=%u l=%u g=%u\n",
			name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->s,
			s->dpl, s->present, s->db, s->l, s->g);
}

int kvm_vcpu_dump(struct kvm_vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	size_t off = 0;
	int n;

#define EMIT(...)                                                                                  \
	do {                                                                                       \
		n = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__);                   \
		if (n > 0)                                                                         \
			off += (size_t)n;                                                          \
	} while (0)

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	EMIT("vCPU %u registers:\n", vcpu->index);
	EMIT("rax=0x%016llx rbx=0x%016llx rcx=0x%016llx rdx=0x%016llx\n", r.rax, r.rbx, r.rcx,
	     r.rdx);
	EMIT("rsi=0x%016llx rdi=0x%016llx rbp=0x%016llx rsp=0x%016llx\n", r.rsi, r.rdi, r.rbp,
	     r.rsp);
	EMIT("r8 =0x%016llx r9 =0x%016llx r10=0x%016llx r11=0x%016llx\n", r.r8, r.r9, r.r10, r.r11);
	EMIT("r12=0x%016llx r13=0x%016llx r14=0x%016llx r15=0x%016llx\n", r.r12, r.r13, r.r14,
	     r.r15);
	EMIT("rip=0x%016llx rflags=0x%016llx\n", r.rip, r.rflags);
	const struct {
		const char *name;
		const struct kvm_segment *seg;
	} segs[] = { { "cs", &s.cs }, { "ds", &s.ds }, { "es", &s.es }, { "fs", &s.fs },
		     { "gs", &s.gs }, { "ss", &s.ss }, { "tr", &s.tr }, { "ldt", &s.ldt } };
	for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		n = dump_seg(buf + off, off < len ? len - off : 0, segs[i].name, segs[i].seg);
		if (n > 0)
			off += (size_t)n;
	}
	EMIT("gdt base=0x%016llx limit=0x%04x idt base=0x%016llx limit=0x%04x\n", s.gdt.base,
	     s.gdt.limit, s.idt.base, s.idt.limit);
	EMIT("cr0=0x%016llx cr2=0x%016llx cr3=0x%016llx cr4=0x%016llx cr8=0x%llx efer=0x%llx\n",
	     s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer);
#undef EMIT
	return 0;
}
