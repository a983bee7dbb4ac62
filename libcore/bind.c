/* bind.c: moving PCI devices to vfio-pci and back the way the kernel intends, with rollback. */
#include "bind.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <libudev.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "parse.h"

const char *bind_step_name(enum bind_step_kind k)
{
	static const char *const names[] = { "modprobe", "record", "write", "wait",
					     "chown",	 "forget", "sriov" };

	return names[k];
}

/* ---- groups ---------------------------------------------------------------------------- */

void bind_group_members(const struct pcidev_list *l, int group, struct pci_addr *out, size_t cap,
			size_t *n)
{
	*n = 0;
	for (size_t i = 0; group >= 0 && i < l->n; i++)
		if (l->dev[i].iommu_group == group && *n < cap)
			out[(*n)++] = l->dev[i].addr;
}

static bool in_set(const size_t *idx, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k++)
		if (idx[k] == i)
			return true;
	return false;
}

int bind_expand_groups(const struct pcidev_list *l, size_t *idx, size_t cap, size_t *n,
		       struct err *e)
{
	size_t given = *n;

	for (size_t k = 0; k < given; k++) {
		const struct pcidev *d = &l->dev[idx[k]];
		struct pci_addr m[BIND_MAX_TARGETS];
		size_t nm;

		if (d->iommu_group < 0)
			continue; /* reported by pre-flight */
		bind_group_members(l, d->iommu_group, m, BIND_MAX_TARGETS, &nm);
		for (size_t j = 0; j < nm; j++) {
			const struct pcidev *md = pcidev_find(l, &m[j]);
			size_t i;

			if (!md || md->is_bridge)
				continue; /* bridges stay with their driver */
			i = (size_t)(md - l->dev);
			if (in_set(idx, *n, i))
				continue;
			if (*n >= cap)
				return err_set(e, E2BIG, "too many devices (at most %zu)", cap);
			idx[(*n)++] = i;
		}
	}
	return 0;
}

/* Drivers that leave a group viable for VFIO (besides no driver at all). */
static bool driver_viable(const char *drv)
{
	return !*drv || !strcmp(drv, BIND_DRIVER) || !strcmp(drv, "pci-stub");
}

int bind_check_viable(const struct pcidev_list *l, const size_t *idx, size_t n, struct err *e)
{
	for (size_t k = 0; k < n; k++) {
		const struct pcidev *d = &l->dev[idx[k]];
		struct pci_addr m[BIND_MAX_TARGETS];
		char others[400] = "";
		size_t nm, len = 0;

		if (d->iommu_group < 0)
			continue;
		bind_group_members(l, d->iommu_group, m, BIND_MAX_TARGETS, &nm);
		for (size_t j = 0; j < nm; j++) {
			const struct pcidev *md = pcidev_find(l, &m[j]);

			if (!md || md->is_bridge || in_set(idx, n, (size_t)(md - l->dev)) ||
			    driver_viable(md->driver))
				continue;
			len += (size_t)snprintf(others + len,
						len < sizeof(others) ? sizeof(others) - len : 0,
						"%s%s (%s)", len ? ", " : "", md->bdf, md->driver);
			if (len >= sizeof(others))
				len = sizeof(others) - 1;
		}
		if (*others)
			return err_set(
				e, EBUSY,
				"%s: IOMMU group %d would not be viable: %s %s still bound to "
				"%s; bind the whole group with --group",
				d->bdf, d->iommu_group, others, strchr(others, ',') ? "are" : "is",
				"a host driver");
	}
	return 0;
}

/* ---- SR-IOV ------------------------------------------------------------------------------ */

int bind_vf_addr(const struct sysfs *s, const struct pcidev *pf, unsigned i, struct pci_addr *out,
		 struct err *e)
{
	uint64_t offset, stride, rid;

	if (sysfs_read_u64(s, &offset, "/sys/bus/pci/devices/%s/sriov_offset", pf->bdf) ||
	    sysfs_read_u64(s, &stride, "/sys/bus/pci/devices/%s/sriov_stride", pf->bdf))
		return err_set(e, EIO, "%s: cannot read sriov_offset and sriov_stride", pf->bdf);
	/* A routing ID is bus << 8 | devfn; a VF may sit on a later bus than its PF. */
	rid = ((uint64_t)pf->addr.bus << 8 | (uint64_t)pf->addr.dev << 3 | pf->addr.fn) + offset +
	      stride * i;
	if (rid > 0xffff)
		return err_set(e, ERANGE, "%s: VF %u would lie past bus 255", pf->bdf, i);
	out->domain = pf->addr.domain;
	out->bus = (uint8_t)(rid >> 8);
	out->dev = (uint8_t)((rid >> 3) & 0x1f);
	out->fn = (uint8_t)(rid & 7);
	return 0;
}

int bind_expand_vfs(const struct sysfs *s, const struct pcidev_list *l, const struct bindstate *st,
		    size_t *idx, size_t cap, size_t *n, struct err *e)
{
	size_t given = *n;

	for (size_t k = 0; k < given; k++) {
		const struct pcidev *pf = &l->dev[idx[k]];
		const struct bindstate_entry *rec = bindstate_get(st, pf->bdf);
		char name[PCIDEV_NAME_MAX];

		if (!rec || (rec->numvfs < 0 && rec->autoprobe < 0))
			continue;
		/* virtfn0, virtfn1, ...: numbered without gaps by the kernel. */
		for (unsigned j = 0; !sysfs_link_name(
			     s, name, sizeof(name), "/sys/bus/pci/devices/%s/virtfn%u", pf->bdf, j);
		     j++) {
			const struct pcidev *vf;
			struct pci_addr a;
			bool dom;
			size_t i;

			if (pci_addr_parse(name, &a, &dom, NULL) || !(vf = pcidev_find(l, &a)) ||
			    !bindstate_get(st, vf->bdf))
				continue;
			i = (size_t)(vf - l->dev);
			if (in_set(idx, *n, i))
				continue;
			if (*n >= cap)
				return err_set(e, E2BIG, "too many devices (at most %zu)", cap);
			idx[(*n)++] = i;
		}
	}
	return 0;
}

/* ---- pre-flight -------------------------------------------------------------------------- */

struct problems {
	char *buf;
	size_t len;
	int count;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	size_t n;
	char *nb;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	nb = realloc(p->buf, p->len + n + 2);
	if (!nb)
		return;
	p->buf = nb;
	memcpy(p->buf + p->len, line, n);
	p->len += n;
	p->buf[p->len++] = '\n';
	p->buf[p->len] = '\0';
	p->count++;
}

static bool is_framebuffer(const char *name)
{
	static const char *const fb[] = { "efifb",     "simplefb", "simple-framebuffer",
					  "simpledrm", "vesafb",   "vesa-framebuffer",
					  "BOOTFB",    "bootfb" };

	for (size_t i = 0; i < sizeof(fb) / sizeof(fb[0]); i++)
		if (strstr(name, fb[i]))
			return true;
	return false;
}

