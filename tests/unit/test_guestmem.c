/* test_guestmem.c: guest memory regions: checked translation at the edges and at 2^64, files. */
#include "check.h"
#include "guestmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(add_rejects)
{
	static uint8_t a[4096], b[4096];
	struct guestmem gm;
	struct err e;

	guestmem_init(&gm);
	CHECK_EQ_I(guestmem_add(&gm, 0x1000, a, 0, &e), -EINVAL);
	CHECK_EQ_I(guestmem_add(&gm, UINT64_MAX - 10, a, 4096, &e), -EINVAL);
	CHECK_EQ_I(guestmem_add(&gm, 0x2000, a, 4096, &e), 0);
	CHECK_EQ_I(guestmem_add(&gm, 0x2fff, b, 1, &e), -EEXIST);
	CHECK_EQ_I(guestmem_add(&gm, 0x1001, b, 0x1000, &e), -EEXIST);
	CHECK_EQ_I(guestmem_add(&gm, 0x1000, b, 0x1000, &e), 0);	  /* adjacent: fine */
	CHECK_EQ_I(guestmem_add(&gm, UINT64_MAX - 4095, b, 4096, &e), 0); /* ends at 2^64 - 1 */
	CHECK_EQ_U(gm.nr_regions, 3);
	CHECK_EQ_U(gm.regions[0].gpa, 0x1000); /* kept sorted */
	CHECK_EQ_U(gm.regions[2].gpa, UINT64_MAX - 4095);
	guestmem_close(&gm);
}

/*
 * Translation: exhaustive over every (gpa, len) with gpa within 8 bytes of each region edge
 * (and of 0 and 2^64) and len in [0, 16] or near 2^64: the pointer is returned exactly when the
 * range lies in one region, and then it is the right one.
 */
TEST(translate_edges_exhaustive)
{
	static uint8_t lo[64], mid[64], hi[64];
	const struct {
		uint64_t gpa;
		uint8_t *hva;
	} reg[] = { { 0, lo }, { 0x1000, mid }, { UINT64_MAX - 63, hi } };
	const uint64_t lens[] = {
		0, 1, 2, 3, 7, 8, 15, 16, 63, 64, 65, UINT64_MAX / 2, UINT64_MAX - 1, UINT64_MAX
	};
	struct guestmem gm;

	guestmem_init(&gm);
	for (unsigned i = 0; i < 3; i++)
		REQUIRE(guestmem_add(&gm, reg[i].gpa, reg[i].hva, 64, NULL) == 0);
	REQUIRE(guestmem_add(&gm, 0x1040, hi, 0, NULL) == -EINVAL);
	for (unsigned i = 0; i < 3; i++) {
		for (int edge = 0; edge < 2; edge++) {
			uint64_t base = reg[i].gpa + (edge ? 64 : 0);

			for (int64_t dg = -8; dg <= 8; dg++) {
				uint64_t gpa = base + (uint64_t)dg;

				for (unsigned l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
					uint64_t len = lens[l];
					uint8_t *p = guestmem_ptr(&gm, gpa, len), *want = NULL;

					for (unsigned k = 0; k < 3; k++) {
						uint64_t off = gpa - reg[k].gpa;

						if (gpa >= reg[k].gpa && off < 64 &&
						    len <= 64 - off)
							want = reg[k].hva + off;
					}
					if (p != want) {
						CHECK_FAIL_AT("gpa 0x%" PRIx64 " len 0x%" PRIx64
							      ": %p, expected %p",
							      gpa, len, (void *)p, (void *)want);
						guestmem_close(&gm);
						return;
					}
				}
			}
		}
	}
	CHECK(guestmem_range_wraps(UINT64_MAX, 2));
	CHECK(!guestmem_range_wraps(UINT64_MAX, 1));
	CHECK(!guestmem_range_wraps(UINT64_MAX, 0));
	guestmem_close(&gm);
}

/* The three 64-byte regions of the near test, and the model: the one region holding gpa. */
static uint8_t near_lo[64], near_mid[64], near_hi[64];
static const struct {
	uint64_t gpa;
	uint8_t *hva;
} near_reg[] = { { 0, near_lo }, { 0x1000, near_mid }, { UINT64_MAX - 63, near_hi } };

