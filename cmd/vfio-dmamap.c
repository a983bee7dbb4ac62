/* vfio-dmamap: IOMMU info for a VFIO device, DMA mappings held while a command runs (with a
 * device round-trip check), and map/unmap times beside mlock/munlock of the same memory. */
#include <inttypes.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "dma.h"
#include "out.h"
#include "prefault.h"
#include "testdrv.h"
#include "vfio.h"

#define MAX_MAPPINGS  64
#define SCRATCH_BYTES 4096u /* the second mapping a --verify round trip copies into */

static char **opt_size, **opt_iova;
static char *opt_backing, *opt_backend, *opt_iterations;
static int opt_verify, opt_hold;
static char prefault_unset[] = ""; /* popt leaves NULL for --prefault without THREADS */
static char *opt_prefault = prefault_unset;
static unsigned prefault_threads; /* 0: no prefault */

static struct poptOption options[] = {
	{ "size", 's', POPT_ARG_ARGV, &opt_size, 0,
	  "map: bytes to map (repeat for more mappings); bench: bytes per map (default 16M)",
	  "SIZE" },
	{ "iova", 'i', POPT_ARG_ARGV, &opt_iova, 0,
	  "map: IOVA of the matching --size (default: allocated in the valid ranges)", "ADDR" },
	{ "backing", 'B', POPT_ARG_STRING, &opt_backing, 0,
	  "memory: anon (default), thp (transparent huge pages), 2M or 1G huge pages, memfd, "
	  "or a FILE path",
	  "anon|thp|2M|1G|memfd|FILE" },
	{ "verify", '\0', POPT_ARG_NONE, &opt_verify, 0,
	  "map: prove the device reaches the memory (edu: DMA round trip, stray DMA blocked)",
	  NULL },
	{ "hold", 'H', POPT_ARG_NONE, &opt_hold, 0, "map: keep the mappings until SIGINT/SIGTERM",
	  NULL },
	{ "prefault", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, &opt_prefault, 0,
	  "map, bench: fault the memory in with THREADS threads before it is mapped (default: "
	  "online CPUs, at most 16)",
	  "THREADS" },
	{ "iterations", 'n', POPT_ARG_STRING, &opt_iterations, 0,
	  "bench: map+unmap rounds (default 10)", "N" },
	{ "backend", 'b', POPT_ARG_STRING, &opt_backend, 0,
	  "VFIO back-end: auto (default), container or iommufd", "auto|container|iommufd" },
	CLI_COMMON_TABLE,
	POPT_AUTOHELP POPT_TABLEEND
};

static size_t argv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* The device, attached to an IOMMU of its own: the address space every command maps into. */
static struct vfio_dev *open_dev(const char *text, enum vfio_backend backend)
{
	struct vfio_iommu *io;
	struct vfio_dev *d;
	struct pci_addr a;
	struct err e = { 0 };

