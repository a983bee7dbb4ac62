/* mvm-run: a microVM monitor on KVM: boots an x86_64 kernel with a serial console and virtio. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "boot.h"
#include "cli.h"
#include "i8042.h"
#include "serial.h"
#include "vm.h"
#include "vmconfig.h"
#include "vm_seccomp.h"
#include "vm_sleep.h"
#include "vmdev.h"
#include "vfio_pt.h"

/* Everything one microVM is made of; built step by step in mvm_build(). */
struct mvm {
	struct vmconfig cfg;
	const char *kvm_dev;
	bool seccomp;
	struct vm vm;
	struct serial serial;
	struct i8042 i8042;
	struct vm_sleep sleep;
	struct vmdev_set devs;
	struct pci_addr vfio[VFIO_PT_MAX]; /* the config's devices, resolved */
	enum vfio_backend vfio_backend;
	double pt_setup_ms;		   /* passthrough set-up time, for -v */
	struct vfio_pt_set pt;
	struct boot_info boot;
	int console_fd;
	char cmdline[BOOT_CMDLINE_MAX];
	struct termios saved_tty;
	bool tty_raw;
};

struct file_map {
	const uint8_t *data;
	size_t size;
};

/* Map a whole file read-only; exit 2 when it cannot be read (bad input). */
static void map_file_or_die(const char *what, const char *path, struct file_map *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cli_die(EXIT_USAGE, what, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		cli_die(EXIT_USAGE, what, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		cli_die(EXIT_USAGE, what, "%s: not a regular file", path);
	if (st.st_size == 0)
		cli_die(EXIT_USAGE, what, "%s: empty file", path);
	m->size = (size_t)st.st_size;
	m->data = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m->data == MAP_FAILED)
		cli_die(EXIT_USAGE, what, "%s: %s", path, strerror(errno));
	close(fd);
}

static void irq_line(void *opaque, unsigned gsi, int level)
{
	kvm_vm_irq_line(opaque, gsi, level);
}

static void guest_reset(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_RESET, 0, "guest reset (i8042)");
}

static void guest_poweroff(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_POWEROFF, 0, "guest powered off (ACPI S5)");
}

