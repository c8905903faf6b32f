/*  test_aggregate.c - SPEC 5 (pipeline, operators, clamp, defaults) and SPEC 6 (context). */
#include "fixture.h"
#include "core/items.h"

static void pipeline_is_flat_times_mult_deltas_plus_post(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 100, "race", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 20, "items", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_MULT, 0.5, "buff", 0); /* +50 % */
    fx_add(fx, AC_PRIMARY, "hp", AC_MULT, 1.0, "aura", 0); /* +100 % */
    fx_add(fx, AC_PRIMARY, "hp", AC_POST_ADD, 7, "ring", 0);
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "hp").primary, 120.0 * 2.0 * 1.5 + 7);
    fx_free(fx);
}

static void mult_alone_multiplies_zero(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_MULT, 0.5, "buff", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_POST_ADD, 3, "ring", 0);
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "hp").primary, 3);
    fx_free(fx);
}

static void override_bucket_replaces_the_pipeline_highest_priority(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_FLAT, 0.1, "items", 0);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.65, "effects", 1);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.7, "talent", 5);
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "crit_rate").derived, 0.7);
    fx_free(fx);
}

static void override_bucket_tie_goes_to_smallest_system(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.3, "bbb", 2);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.4, "aab", 2);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.2, "ab", 2);
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "crit_rate").derived, 0.4);
    fx_free(fx);
}

static void sums_run_in_sort_key_order_not_input_order(void **state)
{
    (void)state;
    /* 1e16 + 1 + 1 depends on the order; the key orders by priority desc, then system. */
    double got[2];
    for (int pass = 0; pass < 2; pass++) {
        fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
        if (pass == 0) {
            fx_add(fx, AC_PRIMARY, "sum_dim", AC_FLAT, 1, "b", 0);
            fx_add(fx, AC_PRIMARY, "sum_dim", AC_FLAT, 1e16, "a", 9);
            fx_add(fx, AC_PRIMARY, "sum_dim", AC_FLAT, 1, "c", 0);
        } else {
            fx_add(fx, AC_PRIMARY, "sum_dim", AC_FLAT, 1, "c", 0);
            fx_add(fx, AC_PRIMARY, "sum_dim", AC_FLAT, 1, "b", 0);
            fx_add(fx, AC_PRIMARY, "sum_dim", AC_FLAT, 1e16, "a", 9);
        }
        fx_resolve(fx);
        got[pass] = fx_dim(fx, "sum_dim").primary;
        fx_free(fx);
    }
    assert_double_exact(got[0], got[1]);
    assert_double_exact(got[0], (1e16 + 1) + 1);
}

static void operator_modes_ignore_buckets(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    const char *dims[] = {"sum_dim", "max_dim", "min_dim", "avg_dim", "mul_dim"};
    for (int i = 0; i < 5; i++) {
        fx_add(fx, AC_PRIMARY, dims[i], AC_FLAT, 2, "a", 0);
        fx_add(fx, AC_PRIMARY, dims[i], AC_MULT, 3, "b", 0);
        fx_add(fx, AC_PRIMARY, dims[i], AC_OVERRIDE, -4, "c", 0);
        fx_add(fx, AC_PRIMARY, dims[i], AC_POST_ADD, 8, "d", 0);
    }
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "sum_dim").primary, 9);
    assert_double_exact(fx_dim(fx, "max_dim").primary, 8);
    assert_double_exact(fx_dim(fx, "min_dim").primary, -4);
    assert_double_exact(fx_dim(fx, "avg_dim").primary, 9.0 / 4);
    assert_double_exact(fx_dim(fx, "mul_dim").primary, 2.0 * 3 * -4 * 8);
    fx_free(fx);
}

static void values_are_clamped_into_caps(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 650, "a", 0);
    fx_add(fx, AC_DERIVED, "strength", AC_FLAT, -5, "a", 0);
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 550, "w", 0, "WORLD");
    fx_cap(fx, "strength", AC_CAP_HARD_MIN, AC_KIND_MIN, 1, "w", 0, "WORLD");
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.primary, 550);
    assert_double_exact(d.derived, 1); /* caps shared by Primary and Derived */
    fx_free(fx);
}

static void overflow_to_infinity_saturates_at_the_cap(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1.7e308, "a", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1.7e308, "b", 0);
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "hp").primary, 1000000);
    fx_free(fx);
}

static void overflow_to_nan_is_an_error_not_a_value(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1.7e308, "a", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1.7e308, "b", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_POST_ADD, -1.7e308, "c", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_POST_ADD, -1.7e308, "d", 0);
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ENON_FINITE);
    assert_non_null(strstr(fx->err.message, "hp"));
    fx_free(fx);
}