	if (vfio_resolve_device(text, &a, &e))
		cli_die(EXIT_USAGE, NULL, "%s", e.msg);
	if (vfio_iommu_open(&io, backend, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (vfio_dev_open(&d, &a, io, &e)) {
		vfio_iommu_close(io);
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	}
	return d;
}

/* The device, then its IOMMU (the last device unmaps everything as it leaves). */
static void close_dev(struct vfio_dev *d)
{
	struct vfio_iommu *io = vfio_dev_iommu(d);

	vfio_dev_close(d);
	vfio_iommu_close(io);
}

static void warn_memlock(uint64_t bytes)
{
	struct rlimit rl;
	char a[32], b[32];

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= bytes)
		return;
	cli_warn("RLIMIT_MEMLOCK",
		 "the limit is %s, below the %s to map: mapping may fail with ENOMEM (raise it: "
		 "ulimit -l, or memlock in limits.conf; root with CAP_IPC_LOCK is exempt)",
		 format_size(rl.rlim_cur, a, sizeof(a)), format_size(bytes, b, sizeof(b)));
}

static void print_pgsizes(struct out *o, uint64_t pgsizes)
{
	char buf[32];

	out_array_begin(o, "pgsizes");
	for (int bit = 0; bit < 64; bit++)
		if (pgsizes & (1ull << bit)) {
			if (cli.json)
				out_u64(o, NULL, 1ull << bit);
			else
				out_str(o, NULL, format_size(1ull << bit, buf, sizeof(buf)));
		}
	out_array_end(o);
}

static int cmd_info(const char *dev, enum vfio_backend backend)
{
	struct vfio_dev *d = open_dev(dev, backend);
	struct vfio_resv_region rr[32];
	struct vfio_iommu_info info;
	struct err e = { 0 };
	size_t nrr = 0;
	struct out *o;

	if (vfio_iommu_info(vfio_dev_iommu(d), &info, &e)) {
		close_dev(d);
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	}
	if (vfio_reserved_regions(vfio_dev_group(d), rr, 32, &nrr, &e))
		cli_warn(NULL, "%s", e.msg);
	o = cli_out(stdout);
	if (cli.json) {
		out_record_begin(o);
		out_str(o, "device", vfio_dev_bdf(d));
		out_u64(o, "group", (uint64_t)vfio_dev_group(d));
		out_str(o, "backend", vfio_backend_name(info.backend));
		print_pgsizes(o, info.pgsizes);
		out_array_begin(o, "iova_ranges");
		for (size_t i = 0; i < info.nranges; i++) {
			out_object_begin(o, NULL);
			out_hex(o, "start", info.ranges[i].start.v, 0);
			out_hex(o, "last", info.ranges[i].last.v, 0);
			out_object_end(o);
		}
		out_array_end(o);
		if (info.have_dma_avail)
			out_u64(o, "dma_avail", info.dma_avail);
		else
			out_null(o, "dma_avail");
		out_array_begin(o, "reserved_regions");
		for (size_t i = 0; i < nrr; i++) {
			out_object_begin(o, NULL);
			out_hex(o, "start", rr[i].start.v, 0);
			out_hex(o, "last", rr[i].last.v, 0);
			out_str(o, "type", rr[i].type);
			out_object_end(o);
		}
		out_array_end(o);
		out_record_end(o);
	} else {
		/* One "key value..." line each: awk '$1 == "iova-range" { print $2, $3 }'. */
		out_record_begin(o);
		out_str(o, NULL, "device");
		out_str(o, NULL, vfio_dev_bdf(d));
		out_record_end(o);
		out_record_begin(o);
		out_str(o, NULL, "group");
		out_u64(o, NULL, (uint64_t)vfio_dev_group(d));
		out_record_end(o);
		out_record_begin(o);
		out_str(o, NULL, "backend");
		out_str(o, NULL, vfio_backend_name(info.backend));
		out_record_end(o);
		out_record_begin(o);
		out_str(o, NULL, "pgsizes");
		print_pgsizes(o, info.pgsizes);
		out_record_end(o);
		for (size_t i = 0; i < info.nranges; i++) {
			out_record_begin(o);
			out_str(o, NULL, "iova-range");
			out_hex(o, NULL, info.ranges[i].start.v, 0);
			out_hex(o, NULL, info.ranges[i].last.v, 0);
			out_record_end(o);
		}
		out_record_begin(o);
		out_str(o, NULL, "dma-avail");
		if (info.have_dma_avail)
			out_u64(o, NULL, info.dma_avail);
		else
			out_null(o, NULL);
		out_record_end(o);
		for (size_t i = 0; i < nrr; i++) {
			out_record_begin(o);
			out_str(o, NULL, "reserved");
			out_hex(o, NULL, rr[i].start.v, 0);
			out_hex(o, NULL, rr[i].last.v, 0);
			out_str(o, NULL, rr[i].type);
			out_record_end(o);
		}
	}
	cli_out_close(o);
	close_dev(d);
	return EXIT_OK;
}

static enum dma_backing backing_of(const char **path)
{
	*path = NULL;
	if (!opt_backing)
		return DMA_BACKING_ANON;
	if (dma_backing_parse(opt_backing) == DMA_BACKING_FILE)
		*path = opt_backing;
	return dma_backing_parse(opt_backing);
}

struct mapped {
	struct dma_mem mem;
	iova_t iova;
	bool ok;
};

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(seed >> 56);
	}
}

