/* test_fileio.c: files a user names: FIFOs and devices refused without blocking, reads bounded. */
#include "check.h"
#include "err.h"
#include "fileio.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_fileio.XXXXXX";

static const char *tmp(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* A FIFO with no writer: open(O_RDONLY) would block for ever. alarm() turns a hang into a
 * failure (SIGALRM ends the test binary, which the runner reports). */
TEST(fifo_refused_without_blocking)
{
	struct err e = { 0 };
	char *text = NULL;

	REQUIRE(mkfifo(tmp("fifo"), 0600) == 0);
	alarm(10);
	CHECK_EQ_I(file_open_regular(tmp("fifo"), O_RDONLY, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "a FIFO, not a regular file") != NULL);
	CHECK_EQ_I(e.kind, ERR_INPUT);
	CHECK_EQ_I(file_open_regular(tmp("fifo"), O_RDWR, NULL, &e), -EINVAL);
	CHECK_EQ_I(file_read_all(tmp("fifo"), 100, &text, NULL, &e), -EINVAL);
	alarm(0);
	unlink(tmp("fifo"));
}

TEST(devices_and_directories_refused)
{
	struct err e = { 0 };

	CHECK_EQ_I(file_open_regular("/dev/zero", O_RDONLY, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "/dev/zero: a character device, not a regular file") != NULL);
	CHECK_EQ_I(file_open_regular("/", O_RDONLY, NULL, &e), -EINVAL);
	CHECK(strstr(e.msg, "a directory") != NULL);
	CHECK_EQ_I(file_open_regular(tmp("nope"), O_RDONLY, NULL, &e), -ENOENT);
}

/* The descriptor is blocking again (a read on it must not fail with EAGAIN), regular files
 * and /proc/PID/mem (regular, size 0) are fine. */
TEST(regular_files_open)
{
	struct err e = { 0 };
	struct stat st;
	char path[64];
	int fd;

	fd = file_open_regular("/proc/self/status", O_RDONLY, &st, &e);
	REQUIRE(fd >= 0);
	CHECK_EQ_I(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	CHECK(S_ISREG(st.st_mode));
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)getpid());
	fd = file_open_regular(path, O_RDONLY, NULL, &e);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

/* The bound: by the size for a regular file, by the bytes counted for a file that says size 0
 * (procfs), so that nothing can make the read grow without limit. */
TEST(read_all_bounded)
{
	struct err e = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(tmp("cfg"), "w");

	REQUIRE(f != NULL);
	fputs("0123456789", f);
	fclose(f);
	CHECK_EQ_I(file_read_all(tmp("cfg"), 10, &text, &len, &e), 0);
	CHECK_EQ_U(len, 10);
	CHECK_STR(text, "0123456789");
	free(text);
	text = NULL;
	CHECK_EQ_I(file_read_all(tmp("cfg"), 9, &text, &len, &e), -EFBIG);
	CHECK(text == NULL);
	CHECK(strstr(e.msg, "larger than 9 bytes") != NULL);
	/* /proc/self/maps reports size 0 and holds far more than 16 bytes */
	CHECK_EQ_I(file_read_all("/proc/self/maps", 16, &text, &len, &e), -EFBIG);
	CHECK(text == NULL);
	CHECK_EQ_I(file_read_all("/proc/self/maps", 1 << 20, &text, &len, &e), 0);
	CHECK(len > 16 && strlen(text) == len);
	free(text);
	unlink(tmp("cfg"));
}

TEST(escape)
{
	char out[64];

	CHECK_STR(err_escape(out, sizeof(out), "ok 0000:01:00.0"), "ok 0000:01:00.0");
	CHECK_STR(err_escape(out, sizeof(out), "\x1b[2J\x07\x7f\xff\\"),
		  "\\x1b[2J\\x07\\x7f\\xff\\\\");
	/* cut short, never mid-escape */
	CHECK_STR(err_escape(out, 6, "ab\x1b"), "ab");
	CHECK_STR(err_escape(out, 7, "ab\x1b"), "ab\\x1b");
	CHECK_STR(err_escape(out, 1, "abc"), "");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(fifo_refused_without_blocking);
	RUN(devices_and_directories_refused);
	RUN(regular_files_open);
	RUN(read_all_bounded);
	RUN(escape);
	rmdir(dir);
	return CHECK_MAIN_END();
}