/* Exit status for a failed build step: bad input is 2, the host failing is 1. */
static int build_fail(const char *what, int rc, const struct err *e)
{
	cli_error(what, "%s", e->msg);
	switch (-rc) {
	case ENOENT:
	case ENOEXEC:
	case ENOMEM:
	case E2BIG:
	case EINVAL:
	case ENOTDIR:
	case EACCES:
	case EISDIR:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

/*
 * The VM, step by step: KVM and RAM, interrupt controllers, vCPUs, devices (so that the command
 * line can announce them), kernel and boot tables, the boot vCPU's registers.
 */
static int mvm_build(struct mvm *m)
{
	struct vmconfig *c = &m->cfg;
	struct vm *vm = &m->vm;
	struct file_map kernel, initrd = { 0 };
	struct boot_image img;
	struct err e = { 0 };
	gpa_t rsdp = 0;
	int rc;

	/* 1. Inputs first: a bad kernel is reported before anything is allocated. */
	map_file_or_die("kernel", c->kernel, &kernel);
	if (boot_detect(kernel.data, kernel.size) == BOOT_FORMAT_UNKNOWN)
		cli_die(EXIT_USAGE, "kernel",
			"%s: kernel format not recognised (expected an x86 ELF or a bzImage)",
			c->kernel);
	if (c->initrd)
		map_file_or_die("initrd", c->initrd, &initrd);

	/* 2. KVM, guest RAM and the in-kernel PIC/IOAPIC/PIT (before any vCPU exists). */
	rc = vm_open_backed(vm, m->kvm_dev, c->mem_bytes, c->mem_backing, &e);
	if (rc)
		return build_fail(rc == -ENOENT ? "no KVM" : "KVM", rc == -ENOENT ? -ENOENT : rc, &e);
	rc = kvm_vm_create_irqchip(&vm->kvm, &e);
	if (rc)
		return build_fail("KVM", rc, &e);

	/* 3. vCPUs with CPUID, MSRs and LAPIC. */
	rc = vm_create_vcpus(vm, c->cpus, &e);
	if (rc)
		return build_fail("vCPUs", rc, &e);

	/* 4. Legacy devices: COM1 and the i8042 (whose reset line ends the VM). */
	serial_init(&m->serial, m->console_fd, SERIAL_COM1_IRQ, irq_line, &vm->kvm);
	rc = vm_bus_register(&vm->pio, SERIAL_COM1_PORT, SERIAL_PORTS, &serial_io_ops, &m->serial,
			     "serial", &e);
	if (rc)
		return build_fail("serial", rc, &e);
	i8042_init(&m->i8042, guest_reset, vm);
	rc = vm_bus_register(&vm->pio, I8042_IO_BASE, I8042_IO_LEN, &i8042_io_ops, &m->i8042,
			     "i8042", &e);
	if (rc)
		return build_fail("i8042", rc, &e);
	m->sleep = (struct vm_sleep){ guest_poweroff, vm };
	rc = vm_bus_register(&vm->pio, BOOT_ACPI_SLEEP_PORT, VM_SLEEP_PORTS, &vm_sleep_io_ops,
			     &m->sleep, "acpi-sleep", &e);
	if (rc)
		return build_fail("ACPI sleep registers", rc, &e);

	/* 5. virtio-mmio devices, announced on the kernel command line. */
	snprintf(m->cmdline, sizeof(m->cmdline), "%s",
		 c->cmdline ? c->cmdline : VMCONFIG_DEFAULT_CMDLINE);
	if (c->nr_disks && c->disk[0].root) {
		/* Firecracker's is_root_device: the first disk is the root file system. */
		size_t used = strlen(m->cmdline);

		snprintf(m->cmdline + used, sizeof(m->cmdline) - used, " root=/dev/vda %s",
			 c->disk[0].read_only ? "ro" : "rw");
	}
	rc = vmdev_create_all(&m->devs, vm, c, m->cmdline, sizeof(m->cmdline), &e);
	if (rc)
		return build_fail("devices", rc, &e);

	/* 5b. PCI passthrough: a host bridge on bus 0 and each VFIO device with its BARs, DMA
	 * (all guest RAM at IOVA = GPA) and MSI-X. The guest finds the bus by probing 0xcf8. */
	if (c->nr_vfio) {
		struct timespec t0, t1;
		char *off;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = vfio_pt_setup(&m->pt, vm, &e);
		if (rc)
			return build_fail("--vfio", rc, &e);
		for (unsigned i = 0; i < c->nr_vfio; i++) {
			char line[256];

			rc = vfio_pt_add(&m->pt, &m->vfio[i], m->vfio_backend, NULL, &e);
			if (rc)
				return build_fail("--vfio", rc, &e);
			vfio_pt_describe(&m->pt, i, line, sizeof(line));
			cli_verbose("passthrough %s", line);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		m->pt_setup_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		while ((off = strstr(m->cmdline, "pci=off")))
			memmove(off, off + 7, strlen(off + 7) + 1);
		if (strlen(m->cmdline) + 12 < sizeof(m->cmdline))
			strcat(m->cmdline, " pci=noacpi");
	}

	/* 6. ACPI tables (how distribution kernels find virtio-mmio devices), kernel, initrd,
	 * command line, zero page or start_info, page tables, MP table. */
	{
		struct boot_acpi_dev adev[VMDEV_MAX];

		for (unsigned i = 0; i < m->devs.n; i++)
			adev[i] = (struct boot_acpi_dev){ vmdev_mmio_gpa(i), VMDEV_MMIO_SIZE,
							  vmdev_irq(i) };
		rc = boot_acpi_write(&vm->ram, c->cpus, adev, m->devs.n, &rsdp, &e);
		if (rc)
			return build_fail("ACPI tables", rc, &e);
	}
	img = (struct boot_image){ kernel.data, kernel.size, initrd.data, initrd.size, m->cmdline,
				   rsdp };
	rc = boot_load(&vm->ram, &img, &m->boot, &e);
	if (rc)
		return build_fail("kernel", rc, &e);
	rc = boot_mptable_write(&vm->ram, c->cpus, &e);
	if (rc)
		return build_fail("MP table", rc, &e);
	cli_verbose("%s kernel, entry 0x%" PRIx64 ", %u vCPUs, %" PRIu64 " MiB, cmdline \"%s\"",
		    boot_format_name(m->boot.format), m->boot.entry, c->cpus, c->mem_bytes >> 20,
		    m->cmdline);

	/* 7. The boot vCPU starts at the kernel's entry point. */
	rc = vm_set_boot_regs(vm, &m->boot, &e);
	if (rc)
		return build_fail("vCPU registers", rc, &e);
	munmap((void *)kernel.data, kernel.size);
	if (initrd.data)
		munmap((void *)initrd.data, initrd.size);
	return EXIT_OK;
}

/* ---- console input and signals --------------------------------------------------------- */

#define ESCAPE_CHAR 0x01 /* Ctrl-A, then x quits (as in QEMU) */

static void *console_input_thread(void *p)
{
	struct mvm *m = p;
	bool escape = false;
	uint8_t buf[256], out[256];

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		size_t k = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL; /* end of input: the guest just gets no more */
		for (ssize_t i = 0; i < n; i++) {
			if (m->tty_raw && escape) {
				escape = false;
				if (buf[i] == 'x' || buf[i] == 'X') {
					vm_request_stop(&m->vm, VM_STOP_REQUESTED, 0,
							"quit from the console (Ctrl-A x)");
					return NULL;
				}
				if (buf[i] != ESCAPE_CHAR)
					continue;
			} else if (m->tty_raw && buf[i] == ESCAPE_CHAR) {
				escape = true;
				continue;
			}
			out[k++] = buf[i];
		}
		for (size_t done = 0; done < k;) {
			done += serial_rx_push(&m->serial, out + done, k - done);
			if (done < k)
				usleep(1000); /* the guest reads slower than we type: wait */
		}
	}
}

static void *signal_thread(void *p)
{
	struct mvm *m = p;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigwait(&set, &sig) == 0) {
		char what[64];

		snprintf(what, sizeof(what), "stopped by signal %d (%s)", sig, strsignal(sig));
		vm_request_stop(&m->vm, VM_STOP_REQUESTED, 0, what);
	}
	return NULL;
}

static void console_setup(struct mvm *m)
{
	pthread_t t;

	if (m->cfg.console != VMCONFIG_CONSOLE_STDIO)
		return;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &m->saved_tty) == 0) {
		struct termios raw = m->saved_tty;

		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			m->tty_raw = true;
	}
	if (pthread_create(&t, NULL, console_input_thread, m) == 0)
		pthread_detach(t);
}

