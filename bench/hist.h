/*  hist.h - a log-linear latency histogram (HdrHistogram's idea), for actorcore-bench.

    Values are nanoseconds. Below 2048 ns every value has its own bucket; above, each
    power-of-two range [2^k, 2^(k+1)) is cut into 1024 equal sub-buckets, so a recorded
    value is known to within 1/1024 of itself (better than 3 significant digits) from
    1 ns up to BH_MAX_NS (60 s). Recording is one clz, a shift and an increment, with no
    allocation; histograms of threads or runs merge by adding counts. A value above
    BH_MAX_NS is counted at BH_MAX_NS and in `saturated`, never dropped. Quantiles
    report the highest value equivalent to the bucket they fall in (as HdrHistogram
    does), never more than the largest value recorded.
*/
#ifndef AC_BENCH_HIST_H
#define AC_BENCH_HIST_H

#include <stdint.h>

#define BH_SUB_BITS 10               /* 1024 sub-buckets per power of two */
#define BH_MAX_NS 60000000000ull     /* 60 s */
#define BH_COUNTS (26 * 1024 + 2048) /* indexes up to BH_MAX_NS (2^36 > 60 s) */

typedef struct {
    uint64_t counts[BH_COUNTS]; /* per bucket */
    uint64_t total;             /* values recorded */
    uint64_t min;               /* smallest value recorded (UINT64_MAX when empty) */
    uint64_t max;               /* largest (after clamping to BH_MAX_NS) */
    uint64_t saturated;         /* values above BH_MAX_NS, counted at BH_MAX_NS */
    double sum;                 /* of the values, for the mean */
} bh_hist_t;

/* Empties h. */
void bh_reset(bh_hist_t *h);
/* Counts one value of ns nanoseconds. */
void bh_record(bh_hist_t *h, uint64_t ns);
/* Adds every count of from into into. */
void bh_merge(bh_hist_t *into, const bh_hist_t *from);
/* The value below which q (0..1] of the recorded values fall, in ns; 0 when empty. */
uint64_t bh_quantile(const bh_hist_t *h, double q);
/* The mean in ns; 0 when empty. */
double bh_mean(const bh_hist_t *h);
/* The bucket a value falls in, and the lowest and highest value of a bucket (for tests and
   for printing buckets). */
int bh_index(uint64_t ns);
uint64_t bh_lowest(int index);
uint64_t bh_highest(int index);

#endif
