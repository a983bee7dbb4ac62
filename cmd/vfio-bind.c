/* vfio-bind: prepare PCI devices (a GPU and its IOMMU group) for passthrough, and put them back. */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bind.h"
#include "cli.h"
#include "out.h"
#include "pciinfo.h"
#include "persist.h"

/* The VFIO selftests' "skip" status: no device given could be bound (see vfio-bind(1)). */
#define EXIT_SKIP 4

static int opt_group, opt_restore, opt_all, opt_status, opt_dry_run, opt_force, opt_append_bdfs,
	opt_info, opt_persist, opt_unpersist;
static char *opt_timeout, *opt_user, *opt_root, *opt_driver, *opt_guest_mem, *opt_vfs;

static struct poptOption options[] = {
	{ "group", 'g', POPT_ARG_NONE, &opt_group, 0,
	  "bind (or restore) every endpoint of the devices' IOMMU groups", NULL },
	{ "restore", 'r', POPT_ARG_NONE, &opt_restore, 0,
	  "return devices to their recorded original drivers", NULL },
	{ "all", 'a', POPT_ARG_NONE, &opt_all, 0,
	  "with --restore, --unpersist or --status: every recorded or persisted device", NULL },
	{ "status", 's', POPT_ARG_NONE, &opt_status, 0,
	  "print the current state (all vfio-pci or recorded devices by default)", NULL },
	{ "persist", 'P', POPT_ARG_NONE, &opt_persist, 0,
	  "bind, and claim the devices at every boot and hotplug (a udev rule)", NULL },
	{ "unpersist", 'U', POPT_ARG_NONE, &opt_unpersist, 0,
	  "drop the devices' persistent claims and restore them", NULL },
	{ "info", 'i', POPT_ARG_NONE, &opt_info, 0,
	  "print what decides whether the devices can be passed (BARs, ROM, resets, holders) and "
	  "change nothing",
	  NULL },
	{ "dry-run", 'n', POPT_ARG_NONE, &opt_dry_run, 0,
	  "print the plan (every write, in order) and change nothing", NULL },
	{ "force", 'f', POPT_ARG_NONE, &opt_force, 0,
	  "bind even when a pre-flight check refuses (boot VGA, framebuffer, device in use)",
	  NULL },
	{ "timeout", 't', POPT_ARG_STRING, &opt_timeout, 0,
	  "seconds to wait for each device to settle and for each sysfs write, unbind included "
	  "(default 10)",
	  "SECONDS" },
	{ "driver", 'D', POPT_ARG_STRING, &opt_driver, 0,
	  "bind to this vfio driver (default: the vfio_pci: alias in modules.alias, else vfio-pci)",
	  "NAME" },
	{ "vfs", '\0', POPT_ARG_STRING, &opt_vfs, 0,
	  "create N virtual functions on the device, an SR-IOV PF, and bind them (--restore "
	  "removes them)",
	  "N" },
	{ "guest-mem", 'm', POPT_ARG_STRING, &opt_guest_mem, 0,
	  "guest RAM the VMM will pin: warn when RLIMIT_MEMLOCK is below it", "SIZE" },
	{ "append-bdfs", '\0', POPT_ARG_NONE, &opt_append_bdfs, 0,
	  "with -- COMMAND: append the bound addresses to its arguments", NULL },
	{ "user", 'u', POPT_ARG_STRING, &opt_user, 0,
	  "give /dev/vfio/N to this user (and group) for an unprivileged VMM", "USER[:GROUP]" },
	{ "sysfs-root", '\0', POPT_ARG_STRING, &opt_root, 0,
	  "read sysfs and /proc below DIR (a snapshot; with --dry-run or --status only, or with "
	  "VFIO_BIND_FAULT for testing)",
	  "DIR" },
	CLI_COMMON_TABLE,
	POPT_AUTOHELP POPT_TABLEEND
};

