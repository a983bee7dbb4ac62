/*
 * hostmem.h: the host kernel's own word on memory, for tests and benches (never libcore's): the
 * transparent huge pages of a mapping by /proc/self/smaps, and the pool of 2M hugetlb pages by
 * sysfs, reserved for a test and given back.
 */
#ifndef TESTS_HOSTMEM_H
#define TESTS_HOSTMEM_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HOSTMEM_HP2M "/sys/kernel/mm/hugepages/hugepages-2048kB/"

/* smaps' AnonHugePages of the mapping that starts at p, in bytes (UINT64_MAX: not found). */
static inline uint64_t smaps_anon_huge_bytes(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;
	uint64_t kb = UINT64_MAX;

	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, v;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = start == (uintptr_t)p;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &v) == 1)
			kb = v;
	}
	fclose(f);
	return kb == UINT64_MAX ? kb : kb << 10;
}

/* A count of the 2M pool ("nr_hugepages", "free_hugepages"); 0 or -1. */
static inline int hugepages_2m_get(const char *attr, uint64_t *v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), HOSTMEM_HP2M "%s", attr);
	f = fopen(path, "re");
	ok = f && fscanf(f, "%" SCNu64, v) == 1;
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static inline int hugepages_2m_set_total(uint64_t n)
{
	FILE *f = fopen(HOSTMEM_HP2M "nr_hugepages", "we");
	int ok = f && fprintf(f, "%" PRIu64 "\n", n) > 0;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

/*
 * At least want free 2M pages, reserving the missing ones as root: NULL, or why not. *total0 is
 * the pool's size before and *raised whether it grew: hugepages_2m_release gives them back.
 */
static inline const char *hugepages_2m_reserve(uint64_t want, uint64_t *total0, bool *raised)
{
	uint64_t nfree = 0;

	*raised = false;
	if (hugepages_2m_get("nr_hugepages", total0) || hugepages_2m_get("free_hugepages", &nfree))
		return "this kernel has no 2M huge pages (" HOSTMEM_HP2M ")";
	if (nfree >= want)
		return NULL;
	if (geteuid() != 0)
		return "too few free 2M huge pages, and not root to reserve them";
	*raised = hugepages_2m_set_total(*total0 + want - nfree) == 0;
	if (hugepages_2m_get("free_hugepages", &nfree) || nfree < want)
		return "the kernel could not reserve enough free 2M huge pages (memory fragmented)";
	return NULL;
}

static inline int hugepages_2m_release(uint64_t total0, bool raised)
{
	return raised ? hugepages_2m_set_total(total0) : 0;
}

#endif
