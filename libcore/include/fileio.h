/* fileio.h: files a user names, opened without hanging on a FIFO and read with a hard bound. */
#ifndef CORE_FILEIO_H
#define CORE_FILEIO_H

#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/*
 * Open path as a regular file: flags are open(2)'s (O_RDONLY or O_RDWR; O_CLOEXEC is added).
 * The open itself is non-blocking, so a FIFO without a writer (or a device that waits) cannot
 * hang it; O_NONBLOCK is cleared again before return. Anything but a regular file is refused
 * up front: EINVAL, "PATH: a FIFO, not a regular file". /proc/PID/mem is a regular file.
 * st (may be NULL) gets the file's status. Returns the descriptor, or -errno with e filled as
 * ERR_INPUT ("PATH: why").
 */
int file_open_regular(const char *path, int flags, struct stat *st, struct err *e);

/* What kind of file mode is, in words ("a FIFO", "a directory", "a regular file", ...). */
const char *file_kind(mode_t mode);

/*
 * Read the whole regular file path into a new NUL-terminated buffer (*text, freed by the caller),
 * *len bytes without the NUL. At most max_bytes: a larger file is refused (EFBIG, "PATH: larger
 * than N bytes") from its size before anything is read, and the bytes actually read are counted
 * as well (a file that grows while read, or lies about its size, stops at max_bytes + 1).
 * A FIFO, a device or a directory is refused as file_open_regular does. ERR_INPUT on failure.
 */
int file_read_all(const char *path, size_t max_bytes, char **text, size_t *len, struct err *e);

#endif
