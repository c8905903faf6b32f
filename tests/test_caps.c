/*  test_caps.c - one test per rule of SPEC 3 (within a layer) and 4 (across layers). */
#include "fixture.h"

static void baseline_plus_additive_is_the_max_candidate(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 5000, "a", 0);
    fx_cap(fx, "strength", AC_CAP_BASELINE, AC_KIND_MAX, 200, "b", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_BASELINE, AC_KIND_MAX, 100, "c", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_ADDITIVE, AC_KIND_MAX, 500, "d", 0, "TOTAL");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.max, 800);
    assert_double_exact(d.min, 0);
    assert_double_exact(d.primary, 800);
    fx_free(fx);
}

static void min_side_sums_baseline_and_additive(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 1, "a", 0);
    fx_cap(fx, "strength", AC_CAP_BASELINE, AC_KIND_MIN, 10, "b", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_ADDITIVE, AC_KIND_MIN, 5, "c", 0, "TOTAL");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.min, 15);
    assert_double_exact(d.primary, 15);
    fx_free(fx);
}

static void hard_max_takes_the_smallest_and_bounds_the_candidate(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 5000, "a", 0);
    fx_cap(fx, "strength", AC_CAP_BASELINE, AC_KIND_MAX, 1000, "b", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 900, "c", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 700, "d", 0, "TOTAL");
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "strength").max, 700);
    fx_free(fx);
}

static void hard_min_takes_the_largest(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 1, "a", 0);
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 3, "c", 0, "WORLD");
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 7, "d", 0, "WORLD");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.min, 7);
    assert_double_exact(d.primary, 7);
    fx_free(fx);
}

static void override_cap_wins_over_sums_highest_priority_first(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 5000, "a", 0);
    fx_cap(fx, "strength", AC_CAP_BASELINE, AC_KIND_MAX, 100, "b", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MAX, 300, "c", 1, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MAX, 400, "d", 9, "TOTAL");
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "strength").max, 400);
    fx_free(fx);
}

static void override_cap_tie_goes_to_the_smallest_system_by_bytes(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 5000, "a", 0);
    /* "Zeta" < "alpha" in byte order (upper case first). */
    fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MAX, 300, "alpha", 5, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MAX, 600, "Zeta", 5, "TOTAL");
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "strength").max, 600);
    fx_free(fx);
}

static void no_cap_on_a_side_means_unbounded_then_clamp_default(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, -5000, "a", 0);
    fx_cap(fx, "hp", AC_CAP_BASELINE, AC_KIND_MAX, 100, "b", 0, "TOTAL");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "hp");
    assert_double_exact(d.min, -1000); /* clamp_default.min */
    assert_double_exact(d.max, 100);
    assert_double_exact(d.primary, -1000);
    fx_free(fx);
}

static void layer_min_above_max_is_pulled_down_to_max(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 1, "a", 0);
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 5, "b", 0, "EVENT");
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 8, "b", 0, "EVENT");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.min, 5);
    assert_double_exact(d.max, 5);
    assert_double_exact(d.primary, 5);
    fx_free(fx);
}

static void intersect_narrows_over_every_present_layer(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 50, "a", 0);
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 600, "r", 0, "REALM");
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 550, "w", 0, "WORLD");
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 20, "e", 0, "EVENT");
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 60, "t", 0, "TOTAL");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.min, 60);
    assert_double_exact(d.max, 550);
    assert_double_exact(d.primary, 60);
    fx_free(fx);
}

static void across_layers_min_above_max_resolves_to_max(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 50, "a", 0);
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 30, "w", 0, "WORLD");
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 40, "t", 0, "TOTAL");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.min, 30);
    assert_double_exact(d.max, 30);
    fx_free(fx);
}

/* The case where the policies differ: an OVERRIDE in an early layer is authoritative
   under PRIORITIZED_OVERRIDE even if a later layer is tighter. */
