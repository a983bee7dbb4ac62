/* mvm.c: the microVM builder: one numbered function assembles a VM from its configuration. */
#include "mvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "fileio.h"
#include "layout.h"
#include "vm_seccomp.h"

struct image {
	const uint8_t *data;
	size_t size;
	bool mapped; /* by us: unmapped once loaded */
};

/* Map a whole file read-only; whatever fails, it is the file's fault (ERR_INPUT). */
static int image_map(struct image *im, const char *what, const char *path, struct err *e)
{
	struct stat st;
	void *p = MAP_FAILED;
	int fd = file_open_regular(path, O_RDONLY, &st, e), rc = 0;

	if (fd < 0) {
		err_prefix(e, "%s", what);
		return fd;
	}
	if (st.st_size == 0)
		rc = err_input(e, EINVAL, "%s: %s: empty file", what, path);
	else if ((p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
		rc = err_input(e, errno, "%s: %s: %s", what, path, strerror(errno));
	close(fd);
	if (rc)
		return rc;
	*im = (struct image){ p, (size_t)st.st_size, true };
	return 0;
}

static void image_unmap(struct image *im)
{
	if (im->mapped)
		munmap((void *)im->data, im->size);
	im->mapped = false;
}

/* Step 1: the kernel and initrd, from memory or from their files; the kernel's format known. */
static int images_get(const struct mvm_config *c, struct image *kernel, struct image *initrd,
		      struct err *e)
{
	const char *path = c->vm->kernel ? c->vm->kernel : "(in memory)";
	int rc;

	if (c->kernel)
		*kernel = (struct image){ c->kernel, c->kernel_size, false };
	else if (!c->vm->kernel)
		return err_input(e, EINVAL, "kernel: none given");
	else if ((rc = image_map(kernel, "kernel", c->vm->kernel, e)))
		return rc;
	if (boot_detect(kernel->data, kernel->size) == BOOT_FORMAT_UNKNOWN)
		return err_input(
			e, ENOEXEC,
			"kernel: %s: kernel format not recognised (expected an x86 ELF or a "
			"bzImage)",
			path);
	if (c->initrd)
		*initrd = (struct image){ c->initrd, c->initrd_size, false };
	else if (c->vm->initrd)
		return image_map(initrd, "initrd", c->vm->initrd, e);
	return 0;
}

static void irq_line(void *opaque, unsigned gsi, int level)
{
	kvm_vm_irq_line(opaque, gsi, level);
}

static void guest_reset(void *opaque)
{
	struct mvm *m = opaque;

	if (m->on_reset)
		m->on_reset(m->opaque);
	else
		vm_request_stop(&m->vm, VM_STOP_RESET, 0, "guest reset (i8042)");
}

static void guest_poweroff(void *opaque)
{
	struct mvm *m = opaque;

	if (m->on_poweroff)
		m->on_poweroff(m->opaque);
	else
		vm_request_stop(&m->vm, VM_STOP_POWEROFF, 0, "guest powered off (ACPI S5)");
}

/* Step 4: COM1, the i8042 (whose reset line ends the VM) and the ACPI sleep registers. */
static int legacy_devices(struct mvm *m, int console_fd, struct err *e)
{
	struct vm *vm = &m->vm;

	serial_init(&m->serial, console_fd, SERIAL_COM1_IRQ, irq_line, &vm->kvm);
	if (vm_bus_register(&vm->pio, SERIAL_COM1_PORT, SERIAL_PORTS, &serial_io_ops, &m->serial,
			    "serial", e))
		return err_prefix(e, "serial");
	i8042_init(&m->i8042, guest_reset, m);
	i8042_set_irq(&m->i8042, irq_line, &vm->kvm);
	if (vm_bus_register(&vm->pio, I8042_IO_BASE, I8042_IO_LEN, &i8042_io_ops, &m->i8042,
			    "i8042", e))
		return err_prefix(e, "i8042");
	m->sleep = (struct vm_sleep){ guest_poweroff, m };
	if (vm_bus_register(&vm->pio, BOOT_ACPI_SLEEP_PORT, VM_SLEEP_PORTS, &vm_sleep_io_ops,
			    &m->sleep, "acpi-sleep", e))
		return err_prefix(e, "ACPI sleep registers");
	return 0;
}

/* Step 5: the command line, with the root disk, before the devices announce themselves. A line
 * that does not fit is an error: a guest booted with half its command line is worse. */
static int cmdline_init(struct mvm *m, const struct vmconfig *c, struct err *e)
{
	const char *line = c->cmdline ? c->cmdline : VMCONFIG_DEFAULT_CMDLINE;
	int n;

	if (c->nr_disks && c->disk[0].root) /* Firecracker's is_root_device: the first disk */
		n = snprintf(m->cmdline, sizeof(m->cmdline), "%s root=/dev/vda %s", line,
			     c->disk[0].read_only ? "ro" : "rw");
	else
		n = snprintf(m->cmdline, sizeof(m->cmdline), "%s", line);
	if (n < 0 || (size_t)n >= sizeof(m->cmdline))
		return err_input(e, E2BIG, "command line: %d bytes, the limit is %zu", n,
				 sizeof(m->cmdline) - 1);
	return 0;
}

/*
 * Step 5b: a host bridge on bus 0 and each VFIO device with its BARs, DMA (all guest RAM at
 * IOVA = GPA, and the BARs too for peer-to-peer), MSI-X, MSI and INTx; the 64-bit window sized
 * from all the devices' BARs. The guest finds the bus through the DSDT's host bridge (step 6).
 */
static int passthrough(struct mvm *m, const struct mvm_config *c, struct err *e)
{
	double t0 = clock_now_s();
	char *off;

	if (vfio_pt_setup(&m->pt, &m->vm, e))
		return err_prefix(e, "passthrough");
	for (unsigned i = 0; i < c->vm->nr_vfio; i++)
		if (vfio_pt_add_opts(&m->pt, &c->vfio[i], c->vfio_backend,
				     c->vfio_opts ? &c->vfio_opts[i] : NULL, e))
			return err_prefix(e, "passthrough");
	if (vfio_pt_realize(&m->pt, c->vfio_p2p, e))
		return err_prefix(e, "passthrough");
	m->pt_setup_ms = (clock_now_s() - t0) * 1e3;
	while ((off = strstr(m->cmdline, "pci=off")))
		memmove(off, off + 7, strlen(off + 7) + 1);
	return 0;
}

/*
 * Step 2b: guest RAM faulted in by several threads, before anything is written to it. With
 * passthrough the DMA map pins all of it, faulting in and zeroing each page in one thread;
 * faulted in here first, the pin finds every page present.
 */
static int prefault(struct mvm *m, const struct vmconfig *v, struct err *e)
{
	double t0 = clock_now_s();
	unsigned n = vmconfig_prefault_threads(v);
	int rc;

	if (!n)
		return 0;
	rc = vm_ram_prefault(&m->vm.ram, n, e);
	if (rc)
		return rc;
	m->prefault_threads = n;
	m->prefault_ms = (clock_now_s() - t0) * 1e3;
	return 0;
}

/*
 * Step 6: ACPI tables (how distribution kernels find virtio-mmio devices), kernel, initrd,
 * command line, zero page or start_info, page tables, MP table.
 */
static int boot_tables(struct mvm *m, unsigned cpus, const struct image *kernel,
		       const struct image *initrd, struct err *e)
{
	struct boot_acpi_dev adev[VMDEV_MAX];
	struct boot_acpi_pci pci = { VFIO_PT_MMIO32_BASE, VFIO_PT_MMIO32_SIZE, m->pt.mmio64_base,
				     m->pt.mmio64_size,	  VFIO_PT_IO_BASE,     VFIO_PT_IO_SIZE };
	struct boot_image img;
	gpa_t rsdp = 0;

	for (unsigned i = 0; i < m->devs.n; i++)
		adev[i] =
			(struct boot_acpi_dev){ vmdev_mmio_gpa(i), VMDEV_MMIO_SIZE, vmdev_irq(i) };
	if (boot_acpi_write(&m->vm.ram, cpus, adev, m->devs.n, m->pt.vm ? &pci : NULL, &rsdp, e))
		return err_prefix(e, "ACPI tables");
	/* With passthrough, ECAM reaches extended config space (pci_ecam.c). */
	if (m->pt.vm && boot_acpi_add_mcfg(&m->vm.ram, rsdp, PCI_ECAM_GPA, PCI_ECAM_BUSES - 1, e))
		return err_prefix(e, "ACPI tables");
	img = (struct boot_image){ kernel->data, kernel->size, initrd->data,
				   initrd->size, m->cmdline,   rsdp };
	if (boot_load(&m->vm.ram, &img, &m->boot, e))
		return err_prefix(e, "kernel");
	if (boot_mptable_write(&m->vm.ram, cpus, e))
		return err_prefix(e, "MP table");
	return 0;
}

/*
 * The VM, step by step: inputs, KVM and RAM, interrupt controllers, vCPUs, devices (so that
 * the command line can announce them), kernel and boot tables, the boot vCPU's registers.
 */
static int mvm_build(struct mvm *m, const struct mvm_config *c, struct image *kernel,
		     struct image *initrd, struct err *e)
{
	const struct vmconfig *v = c->vm;
	struct vm *vm = &m->vm;
	int rc;

	/* 1. Inputs first: a bad kernel is reported before anything is allocated. */
	rc = images_get(c, kernel, initrd, e);
	if (rc)
		return rc;

	/* 2. KVM, guest RAM and the in-kernel PIC/IOAPIC/PIT (before any vCPU exists). */
	rc = vm_open_backed(vm, c->kvm_dev ? c->kvm_dev : "/dev/kvm", v->mem_bytes, v->mem_backing,
			    e);
	if (rc)
		return err_prefix(e, rc == -ENOENT ? "no KVM" : "KVM");
	/* 2b. Guest RAM faulted in by threads (with passthrough, or asked for). */
	rc = prefault(m, v, e);
	if (rc)
		return rc;
	if (kvm_vm_create_irqchip(&vm->kvm, e))
		return err_prefix(e, "KVM");

	/* 3. vCPUs with CPUID, MSRs and LAPIC. */
	if (vm_create_vcpus(vm, v->cpus, e))
		return err_prefix(e, "vCPUs");

	/* 4. Legacy devices: COM1, the i8042 and the ACPI sleep registers. */
	rc = legacy_devices(m, c->console_fd, e);
	if (rc)
		return rc;

	/* 5. virtio-mmio devices, announced on the kernel command line; then passthrough. */
	rc = cmdline_init(m, v, e);
	if (rc)
		return rc;
	if (vmdev_create_all(&m->devs, vm, v, m->cmdline, sizeof(m->cmdline), e))
		return err_prefix(e, "devices");
	if (v->nr_vfio && (rc = passthrough(m, c, e)))
		return rc;

	/* 6. ACPI and MP tables, kernel, initrd, command line, boot parameters. */
	rc = boot_tables(m, v->cpus, kernel, initrd, e);
	if (rc)
		return rc;

	/* 7. The boot vCPU starts at the kernel's entry point. */
	if (vm_set_boot_regs(vm, &m->boot, e))
		return err_prefix(e, "vCPU registers");
	return 0;
}

int mvm_open(struct mvm *m, const struct mvm_config *c, struct err *e)
{
	struct image kernel = { 0 }, initrd = { 0 };
	int rc;

	memset(m, 0, sizeof(*m));
	m->vm.kvm.kvm_fd = m->vm.kvm.vm_fd = -1;
	m->on_reset = c->on_reset;
	m->on_start = c->on_start;
	m->on_poweroff = c->on_poweroff;
	m->opaque = c->opaque;
	m->seccomp = c->seccomp;
	rc = mvm_build(m, c, &kernel, &initrd, e);
	image_unmap(&kernel);
	image_unmap(&initrd);
	if (rc)
		mvm_close(m);
	return rc;
}

int mvm_run(struct mvm *m, enum vm_stop_reason *why, struct err *e)
{
	int rc;

	m->devs_started = m->devs.n > 0; /* even a partial start leaves threads behind */
	rc = vmdev_start_all(&m->devs, e);
	if (rc)
		return err_prefix(e, "devices");
	if (m->on_start)
		m->on_start(m->opaque);
	if (m->seccomp && vm_seccomp_install(e))
		return err_prefix(e, "seccomp");
	*why = vm_run(&m->vm, e);
	return 0;
}

void mvm_pause(struct mvm *m)
{
	/* vCPUs first: once they are parked nothing kicks the devices any more. */
	vm_pause(&m->vm);
	vmdev_pause_all(&m->devs);
}

void mvm_resume(struct mvm *m)
{
	vmdev_resume_all(&m->devs);
	vm_resume(&m->vm);
}

int mvm_ctrl_alt_del(struct mvm *m)
{
	return i8042_ctrl_alt_del(&m->i8042);
}

int mvm_send_ctrl_alt_del(struct mvm *m)
{
	return i8042_send_ctrl_alt_del(&m->i8042);
}

size_t mvm_console_input(struct mvm *m, const uint8_t *buf, size_t n)
{
	return serial_rx_push(&m->serial, buf, n);
}

void mvm_close(struct mvm *m)
{
	if (m->pt.vm)
		vfio_pt_teardown(&m->pt);
	m->pt.vm = NULL;
	/* Requests still in flight (Async disks) finish before guest memory can go. */
	vmdev_finish_in_flight(&m->devs);
	if (m->devs_started)
		return;
	serial_destroy(&m->serial);
	i8042_destroy(&m->i8042);
	vm_close(&m->vm);
}
