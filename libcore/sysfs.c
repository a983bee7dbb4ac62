/* sysfs.c: small attribute reads and writes below a configurable root. */
#include "sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"

void sysfs_init(struct sysfs *s, const char *root)
{
	size_t n;

	snprintf(s->root, sizeof(s->root), "%s", root ? root : "");
	n = strlen(s->root);
	while (n > 0 && s->root[n - 1] == '/')
		s->root[--n] = '\0';
}

static int vpath(const struct sysfs *s, char *buf, size_t len, const char *fmt, va_list ap)
{
	int n = snprintf(buf, len, "%s", s->root);
	int m;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

int sysfs_path(const struct sysfs *s, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vpath(s, buf, len, fmt, ap);
	va_end(ap);
	return rc;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

int sysfs_read(const struct sysfs *s, char *buf, size_t len, const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vpath(s, path, sizeof(path), fmt, ap);
	va_end(ap);
	return rc ? rc : read_file(path, buf, len);
}

int sysfs_read_u64(const struct sysfs *s, uint64_t *v, const char *fmt, ...)
{
	char path[PATH_MAX], buf[64];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vpath(s, path, sizeof(path), fmt, ap);
	va_end(ap);
	if (rc || (rc = read_file(path, buf, sizeof(buf))) < 0)
		return rc;
	return parse_u64(buf, v);
}

int sysfs_link_name(const struct sysfs *s, char *buf, size_t len, const char *fmt, ...)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	va_list ap;
	ssize_t n;
	int rc;

	va_start(ap, fmt);
	rc = vpath(s, path, sizeof(path), fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, base);
	return 0;
}

int sysfs_exists(const struct sysfs *s, const char *fmt, ...)
{
	char path[PATH_MAX];
	struct stat st;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vpath(s, path, sizeof(path), fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	return stat(path, &st) ? -errno : 0;
}

int sysfs_write_path(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* as a shell redirection does */
	size_t len = strlen(val);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (close(fd) < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}
