/* mvm-run: a microVM monitor on KVM: boots an x86_64 kernel with a serial console and virtio. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "boot.h"
#include "cli.h"
#include "mvm.h"
#include "mvm_api.h"
#include "prefault.h"
#include "vfio_pt.h"
#include "virtio_devs.h"
#include "vmconfig.h"
#include "vmdev.h"

/* The monitor: the microVM (built by libcore's mvm_open) and what only the tool holds. */
struct monitor {
	struct vmconfig cfg;
	const char *kvm_dev;
	bool seccomp;
	struct pci_addr vfio[VFIO_PT_MAX];	    /* the config's devices, resolved */
	struct vfio_pt_opts vfio_opts[VFIO_PT_MAX]; /* and their options (,rom=) */
	enum vfio_backend vfio_backend;
	enum vfio_pt_p2p vfio_p2p;
	int console_fd;
	struct termios saved_tty;
	bool tty_raw;
	unsigned stop_timeout_s; /* after SIGTERM's Ctrl-Alt-Del; 0: stop at once */
	const char *api_sock;	 /* --api-sock: Firecracker's API */
	struct mvm_api *api;
	bool built; /* mvm is open (set once, before anything may stop it) */
	struct mvm mvm;
};

/* Exit status for a library failure, as the man page says: bad input 2, the host failing 1. */
static int fail_status(const struct err *e)
{
	return e->kind == ERR_INPUT ? EXIT_USAGE : EXIT_FAIL;
}

static void verbose_built(struct monitor *t)
{
	struct mvm *m = &t->mvm;

	for (unsigned i = 0; i < m->pt.n; i++) {
		char line[256];

		vfio_pt_describe(&m->pt, i, line, sizeof(line));
		cli_verbose("passthrough %s", line);
	}
	if (m->pt.mmio64_size)
		cli_verbose("passthrough 64-bit window 0x%" PRIx64 "/0x%" PRIx64
			    ", guest physical address bits %u",
			    m->pt.mmio64_base, m->pt.mmio64_size, m->vm.kvm.phys_bits);
	cli_verbose("%s kernel, entry 0x%" PRIx64 ", %u vCPUs, %" PRIu64 " MiB, cmdline \"%s\"",
		    boot_format_name(m->boot.format), m->boot.entry, t->cfg.cpus,
		    t->cfg.mem_bytes >> 20, m->cmdline);
}

/* ---- console input and signals --------------------------------------------------------- */

#define ESCAPE_CHAR 0x01 /* Ctrl-A, then x quits (as in QEMU) */

static void *console_input_thread(void *p)
{
	struct monitor *t = p;
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
			if (t->tty_raw && escape) {
				escape = false;
				if (buf[i] == 'x' || buf[i] == 'X') {
					vm_request_stop(&t->mvm.vm, VM_STOP_REQUESTED, 0,
							"quit from the console (Ctrl-A x)");
					return NULL;
				}
				if (buf[i] != ESCAPE_CHAR)
					continue;
			} else if (t->tty_raw && buf[i] == ESCAPE_CHAR) {
				escape = true;
				continue;
			}
			out[k++] = buf[i];
		}
		for (size_t done = 0; done < k;) {
			done += mvm_console_input(&t->mvm, out + done, k - done);
			if (done < k)
				usleep(1000); /* the guest reads slower than we type: wait */
		}
	}
}

/*
 * SIGTERM (how systemd stops a service) asks the guest to shut down: Ctrl-Alt-Del on its
 * keyboard, then --stop-timeout seconds for it to reset or power off before the VM is stopped.
 * A guest without a keyboard driver, a second signal, SIGINT or SIGHUP stop it at once.
 */
static void *signal_thread(void *p)
{
	struct monitor *t = p;
	char what[96];
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigwait(&set, &sig) != 0)
		return NULL;
	/* Waiting for InstanceStart: stop waiting; built: stop the VM (even before it ran). */
	if (t->api)
		mvm_api_cancel(t->api);
	if (!__atomic_load_n(&t->built, __ATOMIC_ACQUIRE))
		return NULL;
	if (sig == SIGTERM && t->stop_timeout_s && mvm_ctrl_alt_del(&t->mvm) == 0) {
		struct timespec limit = { .tv_sec = t->stop_timeout_s };

		cli_verbose("SIGTERM: Ctrl-Alt-Del pressed in the guest; it has %u s to shut down",
			    t->stop_timeout_s);
		sig = sigtimedwait(&set, NULL, &limit);
		if (sig < 0) {
			snprintf(what, sizeof(what),
				 "the guest did not shut down within %u s of Ctrl-Alt-Del",
				 t->stop_timeout_s);
			vm_request_stop(&t->mvm.vm, VM_STOP_REQUESTED, 0, what);
			return NULL;
		}
	}
	snprintf(what, sizeof(what), "stopped by signal %d (%s)", sig, strsignal(sig));
	vm_request_stop(&t->mvm.vm, VM_STOP_REQUESTED, 0, what);
	return NULL;
}

