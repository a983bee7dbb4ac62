/*
 * bench_mvm_boot.c: host microVM start-up: process start to the guest's first serial byte, and
 * the monitor's memory overhead (RSS minus the guest memory it touched), for the tiny PVH guest
 * (tests/guests/spin.c), mvm-run beside qemu-system-x86_64 -M microvm -accel kvm.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

#define RUNS	 7
#define GUEST_MB 128

/* Total RSS and the RSS of the guest RAM mapping (the largest one of at least GUEST_MB), KiB. */
static void rss_of(pid_t pid, long *total, long *guest)
{
	char path[64], line[512];
	FILE *f;
	long size = 0, best = -1;

	*total = *guest = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "Size: %ld kB", &v) == 1) {
			size = v;
		} else if (sscanf(line, "Rss: %ld kB", &v) == 1) {
			*total += v;
			if (size >= GUEST_MB * 1024 && size > best) {
				best = size;
				*guest = v;
			}
		}
	}
	fclose(f);
}

struct result {
	double first_byte_ms;
	long overhead_kib;
};

/* Start argv with stdout on a pipe; time the first byte; measure RSS once "spinning" is out. */
static int run_once(char *const argv[], struct result *r)
{
	int p[2];
	pid_t pid;
	double t0;
	char buf[256];
	size_t got = 0;
	long total, guest;

	if (pipe(p) < 0)
		return -1;
	t0 = clock_now_s();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(p[1], 1);
		dup2(null, 0);
		dup2(null, 2);
		close(p[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	r->first_byte_ms = -1;
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(p[0], buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		if (r->first_byte_ms < 0)
			r->first_byte_ms = (clock_now_s() - t0) * 1e3;
		got += (size_t)n;
		buf[got] = 0;
		if (strstr(buf, "spinning\n"))
			break;
	}
	usleep(100000); /* let start-up settle before measuring memory */
	rss_of(pid, &total, &guest);
	r->overhead_kib = total - guest;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	return r->first_byte_ms < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static int measure(const char *name, char *const argv[], struct result *median)
{
	double ms[RUNS];
	long kib[RUNS];

	for (int i = 0; i < RUNS; i++) {
		struct result r;

		if (run_once(argv, &r)) {
			printf("%-12s could not be measured (no serial output)\n", name);
			return -1;
		}
		ms[i] = r.first_byte_ms;
		kib[i] = r.overhead_kib;
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
	qsort(kib, RUNS, sizeof(kib[0]), cmp_long);
	median->first_byte_ms = ms[RUNS / 2];
	median->overhead_kib = kib[RUNS / 2];
	printf("%-12s start to first serial byte %7.1f ms (median of %d), VMM overhead %6ld KiB\n",
	       name, median->first_byte_ms, RUNS, median->overhead_kib);
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/bench_mvm_boot.XXXXXX", cmd[512], guest[600];
	struct result mvm, qemu;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		/* a bench that cannot compare fails: make bench never passes on no work */
		fprintf(stderr, "bench_mvm_boot: /dev/kvm: not usable; nothing compared\n");
		return 1;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(cmd, sizeof(cmd), "tests/guests/build %s >/dev/null", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_mvm_boot: cannot build the test guests\n");
		return 1;
	}
	snprintf(guest, sizeof(guest), "%s/spin.elf", dir);
	char *mvm_argv[] = { "build/mvm-run", "--kernel", guest, "--mem", "128M", NULL };
	/* options with their values, as a person would write them */
	/* clang-format off */
	char *qemu_argv[] = { "qemu-system-x86_64", "-M", "microvm,accel=kvm", "-cpu", "qemu64",
			      "-m", "128M", "-nodefaults", "-no-user-config", "-display", "none",
			      "-serial", "stdio", "-kernel", guest, NULL };
	/* clang-format on */

	if (measure("mvm-run", mvm_argv, &mvm))
		return 1;
	if (measure("qemu-microvm", qemu_argv, &qemu) == 0)
		printf("ratio qemu/mvm-run: first byte %.1fx, memory overhead %.1fx\n",
		       qemu.first_byte_ms / mvm.first_byte_ms,
		       (double)qemu.overhead_kib /
			       (double)(mvm.overhead_kib ? mvm.overhead_kib : 1));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
