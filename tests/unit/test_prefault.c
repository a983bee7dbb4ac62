/* test_prefault.c: threaded prefault: slices on page boundaries, every page resident afterwards
 * (the kernel's /proc/self/pagemap and smaps say so), errors returned with every thread joined. */
#include "check.h"
#include "hostmem.h"
#include "prefault.h"
#include "vmconfig.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE	4096ULL
#define HUGE_2M (2ULL << 20)

/* pagemap (Documentation/admin-guide/mm/pagemap.rst): bit 63 present, bit 56 exclusively
 * mapped: a page of our own, not the shared zero page a read fault maps. */
#define PM_PRESENT   (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)

/* How many 4K pages of [p, p + size) are present and our own, by the kernel's page tables. */
static uint64_t pages_written(const void *p, uint64_t size)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t n = 0, first = (uintptr_t)p / PAGE, last = ((uintptr_t)p + size - 1) / PAGE;

	if (fd < 0)
		return UINT64_MAX;
	for (uint64_t pg = first; pg <= last; pg++) {
		uint64_t ent = 0;

		if (pread(fd, &ent, sizeof(ent), (off_t)(pg * 8)) != sizeof(ent))
			break;
		n += (ent & PM_PRESENT) && (ent & PM_EXCLUSIVE);
	}
	close(fd);
	return n;
}

static uint64_t pages_in(const void *p, uint64_t size)
{
	return ((uintptr_t)p + size - 1) / PAGE - (uintptr_t)p / PAGE + 1;
}

static unsigned nr_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2; /* . and .. */
}

/* An anonymous mapping aligned to align (a power of two), of size bytes. */
static uint8_t *map_aligned(uint64_t size, uint64_t align)
{
	uint8_t *raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	munmap(p + size, (size_t)(raw + size + align - (p + size)));
	return p;
}

/* The slices tile the pages of the range exactly, in order, split only on page_bytes
 * boundaries, at most threads of them and exactly threads when each share holds a page. */
TEST(slices_property)
{
	struct prop_rng r = { prop_seed("slices_property") };
	static const uint64_t pages[] = { 0, PAGE, 64 << 10, HUGE_2M, 1ULL << 30 };
	uint64_t cases = prop_cases(20000);

	for (uint64_t c = 0; c < cases && !check_failed_in_test; c++) {
		uint64_t page = pages[prop_below(&r, 5)], gran = page > PAGE ? page : PAGE;
		uintptr_t hva = (uintptr_t)(prop_below(&r, 1ULL << 46));
		uint64_t size = 1 + prop_below(&r, prop_below(&r, 2) ? 1ULL << 36 : 1ULL << 24);
		unsigned threads = 1 + (unsigned)prop_below(&r, PREFAULT_MAX_THREADS);
		struct prefault_slice s[PREFAULT_MAX_THREADS];
		uintptr_t lo = hva & ~(uintptr_t)(PAGE - 1);
		uintptr_t hi = (hva + size + PAGE - 1) & ~(uintptr_t)(PAGE - 1), at = lo;
		unsigned n = prefault_slices((void *)hva, size, page, threads, s);

		REQUIRE(n >= 1 && n <= threads);
		for (unsigned i = 0; i < n; i++) {
			CHECK_EQ_U((uintptr_t)s[i].start, at);
			CHECK(s[i].size_bytes > 0);
			at += s[i].size_bytes;
			if (i + 1 < n && at % gran)
				CHECK_FAIL_AT("case %" PRIu64 ": slice %u ends at 0x%lx, not on a "
					      "0x%" PRIx64 " boundary",
					      c, i, (unsigned long)at, gran);
			/* near-equal: no slice longer than its share plus a page */
			if (s[i].size_bytes > (hi - lo) / threads + 2 * gran)
				CHECK_FAIL_AT("case %" PRIu64 ": slice %u of 0x%" PRIx64
					      " bytes, the share is 0x%" PRIx64,
					      c, i, s[i].size_bytes, (uint64_t)(hi - lo) / threads);
		}
		CHECK_EQ_U(at, hi);
		if ((hi - lo) / threads >= 2 * gran)
			CHECK_EQ_U(n, threads);
	}
	CHECK_EQ_U(prefault_slices((void *)0x1000, 0, 0, 4, NULL), 0);
}

/* An odd size at an odd offset, 37 pages over 4 threads: every page it touches is written in,
 * the pages either side are not, and what was there is kept. */
