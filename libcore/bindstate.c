/* bindstate.c: the state file of original drivers, locked and replaced atomically. */
#include "bindstate.h"
#include "fileio.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *dir)
{
	char tmp[256];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s > '~')
			return false;
	return true;
}

/* Room for one more entry. */
static int grow(struct bindstate *st, struct err *e)
{
	size_t cap;
	struct bindstate_entry *v;

	if (st->n < st->cap)
		return 0;
	cap = st->cap ? 2 * st->cap : 16;
	v = realloc(st->v, cap * sizeof(*v));
	if (!v)
		return err_set(e, ENOMEM, "out of memory");
	st->v = v;
	st->cap = cap;
	return 0;
}

/* The optional "numvfs=N" and "autoprobe=0|1" fields after the driver; false on anything else. */
static bool parse_sriov_fields(char *fields, struct bindstate_entry *ent)
{
	for (char *save, *f = strtok_r(fields, " \t", &save); f; f = strtok_r(NULL, " \t", &save)) {
		char *end;
		long long v;

		if (!strncmp(f, "numvfs=", 7) && ent->numvfs < 0) {
			v = strtoll(f + 7, &end, 10);
			if (end == f + 7 || *end || v < 0 || v > 65535)
				return false;
			ent->numvfs = v;
		} else if (!strncmp(f, "autoprobe=", 10) && ent->autoprobe < 0 &&
			   (!strcmp(f + 10, "0") || !strcmp(f + 10, "1"))) {
			ent->autoprobe = f[10] - '0';
		} else {
			return false;
		}
	}
	return true;
}

/* The file is anyone's: its bytes reach the message escaped, never as terminal controls. */
static int bad_line(struct err *e, int lineno, const char *line)
{
	char shown[1024];

	err_escape(shown, sizeof(shown), line);
	return err_set(e, EINVAL,
		       "state line %d: expected 'BDF DRIVER [numvfs=N] [autoprobe=0|1]', got '%s'",
		       lineno, shown);
}

int bindstate_parse(struct bindstate *st, const char *text, struct err *e)
{
	const char *line = text;
	int lineno = 0;

	st->n = 0;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[256], bdf[64], drv[PCIDEV_NAME_MAX + 8], rest[256] = "";
		struct bindstate_entry ent = { .numvfs = -1, .autoprobe = -1 };
		struct pci_addr a;
		bool has_domain;
		int nf;

		lineno++;
		if (len >= sizeof(buf))
			return err_set(e, EINVAL, "state line %d: too long", lineno);
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end ? end + 1 : NULL;
		if (buf[0] == '#' || buf[strspn(buf, " \t")] == '\0')
			continue;
		nf = sscanf(buf, "%63s %71s %255[^\n]", bdf, drv, rest);
		if (nf < 2 || pci_addr_parse(bdf, &a, &has_domain, NULL) || !has_domain ||
		    strlen(drv) >= PCIDEV_NAME_MAX || !valid_name(drv) ||
		    !parse_sriov_fields(rest, &ent))
			return bad_line(e, lineno, buf);
		if (grow(st, e))
			return -ENOMEM;
		pci_addr_format(&a, ent.bdf);
		snprintf(ent.driver, PCIDEV_NAME_MAX, "%s", drv);
		st->v[st->n++] = ent;
	}
	return 0;
}

static int load(struct bindstate *st, struct err *e)
{
	char path[300], *text;
	struct stat sb;
	int rc;

	snprintf(path, sizeof(path), "%s/state", st->dir);
	if (stat(path, &sb) < 0 && errno == ENOENT)
		return 0; /* nothing bound yet */
	/* a FIFO or a device in its place is refused, never waited on */
	rc = file_read_all(path, 1 << 20, &text, NULL, e);
	if (rc)
		return rc;
	rc = bindstate_parse(st, text, e);
	free(text);
	if (rc)
		err_prefix(e, "%s", path);
	return rc;
}