static void print_device(struct out *o, const struct sysfs *s, const struct pcidev *d,
			 const char *original, const struct persist *pe)
{
	const struct persist_entry *claim = persist_get(pe, d->bdf);

	char node[PATH_MAX], rel[32];
	struct stat st;

	snprintf(rel, sizeof(rel), "/dev/vfio/%d", d->iommu_group);
	if (d->iommu_group < 0 || sysfs_path(s, node, sizeof(node), "%s", rel) || stat(node, &st))
		rel[0] = '\0';
	out_record_begin(o);
	out_str(o, "bdf", d->bdf);
	if (cli.json) {
		out_hex(o, "vendor", d->vendor, 4);
		out_hex(o, "device", d->device, 4);
		out_hex(o, "class", d->class, 6);
	}
	out_str(o, "driver", d->driver);
	if (d->iommu_group >= 0)
		out_i64(o, "iommu_group", d->iommu_group);
	else
		out_null(o, "iommu_group");
	out_str(o, "vfio_node", rel[0] ? rel : NULL);
	out_str(o, "original_driver",
		original && *original && strcmp(original, BINDSTATE_NONE) ? original : NULL);
	out_str(o, "persist", claim ? claim->driver : NULL);
	out_record_end(o);
}

static void print_plan(struct out *o, const struct bind_plan *p)
{
	out_list_begin(o);
	for (size_t i = 0; i < p->ns; i++) {
		const struct bind_step *st = &p->steps[i];
		const char *v = strcmp(st->value, "\n") ? st->value : "\\n";

		out_record_begin(o);
		out_str(o, "action", bind_step_name(st->kind));
		out_str(o, "bdf", p->t[st->target].dev->bdf);
		out_str(o, "path", st->path[0] ? st->path : NULL);
		out_str(o, "value", v);
		out_record_end(o);
	}
	out_list_end(o);
}

static void print_addrs(struct out *o, const char *key, const struct pci_addr *a, size_t n)
{
	char b[PCI_ADDR_STRLEN];

	out_array_begin(o, key);
	for (size_t i = 0; i < n; i++)
		out_str(o, NULL, pci_addr_format(&a[i], b));
	out_array_end(o);
}

static void print_int_or_null(struct out *o, const char *key, int v)
{
	if (v < 0)
		out_null(o, key);
	else
		out_i64(o, key, v);
}

/* A BAR as one text field "N:SIZE:64|32:pref|npref" (io: "N:SIZE:io"), an object in JSON. */
static void print_bar(struct out *o, const struct pciinfo_bar *b)
{
	char sz[32], text[96];

	if (!cli.json) {
		snprintf(text, sizeof(text), "%d:%s:%s", b->index,
			 format_size(b->size_bytes, sz, sizeof(sz)),
			 b->io	       ? "io"
			 : b->is_64bit ? (b->prefetchable ? "64:pref" : "64:npref")
				       : (b->prefetchable ? "32:pref" : "32:npref"));
		out_str(o, NULL, text);
		return;
	}
	out_object_begin(o, NULL);
	out_i64(o, "index", b->index);
	out_hex(o, "base", b->base, 0);
	out_u64(o, "size", b->size_bytes);
	out_str(o, "type", b->io ? "io" : "memory");
	out_bool(o, "is_64bit", b->is_64bit);
	out_bool(o, "prefetchable", b->prefetchable);
	out_object_end(o);
}

static void print_rebar(struct out *o, const struct pciinfo *p)
{
	char sz[32], text[600];

	out_array_begin(o, "resizable_bars");
	for (size_t i = 0; i < p->nrebar; i++) {
		const struct pciinfo_rebar *r = &p->rebar[i];
		size_t len = (size_t)snprintf(text, sizeof(text), "%d:", r->bar);

		if (cli.json) {
			out_object_begin(o, NULL);
			out_i64(o, "bar", r->bar);
			if (r->current_log2 < 0)
				out_null(o, "current");
			else
				out_u64(o, "current", 1ull << r->current_log2);
			out_array_begin(o, "sizes");
		}
		for (int b = 20; b < 64; b++) {
			if (!(r->sizes_log2_mask & (1ull << b)))
				continue;
			if (cli.json)
				out_u64(o, NULL, 1ull << b);
			else if (len < sizeof(text))
				len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s",
							text[len - 1] == ':' ? "" : "/",
							format_size(1ull << b, sz, sizeof(sz)));
		}
		if (cli.json) {
			out_array_end(o);
			out_object_end(o);
		} else {
			out_str(o, NULL, text);
		}
	}
	out_array_end(o);
}