/* A firmware framebuffer in /proc/iomem that lies over one of the device's memory BARs. */
static void check_iomem(const struct sysfs *s, const struct pcidev *d, struct problems *p)
{
	char path[PATH_MAX], line[256];
	FILE *f;

	if (sysfs_path(s, path, sizeof(path), "/proc/iomem") || !(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char name[128];

		if (sscanf(line, " %llx-%llx : %127[^\n]", &lo, &hi, name) != 3 ||
		    !is_framebuffer(name))
			continue;
		for (int i = 0; i < 6; i++) {
			uint64_t b = d->bar_base[i], sz = d->bar_size[i];

			if (d->bar_io[i] || !sz || !b)
				continue;
			if (lo < b + sz && hi >= b)
				problem(p,
					"BAR%d [0x%" PRIx64 "-0x%" PRIx64 "] holds the firmware "
					"framebuffer '%s' (the console draws there; boot with "
					"initcall_blacklist=sysfb_init or video=efifb:off)",
					i, b, b + sz - 1, name);
		}
	}
	fclose(f);
}

struct devnode {
	dev_t rdev;
	bool block;
	char name[64];
};

/*
 * Device nodes that belong to the PCI device: every "dev" attribute below its sysfs dir. Walked
 * here, not with libudev's enumerator (udev_enumerate_add_match_parent): libudev reads only the
 * live /sys and cannot be pointed at a --sysfs-root snapshot, where the tests put their nodes.
 */
static void collect_nodes(const char *dir, int depth, struct devnode *v, size_t cap, size_t *n)
{
	struct dirent *de;
	DIR *d;

	if (depth > 4 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char sub[PATH_MAX], buf[64], subsys[64];
		unsigned ma, mi;
		int fd;
		ssize_t r;

		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= (int)sizeof(sub))
			continue;
		if (de->d_type == DT_DIR) {
			collect_nodes(sub, depth + 1, v, cap, n);
			continue;
		}
		if (strcmp(de->d_name, "dev") || depth == 0 || *n >= cap)
			continue;
		fd = open(sub, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = '\0';
		if (sscanf(buf, "%u:%u", &ma, &mi) != 2)
			continue;
		snprintf(sub, sizeof(sub), "%s/subsystem", dir);
		r = readlink(sub, subsys, sizeof(subsys) - 1);
		subsys[r > 0 ? r : 0] = '\0';
		v[*n].rdev = makedev(ma, mi);
		v[*n].block = strstr(subsys, "/block") != NULL;
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", strrchr(dir, '/') + 1);
		(*n)++;
	}
	closedir(d);
}

static const struct devnode *match_node(const struct devnode *v, size_t n, const struct stat *st)
{
	for (size_t i = 0; i < n; i++)
		if (st->st_rdev == v[i].rdev &&
		    (v[i].block ? S_ISBLK(st->st_mode) : S_ISCHR(st->st_mode)))
			return &v[i];
	return NULL;
}

/* Processes holding the device's nodes open or mapping its BARs, and mounted block devices. */
static void check_users(const struct sysfs *s, const struct pcidev *d, struct problems *p)
{
	char dir[PATH_MAX], proc[PATH_MAX], needle[PCI_ADDR_STRLEN + 16];
	struct devnode nodes[64];
	size_t nn = 0;
	struct dirent *pe;
	DIR *pd;
	FILE *f;

	if (sysfs_path(s, dir, sizeof(dir), "/sys/bus/pci/devices/%s/", d->bdf) ||
	    !realpath(dir, proc))
		return;
	collect_nodes(proc, 0, nodes, 64, &nn);
	snprintf(needle, sizeof(needle), "/%s/resource", d->bdf);
	if (sysfs_path(s, proc, sizeof(proc), "/proc") || !(pd = opendir(proc)))
		return;
	while ((pe = readdir(pd))) {
		char path[PATH_MAX], line[512], comm[64] = "?";
		const struct devnode *hit = NULL;
		bool maps_bar = false;
		struct dirent *fe;
		DIR *fd;

		if (pe->d_name[0] < '1' || pe->d_name[0] > '9' || atoi(pe->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd", proc, pe->d_name);
		if (nn && (fd = opendir(path))) {
			while (!hit && (fe = readdir(fd))) {
				char fp[PATH_MAX + 300];
				struct stat st;

				snprintf(fp, sizeof(fp), "%s/%s", path, fe->d_name);
				if (fe->d_name[0] != '.' && !stat(fp, &st))
					hit = match_node(nodes, nn, &st);
			}
			closedir(fd);
		}
		snprintf(path, sizeof(path), "%s/%s/maps", proc, pe->d_name);
		if ((f = fopen(path, "re"))) {
			while (!maps_bar && fgets(line, sizeof(line), f))
				maps_bar = strstr(line, needle) != NULL;
			fclose(f);
		}
		if (!hit && !maps_bar)
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", proc, pe->d_name);
		if ((f = fopen(path, "re"))) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		if (hit)
			problem(p, "process %s (%s) holds /dev/%s open", pe->d_name, comm,
				hit->name);
		else
			problem(p, "process %s (%s) has a BAR of the device mapped", pe->d_name,
				comm);
	}
	closedir(pd);
	/* Mounted file systems on its block devices. */
	if (sysfs_path(s, proc, sizeof(proc), "/proc/self/mountinfo") || !(f = fopen(proc, "re")))
		return;
	{
		char line[1024];

		while (fgets(line, sizeof(line), f)) {
			unsigned ma, mi;
			char mnt[512];

			if (sscanf(line, "%*d %*d %u:%u %*s %511s", &ma, &mi, mnt) != 3)
				continue;
			for (size_t i = 0; i < nn; i++)
				if (nodes[i].block && nodes[i].rdev == makedev(ma, mi))
					problem(p, "/dev/%s is mounted on %s", nodes[i].name, mnt);
		}
	}
	fclose(f);
}

/* A network interface of the device that is administratively up (it may carry traffic). */
static void check_netdevs(const struct sysfs *s, const struct pcidev *d, struct problems *p)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	if (sysfs_path(s, path, sizeof(path), "/sys/bus/pci/devices/%s/net", d->bdf) ||
	    !(dir = opendir(path)))
		return;
	while ((de = readdir(dir))) {
		uint64_t flags;

		if (de->d_name[0] == '.')
			continue;
		if (!sysfs_read_u64(s, &flags, "/sys/bus/pci/devices/%s/net/%s/flags", d->bdf,
				    de->d_name) &&
		    (flags & 1))
			problem(p, "network interface %s is up", de->d_name);
	}
	closedir(dir);
}

/* Does ROOT/sys/class/graphics/fbN/device lead to the PCI device? */
static bool fb_on_device(const struct sysfs *s, const char *fb, const char *devreal)
{
	char path[PATH_MAX], real[PATH_MAX];

	return !sysfs_path(s, path, sizeof(path), "/sys/class/graphics/%s/device", fb) &&
	       realpath(path, real) && !strcmp(real, devreal);
}

/* The vtconsole that fbcon ("frame buffer device") holds bound, or -1. */
static int fbcon_bound(const struct sysfs *s)
{
	char path[PATH_MAX], name[128];
	struct dirent *de;
	int found = -1;
	DIR *dir;

	if (sysfs_path(s, path, sizeof(path), "/sys/class/vtconsole") || !(dir = opendir(path)))
		return -1;
	while (found < 0 && (de = readdir(dir))) {
		uint64_t bound;
		int n;

		if (sscanf(de->d_name, "vtcon%d", &n) != 1 ||
		    sysfs_read(s, name, sizeof(name), "/sys/class/vtconsole/%s/name", de->d_name) <
			    0 ||
		    !strstr(name, "frame buffer") ||
		    sysfs_read_u64(s, &bound, "/sys/class/vtconsole/%s/bind", de->d_name) || !bound)
			continue;
		found = n;
	}
	closedir(dir);
	return found;
}

/*
 * A framebuffer of the device that the console draws on: unbinding its driver under fbcon
 * leaves the host without a console, or hangs in the driver's remove.
 */
static void check_console(const struct sysfs *s, const struct pcidev *d, struct problems *p)
{
	char path[PATH_MAX], real[PATH_MAX], name[64];
	struct dirent *de;
	int vt = fbcon_bound(s);
	DIR *dir;

	if (vt < 0 || sysfs_path(s, path, sizeof(path), "/sys/bus/pci/devices/%s", d->bdf) ||
	    !realpath(path, real) || sysfs_path(s, path, sizeof(path), "/sys/class/graphics") ||
	    !(dir = opendir(path)))
		return;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "fb", 2) || !fb_on_device(s, de->d_name, real))
			continue;
		if (sysfs_read(s, name, sizeof(name), "/sys/class/graphics/%s/name", de->d_name) <
		    0)
			snprintf(name, sizeof(name), "?");
		problem(p,
			"is the console: fbcon (vtcon%d) draws on its %s (%s); release it with "
			"'echo 0 > /sys/class/vtconsole/vtcon%d/bind', or boot with "
			"initcall_blacklist=sysfb_init or video=efifb:off",
			vt, de->d_name, name, vt);
	}
	closedir(dir);
}

