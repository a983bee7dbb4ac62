/* test_bindstate.c: the original-driver state file: format, atomic replacement, locking. */
#include "bindstate.h"
#include "check.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void fresh_dir(void)
{
	char cmd[128];

	if (*dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return;
	}
	snprintf(dir, sizeof(dir), "/tmp/bindstate-test.XXXXXX");
	if (!mkdtemp(dir))
		dir[0] = '\0';
}

static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

TEST(parse_good_and_bad)
{
	struct bindstate st = { .lock_fd = -1 };
	struct err e = { 0 };

	CHECK_EQ_I(bindstate_parse(&st, "# c\n0000:00:04.0 nvme\n\n0000:00:05.1 -\n", &e), 0);
	CHECK_EQ_U(st.n, 2);
	CHECK_STR(st.v[0].driver, "nvme");
	CHECK_STR(st.v[1].bdf, "0000:00:05.1");
	CHECK_STR(bindstate_get(&st, "0000:00:05.1")->driver, "-");
	CHECK(bindstate_get(&st, "0000:00:05.0") == NULL);
	CHECK_EQ_I(bindstate_parse(&st, "00:04.0 nvme\n", &e), -EINVAL); /* no domain */
	CHECK(strstr(e.msg, "line 1") != NULL);
	CHECK_EQ_I(bindstate_parse(&st, "0000:00:04.0\n", &e), -EINVAL);
	CHECK_EQ_I(bindstate_parse(&st, "0000:00:04.0 nvme extra\n", &e), -EINVAL);
	CHECK_EQ_I(bindstate_parse(&st, "0000:00:04.0 ../x\n", &e), -EINVAL);
	free(st.v);
}

/* A PF's SR-IOV settings ride on its line; the first recorded value of each is kept. */
TEST(sriov_fields)
{
	struct bindstate st;
	struct err e = { 0 };
	char path[128];

	st = (struct bindstate){ .lock_fd = -1 };
	CHECK_EQ_I(bindstate_parse(&st, "0000:04:00.0 nvme autoprobe=1 numvfs=0\n0000:04:00.1 -\n",
				   &e),
		   0);
	CHECK_EQ_I(bindstate_get(&st, "0000:04:00.0")->numvfs, 0);
	CHECK_EQ_I(bindstate_get(&st, "0000:04:00.0")->autoprobe, 1);
	CHECK_EQ_I(bindstate_get(&st, "0000:04:00.1")->numvfs, -1);
	CHECK_EQ_I(bindstate_get(&st, "0000:04:00.1")->autoprobe, -1);
	CHECK_EQ_I(bindstate_parse(&st, "0000:04:00.0 nvme numvfs=x\n", &e), -EINVAL);
	CHECK_EQ_I(bindstate_parse(&st, "0000:04:00.0 nvme numvfs=-1\n", &e), -EINVAL);
	CHECK_EQ_I(bindstate_parse(&st, "0000:04:00.0 nvme autoprobe=2\n", &e), -EINVAL);
	CHECK_EQ_I(bindstate_parse(&st, "0000:04:00.0 nvme numvfs=1 numvfs=2\n", &e), -EINVAL);
	free(st.v);

	fresh_dir();
	REQUIRE(*dir);
	REQUIRE(bindstate_open(&st, dir, false, &e) == 0);
	CHECK_EQ_I(bindstate_record_sriov(&st, "0000:04:00.0", "nvme", 3, -1, &e), 0);
	/* A later record adds autoprobe and keeps the first count and driver. */
	CHECK_EQ_I(bindstate_record_sriov(&st, "0000:04:00.0", "vfio-pci", 0, 1, &e), 0);
	CHECK_EQ_I(bindstate_record(&st, "0000:04:00.2", "", &e), 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	CHECK(strstr(slurp(path), "0000:04:00.0 nvme numvfs=3 autoprobe=1\n0000:04:00.2 -\n") !=
	      NULL);
	bindstate_close(&st);
	REQUIRE(bindstate_open(&st, dir, true, &e) == 0);
	CHECK_EQ_I(bindstate_get(&st, "0000:04:00.0")->numvfs, 3);
	CHECK_EQ_I(bindstate_get(&st, "0000:04:00.0")->autoprobe, 1);
	bindstate_close(&st);
}

TEST(record_forget_roundtrip)
{
	struct bindstate st;
	struct err e = { 0 };
	char path[128];

	fresh_dir();
	REQUIRE(*dir);
	REQUIRE(bindstate_open(&st, dir, false, &e) == 0);
	CHECK_EQ_I(bindstate_record(&st, "0000:00:04.0", "nvme", &e), 0);
	CHECK_EQ_I(bindstate_record(&st, "0000:00:06.0", "", &e), 0);
	/* A second record of the same device keeps the first original. */
	CHECK_EQ_I(bindstate_record(&st, "0000:00:04.0", "vfio-pci", &e), 0);
	snprintf(path, sizeof(path), "%s/state", dir);
	CHECK(strstr(slurp(path), "0000:00:04.0 nvme\n0000:00:06.0 -\n") != NULL);
	bindstate_close(&st);

	REQUIRE(bindstate_open(&st, dir, true, &e) == 0);
	CHECK_EQ_U(st.n, 2);
	CHECK_STR(bindstate_get(&st, "0000:00:04.0")->driver, "nvme");
	bindstate_close(&st);

	REQUIRE(bindstate_open(&st, dir, false, &e) == 0);
	CHECK_EQ_I(bindstate_forget(&st, "0000:00:04.0", &e), 0);
	CHECK_EQ_I(bindstate_forget(&st, "0000:00:09.0", &e), 0);
	bindstate_close(&st);
	CHECK(strstr(slurp(path), "0000:00:04.0") == NULL);
	CHECK(strstr(slurp(path), "0000:00:06.0 -") != NULL);
}

TEST(corrupt_file_is_an_error)
{
	struct bindstate st;
	struct err e = { 0 };
	char path[128];
	int fd;

	fresh_dir();
	REQUIRE(*dir);
	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "garbage\n", 8) == 8);
	close(fd);
	CHECK_EQ_I(bindstate_open(&st, dir, false, &e), -EINVAL);
	CHECK(strstr(e.msg, "state line 1") != NULL);
}