static void print_rom(struct out *o, const struct pciinfo_rom *r)
{
	char name[16];

	out_object_begin(o, "rom");
	out_u64(o, "size", r->size_bytes);
	out_bool(o, "read", r->read);
	out_str(o, "error", !r->read && r->read_errno ? strerror(r->read_errno) : NULL);
	if (r->read) {
		out_bool(o, "signature", r->signature);
		if (r->pcir) {
			out_hex(o, "vendor", r->vendor, 4);
			out_hex(o, "device", r->device, 4);
		} else {
			out_null(o, "vendor");
			out_null(o, "device");
		}
		out_array_begin(o, "code_types");
		for (size_t i = 0; i < r->nimages; i++)
			out_str(o, NULL,
				pciinfo_rom_code_name(r->code_types[i], name, sizeof(name)));
		out_array_end(o);
		out_bool(o, "valid", r->valid);
	}
	out_object_end(o);
}

/* The ROM in one text field: "-", "SIZE:unread", "SIZE:valid:1234:1111:x86+efi", ... */
static void print_rom_text(struct out *o, const struct pciinfo_rom *r)
{
	char sz[32], name[16], text[200];
	size_t len;

	if (!r->size_bytes) {
		out_str(o, "rom", NULL);
		return;
	}
	len = (size_t)snprintf(text, sizeof(text),
			       "%s:", format_size(r->size_bytes, sz, sizeof(sz)));
	if (!r->read)
		snprintf(text + len, sizeof(text) - len, "unread");
	else if (!r->signature)
		snprintf(text + len, sizeof(text) - len, "no-signature");
	else
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"%s:%04x:%04x:", r->valid ? "valid" : "invalid", r->vendor,
					r->device);
	for (size_t i = 0; r->read && r->signature && i < r->nimages && len < sizeof(text); i++)
		len += (size_t)snprintf(
			text + len, sizeof(text) - len, "%s%s", i ? "+" : "",
			pciinfo_rom_code_name(r->code_types[i], name, sizeof(name)));
	out_str(o, "rom", text);
}

/* One record per device: text is one line of fields (see vfio-bind(1) for their order). */
static void print_info(struct out *o, const struct pciinfo *p)
{
	const struct pcidev *d = p->dev;

	out_record_begin(o);
	out_str(o, "bdf", d->bdf);
	out_hex(o, "vendor", d->vendor, 4);
	out_hex(o, "device", d->device, 4);
	out_hex(o, "class", d->class, 6);
	print_int_or_null(o, "boot_vga", d->boot_vga);
	out_str(o, "driver", *d->driver ? d->driver : NULL);
	print_int_or_null(o, "iommu_group", d->iommu_group);
	print_addrs(o, "group_members", p->group, p->ngroup);
	if (!*p->reset_method) {
		out_null(o, "reset_method");
	} else if (cli.json) {
		out_str(o, "reset_method", p->reset_method);
	} else { /* "flr bus" as one field */
		char m[sizeof(p->reset_method)];

		snprintf(m, sizeof(m), "%s", p->reset_method);
		for (char *c = m; (c = strchr(c, ' '));)
			*c = ',';
		out_str(o, "reset_method", m);
	}
	if (p->flr < 0)
		out_null(o, "flr");
	else
		out_bool(o, "flr", p->flr);
	out_bool(o, "bus_reset_possible", p->bus_reset_possible);
	print_addrs(o, "bus_reset_affects", p->bus_peers, p->nbus_peers);
	out_array_begin(o, "bars");
	for (size_t i = 0; i < p->nbars; i++)
		print_bar(o, &p->bars[i]);
	out_array_end(o);
	if (p->rebar_known)
		print_rebar(o, p);
	else
		out_null(o, "resizable_bars");
	if (cli.json)
		print_rom(o, &p->rom);
	else
		print_rom_text(o, &p->rom);
	print_int_or_null(o, "sriov_totalvfs", p->sriov_total);
	print_int_or_null(o, "sriov_numvfs", p->sriov_num);
	out_str(o, "vfio_driver", p->vfio_driver);
	out_array_begin(o, "holders");
	for (char *line = p->holders, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		out_str(o, NULL, line);
		*nl = '\n';
	}
	out_array_end(o);
	out_record_end(o);
}

