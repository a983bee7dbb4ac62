/* clock.h: the monotonic clock in the units callers count in, and order statistics of samples. */
#ifndef CORE_CLOCK_H
#define CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC, for deadlines and latencies (never for wall-clock time). */
int64_t clock_now_ns(void);
int64_t clock_now_ms(void);
double clock_now_s(void);

struct stats_i64 {
	int64_t median; /* v[n / 2] once sorted: the upper median when n is even */
	int64_t max;
};

/* Sorts v[0..n) in place (n > 0) and returns its median and maximum. */
struct stats_i64 stats_summary_i64(int64_t *v, size_t n);

#endif