void bind_holders(const struct sysfs *s, const struct pcidev *d, char *buf, size_t len)
{
	struct problems p = { 0 };
	size_t used = 0;

	buf[0] = '\0';
	check_users(s, d, &p);
	for (char *line = p.buf, *nl; line && *line && used < len; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "; " : "", line);
	}
	free(p.buf);
}

int bind_check_target(const struct pcidev *d, struct err *e)
{
	if (d->is_bridge)
		return err_set(e, EINVAL, "%s: is a PCI bridge; vfio-pci binds endpoints only",
			       d->bdf);
	if (d->iommu_group < 0)
		return err_set(e, ENODEV,
			       "%s: has no IOMMU group (it sits behind no IOMMU, or the IOMMU "
			       "does not cover it)",
			       d->bdf);
	return 0;
}

int bind_preflight(const struct sysfs *s, const struct pcidev *d, char **out, struct err *e)
{
	struct problems p = { 0 };
	int rc = bind_check_target(d, e);

	*out = NULL;
	if (rc)
		return rc;
	if (!strcmp(d->driver, BIND_DRIVER))
		return 0;
	if ((d->class >> 16) == 0x03 && d->boot_vga == 1)
		problem(&p, "is the boot VGA device (boot_vga=1): the host console runs on it");
	check_iomem(s, d, &p);
	check_console(s, d, &p);
	if (*d->driver) {
		check_users(s, d, &p);
		check_netdevs(s, d, &p);
	}
	*out = p.buf;
	return p.count;
}

/* limits.conf: "domain type item value"; the most specific domain wins (user, @group, *). */
static int limits_scan(const char *path, const char *user, gid_t *groups, int ngroups,
		       uint64_t *best, int *best_rank)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char dom[64], type[16], item[32], val[32];
		int rank = 0;
		uint64_t v;

		if (sscanf(line, "%63s %15s %31s %31s", dom, type, item, val) != 4 ||
		    dom[0] == '#' || strcmp(item, "memlock") || !strcmp(type, "hard"))
			continue;
		if (!strcmp(dom, user))
			rank = 3;
		else if (dom[0] == '@') {
			struct group *g = getgrnam(dom + 1);

			for (int i = 0; g && i < ngroups; i++)
				if (groups[i] == g->gr_gid)
					rank = 2;
		} else if (!strcmp(dom, "*"))
			rank = 1;
		if (!rank || rank < *best_rank)
			continue;
		if (!strcmp(val, "unlimited") || !strcmp(val, "infinity") || !strcmp(val, "-1"))
			v = UINT64_MAX;
		else if (parse_u64(val, &v) || v > UINT64_MAX / 1024)
			continue;
		else
			v *= 1024; /* limits.conf counts KiB */
		*best = v;
		*best_rank = rank;
	}
	fclose(f);
	return 0;
}

uint64_t bind_memlock_limit(const char *user, const char **source)
{
	struct rlimit rl;
	uint64_t best = 0;
	int rank = 0;

	if (user) {
		struct passwd *pw = getpwnam(user);
		gid_t groups[64];
		int ng = 64;
		DIR *d;

		if (pw && getgrouplist(user, pw->pw_gid, groups, &ng) >= 0) {
			limits_scan("/etc/security/limits.conf", user, groups, ng, &best, &rank);
			if ((d = opendir("/etc/security/limits.d"))) {
				struct dirent *de;

				while ((de = readdir(d))) {
					char p[PATH_MAX];
					size_t len = strlen(de->d_name);

					if (len < 6 || strcmp(de->d_name + len - 5, ".conf"))
						continue;
					snprintf(p, sizeof(p), "/etc/security/limits.d/%s",
						 de->d_name);
					limits_scan(p, user, groups, ng, &best, &rank);
				}
				closedir(d);
			}
			if (rank) {
				*source = "limits.conf";
				return best;
			}
		}
	}
	*source = "this shell";
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return 0;
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* ---- the vfio driver -------------------------------------------------------------------- */

void bind_modalias(const struct sysfs *s, const struct pcidev *d, char *buf, size_t len)
{
	uint64_t sv = 0, sd = 0;

	if (sysfs_read_u64(s, &sv, "/sys/bus/pci/devices/%s/subsystem_vendor", d->bdf))
		sv = 0;
	if (sysfs_read_u64(s, &sd, "/sys/bus/pci/devices/%s/subsystem_device", d->bdf))
		sd = 0;
	/* The format of the kernel's file2alias, do_pci_entry(). */
	snprintf(buf, len, "vfio_pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", d->vendor, d->device,
		 (unsigned)sv, (unsigned)sd, (d->class >> 16) & 0xff, (d->class >> 8) & 0xff,
		 d->class & 0xff);
}

void bind_alias_match(const char *aliases, const char *modalias, char *module, size_t len)
{
	int best = -1;

	module[0] = '\0';
	for (const char *line = aliases; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512], pat[400], mod[PCIDEV_NAME_MAX];
		int stars = 0;

		snprintf(buf, sizeof(buf), "%.*s", (int)(n < sizeof(buf) ? n : sizeof(buf) - 1),
			 line);
		line = nl ? nl + 1 : line + n;
		if (sscanf(buf, "alias %399s %63s", pat, mod) != 2 ||
		    strncmp(pat, "vfio_pci:", 9) || fnmatch(pat, modalias, 0))
			continue;
		for (const char *c = pat; *c; c++)
			stars += *c == '*';
		if (best < 0 || stars < best) {
			best = stars;
			snprintf(module, len, "%s", mod);
		}
	}
}