static int run_info(const struct sysfs *s, const struct pcidev_list *l, const size_t *idx, size_t n,
		    struct out *o)
{
	unsigned flags = !s->root[0] && geteuid() == 0 ? PCIINFO_ENABLE_ROM : 0;

	out_list_begin(o);
	for (size_t i = 0; i < n; i++) {
		struct err e = { 0 };
		struct pciinfo p;

		if (pciinfo_read(s, l, &l->dev[idx[i]], flags, &p, &e))
			cli_die(EXIT_FAIL, NULL, "%s", e.msg);
		print_info(o, &p);
		pciinfo_destroy(&p);
	}
	out_list_end(o);
	return EXIT_OK;
}

/* USER[:GROUP] to ids; the group defaults to the user's primary group. */
static void parse_owner(const char *spec, struct bind_opts *bo)
{
	char user[128], *colon;
	struct passwd *pw;

	snprintf(user, sizeof(user), "%s", spec);
	colon = strchr(user, ':');
	if (colon)
		*colon++ = '\0';
	pw = getpwnam(user);
	if (!pw)
		cli_die(EXIT_USAGE, "--user", "%s: no such user", user);
	bo->uid = pw->pw_uid;
	bo->gid = pw->pw_gid;
	if (colon && *colon) {
		struct group *g = getgrnam(colon);

		if (!g)
			cli_die(EXIT_USAGE, "--user", "%s: no such group", colon);
		bo->gid = g->gr_gid;
	}
	bo->have_owner = true;
}

/* VFIO_BIND_FAULT=write:N | signal:N | hang:N — in vfio-bind(1), for testing rollback. */
static void parse_fault(struct bind_opts *bo)
{
	const char *f = getenv("VFIO_BIND_FAULT");
	long n;

	if (!f || !*f)
		return;
	if (sscanf(f, "write:%ld", &n) == 1 && n > 0)
		bo->fault_write = n;
	else if (sscanf(f, "signal:%ld", &n) == 1 && n > 0)
		bo->fault_signal = n;
	else if (sscanf(f, "hang:%ld", &n) == 1 && n > 0)
		bo->fault_hang = n;
	else
		cli_die(EXIT_USAGE, "VFIO_BIND_FAULT", "'%s' is not write:N, signal:N or hang:N",
			f);
}

/* Resolve the positional arguments (or --all) to device indexes. */
static size_t select_devices(poptContext pc, const struct pcidev_list *l,
			     const struct bindstate *st, const struct persist *pe, size_t *idx)
{
	const char *arg;
	struct err e = { 0 };
	size_t n = 0;

	while ((arg = poptGetArg(pc))) {
		struct pci_sel sel;

		if (pci_sel_parse(arg, &sel, &e))
			cli_die(EXIT_USAGE, NULL, "DEVICE %s", e.msg);
		if (pcidev_resolve(l, &sel, arg, idx, BIND_MAX_TARGETS, &n, &e))
			cli_die(EXIT_USAGE, NULL, "%s", e.msg);
	}
	if (opt_all || (opt_status && n == 0)) {
		for (size_t i = 0; i < l->n; i++) {
			bool want = bindstate_get(st, l->dev[i].bdf) ||
				    (!opt_restore && persist_get(pe, l->dev[i].bdf)) ||
				    (opt_status && !strcmp(l->dev[i].driver, BIND_DRIVER));
			bool have = false;

			for (size_t k = 0; k < n; k++)
				have |= idx[k] == i;
			if (want && !have && n < BIND_MAX_TARGETS)
				idx[n++] = i;
		}
	}
	return n;
}

/* The signal mask before vfio-bind blocked its signals: the command gets it back. */
static sigset_t saved_mask;

