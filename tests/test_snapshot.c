/*  test_snapshot.c - the snapshot block (snapshot.c, layout in snapshot_impl.h): distinct
    (Min, Max) pairs stored once, indices of one or two bytes, and the checks that refuse
    a block of another layout or with an index out of range. */
#include "fixture.h"
#include "core/snapshot_impl.h"

#include <math.h>

/* A fixture over n pipeline dimensions d000.. with clamp [-10, 1e6]. */
static fx_t *fx_dims(int n, char **combiner_out)
{
    size_t cap = 128 + (size_t)n * 96, len = 0;
    char *combiner = malloc(cap);
    len += (size_t)snprintf(combiner + len, cap - len, "dimensions:\n");
    for (int d = 0; d < n; d++)
        len += (size_t)snprintf(
            combiner + len, cap - len,
            "  d%03d: { use_pipeline: true, clamp_default: { min: -10, max: 1000000 } }\n", d);
    *combiner_out = combiner;
    return fx_new(combiner, TU_LAYERS);
}

static void dimensions_with_equal_caps_share_one_pair(void **state)
{
    (void)state;
    char *combiner, name[8];
    fx_t *fx = fx_dims(20, &combiner);
    for (int d = 0; d < 20; d++) {
        snprintf(name, sizeof name, "d%03d", d);
        fx_add(fx, d < 10 ? AC_PRIMARY : AC_DERIVED, name, AC_FLAT, 100 + d, "items", 0);
        fx_cap(fx, name, AC_CAP_HARD_MAX, AC_KIND_MAX, 1200, "world", 0, "WORLD");
        fx_cap(fx, name, AC_CAP_HARD_MIN, AC_KIND_MIN, 5, "world", 0, "WORLD");
    }
    fx_resolve(fx);
    /* 40 header + 20 values + 20 x (id 2 + flags 1 + index 1) + one pair of 16. */
    assert_int_equal(ac_snapshot_size(fx->snap), 40 + 8 * 20 + 4 * 20 + 16);
    assert_int_equal(fx->snap->n_pairs, 1);
    for (int d = 0; d < 20; d++) {
        snprintf(name, sizeof name, "d%03d", d);
        ac_snapshot_dim_t got = fx_dim(fx, name);
        assert_double_exact(got.min, 5);
        assert_double_exact(got.max, 1200);
        assert_double_exact(d < 10 ? got.primary : got.derived, 100 + d);
    }
    assert_true(ac_snapshot_check(fx->snap, ac_snapshot_size(fx->snap),
                                  ac_registry_dimension_count(fx->reg)));
    fx_free(fx);
    free(combiner);
}

/* -0 and +0 compare equal but are two pairs: a snapshot keeps each bound's bits. */
static void pairs_are_shared_only_when_equal_bit_for_bit(void **state)
{
    (void)state;
    char *combiner;
    fx_t *fx = fx_dims(4, &combiner);
    const double max[4] = {-0.0, 0.0, -0.0, 7};
    for (int d = 0; d < 4; d++) {
        char name[8];
        snprintf(name, sizeof name, "d%03d", d);
        fx_add(fx, AC_PRIMARY, name, AC_FLAT, 1, "items", 0);
        fx_cap(fx, name, AC_CAP_HARD_MAX, AC_KIND_MAX, max[d], "world", 0, "WORLD");
    }
    fx_resolve(fx);
    assert_int_equal(fx->snap->n_pairs, 3);
    for (int d = 0; d < 4; d++) {
        char name[8];
        snprintf(name, sizeof name, "d%03d", d);
        ac_snapshot_dim_t got = fx_dim(fx, name);
        assert_double_exact(got.max, max[d]);
        assert_int_equal(signbit(got.max) != 0, signbit(max[d]) != 0);
        assert_double_exact(got.min, -10);
    }
    fx_free(fx);
    free(combiner);
}

/* Past 256 dimensions a pair index takes two bytes; 300 distinct pairs all read back. */
static void more_than_256_dimensions_take_two_byte_indices(void **state)
{
    (void)state;
    char *combiner;
    fx_t *fx = fx_dims(300, &combiner);
    for (int d = 0; d < 300; d++) {
        char name[8];
        snprintf(name, sizeof name, "d%03d", d);
        fx_add(fx, AC_PRIMARY, name, AC_FLAT, 1e5, "items", 0);
        fx_cap(fx, name, AC_CAP_HARD_MAX, AC_KIND_MAX, 1000 + d % 150, "world", 0, "WORLD");
    }
    fx_resolve(fx);
    assert_int_equal(fx->snap->n_pairs, 150);
    assert_int_equal(ac_snapshot_size(fx->snap), 40 + 8 * 300 + 5 * 300 + 16 * 150 + 4);
    for (int d = 0; d < 300; d++) {
        char name[8];
        snprintf(name, sizeof name, "d%03d", d);
        ac_snapshot_dim_t got = fx_dim(fx, name);
        assert_double_exact(got.max, 1000 + d % 150);
        assert_double_exact(got.primary, 1000 + d % 150);
    }
    assert_true(ac_snapshot_check(fx->snap, ac_snapshot_size(fx->snap),
                                  ac_registry_dimension_count(fx->reg)));
    fx_free(fx);
    free(combiner);
}

/* A block of the first layout (magic 0xAC53), or with a pair index past the pairs, or a
   pair count beyond the dimensions, is refused. */
static void check_refuses_another_layout_and_indices_out_of_range(void **state)
{
    (void)state;
    char *combiner;
    fx_t *fx = fx_dims(3, &combiner);
    fx_add(fx, AC_PRIMARY, "d000", AC_FLAT, 1, "items", 0);
    fx_add(fx, AC_PRIMARY, "d001", AC_FLAT, 2, "items", 0);
    fx_cap(fx, "d001", AC_CAP_HARD_MAX, AC_KIND_MAX, 50, "world", 0, "WORLD");
    fx_resolve(fx);
    size_t size = ac_snapshot_size(fx->snap), dims = ac_registry_dimension_count(fx->reg);
    ac_snapshot_t *copy = ac_snapshot_dup(fx->snap);
    assert_true(ac_snapshot_check(copy, size, dims));
    assert_int_equal(copy->n_pairs, 2);
    copy->magic = 0xAC53u;
    assert_false(ac_snapshot_check(copy, size, dims));
    copy->magic = AC_SNAP_MAGIC;
    uint8_t *idx = (uint8_t *)ac_snap_flags(copy) + copy->n_dims;
    idx[1] = 2;
    assert_false(ac_snapshot_check(copy, size, dims));
    idx[1] = 1;
    assert_true(ac_snapshot_check(copy, size, dims));
    copy->n_pairs = 3;
    assert_false(ac_snapshot_check(copy, size, dims));
    copy->n_pairs = 2;
    /* A reserved field that is not zero, names before the contexts: refused each alone. */
    copy->reserved = 1;
    assert_false(ac_snapshot_check(copy, size, dims));
    copy->reserved = 0;
    uint32_t names_off = copy->names_off;
    copy->names_off = (uint32_t)(ac_snap_context_off(copy) - 8);
    assert_false(ac_snapshot_check(copy, size, dims));
    copy->names_off = names_off;
    assert_true(ac_snapshot_check(copy, size, dims));
    ac_snapshot_destroy(&copy);
    fx_free(fx);
    free(combiner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dimensions_with_equal_caps_share_one_pair),
        cmocka_unit_test(pairs_are_shared_only_when_equal_bit_for_bit),
        cmocka_unit_test(more_than_256_dimensions_take_two_byte_indices),
        cmocka_unit_test(check_refuses_another_layout_and_indices_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
