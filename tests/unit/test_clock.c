/* test_clock.c: the monotonic clock helpers and the median/maximum of timing samples. */
#include "check.h"
#include "clock.h"

TEST(clock_units_agree)
{
	int64_t ns = clock_now_ns(), ms = clock_now_ms(), ns2 = clock_now_ns();
	double s = clock_now_s();

	CHECK(ns > 0);
	CHECK(ns2 >= ns);
	CHECK(ms >= ns / 1000000 && ms <= ns2 / 1000000);
	CHECK(s * 1e9 >= (double)ns2 - 1e3);
}

TEST(summary_sorts_and_picks)
{
	int64_t one[] = { 7 };
	int64_t odd[] = { 5, -3, 9, 1, 1 };
	int64_t even[] = { 40, 10, 30, 20 };
	int64_t big[] = { INT64_MAX, INT64_MIN, 0 };
	struct stats_i64 st;

	st = stats_summary_i64(one, 1);
	CHECK_EQ_I(st.median, 7);
	CHECK_EQ_I(st.max, 7);
	st = stats_summary_i64(odd, 5);
	CHECK_EQ_I(st.median, 1);
	CHECK_EQ_I(st.max, 9);
	CHECK_EQ_I(odd[0], -3);
	CHECK_EQ_I(odd[4], 9);
	st = stats_summary_i64(even, 4);
	CHECK_EQ_I(st.median, 30); /* v[n / 2]: the upper median */
	CHECK_EQ_I(st.max, 40);
	st = stats_summary_i64(big, 3);
	CHECK_EQ_I(st.median, 0);
	CHECK_EQ_I(st.max, INT64_MAX);
	CHECK_EQ_I(big[0], INT64_MIN);
}

int main(void)
{
	RUN(clock_units_agree);
	RUN(summary_sorts_and_picks);
	return CHECK_MAIN_END();
}