/* Block the signals that would cut a bind in half; they are read from a signalfd instead. */
static int block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, &saved_mask))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/*
 * A VMM pins all guest RAM for DMA (and that counts against RLIMIT_MEMLOCK); BAR mappings are
 * not pinned, so the warning compares the limit with --guest-mem only.
 */
static void check_memlock(uint64_t guest_mem)
{
	char user[128] = "", a[32], b[32];
	const char *source, *who;
	uint64_t limit;

	if (opt_user)
		snprintf(user, sizeof(user), "%.*s", (int)strcspn(opt_user, ":"), opt_user);
	who = *user ? user : "this user";
	limit = bind_memlock_limit(*user ? user : NULL, &source);
	if (limit == UINT64_MAX)
		snprintf(a, sizeof(a), "unlimited");
	else
		format_size(limit, a, sizeof(a));
	cli_verbose("RLIMIT_MEMLOCK for %s (%s): %s", who, source, a);
	if (guest_mem && limit < guest_mem)
		cli_warn("RLIMIT_MEMLOCK",
			 "%s for %s (%s) is below the guest memory of %s that a VMM pins for DMA: "
			 "raise it (ulimit -l, limits.conf memlock)",
			 a, who, source, format_size(guest_mem, b, sizeof(b)));
}

/* Returns the number of refusals (a dry run still prints its plan, then fails). */
static int check_preflight(const struct sysfs *s, struct pcidev **targets, size_t n, bool dry_run)
{
	int refused = 0;

	for (size_t i = 0; i < n; i++) {
		struct err e = { 0 };
		char *problems = NULL;
		int np = bind_preflight(s, targets[i], &problems, &e);

		if (np < 0)
			cli_die(EXIT_FAIL, NULL, "%s", e.msg);
		for (char *line = problems, *nl; line && *line; line = nl + 1) {
			nl = strchr(line, '\n');
			*nl = '\0';
			if (opt_force)
				cli_warn(targets[i]->bdf, "%s (forced)", line);
			else
				cli_error(targets[i]->bdf, "%s", line);
		}
		free(problems);
		refused += opt_force ? 0 : np;
	}
	if (refused) {
		cli_error(NULL, "refusing to bind (%d pre-flight problem%s); --force binds anyway",
			  refused, refused > 1 ? "s" : "");
		if (!dry_run)
			exit(EXIT_FAIL);
	}
	return refused;
}

/*
 * Split "... -- COMMAND ARG..." off argv before popt sees it; returns the command's argv (NULL:
 * none; empty when nothing follows "--").
 */
static char **split_command(int *argc, const char **argv)
{
	for (int i = 1; i < *argc; i++)
		if (!strcmp(argv[i], "--")) {
			*argc = i;
			return (char **)argv + i + 1;
		}
	return NULL;
}

/* Devices that VFIO can never take are skipped (a hermetic run needs only one). */
static size_t keep_eligible(const struct pcidev_list *l, size_t *idx, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct err e = { 0 };

		if (bind_check_target(&l->dev[idx[i]], &e))
			cli_warn(NULL, "%s; skipped", e.msg);
		else
			idx[k++] = idx[i];
	}
	return k;
}

/*
 * Run the command with the bound devices, passing on SIGINT, SIGTERM and SIGHUP; returns its
 * exit status, 128+N when signal N ended it.
 */