static void console_restore(struct mvm *m)
{
	if (m->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &m->saved_tty);
}

/* ---- options ------------------------------------------------------------------------------ */

static void warn_config(void *arg, const char *msg)
{
	(void)arg;
	cli_warn("config", "%s", msg);
}

static void parse_options(int argc, const char **argv, struct mvm *m)
{
	char *kernel = NULL, *initrd = NULL, *cmdline = NULL, *mem = NULL, *cpus = NULL;
	char *console = NULL, *config = NULL, *kvm_dev = NULL;
	char **disks = NULL, **nets = NULL, **vfios = NULL, *vfio_backend = NULL, *huge = NULL;
	int rng = 0, no_seccomp = 0;
	struct poptOption table[] = {
		{ "kernel", 'k', POPT_ARG_STRING, &kernel, 0,
		  "kernel: ELF vmlinux, PVH ELF or bzImage", "FILE" },
		{ "initrd", 'i', POPT_ARG_STRING, &initrd, 0, "initial ramdisk", "FILE" },
		{ "cmdline", 'c', POPT_ARG_STRING, &cmdline, 0,
		  "kernel command line (default: console=ttyS0 reboot=k panic=1 ...)", "STR" },
		{ "mem", 'm', POPT_ARG_STRING, &mem, 0, "guest memory (default 128M)", "SIZE" },
		{ "huge-pages", 0, POPT_ARG_STRING, &huge, 0,
		  "back guest memory with huge pages (faster to pin for passthrough)",
		  "none|2M|1G" },
		{ "cpus", 'n', POPT_ARG_STRING, &cpus, 0, "number of vCPUs (default 1, at most 32)",
		  "N" },
		{ "disk", 'd', POPT_ARG_ARGV, &disks, 0, "virtio-blk disk, raw image (repeatable)",
		  "FILE[,ro]" },
		{ "net", 0, POPT_ARG_ARGV, &nets, 0, "virtio-net on a tap device (repeatable)",
		  "TAP[,mac=MAC]" },
		{ "rng", 0, POPT_ARG_NONE, &rng, 0, "virtio-rng entropy device", NULL },
		{ "vfio", 0, POPT_ARG_ARGV, &vfios, 0,
		  "pass a PCI device through (bound to vfio-pci, see vfio-bind; repeatable)", "BDF" },
		{ "vfio-backend", 0, POPT_ARG_STRING, &vfio_backend, 0,
		  "VFIO back-end (default auto: iommufd where available)", "container|iommufd|auto" },
		{ "console", 0, POPT_ARG_STRING, &console, 0,
		  "serial console: stdio (default; Ctrl-A x quits), none, or an output file",
		  "stdio|none|FILE" },
		{ "config", 0, POPT_ARG_STRING, &config, 0, "Firecracker config file (JSON)", "FILE" },
		{ "kvm-dev", 0, POPT_ARG_STRING, &kvm_dev, 0, "KVM device (default /dev/kvm)",
		  "PATH" },
		{ "no-seccomp", 0, POPT_ARG_NONE, &no_seccomp, 0,
		  "do not install the seccomp filter (debugging)", NULL },
		CLI_COMMON_TABLE,
		POPT_AUTOHELP POPT_TABLEEND
	};
	poptContext pc = cli_parse(argc, argv, table, NULL);
	struct err e = { 0 };

	if (poptPeekArg(pc))
		cli_die(EXIT_USAGE, NULL, "unexpected argument '%s' (see --help)", poptPeekArg(pc));
	vmconfig_init(&m->cfg);
	if (config && vmconfig_load_json(&m->cfg, config, warn_config, NULL, &e))
		cli_die(EXIT_USAGE, "config", "%s", e.msg);
	/* Options given on the command line win over the config file. */
	if (kernel && vmconfig_set_string(&m->cfg.kernel, kernel))
		cli_die(EXIT_FAIL, NULL, "out of memory");
	if (initrd && vmconfig_set_string(&m->cfg.initrd, initrd))
		cli_die(EXIT_FAIL, NULL, "out of memory");
	if (cmdline && vmconfig_set_string(&m->cfg.cmdline, cmdline))
		cli_die(EXIT_FAIL, NULL, "out of memory");
	if (mem) {
		m->cfg.mem_bytes = parse_size_or_die("--mem", mem);
		if (m->cfg.mem_bytes < BOOT_MIN_RAM)
			cli_die(EXIT_USAGE, "--mem", "'%s' is too small: at least %lluM", mem,
				BOOT_MIN_RAM >> 20);
		if (m->cfg.mem_bytes & 0xfff)
			cli_die(EXIT_USAGE, "--mem", "'%s' is not a multiple of 4K", mem);
		if (m->cfg.mem_bytes > (1ULL << 40))
			cli_die(EXIT_USAGE, "--mem", "'%s' is too large (at most 1T)", mem);
	}
	if (cpus) {
		uint64_t n = parse_u64_or_die("--cpus", cpus);

		if (n < 1 || n > 32)
			cli_die(EXIT_USAGE, "--cpus", "'%s': between 1 and 32", cpus);
		m->cfg.cpus = (unsigned)n;
	}
	for (char **d = disks; d && *d; d++)
		if (vmconfig_add_disk(&m->cfg, *d, &e))
			cli_die(EXIT_USAGE, "--disk", "%s", e.msg);
	for (char **n = nets; n && *n; n++)
		if (vmconfig_add_net(&m->cfg, *n, &e))
			cli_die(EXIT_USAGE, "--net", "%s", e.msg);
	if (rng)
		m->cfg.rng = true;
	for (char **v = vfios; v && *v; v++)
		if (vmconfig_add_vfio(&m->cfg, *v, &e))
			cli_die(EXIT_USAGE, "--vfio", "%s", e.msg);
	for (unsigned i = 0; i < m->cfg.nr_vfio; i++)
		if (vfio_resolve_device(m->cfg.vfio[i], &m->vfio[i], &e))
			cli_die(EXIT_USAGE, "--vfio", "%s", e.msg);
	if (huge && vmconfig_parse_huge_pages(huge, &m->cfg.mem_backing))
		cli_die(EXIT_USAGE, "--huge-pages", "'%s' is not none, 2M or 1G", huge);
	if (vfio_backend && vfio_backend_parse(vfio_backend, &m->vfio_backend))
		cli_die(EXIT_USAGE, "--vfio-backend", "'%s' is not container, iommufd or auto",
			vfio_backend);
	if (console && vmconfig_set_console(&m->cfg, console, &e))
		cli_die(EXIT_USAGE, "--console", "%s", e.msg);
	if (!m->cfg.kernel)
		cli_die(EXIT_USAGE, NULL, "no kernel: use --kernel FILE or --config FILE");
	m->kvm_dev = kvm_dev ? kvm_dev : "/dev/kvm";
	m->seccomp = !no_seccomp;
	/* popt's strings live until the context is freed; we keep copies. */
	(void)pc;
}