/* The name a loaded module registered its PCI driver under (/sys/module/M/drivers/pci:NAME). */
static bool module_driver(const struct sysfs *s, const char *module, char *driver, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	if (sysfs_path(s, path, sizeof(path), "/sys/module/%s/drivers", module) ||
	    !(dir = opendir(path)))
		return false;
	while (!found && (de = readdir(dir)))
		if (!strncmp(de->d_name, "pci:", 4)) {
			snprintf(driver, len, "%s", de->d_name + 4);
			found = true;
		}
	closedir(dir);
	return found;
}

static char *read_text(const char *path, size_t max)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

int bind_choose_driver(const struct sysfs *s, const struct pcidev *d, char *driver, char *module,
		       size_t len, struct err *e)
{
	char path[PATH_MAX], modalias[128];
	struct utsname u;
	char *text;

	snprintf(driver, len, "%s", BIND_DRIVER);
	snprintf(module, len, "%s", BIND_DRIVER);
	if (uname(&u))
		return err_set(e, errno, "uname: %s", strerror(errno));
	if (sysfs_path(s, path, sizeof(path), "/lib/modules/%s/modules.alias", u.release))
		return err_set(e, ENAMETOOLONG, "modules.alias: path too long");
	text = read_text(path, 64u << 20);
	if (!text)
		return errno == ENOENT ? 0 : err_set(e, errno, "%s: %s", path, strerror(errno));
	bind_modalias(s, d, modalias, sizeof(modalias));
	bind_alias_match(text, modalias, module, len);
	free(text);
	if (!*module || !strcmp(module, "vfio_pci")) {
		snprintf(module, len, "%s", BIND_DRIVER);
		return 0;
	}
	if (!module_driver(s, module, driver, len))
		snprintf(driver, len, "%s", module);
	return 0;
}

/* Is the module (or a driver of that name) already there? */
static bool module_loaded(const struct sysfs *s, const char *module, const char *driver)
{
	char m[PCIDEV_NAME_MAX];

	snprintf(m, sizeof(m), "%s", module);
	for (char *c = m; *c; c++)
		if (*c == '-')
			*c = '_';
	return !sysfs_exists(s, "/sys/module/%s", m) ||
	       !sysfs_exists(s, "/sys/bus/pci/drivers/%s", driver);
}

/* ---- plans ------------------------------------------------------------------------------ */

static int add_step(struct bind_plan *p, enum bind_step_kind kind, size_t target, const char *path,
		    const char *value, struct err *e)
{
	struct bind_step *st;

	if (p->ns == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 32;
		struct bind_step *v = realloc(p->steps, cap * sizeof(*v));

		if (!v)
			return err_set(e, ENOMEM, "out of memory");
		p->steps = v;
		p->cap = cap;
	}
	st = &p->steps[p->ns++];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->target = target;
	snprintf(st->path, sizeof(st->path), "%s", path ? path : "");
	snprintf(st->value, sizeof(st->value), "%s", value ? value : "");
	return 0;
}

