/*  test_bench_hist - the latency histogram of actorcore-bench (bench/hist.c): exact below
    2048 ns, within 1/1024 of the value (3 significant digits) up to 60 s, quantiles by
    rank, saturation counted, merging equal to recording into one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

static bh_hist_t *fresh(void)
{
    bh_hist_t *h = malloc(sizeof *h);
    assert_non_null(h);
    bh_reset(h);
    return h;
}

static void an_empty_histogram_reports_zero(void **state)
{
    (void)state;
    bh_hist_t *h = fresh();
    assert_int_equal(bh_quantile(h, 0.5), 0);
    assert_int_equal(bh_quantile(h, 1.0), 0);
    assert_true(bh_mean(h) == 0);
    assert_int_equal(h->total, 0);
    free(h);
}

static void values_below_2048_ns_are_exact(void **state)
{
    (void)state;
    bh_hist_t *h = fresh();
    for (uint64_t v = 1; v < 2048; v++)
        bh_record(h, v);
    for (uint64_t k = 1; k < 2048; k++)
        assert_int_equal(bh_quantile(h, (double)k / 2047.0), k);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 2047);
    free(h);
}

static void every_bucket_is_contiguous_and_within_1_in_1024_up_to_60_s(void **state)
{
    (void)state;
    int last = bh_index(BH_MAX_NS);
    assert_true(last < BH_COUNTS);
    for (int i = 0; i < last; i++) {
        assert_int_equal(bh_index(bh_lowest(i)), i);
        assert_int_equal(bh_index(bh_highest(i)), i);
        assert_int_equal(bh_lowest(i + 1), bh_highest(i) + 1);
        uint64_t width = bh_highest(i) - bh_lowest(i) + 1;
        /* The bucket's width over its lowest value: at most 1/1024. */
        assert_true(width == 1 || (double)width / (double)bh_lowest(i) <= 1.0 / 1024.0);
    }
    /* 1 us and 60 s themselves. */
    assert_int_equal(bh_lowest(bh_index(1000)), 1000);
    assert_true(bh_highest(last) >= BH_MAX_NS);
}

static void quantiles_of_a_known_spread_have_3_significant_digits(void **state)
{
    (void)state;
    bh_hist_t *h = fresh();
    /* 1 us .. 100 ms in steps of 1 us: the q-quantile is q * 100 ms. */
    for (uint64_t us = 1; us <= 100000; us++)
        bh_record(h, us * 1000);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        double want = qs[i] * 100000.0 * 1000.0;
        double got = (double)bh_quantile(h, qs[i]);
        assert_true(got >= want * (1 - 1.0 / 1024) && got <= want * (1 + 1.0 / 1024));
    }
    assert_int_equal(bh_quantile(h, 1.0), 100000000);
    assert_int_equal(h->min, 1000);
    double mean = bh_mean(h);
    assert_true(mean > 50000.4e3 && mean < 50000.6e3);
    free(h);
}

static void a_quantile_never_exceeds_the_largest_value(void **state)
{
    (void)state;
    bh_hist_t *h = fresh();
    bh_record(h, 1234567); /* inside a bucket 1024 ns wide */
    assert_int_equal(bh_quantile(h, 0.5), 1234567);
    assert_int_equal(bh_quantile(h, 0.999), 1234567);
    free(h);
}

static void values_past_60_s_are_counted_at_60_s(void **state)
{
    (void)state;
    bh_hist_t *h = fresh();
    bh_record(h, 5000);
    bh_record(h, 120000000000ull);
    assert_int_equal(h->total, 2);
    assert_int_equal(h->saturated, 1);
    assert_int_equal(h->max, BH_MAX_NS);
    assert_int_equal(bh_quantile(h, 1.0), BH_MAX_NS);
    free(h);
}

static void merging_equals_recording_into_one(void **state)
{
    (void)state;
    bh_hist_t *a = fresh(), *b = fresh(), *all = fresh();
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t v = 1000 + x % 50000000;
        bh_record(i % 2 ? a : b, v);
        bh_record(all, v);
    }
    bh_merge(a, b);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    for (double q = 0.01; q < 1; q += 0.01)
        assert_int_equal(bh_quantile(a, q), bh_quantile(all, q));
    free(a);
    free(b);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_empty_histogram_reports_zero),
        cmocka_unit_test(values_below_2048_ns_are_exact),
        cmocka_unit_test(every_bucket_is_contiguous_and_within_1_in_1024_up_to_60_s),
        cmocka_unit_test(quantiles_of_a_known_spread_have_3_significant_digits),
        cmocka_unit_test(a_quantile_never_exceeds_the_largest_value),
        cmocka_unit_test(values_past_60_s_are_counted_at_60_s),
        cmocka_unit_test(merging_equals_recording_into_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