/* The VM is built and about to run: a Type=notify service is ready (no-op elsewhere). */
static void notify_ready(void *opaque)
{
	(void)opaque;
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "READY=1\nSTATUS=guest running");
#endif
}

static void console_setup(struct monitor *t)
{
	pthread_t thread;

	if (t->cfg.console != VMCONFIG_CONSOLE_STDIO)
		return;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved_tty) == 0) {
		struct termios raw = t->saved_tty;

		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			t->tty_raw = true;
	}
	if (pthread_create(&thread, NULL, console_input_thread, t) == 0)
		pthread_detach(thread);
}

static void console_restore(struct monitor *t)
{
	if (t->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved_tty);
}

/* ---- options ------------------------------------------------------------------------------ */

static void warn_config(void *arg, const char *msg)
{
	(void)arg;
	cli_warn("config", "%s", msg);
}

/* --prefault's THREADS: none given, the default count; 0 never; at most PREFAULT_MAX_THREADS. */
static int prefault_threads_or_die(const char *s)
{
	uint64_t n;

	if (!s)
		return (int)prefault_default_threads();
	n = parse_u64_or_die("--prefault", s);
	if (n > PREFAULT_MAX_THREADS)
		cli_die(EXIT_USAGE, "--prefault", "'%s': at most %d threads", s,
			PREFAULT_MAX_THREADS);
	return n ? (int)n : VMCONFIG_PREFAULT_OFF;
}