static void unknown_dimension_without_default_is_rejected(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    assert_int_equal(ac_request_add_contribution(fx->req, AC_PRIMARY, "mana_shield", AC_FLAT, 1,
                                                 "a", 0, &fx->err),
                     AC_EUNKNOWN_DIMENSION);
    assert_string_equal(fx->err.path, "outputs[0].primary[0].dimension");
    fx_free(fx);
}

static void unknown_dimension_with_default_uses_the_default_rule(void **state)
{
    (void)state;
    char combiner[2048];
    snprintf(combiner, sizeof combiner,
             "%sdefault: { use_pipeline: true, clamp_default: { min: 0, max: 50 } }\n",
             TU_COMBINER);
    fx_t *fx = fx_new(combiner, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "zz_shield", AC_FLAT, 80, "a", 0);
    fx_add(fx, AC_PRIMARY, "mana_shield", AC_FLAT, 20, "a", 0);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 20, "a", 0);
    fx_resolve(fx);
    ac_snapshot_dim_t d = fx_dim(fx, "zz_shield");
    assert_double_exact(d.primary, 50);
    assert_double_exact(d.max, 50);
    assert_double_exact(fx_dim(fx, "mana_shield").primary, 20);
    /* Order: registry dimensions, then default-rule ones by name. */
    ac_snapshot_iter_t it;
    ac_snapshot_dim_t x;
    const char *want[] = {"strength", "mana_shield", "zz_shield"};
    ac_snapshot_iter_init(&it, fx->snap, fx->reg);
    for (int i = 0; i < 3; i++) {
        assert_true(ac_snapshot_next(&it, &x));
        assert_string_equal(x.name, want[i]);
        /* Primary only: the absent section reads 0 (snapshot.h). */
        assert_true(x.has_primary);
        assert_false(x.has_derived);
        assert_double_exact(x.derived, 0);
    }
    assert_false(ac_snapshot_next(&it, &x));
    fx_free(fx);
    /* And a Derived-only dimension reads 0 as its Primary. */
    fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_DERIVED, "strength", AC_FLAT, 7, "a", 0);
    fx_resolve(fx);
    d = fx_dim(fx, "strength");
    assert_false(d.has_primary);
    assert_true(d.has_derived);
    assert_double_exact(d.primary, 0);
    assert_double_exact(d.derived, 7);
    fx_free(fx);
}

static void context_packs_merge_and_apply(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    double m1[] = {1.5}, m2[] = {1.2};
    assert_int_equal(ac_request_add_context(fx->req, "combat", 0.1, m1, 1, 20, &fx->err), 0);
    assert_true(ac_request_begin_output(fx->req, "another", &fx->err) >= 0);
    assert_int_equal(ac_request_add_context(fx->req, "combat", 0.1, m2, 1, 30, &fx->err), 0);
    assert_int_equal(ac_request_add_context(fx->req, "pvp", 0, NULL, 0, 1, &fx->err), 0);
    fx_resolve(fx);
    assert_int_equal(ac_snapshot_context_count(fx->snap), 2);
    ac_context_t c;
    ac_snapshot_context(fx->snap, 0, &c);
    assert_string_equal(c.name, "combat");
    assert_double_exact(c.additive_percent, 0.1 + 0.1);
    assert_double_exact(c.post_add, 50);
    assert_int_equal(c.n_multipliers, 2);
    /* System ascending: "another" (1.2) before "test" (1.5). */
    assert_double_exact(c.multipliers[0], 1.2);
    assert_double_exact(c.multipliers[1], 1.5);
    /* SPEC 6's example: 100, +0.2, [1.5, 1.2], +50 -> 266. */
    assert_true(fabs(ac_context_apply(&c, 100) - 266) < 1e-9);
    ac_snapshot_context(fx->snap, 1, &c);
    assert_string_equal(c.name, "pvp");
    assert_double_exact(ac_context_apply(&c, 10), 11);
    fx_free(fx);
}

static void context_multipliers_must_be_positive(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    double bad[] = {1.5, 0};
    assert_int_equal(ac_request_add_context(fx->req, "combat", 0, bad, 2, 0, &fx->err), AC_ESCHEMA);
    double inf[] = {INFINITY};
    assert_int_equal(ac_request_add_context(fx->req, "combat", 0, inf, 1, 0, &fx->err),
                     AC_ENON_FINITE);
    fx_free(fx);
}

static void version_is_one_without_actor_else_the_actors(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1, "a", 0);
    fx_resolve(fx);
    assert_int_equal(ac_snapshot_version(fx->snap), 1);
    assert_int_equal(ac_request_set_actor(fx->req, "hero-1", 42, &fx->err), 0);
    fx_resolve(fx);
    assert_int_equal(ac_snapshot_version(fx->snap), 42);
    ac_request_set_version(fx->req, 7);
    fx_resolve(fx);
    assert_int_equal(ac_snapshot_version(fx->snap), 7);
    assert_true(ac_snapshot_generation(fx->snap) == ac_registry_generation(fx->reg));
    fx_free(fx);
}

