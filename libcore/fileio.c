/* fileio.c: opening a user's file as a regular file (never blocking) and reading it bounded. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

int file_open_regular(const char *path, int flags, struct stat *st, struct err *e)
{
	struct stat sb;
	int fd, fl, rc;

	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer, for ever. */
	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		/* a FIFO opened for writing without a reader: ENXIO, say what it is instead */
		if (errno == ENXIO && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
			return err_input(e, EINVAL, "%s: %s, not a regular file", path,
					 file_kind(sb.st_mode));
		return err_input(e, errno, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) < 0) {
		rc = err_input(e, errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = err_input(e, EINVAL, "%s: %s, not a regular file", path,
			       file_kind(sb.st_mode));
		goto fail;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		rc = err_input(e, errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (st)
		*st = sb;
	return fd;
fail:
	close(fd);
	return rc;
}

int file_read_all(const char *path, size_t max_bytes, char **text, size_t *len, struct err *e)
{
	struct stat st;
	size_t cap, got = 0;
	char *buf;
	int fd = file_open_regular(path, O_RDONLY, &st, e), rc = 0;

	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > max_bytes) {
		close(fd);
		return err_input(e, EFBIG, "%s: larger than %zu bytes", path, max_bytes);
	}
	/* procfs and sysfs files say size 0: start small and grow, never past the bound */
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max_bytes + 1)
		cap = max_bytes + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return err_set(e, ENOMEM, "%s: %s", path, strerror(ENOMEM));
	}
	for (;;) {
		ssize_t n;

		if (got == cap) {
			char *nb;

			if (cap > max_bytes) { /* read max_bytes + 1: one byte too many */
				rc = err_input(e, EFBIG, "%s: larger than %zu bytes", path,
					       max_bytes);
				break;
			}
			cap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = err_set(e, ENOMEM, "%s: %s", path, strerror(ENOMEM));
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_input(e, errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*text = buf;
	if (len)
		*len = got;
	return 0;
}