static void odd_range(enum prefault_how how, unsigned threads)
{
	uint64_t map_bytes = 40 * PAGE, size = 37 * PAGE - 100;
	uint8_t *m = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			  0),
		*p;
	struct err e = { 0 };

	REQUIRE(m != MAP_FAILED);
	p = m + PAGE + 5; /* pages 1 to 37 */
	p[PAGE * 3] = 0x5a;
	CHECK_EQ_U(pages_written(m, map_bytes), 1);
	CHECK_EQ_I(prefault_range(p, size, 0, threads, how, &e), 0);
	CHECK_EQ_U(pages_written(p, size), pages_in(p, size));
	CHECK_EQ_U(pages_in(p, size), 37);
	CHECK_EQ_U(pages_written(m, PAGE), 0);
	CHECK_EQ_U(pages_written(m + 38 * PAGE, 2 * PAGE), 0);
	CHECK_EQ_U(p[PAGE * 3], 0x5a);
	munmap(m, map_bytes);
}

TEST(anon_4k_populate)
{
	if (!prefault_populate_supported())
		SKIP("this kernel has no MADV_POPULATE_WRITE (Linux 5.14)");
	odd_range(PREFAULT_POPULATE, 4);
	odd_range(PREFAULT_POPULATE, 1);
	odd_range(PREFAULT_POPULATE, 64); /* more threads than pages */
}

TEST(anon_4k_touch)
{
	odd_range(PREFAULT_TOUCH, 4);
	odd_range(PREFAULT_TOUCH, 3);
}

/* THP: a threaded populate keeps every huge page whole (smaps), as one thread does. */
TEST(thp_stays_huge)
{
	uint64_t size = 10 * HUGE_2M;
	struct err e = { 0 };
	uint8_t *one, *many;

	if (!prefault_populate_supported())
		SKIP("this kernel has no MADV_POPULATE_WRITE (Linux 5.14)");
	one = map_aligned(size, HUGE_2M);
	many = map_aligned(size, HUGE_2M);
	REQUIRE(one && many);
	if (madvise(one, size, MADV_HUGEPAGE) || madvise(many, size, MADV_HUGEPAGE)) {
		munmap(one, size);
		munmap(many, size);
		SKIP("madvise(MADV_HUGEPAGE) refused: no transparent huge pages here");
	}
	REQUIRE(prefault_range(one, size, HUGE_2M, 1, PREFAULT_POPULATE, &e) == 0);
	if (smaps_anon_huge_bytes(one) != size) {
		printf("# one thread got %" PRIu64 " of %" PRIu64 " bytes in huge pages\n",
		       smaps_anon_huge_bytes(one), size);
		munmap(one, size);
		munmap(many, size);
		SKIP("the kernel gives no huge pages to one thread either (THP never, or fragmented)");
	}
	CHECK_EQ_I(prefault_range(many, size, HUGE_2M, 3, PREFAULT_POPULATE, &e), 0);
	CHECK_EQ_U(smaps_anon_huge_bytes(many), size);
	CHECK_EQ_U(pages_written(many, size), size / PAGE);
	munmap(one, size);
	munmap(many, size);
}

/* hugetlb 2M: 8 pages over 3 threads, each page taken from the pool (its free count says so). */
TEST(hugetlb_2m)
{
	uint64_t want = 8, size = want * HUGE_2M, nr0 = 0, free0 = 0, free1 = 0;
	const char *why;
	bool raised = false;
	struct err e = { 0 };
	uint8_t *p;

	if (!prefault_populate_supported())
		SKIP("this kernel has no MADV_POPULATE_WRITE (Linux 5.14)");
	why = hugepages_2m_reserve(want, &nr0, &raised);
	if (why) {
		hugepages_2m_release(nr0, raised);
		SKIP(why);
	}
	REQUIRE(hugepages_2m_get("free_hugepages", &free0) == 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
		 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED) {
		CHECK_EQ_I(prefault_range(p, size, HUGE_2M, 3, PREFAULT_POPULATE, &e), 0);
		CHECK(hugepages_2m_get("free_hugepages", &free1) == 0);
		CHECK_EQ_U(free0 - free1, want);
		CHECK_EQ_U(pages_written(p, size), size / PAGE);
		munmap(p, size);
	}
	CHECK(hugepages_2m_release(nr0, raised) == 0);
}

/*
 * A failing slice: the first page read-only (the kernel refuses to populate it), 64 MiB over 4
 * threads. The error comes back, and by then the other threads have finished their slices (every
 * page after the first is in) and are gone (the process has the tasks it had before).
 */