TEST(readonly_absent_is_empty)
{
	struct bindstate st;
	struct err e = { 0 };

	CHECK_EQ_I(bindstate_open(&st, "/nonexistent/vfio-bind-test", true, &e), 0);
	CHECK_EQ_U(st.n, 0);
	bindstate_close(&st);
	CHECK(access("/nonexistent/vfio-bind-test", F_OK) != 0);
}

/* Many processes recording different devices at once: every record survives, none is torn. */
TEST(concurrent_writers)
{
	enum { PROCS = 16 };
	struct bindstate st;
	struct err e = { 0 };

	fresh_dir();
	REQUIRE(*dir);
	for (int i = 0; i < PROCS; i++) {
		pid_t pid = fork();

		REQUIRE(pid >= 0);
		if (pid == 0) {
			struct bindstate c;
			char bdf[PCI_ADDR_STRLEN];

			snprintf(bdf, sizeof(bdf), "0000:00:%02x.0", i);
			if (bindstate_open(&c, dir, false, NULL) ||
			    bindstate_record(&c, bdf, "nvme", NULL))
				_exit(1);
			bindstate_close(&c);
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++) {
		int status;

		wait(&status);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	REQUIRE(bindstate_open(&st, dir, true, &e) == 0);
	CHECK_EQ_U(st.n, PROCS);
	bindstate_close(&st);
}

int main(void)
{
	RUN(parse_good_and_bad);
	RUN(sriov_fields);
	RUN(record_forget_roundtrip);
	RUN(corrupt_file_is_an_error);
	RUN(readonly_absent_is_empty);
	RUN(concurrent_writers);
	if (*dir) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return CHECK_MAIN_END();
}