static void open_console_or_die(struct mvm *m)
{
	switch (m->cfg.console) {
	case VMCONFIG_CONSOLE_STDIO:
		m->console_fd = STDOUT_FILENO;
		break;
	case VMCONFIG_CONSOLE_NONE:
		m->console_fd = -1;
		break;
	case VMCONFIG_CONSOLE_FILE:
		m->console_fd = open(m->cfg.console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				     0644);
		if (m->console_fd < 0)
			cli_die(EXIT_USAGE, "--console", "%s: %s", m->cfg.console_path,
				strerror(errno));
		break;
	}
}

static void report_broken(const char *line, void *arg)
{
	(void)arg;
	cli_warn("device", "%s", line);
}

static int report(struct mvm *m, enum vm_stop_reason why)
{
	uint64_t exits = 0;
	int status;

	for (unsigned i = 0; i < m->vm.nr_vcpus; i++)
		exits += m->vm.exits[i];
	/* A driver that broke the virtio rules is worth knowing about, whatever else happened. */
	vmdev_report_broken(&m->devs, report_broken, NULL);
	switch (why) {
	case VM_STOP_RESET:
	case VM_STOP_POWEROFF:
	case VM_STOP_REQUESTED:
		status = EXIT_OK;
		cli_verbose("%s", m->vm.stop_detail);
		break;
	default:
		status = EXIT_FAIL;
		cli_error("guest stopped", "%s", m->vm.stop_detail);
		break;
	}
	if (cli.json) {
		fprintf(stderr,
			"{\"stop\":\"%s\",\"exit_status\":%d,\"vcpus\":%u,\"exits\":%" PRIu64
			",\"serial_bytes\":%" PRIu64 "}\n",
			vm_stop_name(why), status, m->vm.nr_vcpus, exits, m->serial.tx_bytes);
	}
	return status;
}