static unsigned near_model_region(uint64_t gpa)
{
	for (unsigned k = 0; k < 3; k++)
		if (gpa >= near_reg[k].gpa && gpa - near_reg[k].gpa < 64)
			return k;
	return GUESTMEM_NO_REGION;
}

/*
 * guestmem_ptr_near: exhaustive as above, for every region asked first (the right one, another,
 * indices past the table): the pointer is the model's whatever region is asked. And
 * guestmem_region_of names the region holding each gpa, or none; after close, no region.
 */
TEST(translate_near_edges_exhaustive)
{
	const uint64_t lens[] = { 0, 1, 7, 8, 63, 64, 65, UINT64_MAX / 2, UINT64_MAX };
	const unsigned near[] = { 0, 1, 2, 3, GUESTMEM_NO_REGION, UINT32_MAX };
	const unsigned nlens = sizeof(lens) / sizeof(lens[0]),
		       nnear = sizeof(near) / sizeof(near[0]);
	struct guestmem gm;

	guestmem_init(&gm);
	for (unsigned i = 0; i < 3; i++)
		REQUIRE(guestmem_add(&gm, near_reg[i].gpa, near_reg[i].hva, 64, NULL) == 0);
	/* gpa within 8 bytes of each region edge, every len, every region asked */
	for (unsigned c = 0; c < 3 * 2 * 17 * nlens * nnear; c++) {
		unsigned i = c / (2 * 17 * nlens * nnear), edge = c / (17 * nlens * nnear) % 2;
		int64_t dg = (int64_t)(c / (nlens * nnear) % 17) - 8;
		uint64_t gpa = near_reg[i].gpa + (edge ? 64 : 0) + (uint64_t)dg;
		uint64_t len = lens[c / nnear % nlens];
		unsigned k = near_model_region(gpa), h = near[c % nnear];
		uint8_t *want = NULL, *p;

		if (k != GUESTMEM_NO_REGION && len <= 64 - (gpa - near_reg[k].gpa))
			want = near_reg[k].hva + (gpa - near_reg[k].gpa);
		p = guestmem_ptr_near(&gm, h, gpa, len);
		if (p != want || guestmem_region_of(&gm, gpa) != k) {
			CHECK_FAIL_AT("gpa 0x%" PRIx64 " len 0x%" PRIx64
				      " near %u: %p, expected %p;"
				      " region_of %u, expected %u",
				      gpa, len, h, (void *)p, (void *)want,
				      guestmem_region_of(&gm, gpa), k);
			break;
		}
	}
	guestmem_close(&gm);
	/* a closed set keeps its old entries, but none of them is a region any more */
	CHECK(guestmem_ptr_near(&gm, 1, 0x1000, 1) == NULL);
	CHECK_EQ_U(guestmem_region_of(&gm, 0x1000), GUESTMEM_NO_REGION);
}

/* Random ranges against a model (≥ 100,000 cases). */
TEST(prop_translate_random)
{
	struct prop_rng r = { prop_seed("prop_translate_random") };
	static uint8_t buf[8][256];
	uint64_t gpas[8];
	struct guestmem gm;

	guestmem_init(&gm);
	for (unsigned i = 0; i < 8; i++) {
		gpas[i] = i == 7 ? UINT64_MAX - 255 : 0x10000ull * i + (prop_next(&r) & 0xff00);
		REQUIRE(guestmem_add(&gm, gpas[i], buf[i], 256, NULL) == 0);
	}
	for (uint64_t c = 0, n = prop_cases(100000); c < n; c++) {
		unsigned k = (unsigned)prop_below(&r, 8);
		uint64_t gpa =
			prop_below(&r, 4) ? gpas[k] + prop_below(&r, 300) - 20 : prop_next(&r);
		uint64_t len = prop_below(&r, 4) ? prop_below(&r, 300) : prop_next(&r);
		uint8_t *want = NULL;

		for (unsigned i = 0; i < 8; i++)
			if (gpa >= gpas[i] && gpa - gpas[i] < 256 && len <= 256 - (gpa - gpas[i]))
				want = buf[i] + (gpa - gpas[i]);
		if (guestmem_ptr(&gm, gpa, len) != want) {
			CHECK_FAIL_AT("gpa 0x%" PRIx64 " len 0x%" PRIx64, gpa, len);
			break;
		}
	}
	guestmem_close(&gm);
}