static void parse_options(int argc, const char **argv, struct monitor *t)
{
	char *kernel = NULL, *initrd = NULL, *cmdline = NULL, *mem = NULL, *cpus = NULL;
	char *console = NULL, *config = NULL, *kvm_dev = NULL, *stop_timeout = NULL;
	char **disks = NULL, **nets = NULL, **vfios = NULL, *vfio_backend = NULL, *huge = NULL;
	char *vfio_p2p = NULL, *vsock = NULL, *api_sock = NULL;
	static char unset[] = ""; /* --prefault absent (popt leaves NULL for no THREADS) */
	char *prefault = unset;
	int rng = 0, no_seccomp = 0, no_api = 0;
	struct poptOption table[] = {
		{ "kernel", 'k', POPT_ARG_STRING, &kernel, 0,
		  "kernel: ELF vmlinux, PVH ELF or bzImage", "FILE" },
		{ "initrd", 'i', POPT_ARG_STRING, &initrd, 0, "initial ramdisk", "FILE" },
		{ "cmdline", 'c', POPT_ARG_STRING, &cmdline, 0,
		  "kernel command line (default: console=ttyS0 reboot=k panic=1 ...)", "STR" },
		{ "mem", 'm', POPT_ARG_STRING, &mem, 0, "guest memory (default 128M)", "SIZE" },
		{ "huge-pages", 0, POPT_ARG_STRING, &huge, 0,
		  "back guest memory with huge pages (faster to pin for passthrough); thp: "
		  "transparent huge pages",
		  "none|thp|2M|1G" },
		{ "prefault", 0, POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &prefault, 0,
		  "fault guest memory in with THREADS threads before the guest runs (default with "
		  "--vfio, whose DMA map would do it in one; THREADS: online CPUs, at most 16; 0: "
		  "never)",
		  "THREADS" },
		{ "cpus", 'n', POPT_ARG_STRING, &cpus, 0, "number of vCPUs (default 1, at most 32)",
		  "N" },
		{ "disk", 'd', POPT_ARG_ARGV, &disks, 0,
		  "virtio-blk disk, raw image (repeatable); io_engine=Async serves it through "
		  "io_uring",
		  "FILE[,ro][,io_engine=Sync|Async]" },
		{ "net", 0, POPT_ARG_ARGV, &nets, 0, "virtio-net on a tap device (repeatable)",
		  "TAP[,mac=MAC]" },
		{ "rng", 0, POPT_ARG_NONE, &rng, 0, "virtio-rng entropy device", NULL },
		{ "vsock", 0, POPT_ARG_STRING, &vsock, 0,
		  "virtio-vsock: the guest's CID and the host's Unix socket (Firecracker's model)",
		  "CID,PATH" },
		{ "vfio", 0, POPT_ARG_ARGV, &vfios, 0,
		  "pass a PCI device through (bound to vfio-pci, see vfio-bind; repeatable); rom=FILE"
		  " serves its expansion ROM from FILE, rom=off hides it",
		  "BDF[,rom=FILE|off]" },
		{ "vfio-backend", 0, POPT_ARG_STRING, &vfio_backend, 0,
		  "VFIO back-end (default auto: iommufd where available)",
		  "container|iommufd|auto" },
		{ "vfio-p2p", 0, POPT_ARG_STRING, &vfio_p2p, 0,
		  "map the devices' BARs in the IOMMU for peer-to-peer DMA (default auto: on unless "
		  "iommufd)",
		  "on|off|auto" },
		{ "console", 0, POPT_ARG_STRING, &console, 0,
		  "serial console: stdio (default; Ctrl-A x quits), none, or an output file",
		  "stdio|none|FILE" },
		{ "config", 0, POPT_ARG_STRING, &config, 0, "Firecracker config file (JSON)",
		  "FILE" },
		{ "config-file", 0, POPT_ARG_STRING, &config, 0,
		  "the same as --config (firecracker's spelling)", "FILE" },
		{ "no-api", 0, POPT_ARG_NONE, &no_api, 0,
		  "accepted for firecracker command lines: the API socket is served only with --api-sock",
		  NULL },
		{ "stop-timeout", 0, POPT_ARG_STRING, &stop_timeout, 0,
		  "on SIGTERM, Ctrl-Alt-Del, then seconds to wait for the guest (default 30; 0: "
		  "stop at once)",
		  "SECONDS" },
		{ "api-sock", 0, POPT_ARG_STRING, &api_sock, 0,
		  "serve Firecracker's API on this Unix socket (no kernel given: wait for "
		  "InstanceStart)",
		  "PATH" },
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
	vmconfig_init(&t->cfg);
	if (config && vmconfig_load_json(&t->cfg, config, warn_config, NULL, &e))
		cli_die(EXIT_USAGE, "config", "%s", e.msg);
	/* Options given on the command line win over the config file. */
	if (kernel && vmconfig_set_string(&t->cfg.kernel, kernel))
		cli_die(EXIT_FAIL, NULL, "out of memory");
	if (initrd && vmconfig_set_string(&t->cfg.initrd, initrd))
		cli_die(EXIT_FAIL, NULL, "out of memory");
	/* Linux's COMMAND_LINE_SIZE: never a silently truncated line */
	if (cmdline && strlen(cmdline) > BOOT_CMDLINE_MAX - 1)
		cli_die(EXIT_USAGE, "--cmdline", "%zu bytes, the limit is %u", strlen(cmdline),
			BOOT_CMDLINE_MAX - 1);
	if (cmdline && vmconfig_set_string(&t->cfg.cmdline, cmdline))
		cli_die(EXIT_FAIL, NULL, "out of memory");
	if (mem) {
		t->cfg.mem_bytes = parse_size_or_die("--mem", mem);
		if (t->cfg.mem_bytes < BOOT_MIN_RAM)
			cli_die(EXIT_USAGE, "--mem", "'%s' is too small: at least %lluM", mem,
				BOOT_MIN_RAM >> 20);
		if (t->cfg.mem_bytes & 0xfff)
			cli_die(EXIT_USAGE, "--mem", "'%s' is not a multiple of 4K", mem);
		if (t->cfg.mem_bytes > (1ULL << 40))
			cli_die(EXIT_USAGE, "--mem", "'%s' is too large (at most 1T)", mem);
	}
	if (cpus) {
		uint64_t n = parse_u64_or_die("--cpus", cpus);

		if (n < 1 || n > 32)
			cli_die(EXIT_USAGE, "--cpus", "'%s': between 1 and 32", cpus);
		t->cfg.cpus = (unsigned)n;
	}
	for (char **d = disks; d && *d; d++)
		if (vmconfig_add_disk(&t->cfg, *d, &e))
			cli_die(EXIT_USAGE, "--disk", "%s", e.msg);
	for (char **n = nets; n && *n; n++)
		if (vmconfig_add_net(&t->cfg, *n, &e))
			cli_die(EXIT_USAGE, "--net", "%s", e.msg);
	if (rng)
		t->cfg.rng = true;
	if (vsock && vmconfig_set_vsock(&t->cfg, vsock, &e))
		cli_die(EXIT_USAGE, "--vsock", "%s", e.msg);
	for (char **v = vfios; v && *v; v++)
		if (vmconfig_add_vfio(&t->cfg, *v, &e))
			cli_die(EXIT_USAGE, "--vfio", "%s", e.msg);
	for (unsigned i = 0; i < t->cfg.nr_vfio; i++) {
		char bdf[64];

		const struct vfio_pt_opts *o = &t->vfio_opts[i];

		if (vfio_pt_opts_parse(t->cfg.vfio[i], bdf, sizeof(bdf), &t->vfio_opts[i], &e))
			cli_die(EXIT_USAGE, "--vfio", "%s", e.msg);
		if (o->rom == VFIO_PT_ROM_FILE && access(o->rom_file, R_OK))
			cli_die(EXIT_USAGE, "--vfio", "ROM file %s: %s", o->rom_file,
				strerror(errno));
		if (vfio_resolve_device(bdf, &t->vfio[i], &e))
			cli_die(EXIT_USAGE, "--vfio", "%s", e.msg);
	}
	if (huge && vmconfig_parse_huge_pages(huge, &t->cfg.mem_backing))
		cli_die(EXIT_USAGE, "--huge-pages", "'%s' is not none, thp, 2M or 1G", huge);
	if (prefault != unset)
		t->cfg.prefault_threads = prefault_threads_or_die(prefault);
	if (vfio_backend && vfio_backend_parse(vfio_backend, &t->vfio_backend))
		cli_die(EXIT_USAGE, "--vfio-backend", "'%s' is not container, iommufd or auto",
			vfio_backend);
	if (vfio_p2p && vfio_pt_p2p_parse(vfio_p2p, &t->vfio_p2p))
		cli_die(EXIT_USAGE, "--vfio-p2p", "'%s' is not on, off or auto", vfio_p2p);
	if (console && vmconfig_set_console(&t->cfg, console, &e))
		cli_die(EXIT_USAGE, "--console", "%s", e.msg);
	/* As Firecracker: Async where the kernel gives no io_uring is an error, never Sync. */
	for (unsigned i = 0; i < t->cfg.nr_disks; i++)
		if (t->cfg.disk[i].io_engine == VMCONFIG_IO_ASYNC && virtio_blk_async_probe(&e))
			cli_die(EXIT_FAIL, NULL, "drives[%u]: io_engine \"Async\": %s", i, e.msg);
	t->api_sock = api_sock;
	if (!t->cfg.kernel && !api_sock)
		cli_die(EXIT_USAGE, NULL,
			"no kernel: use --kernel FILE, --config FILE or --api-sock PATH");
	t->stop_timeout_s = 30;
	if (stop_timeout) {
		uint64_t n = parse_u64_or_die("--stop-timeout", stop_timeout);

		if (n > 3600)
			cli_die(EXIT_USAGE, "--stop-timeout", "'%s': at most 3600 seconds",
				stop_timeout);
		t->stop_timeout_s = (unsigned)n;
	}
	t->kvm_dev = kvm_dev ? kvm_dev : "/dev/kvm";
	t->seccomp = !no_seccomp;
	(void)no_api; /* the API is served only with --api-sock */
	/* Everything is copied into t->cfg; kvm_dev stays, for t->kvm_dev. */
	free(kernel);
	free(initrd);
	free(cmdline);
	free(mem);
	free(cpus);
	free(console);
	free(config);
	free(vfio_backend);
	free(huge);
	if (prefault != unset)
		free(prefault);
	free(stop_timeout);
	free(vsock);
	cli_free_argv(disks);
	cli_free_argv(nets);
	cli_free_argv(vfios);
	cli_done();
}

static void open_console_or_die(struct monitor *t)
{
	switch (t->cfg.console) {
	case VMCONFIG_CONSOLE_STDIO:
		t->console_fd = STDOUT_FILENO;
		break;
	case VMCONFIG_CONSOLE_NONE:
		t->console_fd = -1;
		break;
	case VMCONFIG_CONSOLE_FILE:
		t->console_fd =
			open(t->cfg.console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (t->console_fd < 0)
			cli_die(EXIT_USAGE, "--console", "%s: %s", t->cfg.console_path,
				strerror(errno));
		break;
	}
}

static void report_broken(const char *line, void *arg)
{
	(void)arg;
	cli_warn("device", "%s", line);
}

static int report(struct monitor *t, enum vm_stop_reason why)
{
	struct mvm *m = &t->mvm;
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
	/* The console owns stdout: the stop record goes to stderr, and only when asked for. */
	if (cli.json || cli.raw || cli.pairs || cli.output) {
		struct out *o = cli_out(stderr);

		out_record_begin(o);
		out_str(o, "stop", vm_stop_name(why));
		out_i64(o, "exit_status", status);
		out_u64(o, "vcpus", m->vm.nr_vcpus);
		out_u64(o, "exits", exits);
		out_u64(o, "serial_bytes", m->serial.tx_bytes);
		out_record_end(o);
		cli_out_close(o);
	}
	return status;
}

/* Resolve the passthrough devices and build the VM (from main, or from InstanceStart). */
static int build(void *opaque, struct err *e)
{
	struct monitor *t = opaque;
	struct mvm_config c = {
		.vm = &t->cfg,
		.kvm_dev = t->kvm_dev,
		.vfio = t->vfio,
		.vfio_opts = t->vfio_opts,
		.vfio_backend = t->vfio_backend,
		.vfio_p2p = t->vfio_p2p,
		.console_fd = t->console_fd,
		.seccomp = t->seccomp,
		.on_start = notify_ready,
		.opaque = t,
	};

	if (mvm_open(&t->mvm, &c, e))
		return -1;
	__atomic_store_n(&t->built, true, __ATOMIC_RELEASE);
	verbose_built(t);
	return 0;
}

static void api_open_or_die(struct monitor *t)
{
	struct mvm_api_config c = {
		.sock_path = t->api_sock,
		.cfg = &t->cfg,
		.m = &t->mvm,
		.start = build,
		.warn = warn_config,
		.opaque = t,
	};
	struct err e = { 0 };

	if (mvm_api_open(&t->api, &c, &e))
		cli_die(fail_status(&e), "--api-sock", "%s", e.msg);
	if (t->built)
		mvm_api_set_started(t->api);
}

int main(int argc, const char **argv)
{
	static struct monitor t;
	struct err e = { 0 };
	enum vm_stop_reason why;
	sigset_t sigs;
	pthread_t sig_thread;
	int status;

	parse_options(argc, argv, &t);
	open_console_or_die(&t);

	/* Signals are taken by one thread (sigwait); vCPU threads only ever see kicks. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Configured (options, --config): built now; otherwise InstanceStart builds it. */
	if (t.cfg.kernel && build(&t, &e)) {
		cli_error(NULL, "%s", e.msg);
		return fail_status(&e);
	}
	if (t.api_sock)
		api_open_or_die(&t);
	if (pthread_create(&sig_thread, NULL, signal_thread, &t) != 0)
		cli_die(EXIT_FAIL, NULL, "signal thread: %s", strerror(errno));
	pthread_detach(sig_thread);
	if (!__atomic_load_n(&t.built, __ATOMIC_ACQUIRE) && mvm_api_wait_start(t.api)) {
		cli_verbose("stopped before InstanceStart");
		_exit(EXIT_OK);
	}
	console_setup(&t);
	if (t.mvm.prefault_threads)
		cli_verbose("guest memory faulted in by %u thread%s in %.1f ms",
			    t.mvm.prefault_threads, t.mvm.prefault_threads > 1 ? "s" : "",
			    t.mvm.prefault_ms);
	if (t.cfg.nr_vfio)
		cli_verbose("passthrough of %u device%s set up in %.1f ms (%s-backed guest memory)",
			    t.cfg.nr_vfio, t.cfg.nr_vfio > 1 ? "s" : "", t.mvm.pt_setup_ms,
			    dma_backing_name(t.cfg.mem_backing));
	if (mvm_run(&t.mvm, &why, &e)) {
		console_restore(&t);
		cli_error(NULL, "%s", e.msg);
		status = fail_status(&e);
	} else {
		console_restore(&t);
		status = report(&t, why);
	}
	fflush(stdout);
	/* Passthrough devices are handed back clean; device threads may still be blocked in reads,
	 * so the rest goes with the process (the API's thread too). */
	mvm_close(&t.mvm);
	_exit(status);
}
