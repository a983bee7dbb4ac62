/* test_parse.c: the number and size parsers and the size formatter (libcore/parse.c). */
#include "check.h"
#include "parse.h"

#include <errno.h>
#include <inttypes.h>

TEST(parse_u64_forms)
{
	uint64_t v = 0;

	CHECK_EQ_I(parse_u64("0", &v), 0);
	CHECK_EQ_U(v, 0);
	CHECK_EQ_I(parse_u64("4096", &v), 0);
	CHECK_EQ_U(v, 4096);
	CHECK_EQ_I(parse_u64("0x1000", &v), 0);
	CHECK_EQ_U(v, 0x1000);
	CHECK_EQ_I(parse_u64("0XfFfF", &v), 0);
	CHECK_EQ_U(v, 0xffff);
	CHECK_EQ_I(parse_u64("18446744073709551615", &v), 0);
	CHECK_EQ_U(v, UINT64_MAX);
	CHECK_EQ_I(parse_u64("0xffffffffffffffff", &v), 0);
	CHECK_EQ_U(v, UINT64_MAX);
}

TEST(parse_u64_rejects)
{
	static const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x", "1k", "12abc", "0x1g", "abc"
	};
	uint64_t v = 77;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_I(parse_u64(bad[i], &v), -EINVAL);
		CHECK_EQ_U(v, 77);
	}
	CHECK_EQ_I(parse_u64(NULL, &v), -EINVAL);
	CHECK_EQ_I(parse_u64("18446744073709551616", &v), -ERANGE);
	CHECK_EQ_I(parse_u64("0x10000000000000000", &v), -ERANGE);
}

TEST(parse_u32_range)
{
	uint32_t v;

	CHECK_EQ_I(parse_u32("4294967295", &v), 0);
	CHECK_EQ_U(v, UINT32_MAX);
	CHECK_EQ_I(parse_u32("4294967296", &v), -ERANGE);
}

TEST(parse_size_suffixes)
{
	uint64_t v;

	CHECK_EQ_I(parse_size("2M", &v), 0);
	CHECK_EQ_U(v, 2ull << 20);
	CHECK_EQ_I(parse_size("1G", &v), 0);
	CHECK_EQ_U(v, 1ull << 30);
	CHECK_EQ_I(parse_size("1g", &v), 0);
	CHECK_EQ_U(v, 1ull << 30);
	CHECK_EQ_I(parse_size("4KiB", &v), 0);
	CHECK_EQ_U(v, 4096);
	CHECK_EQ_I(parse_size("3TB", &v), 0);
	CHECK_EQ_U(v, 3ull << 40);
	CHECK_EQ_I(parse_size("0x1000", &v), 0);
	CHECK_EQ_U(v, 4096);
	CHECK_EQ_I(parse_size("16E", &v), -ERANGE);
	CHECK_EQ_I(parse_size("15E", &v), 0);
	CHECK_EQ_U(v, 15ull << 60);
	CHECK_EQ_I(parse_size("2X", &v), -EINVAL);
	CHECK_EQ_I(parse_size("2Mb", &v), -EINVAL);
	CHECK_EQ_I(parse_size("M", &v), -EINVAL);
}

TEST(format_size_roundtrip)
{
	char buf[32];
	uint64_t v;

	CHECK_STR(format_size(4096, buf, sizeof(buf)), "4K");
	CHECK_STR(format_size(2ull << 20, buf, sizeof(buf)), "2M");
	CHECK_STR(format_size(1000, buf, sizeof(buf)), "1000");
	CHECK_STR(format_size(0, buf, sizeof(buf)), "0");
	/* Property: every value formats to a string that parses back to it. */
	struct prop_rng r = { prop_seed("format_size_roundtrip") };
	for (uint64_t i = 0; i < prop_cases(100000); i++) {
		uint64_t x = prop_next(&r) >> prop_below(&r, 64);

		if (prop_below(&r, 2))
			x <<= 10 * prop_below(&r, 5);
		format_size(x, buf, sizeof(buf));
		if (parse_size(buf, &v) != 0 || v != x) {
			CHECK_FAIL_AT("0x%" PRIx64 " formatted as %s", x, buf);
			return;
		}
	}
}

int main(void)
{
	RUN(parse_u64_forms);
	RUN(parse_u64_rejects);
	RUN(parse_u32_range);
	RUN(parse_size_suffixes);
	RUN(format_size_roundtrip);
	return CHECK_MAIN_END();
}