/* Dimensions past the first 64 ids live in further words of the resolver's bitmap of
   present dimensions: every one keeps its own value, and the snapshot lists them in order. */
static void more_than_64_dimensions_each_keep_their_value(void **state)
{
    (void)state;
    enum { DIMS = 150 };
    char *combiner = malloc(DIMS * 96 + 32);
    size_t n = (size_t)sprintf(combiner, "dimensions:\n");
    for (int d = 0; d < DIMS; d++)
        n += (size_t)sprintf(
            combiner + n, "  d%03d: { use_pipeline: true, clamp_default: { min: 0, max: 1e9 } }\n",
            d);
    fx_t *fx = fx_new(combiner, TU_LAYERS);
    /* Every third dimension present, in reverse order, so words mix present and absent. */
    char name[8];
    for (int d = DIMS - 1; d >= 0; d -= 3) {
        snprintf(name, sizeof name, "d%03d", d);
        fx_add(fx, AC_PRIMARY, name, AC_FLAT, 1000 + d, "items", 0);
    }
    fx_resolve(fx);
    for (int d = 0; d < DIMS; d++) {
        snprintf(name, sizeof name, "d%03d", d);
        ac_snapshot_dim_t got;
        bool present = ac_snapshot_find(fx->snap, fx->reg, name, &got);
        if ((DIMS - 1 - d) % 3 == 0) {
            assert_true(present);
            assert_double_exact(got.primary, 1000 + d);
        } else {
            assert_false(present);
        }
    }
    assert_int_equal(ac_snapshot_dimension_count(fx->snap), (DIMS + 2) / 3);
    fx_free(fx);
    free(combiner);
}

static void empty_request_gives_an_empty_snapshot(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_resolve(fx);
    assert_int_equal(ac_snapshot_dimension_count(fx->snap), 0);
    assert_true(ac_snapshot_check(fx->snap, ac_snapshot_size(fx->snap),
                                  ac_registry_dimension_count(fx->reg)));
    fx_free(fx);
}

/* The builder's own checks: a cap or a context before any output is refused at "outputs";
   a system id has 1 to 128 bytes; a request takes max_contributions + 1 outputs and
   refuses the next one; a context without a name is the context named "". */
static void the_builder_checks_what_only_a_caller_can_get_wrong(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    ac_error_t err;
    ac_request_t *req = ac_request_new(fx->reg);
    assert_int_equal(ac_request_add_cap(req, "strength", AC_CAP_BASELINE, AC_KIND_MAX, 1, "s", 0,
                                        NULL, NULL, &err),
                     AC_ESCHEMA);
    assert_string_equal(err.path, "outputs");
    assert_int_equal(ac_request_add_context(req, "combat", 0, NULL, 0, 1, &err), AC_ESCHEMA);
    assert_string_equal(err.path, "outputs");
    assert_int_equal(ac_request_cap_count(req), 0);
    char sys[200];
    memset(sys, 's', 129);
    sys[129] = '\0';
    assert_true(ac_request_begin_output(req, sys, &err) < 0);
    assert_int_equal(err.code, AC_ESCHEMA);
    assert_string_equal(err.path, "outputs[0].meta.system");
    sys[128] = '\0';
    assert_true(ac_request_begin_output(req, sys, &err) >= 0);
    ac_request_destroy(&req);

    ac_limits_t lim;
    ac_limits_default(&lim);
    lim.max_contributions = 3;
    req = ac_request_new(fx->reg);
    ac_request_set_limits(req, &lim);
    for (int i = 0; i < 4; i++)
        assert_true(ac_request_begin_output(req, "s", &err) >= 0);
    assert_true(ac_request_begin_output(req, "s", &err) < 0);
    assert_int_equal(err.code, AC_ETOO_LARGE);
    assert_string_equal(err.message, "more than 4 outputs");
    assert_int_equal(ac_request_output_count(req), 4);
    ac_request_destroy(&req);

    const char *names[2] = {NULL, ""};
    for (int i = 0; i < 2; i++) {
        req = ac_request_new(fx->reg);
        assert_true(ac_request_begin_output(req, "s", &err) >= 0);
        assert_int_equal(ac_request_add_context(req, names[i], 0.5, NULL, 0, 2, &err), 0);
        const ac_snapshot_t *snap;
        assert_int_equal(ac_resolve(fx->r, req, &snap, &err), 0);
        assert_int_equal(ac_snapshot_context_count(snap), 1);
        ac_context_t c;
        ac_snapshot_context(snap, 0, &c);
        assert_string_equal(c.name, "");
        assert_int_equal(strlen(c.name), 0);
        assert_double_exact(c.post_add, 2);
        ac_request_destroy(&req);
    }
    fx_free(fx);
}