static void failing_first_slice(enum prefault_how how)
{
	uint64_t size = 64ULL << 20;
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned tasks = nr_tasks();
	struct err e = { 0 };

	REQUIRE(p != MAP_FAILED);
	REQUIRE(mprotect(p, PAGE, PROT_READ) == 0);
	CHECK_EQ_I(prefault_range(p, size, 0, 4, how, &e), -EINVAL);
	CHECK(strstr(e.msg, "prefault") != NULL);
	CHECK_EQ_U(nr_tasks(), tasks);
	if (how == PREFAULT_POPULATE)
		CHECK_EQ_U(pages_written(p + size / 4, size * 3 / 4), size * 3 / 4 / PAGE);
	else
		CHECK_EQ_U(pages_written(p, size), 0); /* checked first: nothing touched */
	printf("# %s\n", e.msg);
	munmap(p, size);
}

TEST(read_only_fails_joined)
{
	if (prefault_populate_supported())
		failing_first_slice(PREFAULT_POPULATE);
	else
		printf("# no MADV_POPULATE_WRITE here: the touching fallback only\n");
	failing_first_slice(PREFAULT_TOUCH);
}

/* A range past its mapping's end: -ENOMEM (madvise's word for unmapped), from both ways. */
TEST(past_the_mapping_fails)
{
	uint8_t *p =
		mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned tasks = nr_tasks();
	struct err e = { 0 };

	REQUIRE(p != MAP_FAILED);
	REQUIRE(munmap(p + 8 * PAGE, 8 * PAGE) == 0);
	if (prefault_populate_supported()) {
		CHECK_EQ_I(prefault_range(p, 16 * PAGE, 0, 4, PREFAULT_POPULATE, &e), -ENOMEM);
		CHECK_EQ_U(nr_tasks(), tasks);
		CHECK_EQ_U(pages_written(p, 8 * PAGE), 8); /* the slices before the hole */
		munmap(p, 8 * PAGE);
		p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			 0);
		REQUIRE(p != MAP_FAILED);
		REQUIRE(munmap(p + 8 * PAGE, 8 * PAGE) == 0);
	}
	CHECK_EQ_I(prefault_range(p, 16 * PAGE, 0, 4, PREFAULT_TOUCH, &e), -ENOMEM);
	CHECK_EQ_U(pages_written(p, 8 * PAGE), 0);
	CHECK_EQ_U(nr_tasks(), tasks);
	munmap(p, 8 * PAGE);
}

TEST(bad_arguments)
{
	uint8_t buf[64];
	struct err e = { 0 };

	CHECK_EQ_I(prefault_range(buf, sizeof(buf), 0, PREFAULT_MAX_THREADS + 1, PREFAULT_AUTO, &e),
		   -EINVAL);
	CHECK_EQ_I(prefault_range(buf, sizeof(buf), 3 * PAGE, 1, PREFAULT_AUTO, &e), -EINVAL);
	CHECK_EQ_I(prefault_range((void *)(UINTPTR_MAX - 100), 4096, 0, 1, PREFAULT_AUTO, &e),
		   -EINVAL);
	CHECK_EQ_I(prefault_range(buf, 0, 0, 4, PREFAULT_AUTO, &e), 0);
	CHECK(prefault_default_threads() >= 1);
	CHECK(prefault_default_threads() <= PREFAULT_DEFAULT_THREADS);
	CHECK(prefault_default_threads() <= (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
}

/* mvm-run's choice: prefault by default only with passthrough; --prefault=N always, 0 never. */
TEST(vmconfig_prefault_choice)
{
	struct vmconfig c;

	vmconfig_init(&c);
	CHECK_EQ_U(vmconfig_prefault_threads(&c), 0);
	c.nr_vfio = 1;
	CHECK_EQ_U(vmconfig_prefault_threads(&c), prefault_default_threads());
	c.prefault_threads = VMCONFIG_PREFAULT_OFF;
	CHECK_EQ_U(vmconfig_prefault_threads(&c), 0);
	c.prefault_threads = 5;
	CHECK_EQ_U(vmconfig_prefault_threads(&c), 5);
	c.nr_vfio = 0;
	CHECK_EQ_U(vmconfig_prefault_threads(&c), 5);
}

int main(void)
{
	RUN(slices_property);
	RUN(anon_4k_populate);
	RUN(anon_4k_touch);
	RUN(thp_stays_huge);
	RUN(hugetlb_2m);
	RUN(read_only_fails_joined);
	RUN(past_the_mapping_fails);
	RUN(bad_arguments);
	RUN(vmconfig_prefault_choice);
	return CHECK_MAIN_END();
}
