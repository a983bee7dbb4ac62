/* persist.c: persistent claims as udev rules, parsed, formatted and replaced atomically. */
#include "persist.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER                                                                                     \
	"# vfio-bind --persist: these devices go to their vfio driver when they appear (boot,\n"   \
	"# hotplug, rescan). Written by vfio-bind; change it with --persist and --unpersist.\n"

static bool valid_driver(const char *s)
{
	if (!*s || strlen(s) >= PCIDEV_NAME_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s == '"' || *s == '\\' || *s > '~')
			return false;
	return true;
}

int persist_set(struct persist *p, const char *bdf, const char *driver, bool force, struct err *e)
{
	struct persist_entry *d = (struct persist_entry *)persist_get(p, bdf);

	if (!valid_driver(driver))
		return err_input(e, EINVAL, "%s: '%s' is not a driver name", bdf, driver);
	if (!d) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 16;
			struct persist_entry *v = realloc(p->v, cap * sizeof(*v));

			if (!v)
				return err_set(e, ENOMEM, "out of memory");
			p->v = v;
			p->cap = cap;
		}
		d = &p->v[p->n++];
		snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	}
	snprintf(d->driver, sizeof(d->driver), "%s", driver);
	d->force = force;
	return 0;
}

bool persist_unset(struct persist *p, const char *bdf)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].bdf, bdf))
			continue;
		memmove(&p->v[i], &p->v[i + 1], (p->n - i - 1) * sizeof(p->v[0]));
		p->n--;
		return true;
	}
	return false;
}

const struct persist_entry *persist_get(const struct persist *p, const char *bdf)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].bdf, bdf))
			return &p->v[i];
	return NULL;
}

size_t persist_format(const struct persist *p, const char *exe, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "%s", HEADER);

	for (size_t i = 0; i < p->n && used < len; i++) {
		const struct persist_entry *d = &p->v[i];

		used += (size_t)snprintf(buf + used, len - used,
					 "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"%s\", "
					 "ATTR{driver_override}=\"%s\", "
					 "RUN+=\"%s --timeout 30%s --driver %s %s\"\n",
					 d->bdf, d->driver, exe, d->force ? " --force" : "",
					 d->driver, d->bdf);
	}
	return used < len ? used : 0;
}

/* One rule line as persist_format writes it; anything else is an error. */
static int parse_rule(const char *line, struct persist_entry *d)
{
	char bdf[64], drv[PCIDEV_NAME_MAX + 8], run[PATH_MAX + 200], tail[PCI_ADDR_STRLEN + 2];
	struct pci_addr a;
	bool has_domain;
	int end = 0;
	size_t rl, tl;

	if (sscanf(line,
		   "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"%63[^\"]\", "
		   "ATTR{driver_override}=\"%71[^\"]\", RUN+=\"%4295[^\"]\"%n",
		   bdf, drv, run, &end) != 3 ||
	    line[end] != '\0')
		return -1;
	if (pci_addr_parse(bdf, &a, &has_domain, NULL) || !has_domain || !valid_driver(drv))
		return -1;
	pci_addr_format(&a, d->bdf);
	if (strcmp(d->bdf, bdf))
		return -1;
	/* The rule's command must end with this device's driver and address. */
	snprintf(tail, sizeof(tail), " %s", bdf);
	rl = strlen(run);
	tl = strlen(tail);
	if (run[0] != '/' || rl <= tl || strcmp(run + rl - tl, tail))
		return -1;
	snprintf(d->driver, sizeof(d->driver), "%s", drv);
	d->force = strstr(run, " --force ") != NULL;
	return 0;
}

int persist_parse(struct persist *p, const char *text, struct err *e)
{
	const char *line = text;
	int lineno = 0;

	p->n = 0;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[PATH_MAX + 400];
		struct persist_entry d;

		lineno++;
		if (len >= sizeof(buf))
			return err_input(e, EINVAL, "line %d: too long", lineno);
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl ? nl + 1 : NULL;
		if (buf[0] == '#' || buf[strspn(buf, " \t")] == '\0')
			continue;
		if (parse_rule(buf, &d))
			return err_input(e, EINVAL,
					 "line %d: not a rule vfio-bind wrote (edit it with "
					 "--persist and --unpersist only)",
					 lineno);
		if (persist_set(p, d.bdf, d.driver, d.force, e))
			return -e->code;
	}
	return 0;
}

static int load(struct persist *p, struct err *e)
{
	struct stat sb;
	char *text;
	ssize_t n;
	int fd, rc;

	fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_set(e, errno, "%s: %s", p->path, strerror(errno));
	if (fstat(fd, &sb) || sb.st_size > (1 << 20)) {
		close(fd);
		return err_set(e, EFBIG, "%s: unreadable or too large", p->path);
	}
	text = malloc((size_t)sb.st_size + 1);
	n = text ? read(fd, text, (size_t)sb.st_size) : -1;
	rc = n < 0 ? err_set(e, text ? errno : ENOMEM, "%s: %s", p->path,
			     strerror(text ? errno : ENOMEM))
		   : 0;
	close(fd);
	if (!rc) {
		text[n] = '\0';
		rc = persist_parse(p, text, e);
		if (rc)
			err_prefix(e, "%s", p->path);
	}
	free(text);
	return rc;
}

int persist_open(struct persist *p, const char *dir, struct err *e)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (!dir)
		dir = getenv("VFIO_BIND_RULES_DIR");
	if (!dir || !*dir)
		dir = PERSIST_DIR_DEFAULT;
	if (strlen(dir) + sizeof(PERSIST_FILE) + 2 > sizeof(p->path))
		return err_input(e, ENAMETOOLONG, "%s: rules directory path too long", dir);
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, PERSIST_FILE);
	rc = load(p, e);
	if (rc)
		persist_close(p);
	return rc;
}

void persist_close(struct persist *p)
{
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

int persist_save(const struct persist *p, const char *exe, struct err *e)
{
	size_t len = sizeof(HEADER) + p->n * (PATH_MAX + 300);
	char tmp[320], *text;
	ssize_t w;
	int fd, rc = 0;

	if (exe[0] != '/' || strpbrk(exe, "\" \\\n"))
		return err_input(e, EINVAL, "%s: not an absolute path a udev rule can run", exe);
	if (!p->n) {
		if (unlink(p->path) && errno != ENOENT)
			return err_set(e, errno, "%s: %s", p->path, strerror(errno));
		return 0;
	}
	/* /etc/udev/rules.d is there on any udev system; /run/udev/rules.d may not be yet. */
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(strrchr(p->path, '/') - p->path), p->path);
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return err_set(e, errno, "%s: %s", tmp, strerror(errno));
	text = malloc(len);
	if (!text)
		return err_set(e, ENOMEM, "out of memory");
	len = persist_format(p, exe, text, len);
	snprintf(tmp, sizeof(tmp), "%s.%d~", p->path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = err_set(e, errno, "%s: %s", tmp, strerror(errno));
		free(text);
		return rc;
	}
	w = write(fd, text, len);
	if (w != (ssize_t)len || fsync(fd))
		rc = err_set(e, w < 0 || w == (ssize_t)len ? errno : EIO, "%s: %s", tmp,
			     strerror(w < 0 || w == (ssize_t)len ? errno : EIO));
	close(fd);
	free(text);
	if (!rc && rename(tmp, p->path))
		rc = err_set(e, errno, "%s: %s", p->path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}
