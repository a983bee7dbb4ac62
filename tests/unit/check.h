/* check.h: the unit-test harness: assertions that print the expression, values and errno. */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each test binary defines tests with TEST(name) and lists them in main() with RUN(name).
 * Output is TAP-like, one line per test ("ok N name" / "not ok N name"), summarised by the
 * runner. A test that cannot run calls SKIP("why").
 */
extern int check_failed_in_test;
extern int check_skipped_in_test;
extern int check_n, check_pass, check_fail, check_skip;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                                  \
	do {                                                                                       \
		check_failed_in_test = 0;                                                          \
		check_skipped_in_test = 0;                                                         \
		test_##name();                                                                     \
		check_n++;                                                                         \
		if (check_skipped_in_test) {                                                       \
			check_skip++;                                                              \
			printf("ok %d %s # skip\n", check_n, #name);                               \
		} else if (check_failed_in_test) {                                                 \
			check_fail++;                                                              \
			printf("not ok %d %s\n", check_n, #name);                                  \
		} else {                                                                           \
			check_pass++;                                                              \
			printf("ok %d %s\n", check_n, #name);                                      \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

#define CHECK_MAIN_END() (printf("1..%d\n", check_n), check_fail ? 1 : 0)

#define CHECK_FAIL_AT(...)                                                                         \
	do {                                                                                       \
		printf("# %s:%d: ", __FILE__, __LINE__);                                           \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		check_failed_in_test = 1;                                                          \
	} while (0)

/* Continue after a failed CHECK; return from the test after a failed REQUIRE. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			CHECK_FAIL_AT("CHECK(%s) failed (errno %d: %s)", #cond, errno,             \
				      strerror(errno));                                            \
	} while (0)

#define CHECK_EQ_U(a, b)                                                                           \
	do {                                                                                       \
		uint64_t va_ = (uint64_t)(a), vb_ = (uint64_t)(b);                                 \
		if (va_ != vb_)                                                                    \
			CHECK_FAIL_AT("%s == %s failed: 0x%" PRIx64 " != 0x%" PRIx64, #a, #b, va_, \
				      vb_);                                                        \
	} while (0)

#define CHECK_EQ_I(a, b)                                                                           \
	do {                                                                                       \
		int64_t va_ = (int64_t)(a), vb_ = (int64_t)(b);                                    \
		if (va_ != vb_)                                                                    \
			CHECK_FAIL_AT("%s == %s failed: %" PRId64 " != %" PRId64, #a, #b, va_,     \
				      vb_);                                                        \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *sa_ = (a), *sb_ = (b);                                                 \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                                         \
			CHECK_FAIL_AT("%s == %s failed: \"%s\" != \"%s\"", #a, #b,                 \
				      sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                 \
	} while (0)

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			CHECK_FAIL_AT("REQUIRE(%s) failed (errno %d: %s)", #cond, errno,           \
				      strerror(errno));                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define SKIP(why)                                                                                  \
	do {                                                                                       \
		printf("# skip: %s\n", why);                                                       \
		check_skipped_in_test = 1;                                                         \
		return;                                                                            \
	} while (0)

#define CHECK_GLOBALS                                                                              \
	int check_failed_in_test, check_skipped_in_test;                                           \
	int check_n, check_pass, check_fail, check_skip

/*
 * Property tests: a seeded generator (splitmix64) so that every run prints a seed and any
 * failure replays with PROPTEST_SEED=... ; PROPTEST_CASES overrides the number of cases.
 */
struct prop_rng {
	uint64_t s;
};

static inline uint64_t prop_next(struct prop_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0); the tiny modulo bias does not matter for tests. */
static inline uint64_t prop_below(struct prop_rng *r, uint64_t n)
{
	return n ? prop_next(r) % n : 0;
}

static inline uint64_t prop_seed(const char *test)
{
	const char *s = getenv("PROPTEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0;

	if (!s) {
		FILE *f = fopen("/dev/urandom", "r");

		if (!f || fread(&seed, sizeof(seed), 1, f) != 1)
			seed = 0x5eed;
		if (f)
			fclose(f);
	}
	printf("# %s: PROPTEST_SEED=0x%016" PRIx64 "\n", test, seed);
	fflush(stdout); /* a sanitizer abort must not take the seed with it */
	return seed;
}

static inline uint64_t prop_cases(uint64_t dflt)
{
	const char *s = getenv("PROPTEST_CASES");

	return s ? strtoull(s, NULL, 0) : dflt;
}

#endif
