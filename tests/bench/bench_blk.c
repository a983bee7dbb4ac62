/*
 * bench_blk.c: virtio-blk requests per second from inside a guest: the polling test guest
 * tests/guests/blkbench.c (4 KiB reads and writes in turn over virtio-mmio, 1 and 32 in flight)
 * under mvm-run beside the same guest binary under qemu-system-x86_64 -M microvm -accel kvm with
 * a virtio-blk-device (served by QEMU's main loop, and by an iothread), all on the same image
 * file; mvm-run's Sync engine beside QEMU's aio=threads, its Async engine (io_uring) beside
 * QEMU's aio=io_uring.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

#define ROUNDS	  5 /* each side, interleaved; the best round counts */
#define REQUESTS  "4000"
#define IMG_BYTES (64ll << 20)

/*
 * Start argv with stdout on a pipe and time, on the host's clock, the guest's lines from
 * "blkbench go" to "blkbench done": requests per second, or -1 when the run did not get there.
 */
static double run_once(char *const argv[])
{
	char buf[4096];
	size_t got = 0;
	double t_go = -1, rate = -1;
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
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
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(p[0], buf + got, sizeof(buf) - 1 - got);
		char *done;

		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = 0;
		if (t_go < 0 && strstr(buf, "blkbench go\n"))
			t_go = clock_now_s();
		if (strstr(buf, "FAILED"))
			break;
		done = strstr(buf, "blkbench done ");
		if (t_go >= 0 && done && strchr(done, '\n')) {
			rate = atof(done + strlen("blkbench done ")) / (clock_now_s() - t_go);
			break;
		}
	}
	kill(pid, SIGKILL); /* QEMU's microvm has no device the guest can stop it with */
	waitpid(pid, NULL, 0);
	close(p[0]);
	return rate;
}

/*
 * The sides, in the order they run in each round, in two pairs: mvm-run's Sync engine against
 * QEMU's thread pool (aio=threads), its Async engine against QEMU's aio=io_uring, each QEMU in
 * its main loop and in an iothread; a pair's ratio is mvm-run over the faster of its two QEMUs.
 */
enum { MVM, QEMU, QEMU_IOTHREAD, MVM_ASYNC, QEMU_URING, QEMU_URING_IOTHREAD, SIDES };
static const char *const side_name[SIDES] = { "mvm-run",       "qemu-microvm", "qemu-iothread",
					      "mvm-run-async", "qemu-uring",   "qemu-uring-io" };
static const char *const side_note[SIDES] = {
	"  (io_engine Sync)",
	"  (virtio-blk-device, aio=threads, main loop)",
	"  (the same, in an -object iothread)",
	"  (io_engine Async: io_uring)",
	"  (virtio-blk-device, aio=io_uring, main loop)",
	"  (the same, in an -object iothread)",
};

static void print_pair(int mvm, int q1, int q2, const double best[SIDES], const char *what)
{
	double peer = best[q1] > best[q2] ? best[q1] : best[q2];

	for (int i = mvm; i <= q2; i++)
		printf("  %-14s %10.0f requests/s%s\n", side_name[i], best[i], side_note[i]);
	printf("  ratio          %10.2f  (%s / the faster QEMU)\n", best[mvm] / peer, what);
}

static int bench_depth(const char *guest, const char *img, int qd)
{
	char append[64], drive[600], drive_uring[600], disk_async[600];
	double best[SIDES] = { -1, -1, -1, -1, -1, -1 };

	snprintf(append, sizeof(append), "qd=%d n=" REQUESTS, qd);
	snprintf(drive, sizeof(drive), "id=d0,file=%s,format=raw,if=none", img);
	snprintf(drive_uring, sizeof(drive_uring), "%s,aio=io_uring", drive);
	snprintf(disk_async, sizeof(disk_async), "%s,io_engine=Async", img);
#define QEMU_ARGS(d)                                                                               \
	"qemu-system-x86_64", "-M", "microvm,accel=kvm", "-cpu", "qemu64", "-m", "128M",           \
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",          \
		"-global", "virtio-mmio.force-legacy=false", "-drive", d, "-kernel",               \
		(char *)guest, "-append", append
#define IOTHREAD "-object", "iothread,id=io0", "-device", "virtio-blk-device,drive=d0,iothread=io0"
	char *mvm_argv[] = { "build/mvm-run", "--kernel",  (char *)guest, "--mem", "128M",
			     "--disk",	      (char *)img, "--cmdline",	  append,  NULL };
	char *mvm_async_argv[] = { "build/mvm-run", "--kernel", (char *)guest, "--mem", "128M",
				   "--disk",	    disk_async, "--cmdline",   append,	NULL };
	char *qemu_argv[] = { QEMU_ARGS(drive), "-device", "virtio-blk-device,drive=d0", NULL };
	char *qemu_io_argv[] = { QEMU_ARGS(drive), IOTHREAD, NULL };
	char *qemu_uring_argv[] = { QEMU_ARGS(drive_uring), "-device", "virtio-blk-device,drive=d0",
				    NULL };
	char *qemu_uring_io_argv[] = { QEMU_ARGS(drive_uring), IOTHREAD, NULL };
#undef QEMU_ARGS
#undef IOTHREAD
	char *const *argv[SIDES] = { mvm_argv,	     qemu_argv,	      qemu_io_argv,
				     mvm_async_argv, qemu_uring_argv, qemu_uring_io_argv };

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < SIDES; i++) {
			double v = run_once(argv[i]);

			if (v < 0) {
				fprintf(stderr,
					"bench_blk: qd=%d: %s did not finish its requests\n", qd,
					side_name[i]);
				return -1;
			}
			best[i] = v > best[i] ? v : best[i];
		}
	}
	printf("virtio-blk 4 KiB read/write, %d in flight (" REQUESTS " requests, best of %d):\n",
	       qd, ROUNDS);
	print_pair(MVM, QEMU, QEMU_IOTHREAD, best, "mvm-run Sync");
	print_pair(MVM_ASYNC, QEMU_URING, QEMU_URING_IOTHREAD, best, "mvm-run Async");
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/bench_blk.XXXXXX", cmd[512], guest[600], img[600];
	int rc = 0, fd;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		fprintf(stderr, "bench_blk: /dev/kvm: not usable; nothing compared\n");
		return 1;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(cmd, sizeof(cmd), "tests/guests/build %s >/dev/null", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_blk: cannot build the test guests\n");
		return 1;
	}
	snprintf(guest, sizeof(guest), "%s/blkbench.elf", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	/* allocated, not sparse: both VMMs read and write blocks that exist */
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || posix_fallocate(fd, 0, IMG_BYTES) != 0) {
		fprintf(stderr, "bench_blk: %s: cannot allocate the image\n", img);
		return 1;
	}
	close(fd);
	if (bench_depth(guest, img, 1) || bench_depth(guest, img, 32))
		rc = 1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