static void prioritized_override_ignores_later_layers_on_that_side(void **state)
{
    (void)state;
    for (int po = 0; po < 2; po++) {
        fx_t *fx = fx_new(TU_COMBINER, po ? TU_LAYERS_PO : TU_LAYERS);
        fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 5000, "a", 0);
        fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MAX, 900, "w", 0, "WORLD");
        fx_cap(fx, "strength", AC_CAP_BASELINE, AC_KIND_MAX, 700, "t", 0, "TOTAL");
        fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MAX, 500, "t", 0, "TOTAL");
        fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 10, "t", 0, "TOTAL");
        fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 20, "e", 0, "EVENT");
        fx_resolve(fx);
        ac_snapshot_dim_t d = fx_dim(fx, "strength");
        assert_double_exact(d.max, po ? 900 : 500);
        /* No OVERRIDE on the min side: reduced as INTERSECT either way. */
        assert_double_exact(d.min, 20);
        assert_double_exact(d.primary, po ? 900 : 500);
        fx_free(fx);
    }
}

static void prioritized_override_first_layer_in_order_wins(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS_PO);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 1, "a", 0);
    fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MIN, 50, "t", 0, "TOTAL");
    fx_cap(fx, "strength", AC_CAP_OVERRIDE, AC_KIND_MIN, 30, "r", 0, "REALM");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.min, 30);
    assert_double_exact(d.primary, 30);
    fx_free(fx);
}

static void caps_never_exceed_clamp_default(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS_PO);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_FLAT, 3, "a", 0);
    fx_cap(fx, "crit_rate", AC_CAP_OVERRIDE, AC_KIND_MAX, 5, "w", 0, "WORLD");
    fx_cap(fx, "crit_rate", AC_CAP_OVERRIDE, AC_KIND_MIN, -5, "w", 0, "WORLD");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "crit_rate");
    assert_double_exact(d.max, 1);
    assert_double_exact(d.min, 0);
    assert_double_exact(d.derived, 1);
    fx_free(fx);
}

/* Decision (README): a cap entirely below clamp_default.min lands on the default range's
   edge; CapsUsed never leaves clamp_default. */
static void caps_below_the_default_range_land_on_its_edge(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 10, "a", 0);
    fx_cap(fx, "hp", AC_CAP_HARD_MAX, AC_KIND_MAX, -5000, "w", 0, "WORLD");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "hp");
    assert_double_exact(d.min, -1000);
    assert_double_exact(d.max, -1000);
    assert_double_exact(d.primary, -1000);
    fx_free(fx);
}

static void dimension_without_caps_gets_clamp_default(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 10, "a", 0);
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "hp");
    assert_double_exact(d.min, -1000);
    assert_double_exact(d.max, 1000000);
    fx_free(fx);
}

static void dimension_with_caps_only_appears_only_in_caps_used(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_cap(fx, "hp", AC_CAP_BASELINE, AC_KIND_MAX, 10, "a", 0, "TOTAL");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "hp");
    assert_false(d.has_primary);
    assert_false(d.has_derived);
    assert_double_exact(d.max, 10);
    assert_int_equal(ac_snapshot_dimension_count(fx->snap), 1);
    assert_int_equal(ac_snapshot_primary_count(fx->snap), 0);
    fx_free(fx);
}

static void cap_sums_overflowing_to_nan_are_rejected(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_cap(fx, "hp", AC_CAP_BASELINE, AC_KIND_MAX, 1.7e308, "a", 0, "TOTAL");
    fx_cap(fx, "hp", AC_CAP_BASELINE, AC_KIND_MAX, 1.7e308, "b", 0, "TOTAL");
    fx_cap(fx, "hp", AC_CAP_ADDITIVE, AC_KIND_MAX, -1.7e308, "c", 0, "TOTAL");
    fx_cap(fx, "hp", AC_CAP_ADDITIVE, AC_KIND_MAX, -1.7e308, "d", 0, "TOTAL");
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ENON_FINITE);
    assert_null(fx->snap);
    fx_free(fx);
}

