/*
 * fuzz_vq_inspect.c: libFuzzer target: vq-inspect's option parsing and its reading of a memory
 * image, through the tool's own main(). The tool's source and its CLI layer are included here,
 * with exit() turned into a jump back to this harness and stdout/stderr into /dev/null, so that
 * every error path (cli_die) and every command runs in process.
 */
#include <fcntl.h>
#include <sanitizer/lsan_interface.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static jmp_buf fuzz_back;
static FILE *fuzz_null;

static void fuzz_exit(int status) __attribute__((noreturn));
static void fuzz_exit(int status)
{
	longjmp(fuzz_back, status + 1);
}

/* The tool's files, as they are, with exit, stdout and stderr redirected. */
#undef stdout
#undef stderr
#define exit(s) fuzz_exit(s)
#define stdout	fuzz_null
#define stderr	fuzz_null
#define main	vq_inspect_main
#include "../../cmd/common/cli.c"
#include "../../cmd/common/out.c"
#include "../../cmd/vq-inspect.c"
#undef main
#undef stderr
#undef stdout
#undef exit
#define stdout stdout
#define stderr stderr

#define MAX_ARGS 32

/* Options that would reach outside this harness: another process's memory, popt's own help
 * (which exits from inside libpopt). */
static bool refused(const char *a)
{
	if (a[0] == '-' && a[1] != '-' && (strchr(a, 'p') || strchr(a, '?')))
		return true;
	return !strncmp(a, "--pid", 5) || !strncmp(a, "--help", 6) || !strncmp(a, "--usage", 7) ||
	       !strncmp(a, "--api", 5) || !strncmp(a, "--pause", 7);
}

/* popt's copies of option values: the tool leaves them to the process exit. */
static void reset_options(void)
{
	char **strs[] = { &opt_size,	 &opt_desc,	  &opt_avail,
			  &opt_used,	 &opt_last_avail, &opt_next_used,
			  &opt_head,	 &opt_pid,	  &opt_last_avail_wrap,
			  &opt_api_sock, &opt_dev,	  &opt_queue };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	cli_free_argv(opt_mem);
	opt_mem = NULL;
	opt_packed = opt_event_idx = opt_indirect = opt_pause = 0;
	cli = (struct cli){ .prog = "vq-inspect" };
}

/*
 * libFuzzer's leak check is off here, first among the flags so that one given on the command line
 * still wins. It could find nothing: the tool's allocations are left to the process exit and run
 * under __lsan_disable() below. It cost 90% of the time: libFuzzer runs a whole-heap LeakSanitizer
 * scan (milliseconds) for every input that ends with more mallocs than frees, which is every input
 * naming a string option twice (popt does not free the value it replaces).
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *args[256];
	static char no_leaks[] = "-detect_leaks=0";
	int n = *argc < 254 ? *argc : 254;

	args[0] = (*argv)[0];
	args[1] = no_leaks;
	memcpy(args + 2, *argv + 1, sizeof(char *) * (size_t)(n - 1));
	args[n + 1] = NULL;
	*argc = n + 1;
	*argv = args;
	return 0;
}

/* The memory image: one memfd for the whole run, refilled for each input (a new one each time
 * was a syscall and a descriptor table change per input for nothing). */
static int image_fd(const uint8_t *p, size_t len)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz-mem", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) != 0)
		abort();
	if (len && pwrite(fd, p, len, 0) != (ssize_t)len)
		abort();
	return fd;
}

/*
 * Input: arguments separated by NUL bytes, up to an empty one (two NULs in a row); the rest is
 * the guest memory image, in a memfd. An argument "@" followed by text stands for the image's
 * path followed by that text ("@@0x1000+0x100" is FILE@0x1000+0x100). Arguments naming other
 * files (a '/') are dropped.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *argv[MAX_ARGS + 1] = { "vq-inspect" };
	char *copy = malloc(len + 1), *p, *end, *args[MAX_ARGS];
	char path[64];
	int argc = 1, nargs = 0, fd;

	if (!copy)
		return 0;
	if (!fuzz_null)
		fuzz_null = fopen("/dev/null", "w");
	memcpy(copy, data, len);
	copy[len] = '\0';
	end = copy + len;
	for (p = copy; p < end && *p; p += strlen(p) + 1) /* the image starts after the args */
		;
	fd = image_fd((const uint8_t *)p + 1, p < end ? (size_t)(end - p - 1) : 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (p = copy; p < end && *p && argc < MAX_ARGS; p += strlen(p) + 1) {
		if (p[0] == '@') {
			args[nargs] = malloc(strlen(path) + strlen(p));
			sprintf(args[nargs], "%s%s", path, p + 1);
			argv[argc++] = args[nargs++];
		} else if (!strchr(p, '/') && !refused(p)) {
			argv[argc++] = p;
		}
	}
	argv[argc] = NULL;
	reset_options();
	/* What the tool leaves behind when it exits early (a string being parsed, its output
	 * object) is freed by the exit, not by it: not a leak. */
	__lsan_disable();
	if (setjmp(fuzz_back) == 0)
		vq_inspect_main(argc, argv);
	__lsan_enable();
	cli_done();
	guestmem_close(&vq_mem);
	out_free(vq_out);
	vq_out = NULL;
	reset_options();
	for (int i = 0; i < nargs; i++)
		free(args[i]);
	free(copy);
	return 0;
}