int bindstate_open(struct bindstate *st, const char *dir, bool read_only, struct err *e)
{
	char path[300];
	int rc;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	if (!dir)
		dir = getenv("VFIO_BIND_STATE_DIR");
	if (!dir || !*dir)
		dir = BINDSTATE_DIR_DEFAULT;
	if (strlen(dir) >= sizeof(st->dir) - 16)
		return err_set(e, ENAMETOOLONG, "%s: state directory path too long", dir);
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/lock", st->dir);
	if (read_only) {
		/* O_NONBLOCK: a FIFO there must not hang a read-only look */
		st->lock_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (st->lock_fd >= 0)
			flock(st->lock_fd, LOCK_SH);
		rc = load(st, e);
		if (rc)
			bindstate_close(st);
		return rc;
	}
	rc = mkdir_p(st->dir);
	if (rc)
		return err_set(e, rc, "%s: cannot create state directory: %s", st->dir,
			       strerror(-rc));
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->lock_fd < 0)
		return err_set(e, errno, "%s: %s", path, strerror(errno));
	if (flock(st->lock_fd, LOCK_EX) < 0) {
		rc = err_set(e, errno, "%s: lock: %s", path, strerror(errno));
		bindstate_close(st);
		return rc;
	}
	rc = load(st, e);
	if (rc)
		bindstate_close(st);
	return rc;
}

void bindstate_close(struct bindstate *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	st->lock_fd = -1;
	free(st->v);
	st->v = NULL;
	st->n = st->cap = 0;
}

const struct bindstate_entry *bindstate_get(const struct bindstate *st, const char *bdf)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].bdf, bdf))
			return &st->v[i];
	return NULL;
}

int bindstate_save(struct bindstate *st, struct err *e)
{
	char tmp[300], path[300];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/state", st->dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.%d", st->dir, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		int rc = err_set(e, errno, "%s: %s", tmp, strerror(errno));

		if (fd >= 0)
			close(fd);
		return rc;
	}
	fprintf(f, "# vfio-bind: original driver of each device bound to vfio-pci (- for none)\n");
	for (size_t i = 0; i < st->n; i++) {
		fprintf(f, "%s %s", st->v[i].bdf, st->v[i].driver);
		if (st->v[i].numvfs >= 0)
			fprintf(f, " numvfs=%lld", (long long)st->v[i].numvfs);
		if (st->v[i].autoprobe >= 0)
			fprintf(f, " autoprobe=%d", st->v[i].autoprobe);
		fprintf(f, "\n");
	}
	if (fflush(f) || fsync(fd)) {
		int rc = err_set(e, errno, "%s: %s", tmp, strerror(errno));

		fclose(f);
		unlink(tmp);
		return rc;
	}
	fclose(f);
	if (rename(tmp, path)) {
		int rc = err_set(e, errno, "%s: %s", path, strerror(errno));

		unlink(tmp);
		return rc;
	}
	return 0;
}

int bindstate_record_sriov(struct bindstate *st, const char *bdf, const char *driver,
			   int64_t numvfs, int autoprobe, struct err *e)
{
	struct bindstate_entry *ent = (struct bindstate_entry *)bindstate_get(st, bdf);

	if (ent) {
		bool more =
			(ent->numvfs < 0 && numvfs >= 0) || (ent->autoprobe < 0 && autoprobe >= 0);

		if (!more)
			return 0;
		if (ent->numvfs < 0)
			ent->numvfs = numvfs;
		if (ent->autoprobe < 0)
			ent->autoprobe = autoprobe;
		return bindstate_save(st, e);
	}
	if (grow(st, e))
		return -ENOMEM;
	ent = &st->v[st->n++];
	snprintf(ent->bdf, sizeof(ent->bdf), "%s", bdf);
	snprintf(ent->driver, sizeof(ent->driver), "%s",
		 driver && *driver ? driver : BINDSTATE_NONE);
	ent->numvfs = numvfs < 0 ? -1 : numvfs;
	ent->autoprobe = autoprobe < 0 ? -1 : autoprobe;
	return bindstate_save(st, e);
}

int bindstate_record(struct bindstate *st, const char *bdf, const char *driver, struct err *e)
{
	return bindstate_record_sriov(st, bdf, driver, -1, -1, e);
}

int bindstate_forget(struct bindstate *st, const char *bdf, struct err *e)
{
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->v[i].bdf, bdf))
			continue;
		memmove(&st->v[i], &st->v[i + 1], (st->n - i - 1) * sizeof(st->v[0]));
		st->n--;
		return bindstate_save(st, e);
	}
	return 0;
}