/* Caps that arrive layer by layer, in any order of the layers, reduce exactly as sorted
   ones: the layers are folded in registry order (here PRIORITIZED_OVERRIDE, where the
   first layer in order with an OVERRIDE decides), and within a layer the sums run in sort
   order. Each order is resolved alone and the bounds compared bit for bit. */
static void layer_groups_in_any_order_reduce_in_registry_order(void **state)
{
    (void)state;
    double bounds[3][2];
    for (int order = 0; order < 3; order++) {
        fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS_PO);
        fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 5000, "items", 0);
        for (int g = 0; g < 3; g++) {
            int layer = (order + g) % 3; /* 0: WORLD, 1: TOTAL, 2: EVENT */
            if (layer == 0) {
                fx_cap(fx, "hp", AC_CAP_OVERRIDE, AC_KIND_MAX, 900, "world", 1, "WORLD");
                fx_cap(fx, "hp", AC_CAP_BASELINE, AC_KIND_MIN, 0.1, "world", 0, "WORLD");
                fx_cap(fx, "hp", AC_CAP_BASELINE, AC_KIND_MIN, 0.2, "zone", 0, "WORLD");
            } else if (layer == 1) {
                fx_cap(fx, "hp", AC_CAP_OVERRIDE, AC_KIND_MAX, 700, "total", 5, "TOTAL");
                fx_cap(fx, "hp", AC_CAP_HARD_MIN, AC_KIND_MIN, 0.25, "total", 0, "TOTAL");
            } else {
                fx_cap(fx, "hp", AC_CAP_OVERRIDE, AC_KIND_MIN, 0.3, "event", 0, "EVENT");
                fx_cap(fx, "hp", AC_CAP_HARD_MAX, AC_KIND_MAX, 800, "event", 0, "EVENT");
            }
        }
        fx_resolve(fx);
        bounds[order][0] = fx_dim(fx, "hp").min;
        bounds[order][1] = fx_dim(fx, "hp").max;
        fx_free(fx);
    }
    /* Max: WORLD (first in order with an OVERRIDE max) says 900. Min: EVENT is the
       first with an OVERRIDE min, 0.3. */
    for (int order = 0; order < 3; order++) {
        assert_double_exact(bounds[order][1], 900);
        assert_double_exact(bounds[order][0], 0.3);
        assert_memory_equal(bounds[order], bounds[0], sizeof bounds[0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(baseline_plus_additive_is_the_max_candidate),
        cmocka_unit_test(min_side_sums_baseline_and_additive),
        cmocka_unit_test(hard_max_takes_the_smallest_and_bounds_the_candidate),
        cmocka_unit_test(hard_min_takes_the_largest),
        cmocka_unit_test(override_cap_wins_over_sums_highest_priority_first),
        cmocka_unit_test(override_cap_tie_goes_to_the_smallest_system_by_bytes),
        cmocka_unit_test(no_cap_on_a_side_means_unbounded_then_clamp_default),
        cmocka_unit_test(layer_min_above_max_is_pulled_down_to_max),
        cmocka_unit_test(intersect_narrows_over_every_present_layer),
        cmocka_unit_test(across_layers_min_above_max_resolves_to_max),
        cmocka_unit_test(prioritized_override_ignores_later_layers_on_that_side),
        cmocka_unit_test(prioritized_override_first_layer_in_order_wins),
        cmocka_unit_test(caps_never_exceed_clamp_default),
        cmocka_unit_test(caps_below_the_default_range_land_on_its_edge),
        cmocka_unit_test(dimension_without_caps_gets_clamp_default),
        cmocka_unit_test(dimension_with_caps_only_appears_only_in_caps_used),
        cmocka_unit_test(cap_sums_overflowing_to_nan_are_rejected),
        cmocka_unit_test(layer_groups_in_any_order_reduce_in_registry_order),
    };
    return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