/* A contribution with a bucket or a section out of range is refused, each alone. */
static void an_unknown_bucket_or_section_is_refused_on_its_own(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    assert_int_equal(ac_request_add_contribution(fx->req, AC_PRIMARY, "strength", (ac_bucket_t)9, 1,
                                                 "s", 0, &fx->err),
                     AC_ESCHEMA);
    assert_string_equal(fx->err.path, "outputs[0].primary[0].bucket");
    assert_int_equal(ac_request_add_contribution(fx->req, (ac_section_t)5, "strength", AC_FLAT, 1,
                                                 "s", 0, &fx->err),
                     AC_ESCHEMA);
    assert_int_equal(ac_request_contribution_count(fx->req), 0);
    fx_free(fx);
}

/* Error paths count primary and derived items apart: the third primary is primary[2] and
   the second derived derived[1], whatever the other list holds. */
static void error_paths_count_primary_and_derived_apart(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 1, "s", 0);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 2, "s", 0);
    fx_add(fx, AC_DERIVED, "hp", AC_FLAT, 3, "s", 0);
    assert_int_equal(
        ac_request_add_contribution(fx->req, AC_DERIVED, "hp", AC_FLAT, NAN, "s", 0, &fx->err),
        AC_ENON_FINITE);
    assert_string_equal(fx->err.path, "outputs[0].derived[1].value");
    assert_int_equal(ac_request_add_contribution(fx->req, AC_PRIMARY, "strength", AC_FLAT, INFINITY,
                                                 "s", 0, &fx->err),
                     AC_ENON_FINITE);
    assert_string_equal(fx->err.path, "outputs[0].primary[2].value");
    fx_free(fx);
}

static int item_cmp(const void *a, const void *b)
{
    return ac_item_less(a, b) ? -1 : ac_item_less(b, a) ? 1 : 0;
}

/* The item sort orders every count from 0 to 300 (every shape of its runs of 16 and its
   merge widths) as qsort with the same order does: keys with ties, values with ties and
   signs, in random, ascending and descending input. */
static void the_item_sort_orders_every_count_as_qsort_does(void **state)
{
    (void)state;
    enum { MAX = 300 };
    ac_item_t items[MAX], want[MAX], scratch[MAX];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t n = 0; n <= MAX; n++)
        for (int shape = 0; shape < 3; shape++) {
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                items[i].k = shape == 0 ? x % 7 : shape == 1 ? i / 3 : (n - i) / 3;
                items[i].v = (double)((int64_t)(x >> 40) % 9) - 4.5 * (double)(x & 1);
            }
            memcpy(want, items, n * sizeof *items);
            qsort(want, n, sizeof *want, item_cmp);
            ac_items_sort(items, n, scratch);
            for (size_t i = 0; i < n; i++)
                if (items[i].k != want[i].k ||
                    ac_order_bits(items[i].v) != ac_order_bits(want[i].v))
                    fail_msg("n %zu shape %d: item %zu is (%llu, %g), want (%llu, %g)", n, shape, i,
                             (unsigned long long)items[i].k, items[i].v,
                             (unsigned long long)want[i].k, want[i].v);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipeline_is_flat_times_mult_deltas_plus_post),
        cmocka_unit_test(mult_alone_multiplies_zero),
        cmocka_unit_test(override_bucket_replaces_the_pipeline_highest_priority),
        cmocka_unit_test(override_bucket_tie_goes_to_smallest_system),
        cmocka_unit_test(sums_run_in_sort_key_order_not_input_order),
        cmocka_unit_test(the_item_sort_orders_every_count_as_qsort_does),
        cmocka_unit_test(operator_modes_ignore_buckets),
        cmocka_unit_test(values_are_clamped_into_caps),
        cmocka_unit_test(overflow_to_infinity_saturates_at_the_cap),
        cmocka_unit_test(overflow_to_nan_is_an_error_not_a_value),
        cmocka_unit_test(unknown_dimension_without_default_is_rejected),
        cmocka_unit_test(unknown_dimension_with_default_uses_the_default_rule),
        cmocka_unit_test(context_packs_merge_and_apply),
        cmocka_unit_test(context_multipliers_must_be_positive),
        cmocka_unit_test(version_is_one_without_actor_else_the_actors),
        cmocka_unit_test(more_than_64_dimensions_each_keep_their_value),
        cmocka_unit_test(empty_request_gives_an_empty_snapshot),
        cmocka_unit_test(an_unknown_bucket_or_section_is_refused_on_its_own),
        cmocka_unit_test(the_builder_checks_what_only_a_caller_can_get_wrong),
        cmocka_unit_test(error_paths_count_primary_and_derived_apart),
    };
    return cmocka_run_group_tests_name("aggregate", tests, NULL, NULL);
}