static int run_command(char **cmd, const struct bind_plan *p)
{
	char bdfs[BIND_MAX_TARGETS * (PCI_ADDR_STRLEN + 1)] = "";
	char *argv[4096];
	size_t na = 0, used = 0;
	sigset_t set;
	int sfd, status;
	pid_t pid;

	/* The PF of --vfs stays on its driver: the command gets its VFs. */
	for (size_t i = 0; i < p->nt; i++)
		if (!p->t[i].keep_driver)
			used += (size_t)snprintf(bdfs + used, sizeof(bdfs) - used, "%s%s",
						 used ? " " : "", p->t[i].dev->bdf);
	for (; cmd[na] && na < 4000; na++)
		argv[na] = cmd[na];
	for (size_t i = 0; opt_append_bdfs && i < p->nt; i++)
		if (!p->t[i].keep_driver)
			argv[na++] = p->t[i].dev->bdf;
	argv[na] = NULL;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		cli_die(EXIT_FAIL, "signalfd", "%s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		cli_die(EXIT_FAIL, "fork", "%s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		setenv("VFIO_SELFTESTS_BDF", bdfs, 1);
		execvp(argv[0], argv);
		cli_error(argv[0], "%s", strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (;;) {
		struct signalfd_siginfo si;

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			cli_verbose("passing %s to %s (pid %d)", strsignal((int)si.ssi_signo),
				    argv[0], (int)pid);
			kill(pid, (int)si.ssi_signo);
		}
	}
	close(sfd);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Bind, run the command, restore: the shape of the VFIO selftests' setup.sh, run.sh, cleanup.sh. */
static int hermetic_run(char **cmd, struct bind_plan *plan, const struct sysfs *s,
			struct bindstate *st, struct bind_opts *bo)
{
	struct bind_plan undo;
	struct err e = { 0 };
	int status, rc;

	if (bind_plan_run(plan, s, st, bo, &e)) {
		cli_error(NULL, "%s", e.msg);
		cli_error(NULL, "every device changed was returned to its original driver");
		return EXIT_FAIL;
	}
	/* Let the command (or a vfio-bind --status in it) read the state meanwhile. */
	bindstate_close(st);
	status = run_command(cmd, plan);
	if (bindstate_open(st, NULL, false, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	rc = bind_plan_undo(&undo, plan, s, st, &e);
	if (!rc)
		rc = bind_plan_run(&undo, s, st,
				   &(struct bind_opts){ .timeout_ms = bo->timeout_ms, .sigfd = -1 },
				   &e);
	bind_plan_free(&undo);
	if (rc) {
		cli_error("restore", "%s", e.msg);
		return status ? status : EXIT_FAIL;
	}
	cli_verbose("restored %zu device%s; %s exited with %d", plan->nt, plan->nt > 1 ? "s" : "",
		    cmd[0], status);
	return status;
}

/*
 * After a successful --persist or --unpersist: claim the bound devices with the driver they
 * went to, or drop the claims. The rule runs this very vfio-bind (an installed one at
 * /usr/bin, or a build tree's).
 */
static int update_claims(struct persist *pe, const struct bind_plan *p)
{
	char exe[PATH_MAX];
	struct err e = { 0 };
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		cli_error("/proc/self/exe", "%s", strerror(errno));
		return EXIT_FAIL;
	}
	exe[n] = '\0';
	for (size_t i = 0; i < p->nt; i++) {
		if (opt_unpersist)
			persist_unset(pe, p->t[i].dev->bdf);
		else if (persist_set(pe, p->t[i].dev->bdf,
				     p->t[i].driver[0] ? p->t[i].driver : BIND_DRIVER, opt_force,
				     &e))
			break;
	}
	if (e.code || persist_save(pe, exe, &e)) {
		cli_error(NULL, "%s", e.msg);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int main(int argc, const char **argv)
{
	char **cmd = split_command(&argc, argv);
	poptContext pc =
		cli_parse(argc, argv, options, "[OPTION...] DEVICE... [-- COMMAND [ARG...]]");
	struct bind_opts bo = { .timeout_ms = 10000, .sigfd = -1, .zero_vfs = cmd != NULL };
	uint64_t guest_mem = 0;
	struct pcidev *targets[BIND_MAX_TARGETS];
	size_t idx[BIND_MAX_TARGETS], n;
	struct pcidev_list devs;
	struct bindstate st;
	struct persist pe;
	struct bind_plan plan;
	struct sysfs sys;
	struct err e = { 0 };
	struct out *o;
	int rc;

	if (opt_restore + opt_status + opt_info + opt_persist + opt_unpersist > 1)
		cli_die(EXIT_USAGE, NULL,
			"--restore, --status, --info, --persist and --unpersist exclude each other");
	if ((opt_persist || opt_unpersist) && cmd)
		cli_die(EXIT_USAGE, opt_persist ? "--persist" : "--unpersist",
			"not with -- COMMAND (a hermetic run leaves nothing behind)");
	/* --unpersist is a restore that also drops the claims. */
	opt_restore |= opt_unpersist;
	if (opt_info && (opt_group || opt_all || opt_dry_run || opt_force || opt_user || cmd ||
			 opt_driver || opt_guest_mem || opt_append_bdfs))
		cli_die(EXIT_USAGE, "--info", "takes devices and --json, --sysfs-root only");
	if (opt_all && !opt_restore && !opt_status)
		cli_die(EXIT_USAGE, "--all", "only with --restore, --unpersist or --status");
	if (cmd && !cmd[0])
		cli_die(EXIT_USAGE, "--", "no command after it");
	if (cmd && (opt_restore || opt_status || opt_all))
		cli_die(EXIT_USAGE, "--",
			"a command runs only after a bind (not with --restore, "
			"--status or --all)");
	if (opt_append_bdfs && !cmd)
		cli_die(EXIT_USAGE, "--append-bdfs", "only with -- COMMAND");
	if (opt_driver && (opt_restore || opt_status))
		cli_die(EXIT_USAGE, "--driver", "only when binding");
	if (opt_driver && (!*opt_driver || strlen(opt_driver) >= PCIDEV_NAME_MAX ||
			   strpbrk(opt_driver, "/ \t\n")))
		cli_die(EXIT_USAGE, "--driver", "'%s' is not a driver name", opt_driver);
	bo.driver = opt_driver;
	if (opt_vfs) {
		uint64_t v = parse_u64_or_die("--vfs", opt_vfs);

		if (v == 0 || v > 65535)
			cli_die(EXIT_USAGE, "--vfs", "'%s' is not between 1 and 65535", opt_vfs);
		if (opt_restore || opt_status || opt_info || opt_all || opt_group)
			cli_die(EXIT_USAGE, "--vfs",
				"only when binding one PF (not with --restore, --status, --info, "
				"--all or --group)");
		bo.vfs = (unsigned)v;
	}
	if (opt_guest_mem) {
		guest_mem = parse_size_or_die("--guest-mem", opt_guest_mem);
		if (!guest_mem)
			cli_die(EXIT_USAGE, "--guest-mem", "'%s' is not a size above 0",
				opt_guest_mem);
	}
	parse_fault(&bo);
	/* A snapshot changes only in fault tests (hang:N on its plain files, then the rollback). */
	if (opt_root && !opt_dry_run && !opt_status && !opt_info && !getenv("VFIO_BIND_FAULT"))
		cli_die(EXIT_USAGE, "--sysfs-root",
			"only with --dry-run, --status or --info (a snapshot "
			"cannot be changed)");
	if (opt_timeout) {
		uint64_t t = parse_u64_or_die("--timeout", opt_timeout);

		if (t == 0 || t > 3600)
			cli_die(EXIT_USAGE, "--timeout", "'%s' is not between 1 and 3600 seconds",
				opt_timeout);
		bo.timeout_ms = (int)t * 1000;
	}
	if (opt_user)
		parse_owner(opt_user, &bo);
	if (!poptPeekArg(pc) && !opt_all && (!opt_status || opt_info))
		cli_die(EXIT_USAGE, NULL, "no device given (try '%s --help')", cli.prog);

	sysfs_init(&sys, opt_root);
	if (!opt_dry_run && !opt_status && !opt_info && !opt_root && geteuid() != 0)
		cli_die(EXIT_FAIL, NULL, "binding changes sysfs and needs root (run with sudo)");
	/*
	 * Take the lock before looking at the devices: a concurrent invocation's changes must be
	 * seen by the plan, or a stale plan would undo them. A dry run or status only reads.
	 */
	if (bindstate_open(&st, NULL, opt_dry_run || opt_status || opt_info, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (persist_open(&pe, NULL, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (pcidev_scan(&sys, &devs, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	n = select_devices(pc, &devs, &st, &pe, idx);
	cli_done();
	o = cli_out(stdout);

	if (opt_info) {
		rc = run_info(&sys, &devs, idx, n, o);
		goto out;
	}
	if (opt_status) {
		out_list_begin(o);
		for (size_t i = 0; i < n; i++) {
			const struct bindstate_entry *r = bindstate_get(&st, devs.dev[idx[i]].bdf);

			print_device(o, &sys, &devs.dev[idx[i]], r ? r->driver : NULL, &pe);
		}
		out_list_end(o);
		rc = EXIT_OK;
		goto out;
	}
	if (cmd && !pcidev_have_iommu(&sys))
		cli_die(EXIT_SKIP, NULL,
			"no IOMMU groups (the IOMMU is off): nothing to bind; skipping");
	if (cmd && !(n = keep_eligible(&devs, idx, n)))
		cli_die(EXIT_SKIP, NULL, "no device given can be bound to VFIO; skipping");
	if (!opt_restore && !pcidev_have_iommu(&sys))
		cli_die(EXIT_FAIL, NULL,
			"no IOMMU groups: the IOMMU is off. Enable VT-d/AMD-Vi in the firmware and "
			"boot with intel_iommu=on (Intel) or amd_iommu=on (AMD), e.g. with iommu=pt");
	for (size_t i = 0; i < n && !opt_restore; i++)
		if (bind_check_target(&devs.dev[idx[i]], &e))
			cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (opt_group && bind_expand_groups(&devs, idx, BIND_MAX_TARGETS, &n, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	/* A PF whose VFs vfio-bind made: they go back before its sriov_numvfs does. */
	if (opt_restore && bind_expand_vfs(&sys, &devs, &st, idx, BIND_MAX_TARGETS, &n, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (opt_vfs && n != 1)
		cli_die(EXIT_USAGE, "--vfs", "takes one device, the physical function (%zu given)",
			n);
	/* With --vfs the PF keeps its driver: only its new VFs move (and they have none). */
	if (!opt_restore && !opt_vfs && bind_check_viable(&devs, idx, n, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	for (size_t i = 0; i < n; i++)
		targets[i] = &devs.dev[idx[i]];
	int refused = opt_restore || opt_vfs ? 0 : check_preflight(&sys, targets, n, opt_dry_run);

	if (!opt_restore)
		check_memlock(guest_mem);

	if (bind_plan_build(&plan, opt_restore ? BIND_OP_RESTORE : BIND_OP_BIND, &sys, &st, targets,
			    n, &bo, &e))
		cli_die(e.kind == ERR_INPUT ? EXIT_USAGE : EXIT_FAIL, NULL, "%s", e.msg);
	if (opt_dry_run) {
		print_plan(o, &plan);
		rc = refused ? EXIT_FAIL : EXIT_OK;
	} else if (cmd) {
		bo.sigfd = block_signals();
		rc = hermetic_run(cmd, &plan, &sys, &st, &bo);
		if (bo.sigfd >= 0)
			close(bo.sigfd);
	} else {
		if (cli.verbose) {
			struct out *vo = out_new(stderr, false);

			print_plan(vo, &plan);
			out_free(vo);
		}
		bo.sigfd = block_signals();
		if (bind_plan_run(&plan, &sys, &st, &bo, &e)) {
			cli_error(NULL, "%s", e.msg);
			if (!opt_restore)
				cli_error(NULL, "every device changed was returned to its original "
						"driver");
			rc = EXIT_FAIL;
		} else {
			rc = opt_persist || opt_unpersist ? update_claims(&pe, &plan) : EXIT_OK;
			out_list_begin(o);
			for (size_t i = 0; i < plan.nt; i++) {
				pcidev_refresh(&sys, plan.t[i].dev);
				print_device(o, &sys, plan.t[i].dev,
					     opt_restore ? NULL : plan.t[i].original, &pe);
			}
			out_list_end(o);
		}
		if (bo.sigfd >= 0)
			close(bo.sigfd);
	}
	bind_plan_free(&plan);
out:
	persist_close(&pe);
	bindstate_close(&st);
	pcidev_list_free(&devs);
	cli_out_close(o);
	return rc;
}