int main(int argc, const char **argv)
{
	static struct mvm m;
	struct err e = { 0 };
	enum vm_stop_reason why;
	sigset_t sigs;
	pthread_t sig_thread;
	int status;

	parse_options(argc, argv, &m);
	open_console_or_die(&m);

	/* Signals are taken by one thread (sigwait); vCPU threads only ever see kicks. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	status = mvm_build(&m);
	if (status != EXIT_OK)
		return status;
	if (pthread_create(&sig_thread, NULL, signal_thread, &m) != 0)
		cli_die(EXIT_FAIL, NULL, "signal thread: %s", strerror(errno));
	pthread_detach(sig_thread);
	console_setup(&m);
	if (vmdev_start_all(&m.devs, &e)) {
		console_restore(&m);
		cli_die(EXIT_FAIL, "devices", "%s", e.msg);
	}
	if (m.seccomp && vm_seccomp_install(&e)) {
		console_restore(&m);
		cli_die(EXIT_FAIL, "seccomp", "%s", e.msg);
	}
	if (m.cfg.nr_vfio)
		cli_verbose("passthrough of %u device%s set up in %.1f ms (%s-backed guest memory)",
			    m.cfg.nr_vfio, m.cfg.nr_vfio > 1 ? "s" : "", m.pt_setup_ms,
			    dma_backing_name(m.cfg.mem_backing));
	why = vm_run(&m.vm, &e);
	console_restore(&m);
	status = report(&m, why);
	fflush(stdout);
	/* Passthrough devices are handed back clean: interrupts off, DMA unmapped, reset, still
	 * on vfio-pci. */
	if (m.pt.n)
		vfio_pt_teardown(&m.pt);
	/* Device threads may still be blocked in reads: leave without tearing them down. */
	_exit(status);
}