static int add_write(struct bind_plan *p, const struct sysfs *s, size_t t, const char *value,
		     struct err *e, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int add_write(struct bind_plan *p, const struct sysfs *s, size_t t, const char *value,
		     struct err *e, const char *fmt, ...)
{
	char rel[PATH_MAX], path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (sysfs_path(s, path, sizeof(path), "%s", rel))
		return err_set(e, ENAMETOOLONG, "%s: path too long", rel);
	return add_step(p, BIND_STEP_WRITE, t, path, value, e);
}

static void vfio_node(const struct sysfs *s, int group, char *buf, size_t len)
{
	if (sysfs_path(s, buf, len, "/dev/vfio/%d", group))
		buf[0] = '\0';
}

/* driver_override currently holds a driver name (the kernel prints "(null)" when empty). */
static bool override_set(const struct sysfs *s, const char *bdf)
{
	char buf[PCIDEV_NAME_MAX];

	return sysfs_read(s, buf, sizeof(buf), "/sys/bus/pci/devices/%s/driver_override", bdf) >
		       0 &&
	       strcmp(buf, "(null)") != 0;
}

/* A write to one of a PF's SR-IOV attributes, unless it already holds the value. */
static int add_sriov(struct bind_plan *p, const struct sysfs *s, size_t t, const char *attr,
		     uint64_t value, bool always, struct err *e)
{
	char rel[PATH_MAX], path[PATH_MAX], v[24];
	uint64_t cur;

	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/%s", p->t[t].dev->bdf, attr);
	if (!always && !sysfs_read_u64(s, &cur, "%s", rel) && cur == value)
		return 0;
	if (sysfs_path(s, path, sizeof(path), "%s", rel))
		return err_set(e, ENAMETOOLONG, "%s: path too long", rel);
	snprintf(v, sizeof(v), "%" PRIu64, value);
	return add_step(p, BIND_STEP_SRIOV, t, path, v, e);
}

/*
 * sriov_numvfs to n: the kernel refuses to change a nonzero count to another nonzero one
 * (EBUSY), so that goes through 0. Reads the live count (nothing when it already is n).
 */
static int set_numvfs_steps(struct bind_plan *p, const struct sysfs *s, size_t t, uint64_t n,
			    struct err *e)
{
	uint64_t cur;
	int rc = 0;

	if (sysfs_read_u64(s, &cur, "/sys/bus/pci/devices/%s/sriov_numvfs", p->t[t].dev->bdf))
		cur = 0;
	if (cur == n)
		return 0;
	if (cur && n)
		rc = add_sriov(p, s, t, "sriov_numvfs", 0, true, e);
	return rc ? rc : add_sriov(p, s, t, "sriov_numvfs", n, true, e);
}

/*
 * A PF back to its recorded SR-IOV settings: autoprobe first, so that VFs created again get
 * their drivers as they did before.
 */
static int sriov_restore_steps(struct bind_plan *p, const struct sysfs *s, size_t t, struct err *e)
{
	const struct bind_target *bt = &p->t[t];
	int rc = 0;

	if (bt->autoprobe >= 0)
		rc = add_sriov(p, s, t, "sriov_drivers_autoprobe", (uint64_t)bt->autoprobe, false,
			       e);
	if (!rc && bt->numvfs >= 0)
		rc = set_numvfs_steps(p, s, t, (uint64_t)bt->numvfs, e);
	return rc;
}

/*
 * The steps that return target t from its current driver to `to` ("-": no driver; "": unknown,
 * let the kernel choose). Reads the live sysfs state, so rollback uses it too.
 */
static int restore_steps(struct bind_plan *p, const struct sysfs *s, size_t t, const char *to,
			 const char *state_path, struct err *e)
{
	struct pcidev *d = p->t[t].dev;
	char path[PATH_MAX];
	int rc = 0;

	pcidev_refresh(s, d);
	if (*d->driver && strcmp(d->driver, to))
		rc = add_write(p, s, t, d->bdf, e, "/sys/bus/pci/drivers/%s/unbind", d->driver);
	if (!rc && override_set(s, d->bdf))
		rc = add_write(p, s, t, "\n", e, "/sys/bus/pci/devices/%s/driver_override", d->bdf);
	if (rc || (*d->driver && !strcmp(d->driver, to)))
		goto done;
	if (!*to) {
		rc = add_write(p, s, t, d->bdf, e, "/sys/bus/pci/drivers_probe");
	} else if (strcmp(to, BINDSTATE_NONE)) {
		if (sysfs_exists(s, "/sys/bus/pci/drivers/%s", to)) {
			/* Its module is not loaded: load it, then let the kernel match. */
			rc = add_step(p, BIND_STEP_MODPROBE, t, NULL, to, e);
			if (!rc)
				rc = add_write(p, s, t, d->bdf, e, "/sys/bus/pci/drivers_probe");
		} else {
			rc = add_write(p, s, t, d->bdf, e, "/sys/bus/pci/drivers/%s/bind", to);
		}
		if (!rc)
			rc = add_step(p, BIND_STEP_WAIT, t, NULL, to, e);
	}
done:
	if (!rc)
		rc = sriov_restore_steps(p, s, t, e);
	if (!rc && p->t[t].recorded) {
		snprintf(path, sizeof(path), "%s", state_path);
		rc = add_step(p, BIND_STEP_FORGET, t, path, d->bdf, e);
	}
	return rc;
}

/*
 * A PF with VFs is bound without them, as the VFIO selftests' setup.sh does: their count is
 * recorded with the PF's driver, so that the restore (or a later --restore) gives them back.
 */
static void zero_vfs_note(struct bind_target *t, const struct sysfs *s,
			  const struct bindstate_entry *rec)
{
	uint64_t n;

	if (sysfs_read_u64(s, &n, "/sys/bus/pci/devices/%s/sriov_numvfs", t->dev->bdf) || n == 0)
		return;
	t->numvfs = rec && rec->numvfs >= 0 ? rec->numvfs : (int64_t)n;
}

/* The record step's value: the line of the state file, "DRIVER [numvfs=N] [autoprobe=N]". */
static int add_record(struct bind_plan *p, size_t i, const char *state_path, struct err *e)
{
	const struct bind_target *t = &p->t[i];
	char v[128];
	int len = snprintf(v, sizeof(v), "%s", t->original);

	if (t->numvfs >= 0)
		len += snprintf(v + len, sizeof(v) - (size_t)len, " numvfs=%" PRId64, t->numvfs);
	if (t->autoprobe >= 0)
		snprintf(v + len, sizeof(v) - (size_t)len, " autoprobe=%d", t->autoprobe);
	return add_step(p, BIND_STEP_RECORD, i, state_path, v, e);
}

/*
 * The VFs of --vfs as targets after the PF (t[0]): addresses, IDs and driver, predicted. VFs
 * there now persist only when the count stays (persist); a new count makes every VF anew.
 */
static int vf_targets(struct bind_plan *p, const struct sysfs *s, const struct bindstate *st,
		      const struct bind_opts *o, bool persist, struct err *e)
{
	const struct pcidev *pf = p->t[0].dev;
	char id[16] = "";

	if (o->vfs > BIND_MAX_TARGETS - 1)
		return err_input(e, E2BIG, "--vfs %u: at most %d VFs at once", o->vfs,
				 BIND_MAX_TARGETS - 1);
	/* sriov_vf_device is hex without 0x. */
	if (sysfs_read(s, id, sizeof(id), "/sys/bus/pci/devices/%s/sriov_vf_device", pf->bdf) < 0)
		snprintf(id, sizeof(id), "%x", pf->device);
	for (unsigned i = 0; i < o->vfs; i++) {
		struct pcidev *vf = &p->vf[i];
		struct bind_target *t = &p->t[p->nt];
		const struct bindstate_entry *rec;
		int rc;

		memset(vf, 0, sizeof(*vf));
		if ((rc = bind_vf_addr(s, pf, i, &vf->addr, e)))
			return rc;
		pci_addr_format(&vf->addr, vf->bdf);
		vf->vendor = pf->vendor;
		vf->device = (uint16_t)strtoul(id, NULL, 16);
		vf->class = pf->class;
		vf->iommu_group = -1;
		if (persist)
			pcidev_refresh(s, vf); /* it stays: its driver and group */
		rec = bindstate_get(st, vf->bdf);
		memset(t, 0, sizeof(*t));
		t->dev = vf;
		t->vf = true;
		t->numvfs = t->autoprobe = -1;
		t->recorded = rec != NULL;
		snprintf(t->original, sizeof(t->original), "%s",
			 rec ? rec->driver : (*vf->driver ? vf->driver : BINDSTATE_NONE));
		if (o->driver) {
			snprintf(t->driver, sizeof(t->driver), "%s", o->driver);
			snprintf(t->module, sizeof(t->module), "%s", o->driver);
		} else if ((rc = bind_choose_driver(s, vf, t->driver, t->module, sizeof(t->driver),
						    e))) {
			return rc;
		}
		t->noop = !strcmp(vf->driver, t->driver);
		p->nt++;
	}
	return 0;
}

/*
 * The PF of --vfs: its SR-IOV settings are recorded with its driver (which stays: it is what
 * creates the VFs), autoprobe goes off so that no host driver takes a VF before vfio-pci does.
 */
static int pf_target(struct bind_plan *p, const struct sysfs *s, const struct bindstate *st,
		     const struct bind_opts *o, struct err *e)
{
	struct bind_target *t = &p->t[0];
	const struct bindstate_entry *rec = bindstate_get(st, t->dev->bdf);
	const char *bdf = t->dev->bdf;
	uint64_t total, num, autoprobe;

	if (p->nt != 1)
		return err_input(e, EINVAL, "--vfs takes one device, the physical function");
	if (sysfs_read_u64(s, &total, "/sys/bus/pci/devices/%s/sriov_totalvfs", bdf))
		return err_input(e, EINVAL,
				 "%s: is not an SR-IOV physical function (no sriov_totalvfs)", bdf);
	if (o->vfs > total)
		return err_input(e, ERANGE,
				 "%s: --vfs %u is more than its sriov_totalvfs (%" PRIu64 ")", bdf,
				 o->vfs, total);
	if (sysfs_read_u64(s, &num, "/sys/bus/pci/devices/%s/sriov_numvfs", bdf) ||
	    sysfs_read_u64(s, &autoprobe, "/sys/bus/pci/devices/%s/sriov_drivers_autoprobe", bdf))
		return err_set(e, EIO, "%s: cannot read sriov_numvfs and sriov_drivers_autoprobe",
			       bdf);
	if (!*t->dev->driver)
		return err_input(e, EINVAL,
				 "%s: has no driver, and a PF's driver is what creates its VFs "
				 "(sriov_configure): bind it to its host driver first",
				 bdf);
	t->keep_driver = true;
	t->noop = false;
	snprintf(t->driver, sizeof(t->driver), "%s", t->dev->driver);
	/* A PF recorded before keeps its first values: the restore goes back to those. */
	t->numvfs = rec && rec->numvfs >= 0 ? rec->numvfs : (int64_t)num;
	t->autoprobe = rec && rec->autoprobe >= 0 ? rec->autoprobe : (int)(autoprobe != 0);
	return vf_targets(p, s, st, o, num == o->vfs, e);
}

/* The PF's part of --vfs: autoprobe off, then the count. */
static int pf_steps(struct bind_plan *p, const struct sysfs *s, const struct bind_opts *o,
		    struct err *e)
{
	int rc = add_sriov(p, s, 0, "sriov_drivers_autoprobe", 0, false, e);

	return rc ? rc : set_numvfs_steps(p, s, 0, o->vfs, e);
}

/* Drop to the PFs' SR-IOV settings only once every other target went back (their VFs). */
static bool restores_sriov(const struct bind_target *t)
{
	return t->numvfs >= 0 || t->autoprobe >= 0;
}

/* The steps that move one target (not the PF of --vfs) to its vfio driver. */
static int bind_steps(struct bind_plan *p, const struct sysfs *s, size_t i, const char *state_path,
		      struct err *e)
{
	struct pcidev *d = p->t[i].dev;
	int rc = 0;

	/* A VF is recorded once it exists: a record of a device never made would outlive it. */
	if (p->t[i].vf && !p->t[i].recorded)
		rc = add_record(p, i, state_path, e);
	if (!rc && p->t[i].numvfs > 0) /* zero_vfs */
		rc = add_sriov(p, s, i, "sriov_numvfs", 0, true, e);
	if (!rc)
		rc = add_write(p, s, i, p->t[i].driver, e,
			       "/sys/bus/pci/devices/%s/driver_override", d->bdf);
	if (!rc && *d->driver)
		rc = add_write(p, s, i, d->bdf, e, "/sys/bus/pci/drivers/%s/unbind", d->driver);
	if (!rc)
		rc = add_write(p, s, i, d->bdf, e, "/sys/bus/pci/drivers_probe");
	if (!rc)
		rc = add_step(p, BIND_STEP_WAIT, i, NULL, p->t[i].driver, e);
	return rc;
}

int bind_plan_build(struct bind_plan *p, enum bind_op op, const struct sysfs *s,
		    const struct bindstate *st, struct pcidev **targets, size_t n,
		    const struct bind_opts *o, struct err *e)
{
	char state_path[300], path[PATH_MAX];
	int rc = 0;

	memset(p, 0, sizeof(*p));
	p->op = op;
	if (n > BIND_MAX_TARGETS)
		return err_set(e, E2BIG, "too many devices (at most %d)", BIND_MAX_TARGETS);
	snprintf(state_path, sizeof(state_path), "%s/state", st->dir);
	for (size_t i = 0; i < n; i++) {
		const struct bindstate_entry *rec = bindstate_get(st, targets[i]->bdf);
		struct bind_target *t = &p->t[p->nt++];

		t->dev = targets[i];
		t->recorded = rec != NULL;
		t->numvfs = op == BIND_OP_RESTORE && rec ? rec->numvfs : -1;
		t->autoprobe = op == BIND_OP_RESTORE && rec ? rec->autoprobe : -1;
		snprintf(t->original, sizeof(t->original), "%s",
			 rec ? rec->driver : (*t->dev->driver ? t->dev->driver : BINDSTATE_NONE));
		if (op == BIND_OP_BIND) {
			if (o && o->driver) {
				snprintf(t->driver, sizeof(t->driver), "%s", o->driver);
				snprintf(t->module, sizeof(t->module), "%s", o->driver);
			} else if ((rc = bind_choose_driver(s, t->dev, t->driver, t->module,
							    sizeof(t->driver), e))) {
				return rc;
			}
			t->noop = !strcmp(t->dev->driver, t->driver);
		} else
			t->noop = !rec && strcmp(t->dev->driver, BIND_DRIVER);
	}
	if (op == BIND_OP_RESTORE) {
		/* VFs (and everything else) first: a PF's numvfs going back removes its VFs. */
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < p->nt && !rc; i++)
				if (!p->t[i].noop && restores_sriov(&p->t[i]) == (pass == 1))
					rc = restore_steps(p, s, i,
							   p->t[i].recorded ? p->t[i].original : "",
							   state_path, e);
		return rc;
	}
	if (o && o->vfs && (rc = pf_target(p, s, st, o, e)))
		return rc;
	/* Load the drivers first, record every original driver, then move the devices one by one.
	 */
	for (size_t i = 0; i < p->nt && !rc; i++) {
		bool earlier = false;

		if (p->t[i].keep_driver)
			continue;
		for (size_t k = 0; k < i; k++)
			earlier |= !p->t[k].noop && !p->t[k].keep_driver &&
				   !strcmp(p->t[k].module, p->t[i].module);
		if (!p->t[i].noop && !earlier && !module_loaded(s, p->t[i].module, p->t[i].driver))
			rc = add_step(p, BIND_STEP_MODPROBE, i, NULL, p->t[i].module, e);
	}
	for (size_t i = 0; i < p->nt && o && o->zero_vfs; i++)
		if (!p->t[i].noop && !p->t[i].vf && !p->t[i].keep_driver)
			zero_vfs_note(&p->t[i], s, bindstate_get(st, p->t[i].dev->bdf));
	for (size_t i = 0; i < p->nt && !rc; i++)
		if (!p->t[i].noop && !p->t[i].vf && (!p->t[i].recorded || p->t[i].keep_driver))
			rc = add_record(p, i, state_path, e);
	for (size_t i = 0; i < p->nt && !rc; i++) {
		if (p->t[i].noop)
			continue;
		if (p->t[i].keep_driver)
			rc = pf_steps(p, s, o, e);
		else
			rc = bind_steps(p, s, i, state_path, e);
	}
	for (size_t i = 0; i < p->nt && !rc && o && o->have_owner; i++) {
		char owner[64];

		if (p->t[i].keep_driver)
			continue;
		/* A VF's group is known once it exists: the step finds the node then. */
		if (p->t[i].dev->iommu_group < 0)
			path[0] = '\0';
		else
			vfio_node(s, p->t[i].dev->iommu_group, path, sizeof(path));
		snprintf(owner, sizeof(owner), "%u:%u", (unsigned)o->uid, (unsigned)o->gid);
		rc = add_step(p, BIND_STEP_CHOWN, i, path, owner, e);
	}
	return rc;
}