static uint64_t digest(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/*
 * edu round trip: a pattern written at offsets of each mapping goes RAM -> device -> a second
 * mapping and is compared byte for byte; then a DMA to an unmapped IOVA must change nothing,
 * and a last round trip shows the device still works. Returns the number of failures.
 */
static int verify(struct vfio_dev *d, struct mapped *m, size_t n, struct out *o)
{
	struct vfio_iommu *io = vfio_dev_iommu(d);
	struct err e = { 0 };
	struct dma_mem scratch;
	struct testdrv td;
	iova_t sio, stray;
	uint32_t chunk;
	int failures = 0;

	if (testdrv_probe(d, &td, &e))
		cli_die(EXIT_FAIL, "--verify", "%s", e.msg);
	if (!testdrv_has_dma(&td))
		cli_die(EXIT_FAIL, "--verify", "%s: %s has no DMA test driver (edu has one)",
			vfio_dev_bdf(d), td.name);
	chunk = td.dma_max_bytes;
	if (dma_mem_alloc(&scratch, DMA_BACKING_ANON, SCRATCH_BYTES, NULL, &e) ||
	    dma_map_alloc(vfio_dma_registry(io), SCRATCH_BYTES, 0, td.dma_limit, &sio, &e) ||
	    vfio_dma_map(io, sio, SCRATCH_BYTES, scratch.hva, DMA_BACKING_ANON, &e))
		cli_die(EXIT_FAIL, "--verify: scratch mapping", "%s", e.msg);
	for (size_t i = 0; i < n; i++) {
		uint64_t offs[3] = { 0, m[i].mem.size_bytes / 2, m[i].mem.size_bytes - chunk };
		uint64_t checked = 0;
		bool ok = true;

		if (!m[i].ok)
			continue;
		for (int k = 0; k < 3 && ok; k++) {
			uint64_t off = offs[k] & ~(uint64_t)(chunk - 1);
			uint8_t *src = (uint8_t *)m[i].mem.hva + off;
			uint32_t len =
				m[i].mem.size_bytes < chunk ? (uint32_t)m[i].mem.size_bytes : chunk;

			if (k && m[i].mem.size_bytes <= chunk)
				break;
			fill(src, len, m[i].iova.v + off + (uint64_t)k);
			memset(scratch.hva, 0, chunk);
			if (testdrv_dma(&td, dma_iova(m[i].iova.v + off), len, false, 10000, &e) ||
			    testdrv_dma(&td, sio, len, true, 10000, &e)) {
				cli_error("--verify", "%s", e.msg);
				ok = false;
			} else if (memcmp(src, scratch.hva, len)) {
				cli_error("--verify", "IOVA 0x%" PRIx64 ": the copy differs",
					  m[i].iova.v + off);
				ok = false;
			}
			checked += len;
		}
		out_record_begin(o);
		out_str(o, "check", "verify");
		out_hex(o, "iova", m[i].iova.v, 0);
		out_u64(o, "bytes_checked", checked);
		out_str(o, "result", ok ? "ok" : "FAILED");
		out_record_end(o);
		failures += !ok;
	}
	/* A stray DMA: to an IOVA nothing is mapped at. */
	if (!dma_map_alloc(vfio_dma_registry(io), SCRATCH_BYTES, 0, td.dma_limit, &stray, &e)) {
		uint64_t before[MAX_MAPPINGS], scratch_before;
		bool intact = true;

		memset(scratch.hva, 0x5a, chunk);
		scratch_before = digest(scratch.hva, chunk);
		for (size_t i = 0; i < n; i++)
			before[i] = m[i].ok ? digest(m[i].mem.hva, m[i].mem.size_bytes) : 0;
		if (testdrv_dma(&td, stray, chunk, true, 10000, &e))
			cli_error("--verify: stray DMA", "%s", e.msg);
		for (size_t i = 0; i < n; i++)
			intact &=
				!m[i].ok || digest(m[i].mem.hva, m[i].mem.size_bytes) == before[i];
		intact &= digest(scratch.hva, chunk) == scratch_before;
		/* And the device still works. */
		fill((uint8_t *)scratch.hva, 64, 99);
		if (testdrv_dma(&td, sio, 64, false, 10000, &e) ||
		    testdrv_dma(&td, dma_iova(sio.v + 64), 64, true, 10000, &e) ||
		    memcmp(scratch.hva, (uint8_t *)scratch.hva + 64, 64)) {
			cli_error("--verify", "the device stopped working after the stray DMA");
			intact = false;
		}
		out_record_begin(o);
		out_str(o, "check", "stray");
		out_hex(o, "iova", stray.v, 0);
		out_u64(o, "bytes_checked", chunk);
		out_str(o, "result", intact ? "blocked" : "CORRUPTED");
		out_record_end(o);
		failures += !intact;
	}
	vfio_dma_unmap(io, sio, SCRATCH_BYTES, NULL);
	dma_mem_free(&scratch);
	return failures;
}

static int block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

static int run_command(char **argv, const struct mapped *m, size_t n)
{
	sigset_t old;
	int sfd = block_signals(&old), status;
	char buf[32];
	pid_t pid;

	(void)sfd;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		cli_die(EXIT_FAIL, "fork", "%s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		for (size_t i = 0; i < n; i++)
			if (m[i].ok) {
				snprintf(buf, sizeof(buf), "0x%" PRIx64, m[i].iova.v);
				setenv("VFIO_DMAMAP_IOVA", buf, 1);
				snprintf(buf, sizeof(buf), "%" PRIu64, m[i].mem.size_bytes);
				setenv("VFIO_DMAMAP_SIZE", buf, 1);
				break;
			}
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s: %s\n", cli.prog, argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_FAIL;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Fault mem in with prefault_threads threads (none: nothing to do); 0, or -errno with e set. */
static int prefault_mem(const struct dma_mem *mem, struct err *e)
{
	int64_t t0 = clock_now_ns();
	char sz[32];
	int rc;

	if (!prefault_threads)
		return 0;
	rc = prefault_range(mem->hva, mem->size_bytes, mem->page_bytes, prefault_threads,
			    PREFAULT_AUTO, e);
	if (!rc)
		cli_verbose("prefault: %s faulted in by %u thread%s in %.1f ms",
			    format_size(mem->size_bytes, sz, sizeof(sz)), prefault_threads,
			    prefault_threads > 1 ? "s" : "", (double)(clock_now_ns() - t0) / 1e6);
	return rc;
}

static int cmd_map(const char *dev, enum vfio_backend backend, char **command)
{
	size_t ns = argv_len(opt_size), ni = argv_len(opt_iova), nok = 0;
	struct mapped m[MAX_MAPPINGS];
	uint64_t sizes[MAX_MAPPINGS], total = 0;
	iova_t iovas[MAX_MAPPINGS];
	const char *path;
	enum dma_backing b = backing_of(&path);
	struct vfio_iommu *io;
	struct vfio_dev *d;
	int status = EXIT_OK;
	struct out *o;

	if (!ns)
		cli_die(EXIT_USAGE, "map", "--size is needed");
	if (ns > MAX_MAPPINGS)
		cli_die(EXIT_USAGE, "--size", "at most %d mappings", MAX_MAPPINGS);
	if (ni > ns)
		cli_die(EXIT_USAGE, "--iova", "more --iova than --size");
	if (b == DMA_BACKING_FILE && ns > 1)
		cli_die(EXIT_USAGE, "--backing", "a file backs one mapping only");
	if (opt_hold && command)
		cli_die(EXIT_USAGE, "--hold", "either --hold or a COMMAND, not both");
	for (size_t i = 0; i < ns; i++) {
		sizes[i] = parse_size_or_die("--size", opt_size[i]);
		if (!sizes[i])
			cli_die(EXIT_USAGE, "--size", "'%s': the size must not be zero",
				opt_size[i]);
		if (i < ni)
			iovas[i] = dma_iova(parse_u64_or_die("--iova", opt_iova[i]));
		total += sizes[i];
	}
	d = open_dev(dev, backend);
	io = vfio_dev_iommu(d);
	warn_memlock(total + (opt_verify ? SCRATCH_BYTES : 0));
	o = cli_out(stdout);
	out_list_begin(o);
	for (size_t i = 0; i < ns; i++) {
		struct err e = { 0 };
		char sz[32];

		m[i].ok = false;
		if (dma_mem_alloc(&m[i].mem, b, sizes[i], path, &e)) {
			cli_error("--size", "%s: %s", opt_size[i], e.msg);
			status = EXIT_FAIL;
			m[i].mem.hva = NULL;
			m[i].mem.fd = -1;
			continue;
		}
		if (prefault_mem(&m[i].mem, &e)) {
			cli_error("--prefault", "%s", e.msg);
			status = EXIT_FAIL;
			continue;
		}
		if (i < ni)
			m[i].iova = iovas[i];
		else if (dma_map_alloc(vfio_dma_registry(io), sizes[i], m[i].mem.page_bytes,
				       opt_verify ? EDU_DMA_LIMIT : dma_iova(UINT64_MAX),
				       &m[i].iova, &e)) {
			cli_error("map", "%s", e.msg);
			status = EXIT_FAIL;
			continue;
		}
		if (vfio_dma_map(io, m[i].iova, sizes[i], m[i].mem.hva, b, &e)) {
			cli_error("map", "%s", e.msg);
			status = EXIT_FAIL;
			continue;
		}
		m[i].ok = true;
		nok++;
		out_record_begin(o);
		out_hex(o, "iova", m[i].iova.v, 0);
		if (cli.json)
			out_u64(o, "size_bytes", sizes[i]);
		else
			out_str(o, "size", format_size(sizes[i], sz, sizeof(sz)));
		out_str(o, "backing", path ? path : dma_backing_name(b));
		out_record_end(o);
	}
	if (opt_verify && nok && verify(d, m, ns, o))
		status = EXIT_FAIL;
	out_list_end(o);
	cli_out_close(o);
	fflush(stdout);
	if (nok && command) {
		int rc = run_command(command, m, ns);

		if (status == EXIT_OK)
			status = rc;
	} else if (nok && opt_hold) {
		struct signalfd_siginfo si;
		sigset_t old;
		int sfd = block_signals(&old);

		cli_verbose("holding %zu mappings; SIGINT or SIGTERM unmaps them", nok);
		while (read(sfd, &si, sizeof(si)) < 0 && errno == EINTR)
			;
		cli_verbose("signal %u: unmapping", si.ssi_signo);
	}
	close_dev(d); /* unmaps */
	for (size_t i = 0; i < ns; i++)
		if (m[i].mem.hva || m[i].mem.fd >= 0)
			dma_mem_free(&m[i].mem);
	return status;
}

/*
 * What bench times: each VFIO operation beside the plain-memory operation that does the same
 * page work, on memory in the same state. Pinning for DMA faults in and locks pages as mlock
 * does, so map is compared with mlock, on warm memory (touched before: pin + IOMMU tables
 * against lock) and on cold memory (pages just discarded: both fault in and zero fresh pages);
 * unmap (unpin + IOMMU unmap) with munlock.
 */
enum bench_op { B_MAP_WARM, B_MLOCK_WARM, B_MAP_COLD, B_MLOCK_COLD, B_UNMAP, B_MUNLOCK, B_NOPS };

static const struct bench_row {
	const char *op, *memory;
	int baseline; /* the row this one is compared with; -1: this is a baseline */
	bool cold;
} bench_rows[B_NOPS] = {
	[B_MAP_WARM] = { "map", "warm", B_MLOCK_WARM, false },
	[B_MLOCK_WARM] = { "mlock", "warm", -1, false },
	[B_MAP_COLD] = { "map", "cold", B_MLOCK_COLD, true },
	[B_MLOCK_COLD] = { "mlock", "cold", -1, true },
	[B_UNMAP] = { "unmap", "warm", B_MUNLOCK, false },
	[B_MUNLOCK] = { "munlock", "warm", -1, false },
};

struct bench_run {
	struct vfio_dev *d;
	struct vfio_iommu *iommu; /* d's */
	struct dma_mem mem;
	iova_t iova;
	enum dma_backing backing;
	bool cold; /* the memory can be discarded (not a file) */
	int64_t *ns[B_NOPS];
};

/* Time one step into r->ns[op][i]: 0, or -errno with e filled. */
static int bench_step(struct bench_run *r, enum bench_op op, uint32_t i, struct err *e)
{
	int64_t t0 = clock_now_ns();
	int rc = 0;

	switch (op) {
	case B_MAP_WARM:
	case B_MAP_COLD:
		/* --prefault: part of what a cold map costs, so timed with it (verbose quiet) */
		if (op == B_MAP_COLD && prefault_threads)
			rc = prefault_range(r->mem.hva, r->mem.size_bytes, r->mem.page_bytes,
					    prefault_threads, PREFAULT_AUTO, e);
		if (!rc)
			rc = vfio_dma_map(r->iommu, r->iova, r->mem.size_bytes, r->mem.hva,
					  r->backing, e);
		break;
	case B_UNMAP:
		rc = vfio_dma_unmap(r->iommu, r->iova, r->mem.size_bytes, e);
		break;
	case B_MLOCK_WARM:
	case B_MLOCK_COLD:
		if (mlock(r->mem.hva, r->mem.size_bytes))
			rc = err_set(e, errno, "mlock: %s", strerror(errno));
		break;
	case B_MUNLOCK:
		if (munlock(r->mem.hva, r->mem.size_bytes))
			rc = err_set(e, errno, "munlock: %s", strerror(errno));
		break;
	case B_NOPS:
		break;
	}
	r->ns[op][i] = clock_now_ns() - t0;
	return rc;
}

/*
 * One round, interleaved so that drift in the machine's load hits both sides alike. The memory
 * is touched on entry and stays so: each cold step faults every page back in.
 */
static int bench_round(struct bench_run *r, uint32_t i, struct err *e)
{
	static const enum bench_op warm[] = { B_MAP_WARM, B_UNMAP, B_MLOCK_WARM, B_MUNLOCK };
	int rc = 0;

	for (size_t k = 0; k < sizeof(warm) / sizeof(warm[0]) && !rc; k++)
		rc = bench_step(r, warm[k], i, e);
	if (rc || !r->cold)
		return rc;
	if ((rc = dma_mem_discard(&r->mem, e)) || (rc = bench_step(r, B_MAP_COLD, i, e)) ||
	    (rc = vfio_dma_unmap(r->iommu, r->iova, r->mem.size_bytes, e)) ||
	    (rc = dma_mem_discard(&r->mem, e)) || (rc = bench_step(r, B_MLOCK_COLD, i, e)))
		return rc;
	if (munlock(r->mem.hva, r->mem.size_bytes))
		return err_set(e, errno, "munlock: %s", strerror(errno));
	return 0;
}

static void bench_print(struct out *o, struct bench_run *r, uint32_t n)
{
	struct stats_i64 st[B_NOPS];
	uint64_t bytes = r->mem.size_bytes;

	for (int op = 0; op < B_NOPS; op++)
		if (r->cold || !bench_rows[op].cold)
			st[op] = stats_summary_i64(r->ns[op], n);
	out_list_begin(o);
	for (int op = 0; op < B_NOPS; op++) {
		const struct bench_row *row = &bench_rows[op];
		int64_t sum = 0;

		if (row->cold && !r->cold)
			continue;
		for (uint32_t i = 0; i < n; i++)
			sum += r->ns[op][i];
		out_record_begin(o);
		out_str(o, "op", row->op);
		out_str(o, "memory", row->memory);
		out_u64(o, "bytes", bytes);
		out_u64(o, "iterations", n);
		out_double(o, "gib_per_s",
			   sum ? (double)bytes * n / (double)sum * 1e9 / (1 << 30) : 0, 3);
		out_double(o, "median_us", st[op].median / 1000.0, 1);
		out_double(o, "max_us", st[op].max / 1000.0, 1);
		if (row->baseline < 0 || st[row->baseline].median <= 0) {
			out_str(o, "baseline",
				row->baseline < 0 ? NULL : bench_rows[row->baseline].op);
			out_null(o, "ratio");
		} else {
			out_str(o, "baseline", bench_rows[row->baseline].op);
			out_double(o, "ratio",
				   (double)st[op].median / (double)st[row->baseline].median, 2);
		}
		out_record_end(o);
	}
	out_list_end(o);
}

static int cmd_bench(const char *dev, enum vfio_backend backend)
{
	struct bench_run r = { 0 };
	uint64_t size = 16 << 20;
	uint32_t iters = 10, i = 0;
	const char *path;
	struct err e = { 0 };
	int rc = 0;
	struct out *o;

	if (argv_len(opt_size) > 1)
		cli_die(EXIT_USAGE, "--size", "bench takes one size");
	if (opt_size)
		size = parse_size_or_die("--size", opt_size[0]);
	if (opt_iova)
		cli_die(EXIT_USAGE, "--iova", "bench allocates its IOVA");
	if (opt_iterations && (parse_u32(opt_iterations, &iters) || iters == 0 || iters > 1000000))
		cli_die(EXIT_USAGE, "--iterations", "'%s' is not a number from 1 to 1000000",
			opt_iterations);
	r.backing = backing_of(&path);
	r.cold = r.backing != DMA_BACKING_FILE;
	if (!r.cold)
		cli_warn("bench", "a file's pages cannot be discarded without losing its data: "
				  "warm memory only");
	r.d = open_dev(dev, backend);
	r.iommu = vfio_dev_iommu(r.d);
	warn_memlock(size);
	if (dma_mem_alloc(&r.mem, r.backing, size, path, &e) ||
	    dma_map_alloc(vfio_dma_registry(r.iommu), size, r.mem.page_bytes, dma_iova(UINT64_MAX),
			  &r.iova, &e)) {
		close_dev(r.d);
		cli_die(EXIT_FAIL, "bench", "%s", e.msg);
	}
	for (int op = 0; op < B_NOPS; op++)
		if (!(r.ns[op] = calloc(iters, sizeof(int64_t))))
			cli_die(EXIT_FAIL, NULL, "out of memory");
	memset(r.mem.hva, 1, size); /* warm: every page present before the first round */
	for (i = 0; i < iters && !rc; i++)
		rc = bench_round(&r, i, &e);
	if (rc) {
		cli_error("bench", "%s", e.msg);
	} else {
		o = cli_out(stdout);
		bench_print(o, &r, iters);
		cli_out_close(o);
	}
	close_dev(r.d); /* unmaps what a failed round left mapped */
	dma_mem_free(&r.mem);
	for (int op = 0; op < B_NOPS; op++)
		free(r.ns[op]);
	return rc ? EXIT_FAIL : EXIT_OK;
}

int main(int argc, const char **argv)
{
	poptContext pc = cli_parse(
		argc, argv, options,
		"info DEVICE | map DEVICE --size SIZE [--iova ADDR] [--backing B] "
		"[--prefault[=THREADS]] [--verify] [--hold | -- COMMAND...] | bench DEVICE "
		"[--size SIZE] [--backing B] [--prefault[=THREADS]] [--iterations N]");
	const char *cmd = poptGetArg(pc), *dev = poptGetArg(pc);
	const char **rest = poptGetArgs(pc);
	enum vfio_backend backend = VFIO_BACKEND_AUTO;
	int status;

	if (!cmd)
		cli_die(EXIT_USAGE, NULL, "a command is needed: info, map or bench (see --help)");
	if (strcmp(cmd, "info") && strcmp(cmd, "map") && strcmp(cmd, "bench"))
		cli_die(EXIT_USAGE, cmd, "unknown command (info, map or bench)");
	if (!dev)
		cli_die(EXIT_USAGE, cmd, "a DEVICE (PCI address) is needed");
	if (rest && strcmp(cmd, "map"))
		cli_die(EXIT_USAGE, rest[0], "unexpected argument");
	if (opt_backend && vfio_backend_parse(opt_backend, &backend))
		cli_die(EXIT_USAGE, "--backend", "'%s': auto, container or iommufd", opt_backend);
	if (strcmp(cmd, "map") && (opt_verify || opt_hold || opt_iova))
		cli_die(EXIT_USAGE, cmd, "--iova, --verify and --hold are for map");
	if (!strcmp(cmd, "info") && (opt_size || opt_backing || opt_iterations))
		cli_die(EXIT_USAGE, "info", "info takes no --size, --backing or --iterations");
	if (opt_prefault != prefault_unset) {
		uint32_t n = 0;

		if (!strcmp(cmd, "info"))
			cli_die(EXIT_USAGE, "info", "--prefault is for map and bench");
		if (!opt_prefault)
			n = prefault_default_threads();
		else if (parse_u32(opt_prefault, &n) || n < 1 || n > PREFAULT_MAX_THREADS)
			cli_die(EXIT_USAGE, "--prefault", "'%s' is not a number from 1 to %d",
				opt_prefault, PREFAULT_MAX_THREADS);
		prefault_threads = n;
	}
	if (!strcmp(cmd, "map") && opt_iterations)
		cli_die(EXIT_USAGE, "map", "--iterations is for bench");
	if (!strcmp(cmd, "info"))
		status = cmd_info(dev, backend);
	else if (!strcmp(cmd, "map"))
		status = cmd_map(dev, backend, (char **)rest);
	else
		status = cmd_bench(dev, backend);
	cli_done();
	return status;
}