TEST(files_and_layout)
{
	char path[] = "/tmp/test_guestmem.XXXXXX";
	int fd = mkstemp(path);
	uint8_t data[0x3000];
	struct guestmem gm;
	struct guestmem_layout layout[] = { { 0, 0x1000 }, { 0x100000, 0x2000 } };
	struct err e;
	uint16_t v;

	REQUIRE(fd >= 0);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i / 0x1000 + 1);
	REQUIRE(write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
	close(fd);

	guestmem_init(&gm);
	CHECK_EQ_I(guestmem_add_file(&gm, path, 0, 0x5000, 0, &e), 0);
	CHECK_EQ_U(gm.regions[0].size_bytes, 0x3000);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0x5000 + 0x2ffe, &v), 0);
	CHECK_EQ_U(v, 0x0303);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0x5000 + 0x2fff, &v), -EFAULT);
	CHECK_EQ_I(guestmem_add_file(&gm, path, 0x1000, 0x9000, 0x3000, &e), -EINVAL);
	CHECK_EQ_I(guestmem_add_file(&gm, "/nonexistent/x", 0, 0, 0, &e), -ENOENT);
	guestmem_close(&gm);

	/* back to back: the second region starts at file offset 0x1000, not at its gpa */
	guestmem_init(&gm);
	CHECK_EQ_I(guestmem_add_file_layout(&gm, path, layout, 2, &e), 0);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0x100000, &v), 0);
	CHECK_EQ_U(v, 0x0202);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0x101ffe, &v), 0);
	CHECK_EQ_U(v, 0x0303);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0x1000, &v), -EFAULT);
	guestmem_close(&gm);

	/* an unaligned file offset still maps (the head of the page is skipped) */
	guestmem_init(&gm);
	CHECK_EQ_I(guestmem_add_file(&gm, path, 0x1ffe, 0, 4, &e), 0);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0, &v), 0);
	CHECK_EQ_U(v, 0x0202);
	CHECK_EQ_I(guestmem_read_le16(&gm, 2, &v), 0);
	CHECK_EQ_U(v, 0x0303);
	guestmem_close(&gm);
	unlink(path);
}

TEST(process_memory)
{
	static uint8_t secret[64] = { 0x34, 0x12 };
	char path[64];
	struct guestmem gm;
	struct err e;
	uint16_t v = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)getpid());
	if (access(path, R_OK))
		SKIP("no readable /proc/PID/mem");
	guestmem_init(&gm);
	CHECK_EQ_I(guestmem_add_file(&gm, path, (uint64_t)(uintptr_t)secret, 0x7000, 64, &e), 0);
	CHECK_EQ_I(guestmem_read_le16(&gm, 0x7000, &v), 0);
	CHECK_EQ_U(v, 0x1234);
	guestmem_close(&gm);
}

/*
 * A 0-byte file given a size used to be mapped past its end (the size check was skipped for
 * size 0, meant for /proc/PID/mem): SIGBUS on the first read. A FIFO is refused, not waited on.
 */
TEST(empty_file_and_fifo)
{
	char path[] = "/tmp/test_guestmem.XXXXXX";
	char fifo[64];
	struct guestmem gm;
	struct err e = { 0 };
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	close(fd);
	guestmem_init(&gm);
	CHECK_EQ_I(guestmem_add_file(&gm, path, 0, 0, 0x10000, &e), -EINVAL);
	CHECK(strstr(e.msg, "past the end of the file (0x0 bytes)") != NULL);
	CHECK_EQ_I(guestmem_add_file(&gm, path, 0, 0, 0, &e), -EINVAL);
	CHECK_EQ_U(gm.nr_regions, 0);
	unlink(path);
	snprintf(fifo, sizeof(fifo), "%s.fifo", path);
	REQUIRE(mkfifo(fifo, 0600) == 0);
	alarm(10); /* a hang ends the binary: a failure */
	CHECK_EQ_I(guestmem_add_file(&gm, fifo, 0, 0, 0x1000, &e), -EINVAL);
	CHECK(strstr(e.msg, "a FIFO, not a regular file") != NULL);
	alarm(0);
	unlink(fifo);
	guestmem_close(&gm);
}

int main(void)
{
	RUN(add_rejects);
	RUN(translate_edges_exhaustive);
	RUN(translate_near_edges_exhaustive);
	RUN(prop_translate_random);
	RUN(files_and_layout);
	RUN(process_memory);
	RUN(empty_file_and_fifo);
	return CHECK_MAIN_END();
}
