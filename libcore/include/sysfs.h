/* sysfs.h: reading and writing sysfs/procfs attributes below a root (real "/" or a snapshot tree).
 */
#ifndef CORE_SYSFS_H
#define CORE_SYSFS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* root is "" for the running system, or a snapshot directory holding sys/, proc/, dev/. */
struct sysfs {
	char root[PATH_MAX];
};

void sysfs_init(struct sysfs *s, const char *root);

/* root + formatted path. Returns 0 or -ENAMETOOLONG. */
int sysfs_path(const struct sysfs *s, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Read a small attribute, trailing newline removed. Returns length or -errno. */
int sysfs_read(const struct sysfs *s, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Read a hex or decimal number attribute. */
int sysfs_read_u64(const struct sysfs *s, uint64_t *v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Basename of a symlink's target (driver, iommu_group). -ENOENT when absent. */
int sysfs_link_name(const struct sysfs *s, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Does the path exist (0) or not (-errno)? */
int sysfs_exists(const struct sysfs *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write a value to an absolute (already rooted) path in one write(2). Returns 0 or -errno. */
int sysfs_write_path(const char *path, const char *val);

#endif