void bind_plan_free(struct bind_plan *p)
{
	free(p->steps);
	p->steps = NULL;
	p->ns = p->cap = 0;
}

/* ---- running a plan ------------------------------------------------------------------------ */

static int signal_pending(int sigfd)
{
	struct signalfd_siginfo si;
	struct pollfd pfd = { .fd = sigfd, .events = POLLIN };

	if (sigfd < 0 || poll(&pfd, 1, 0) <= 0)
		return 0;
	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

static int run_modprobe(const char *module, struct err *e)
{
	static const char *const paths[] = { "/sbin/modprobe", "/usr/sbin/modprobe" };
	const char *prog = NULL;
	int status;
	pid_t pid;

	for (size_t i = 0; i < 2 && !prog; i++)
		if (!access(paths[i], X_OK))
			prog = paths[i];
	if (!prog)
		return err_set(e, ENOENT, "modprobe %s: modprobe not found (install kmod)", module);
	pid = fork();
	if (pid < 0)
		return err_set(e, errno, "modprobe %s: fork: %s", module, strerror(errno));
	if (pid == 0) {
		execl(prog, "modprobe", module, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return err_set(e, errno, "modprobe %s: %s", module, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return err_set(e, ENOENT,
			       "modprobe %s failed (status %d): is the module available?", module,
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* Is the device where the wait step wants it: on `driver`, and for a vfio driver with its node? */
static bool wait_done(const struct sysfs *s, struct pcidev *d, const char *driver, bool vfio)
{
	char node[PATH_MAX];
	struct stat st;

	pcidev_refresh(s, d);
	if (strcmp(d->driver, strcmp(driver, BINDSTATE_NONE) ? driver : ""))
		return false;
	if (!vfio)
		return true;
	vfio_node(s, d->iommu_group, node, sizeof(node));
	return *node && !stat(node, &st) && S_ISCHR(st.st_mode);
}

bool bind_uevent_matters(const char *subsystem, const char *action, const char *sysname,
			 const char *bdf, int group)
{
	char name[16];

	if (!subsystem || !action || !sysname)
		return false;
	if (!strcmp(subsystem, "pci"))
		return !strcmp(sysname, bdf) &&
		       (!strcmp(action, "bind") || !strcmp(action, "unbind"));
	snprintf(name, sizeof(name), "%d", group);
	return group >= 0 && !strcmp(subsystem, "vfio") && !strcmp(action, "add") &&
	       !strcmp(sysname, name);
}

/* Drain the monitor: did any uevent bear on d's wait, or may one have been lost? */
static bool uevents_matter(struct udev_monitor *mon, const struct pcidev *d)
{
	struct udev_device *ev;
	bool matters = false;

	errno = 0;
	while ((ev = udev_monitor_receive_device(mon))) {
		matters |= bind_uevent_matters(udev_device_get_subsystem(ev),
					       udev_device_get_action(ev),
					       udev_device_get_sysname(ev), d->bdf, d->iommu_group);
		udev_device_unref(ev);
		errno = 0;
	}
	/* ENOBUFS: the socket overflowed and the kernel dropped uevents, perhaps ours */
	return matters || errno == ENOBUFS;
}

/*
 * Wait for the kernel, bounded by the timeout and signals. With a monitor (libudev), sysfs is
 * read once at the start, then only when a uevent says the device bound or unbound or its
 * /dev/vfio/N appeared, and once more at the deadline; without one, every 10 ms.
 */
static int run_wait(const struct sysfs *s, struct pcidev *d, const char *driver, bool vfio,
		    const struct bind_opts *o, struct udev_monitor *mon, struct err *e)
{
	int64_t deadline = clock_now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
	bool look = true;

	for (;;) {
		struct pollfd pfd[2];
		int64_t left;
		int sig, n;

		if (look && wait_done(s, d, driver, vfio))
			return 0;
		look = false;
		left = deadline - clock_now_ms();
		if (left <= 0)
			return err_set(
				e, ETIMEDOUT,
				"%s: timed out after %d ms waiting for driver %s%s (now: %s)",
				d->bdf, o->timeout_ms, driver, vfio ? " and /dev/vfio/N" : "",
				*d->driver ? d->driver : "no driver");
		pfd[0].fd = mon ? udev_monitor_get_fd(mon) : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = o->sigfd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, mon ? (int)left : 10);
		if (!mon || n == 0)
			look = true; /* no monitor, or the deadline: read sysfs */
		if (n > 0) {
			if ((pfd[0].revents & POLLIN) && uevents_matter(mon, d))
				look = true;
			if ((pfd[1].revents & POLLIN) && (sig = signal_pending(o->sigfd)))
				return err_set(e, EINTR, "interrupted by %s", strsignal(sig));
		}
	}
}

/*
 * One sysfs write in a child process, so that a driver whose remove never returns (the unbind
 * blocks in the kernel) cannot hang vfio-bind: after timeout_ms the child is killed and left
 * (a task blocked in the kernel dies when the write returns) and -ETIMEDOUT comes back.
 */
static int write_bounded(const char *path, const char *value, int timeout_ms, bool hang)
{
	struct pollfd pfd;
	int fds[2], rc = -EIO, status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	if (pid == 0) {
		close(fds[0]);
		while (hang)
			pause(); /* testing: a write that never returns */
		rc = sysfs_write_path(path, value);
		_exit(write(fds[1], &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	if (poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : 10000) <= 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, WNOHANG);
		close(fds[0]);
		return -ETIMEDOUT;
	}
	if (read(fds[0], &rc, sizeof(rc)) != sizeof(rc))
		rc = -EIO;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return rc;
}

static int run_step(struct bind_plan *p, struct bind_step *st, const struct sysfs *s,
		    struct bindstate *state, const struct bind_opts *o, struct udev_monitor *mon,
		    long *writes, struct err *e)
{
	struct bind_target *t = &p->t[st->target];
	unsigned uid, gid;
	int rc, sig;

	if ((sig = signal_pending(o->sigfd)))
		return err_set(e, EINTR, "interrupted by %s", strsignal(sig));
	switch (st->kind) {
	case BIND_STEP_MODPROBE:
		return run_modprobe(st->value, e);
	case BIND_STEP_RECORD:
		return bindstate_record_sriov(state, t->dev->bdf, t->original, t->numvfs,
					      t->autoprobe, e);
	case BIND_STEP_FORGET:
		return bindstate_forget(state, t->dev->bdf, e);
	case BIND_STEP_WAIT:
		return run_wait(s, t->dev, st->value,
				p->op == BIND_OP_BIND && !strcmp(st->value, t->driver), o, mon, e);
	case BIND_STEP_CHOWN:
		if (!st->path[0]) {
			pcidev_refresh(s, t->dev);
			vfio_node(s, t->dev->iommu_group, st->path, sizeof(st->path));
		}
		if (sscanf(st->value, "%u:%u", &uid, &gid) != 2 || chown(st->path, uid, gid) ||
		    chmod(st->path, 0660))
			return err_set(e, errno, "chown %s %s: %s", st->value, st->path,
				       strerror(errno));
		return 0;
	case BIND_STEP_WRITE:
	case BIND_STEP_SRIOV:
		++*writes;
		if (o->fault_signal && *writes == o->fault_signal) {
			raise(SIGTERM); /* blocked: arrives through the signalfd */
			if ((sig = signal_pending(o->sigfd)))
				return err_set(e, EINTR, "interrupted by %s", strsignal(sig));
		}
		t->touched = true;
		rc = o->fault_write && *writes == o->fault_write
			     ? -EIO
			     : write_bounded(st->path, st->value, o->timeout_ms,
					     o->fault_hang && *writes == o->fault_hang);
		if (rc == -ETIMEDOUT) {
			char holders[400];

			bind_holders(s, t->dev, holders, sizeof(holders));
			return err_set(
				e, ETIMEDOUT,
				"%s: write '%s' to %s did not return within %d s%s; %s",
				t->dev->bdf, strcmp(st->value, "\n") ? st->value : "\\n", st->path,
				o->timeout_ms / 1000,
				o->fault_hang && *writes == o->fault_hang ? " (injected hang)" : "",
				*holders ? holders : "no process holds its nodes or BARs");
		}
		if (rc)
			return err_set(e, rc, "%s: write '%s' to %s: %s%s", t->dev->bdf,
				       strcmp(st->value, "\n") ? st->value : "\\n", st->path,
				       strerror(-rc),
				       o->fault_write && *writes == o->fault_write
					       ? " (injected fault)"
					       : "");
		return 0;
	}
	return err_set(e, EINVAL, "bad plan step");
}

static int run_steps(struct bind_plan *p, size_t from, const struct sysfs *s,
		     struct bindstate *state, const struct bind_opts *o, struct udev_monitor *mon,
		     long *writes, struct err *e)
{
	for (size_t i = from; i < p->ns; i++) {
		int rc = run_step(p, &p->steps[i], s, state, o, mon, writes, e);

		if (rc)
			return rc;
	}
	return 0;
}

/* Return every touched device of a failed bind to its original driver. */
static void rollback(struct bind_plan *p, const struct sysfs *s, struct bindstate *state,
		     const struct bind_opts *o, struct udev_monitor *mon, struct err *e)
{
	struct bind_opts ro = *o;
	char state_path[300];
	size_t used = strlen(e->msg);

	ro.sigfd = -1; /* finish the rollback even when signalled again */
	ro.fault_write = ro.fault_signal = ro.fault_hang = 0;
	snprintf(state_path, sizeof(state_path), "%s/state", state->dir);
	for (size_t i = p->nt; i-- > 0;) {
		struct bind_target *t = &p->t[i];
		struct bind_plan rp = { .op = BIND_OP_RESTORE };
		struct err re = { 0 };
		long writes = 0;
		int rc;

		if (!t->touched && !bindstate_get(state, t->dev->bdf))
			continue;
		if (!t->touched) {
			/* Recorded in this run but never changed: only drop the record. */
			if (!t->recorded)
				bindstate_forget(state, t->dev->bdf, &re);
			continue;
		}
		rp.t[0] = *t;
		rp.t[0].recorded = bindstate_get(state, t->dev->bdf) != NULL;
		rp.nt = 1;
		rc = restore_steps(&rp, s, 0, t->original, state_path, &re);
		if (!rc)
			rc = run_steps(&rp, 0, s, state, &ro, mon, &writes, &re);
		bind_plan_free(&rp);
		if (rc && used < sizeof(e->msg) - 1)
			used += (size_t)snprintf(e->msg + used, sizeof(e->msg) - used,
						 "; rollback of %s failed: %s", t->dev->bdf,
						 re.msg);
		if (used >= sizeof(e->msg))
			used = sizeof(e->msg) - 1;
	}
}

int bind_plan_run(struct bind_plan *p, const struct sysfs *s, struct bindstate *state,
		  const struct bind_opts *o, struct err *e)
{
	struct udev *udev = udev_new();
	struct udev_monitor *mon = NULL;
	long writes = 0;
	int rc;

	/* Listen before acting, so that no uevent is missed between a write and the wait. */
	if (udev && (mon = udev_monitor_new_from_netlink(udev, "kernel"))) {
		udev_monitor_filter_add_match_subsystem_devtype(mon, "pci", NULL);
		udev_monitor_filter_add_match_subsystem_devtype(mon, "vfio", NULL);
		if (udev_monitor_enable_receiving(mon) < 0) {
			udev_monitor_unref(mon);
			mon = NULL;
		}
	}
	rc = run_steps(p, 0, s, state, o, mon, &writes, e);
	if (rc && p->op == BIND_OP_BIND)
		rollback(p, s, state, o, mon, e);
	if (mon)
		udev_monitor_unref(mon);
	if (udev)
		udev_unref(udev);
	return rc;
}

int bind_plan_undo(struct bind_plan *undo, const struct bind_plan *done, const struct sysfs *s,
		   const struct bindstate *st, struct err *e)
{
	char state_path[300];
	int rc = 0;

	memset(undo, 0, sizeof(*undo));
	undo->op = BIND_OP_RESTORE;
	snprintf(state_path, sizeof(state_path), "%s/state", st->dir);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < done->nt && !rc; i++) {
			struct bind_target *t = &undo->t[undo->nt];

			if (done->t[i].noop || restores_sriov(&done->t[i]) != (pass == 1))
				continue;
			*t = done->t[i];
			t->recorded = bindstate_get(st, t->dev->bdf) != NULL;
			t->touched = false;
			rc = restore_steps(undo, s, undo->nt++, t->original, state_path, e);
		}
	}
	return rc;
}
