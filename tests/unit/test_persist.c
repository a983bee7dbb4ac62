/* test_persist.c: persistent claims as udev rules: the rule text, parsing, atomic saves. */
#include "check.h"
#include "persist.h"

#include <fcntl.h>
#include <unistd.h>

static char dir[64];

static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/*
 * The rule as udev(7) reads it: match keys ("==") on the action, the subsystem and the kernel
 * name (the device's address), then an attribute assignment and a program to run.
 */
TEST(rule_text)
{
	struct persist p = { 0 };
	struct err e = { 0 };
	char text[4096];

	REQUIRE(persist_set(&p, "0000:01:00.0", "vfio-pci", false, &e) == 0);
	REQUIRE(persist_set(&p, "0000:02:00.0", "nvgrace_gpu_vfio_pci", true, &e) == 0);
	CHECK(persist_format(&p, "/usr/bin/vfio-bind", text, sizeof(text)) > 0);
	CHECK(strstr(text,
		     "\nACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"0000:01:00.0\", "
		     "ATTR{driver_override}=\"vfio-pci\", RUN+=\"/usr/bin/vfio-bind --timeout 30 "
		     "--driver vfio-pci 0000:01:00.0\"\n") != NULL);
	CHECK(strstr(text, "RUN+=\"/usr/bin/vfio-bind --timeout 30 --force --driver "
			   "nvgrace_gpu_vfio_pci 0000:02:00.0\"\n") != NULL);
	CHECK_EQ_U(persist_format(&p, "/usr/bin/vfio-bind", text, 100), 0); /* too small */
	persist_close(&p);
}

TEST(parse_roundtrip_and_bad_lines)
{
	struct persist p = { 0 }, q = { 0 };
	struct err e = { 0 };
	char text[4096];

	REQUIRE(persist_set(&p, "0000:01:00.0", "vfio-pci", false, &e) == 0);
	REQUIRE(persist_set(&p, "0000:02:00.0", "mlx5_vfio_pci", true, &e) == 0);
	REQUIRE(persist_format(&p, "/opt/x/vfio-bind", text, sizeof(text)) > 0);
	CHECK_EQ_I(persist_parse(&q, text, &e), 0);
	CHECK_EQ_U(q.n, 2);
	CHECK_STR(persist_get(&q, "0000:02:00.0")->driver, "mlx5_vfio_pci");
	CHECK(persist_get(&q, "0000:02:00.0")->force);
	CHECK(!persist_get(&q, "0000:01:00.0")->force);
	CHECK(persist_get(&q, "0000:03:00.0") == NULL);
	/* A hand-written rule, a short address, a command for another device: not ours. */
	CHECK_EQ_I(persist_parse(&q, "SUBSYSTEM==\"pci\", ATTR{x}=\"y\"\n", &e), -EINVAL);
	CHECK(strstr(e.msg, "line 1") != NULL);
	CHECK_EQ_I(
		persist_parse(&q,
			      "# c\nACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"01:00.0\", "
			      "ATTR{driver_override}=\"vfio-pci\", RUN+=\"/b/vfio-bind 01:00.0\"\n",
			      &e),
		-EINVAL);
	CHECK(strstr(e.msg, "line 2") != NULL);
	CHECK_EQ_I(persist_parse(&q,
				 "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"0000:01:00.0\", "
				 "ATTR{driver_override}=\"vfio-pci\", RUN+=\"/b/vfio-bind "
				 "0000:01:00.1\"\n",
				 &e),
		   -EINVAL);
	CHECK_EQ_I(persist_set(&q, "0000:01:00.0", "a\"b", false, &e), -EINVAL);
	CHECK(persist_unset(&p, "0000:01:00.0"));
	CHECK(!persist_unset(&p, "0000:01:00.0"));
	CHECK_EQ_U(p.n, 1);
	persist_close(&p);
	persist_close(&q);
}

TEST(save_open_and_remove)
{
	struct persist p;
	struct err e = { 0 };
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/persist-test.XXXXXX");
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/" PERSIST_FILE, dir);
	REQUIRE(persist_open(&p, dir, &e) == 0); /* absent: no claim */
	CHECK_EQ_U(p.n, 0);
	REQUIRE(persist_set(&p, "0000:00:04.0", "vfio-pci", false, &e) == 0);
	CHECK_EQ_I(persist_save(&p, "relative/vfio-bind", &e), -EINVAL);
	CHECK_EQ_I(persist_save(&p, "/usr/bin/vfio-bind", &e), 0);
	persist_close(&p);
	CHECK(strstr(slurp(path), "KERNEL==\"0000:00:04.0\"") != NULL);
	REQUIRE(persist_open(&p, dir, &e) == 0);
	CHECK_EQ_U(p.n, 1);
	CHECK(persist_unset(&p, "0000:00:04.0"));
	CHECK_EQ_I(persist_save(&p, "/usr/bin/vfio-bind", &e), 0);
	CHECK(access(path, F_OK) != 0 && errno == ENOENT); /* no claim: no file */
	persist_close(&p);
	REQUIRE(persist_open(&p, dir, &e) == 0);
	CHECK_EQ_U(p.n, 0);
	persist_close(&p);
	rmdir(dir);
}

int main(void)
{
	RUN(rule_text);
	RUN(parse_roundtrip_and_bad_lines);
	RUN(save_open_and_remove);
	return CHECK_MAIN_END();
}
