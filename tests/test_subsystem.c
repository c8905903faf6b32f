/*  test_subsystem.c - the C subsystem interface: an actor's listed subsystems run inside
    ac_resolve, their outputs merge with the request's, failures are structured. */
#include "fixture.h"

/* Adds strength = 10 * level (from actor.data.level) and a WORLD cap. */
static int race_contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    int *calls = state;
    (*calls)++;
    double level = 1;
    for (uint32_t i = 0; actor->data && i < actor->data->via.map.size; i++) {
        const msgpack_object_kv *kv = &actor->data->via.map.ptr[i];
        if (kv->key.via.str.size == 5 && memcmp(kv->key.via.str.ptr, "level", 5) == 0)
            level = (double)kv->val.via.u64;
    }
    if (ac_output_add(out, AC_PRIMARY, "strength", AC_FLAT, 10 * level, 0, err))
        return -1;
    return ac_output_add_cap(out, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 500, 0, "WORLD", NULL,
                             err);
}

static int buff_contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    (void)state;
    (void)actor;
    double m[] = {1.5};
    if (ac_output_add(out, AC_PRIMARY, "strength", AC_MULT, 0.5, 0, err))
        return -1;
    return ac_output_add_context(out, "combat", 0.1, m, 1, 0, err);
}

static int failing_contribute(void *state, const ac_actor_t *actor, ac_output_t *out,
                              ac_error_t *err)
{
    (void)state;
    (void)actor;
    (void)out;
    return ac_error_set(err, AC_EINTERNAL, "", "the item table is missing");
}

static int bad_dimension_contribute(void *state, const ac_actor_t *actor, ac_output_t *out,
                                    ac_error_t *err)
{
    (void)state;
    (void)actor;
    return ac_output_add(out, AC_PRIMARY, "charisma", AC_FLAT, 1, 0, err);
}

/* A compiled table's fast form with an id past the registry's dimensions. */
static int bad_id_contribute(void *state, const ac_actor_t *actor, ac_output_t *out,
                             ac_error_t *err)
{
    (void)state;
    (void)actor;
    return ac_output_add_id(out, AC_PRIMARY, 9999, AC_FLAT, 1, 0, err);
}

static int s_race_calls;
static int s_destroyed;

static void count_destroy(void *state)
{
    (void)state;
    s_destroyed++;
}

static fx_t *fixture(void)
{
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    ac_subsystem_t subs[] = {
        {"race", 10, &s_race_calls, race_contribute, count_destroy, 1, false, 0},
        {"buffs", 5, NULL, buff_contribute, NULL, 1, false, 0},
        {"broken", 0, NULL, failing_contribute, NULL, 1, false, 0},
        {"sloppy", 0, NULL, bad_dimension_contribute, NULL, 1, false, 0},
        {"sloppy_id", 0, NULL, bad_id_contribute, NULL, 1, false, 0},
    };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ac_resolver_add_subsystem(fx->r, &subs[i], &fx->err), 0);
    assert_int_equal(ac_resolver_subsystem_count(fx->r), 5);
    return fx;
}

static void set_actor(fx_t *fx, const char *json)
{
    ac_request_reset(fx->req);
    if (ac_decode_actor_json(fx->req, json, strlen(json), &fx->err))
        fail_msg("actor: %s", fx->err.message);
}

static void listed_subsystems_run_and_merge_with_inline_outputs(void **state)
{
    (void)state;
    fx_t *fx = fixture();
    set_actor(
        fx,
        "{\"id\":\"h\",\"version\":2,\"data\":{\"level\":7},\"subsystems\":[\"buffs\",\"race\"]}");
    assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 30, "items", 0);
    int calls = s_race_calls;
    fx_resolve(fx);
    assert_int_equal(s_race_calls, calls + 1);
    ac_snapshot_dim_t d = fx_dim(fx, "strength");
    assert_double_exact(d.primary, (70 + 30) * 1.5);
    assert_double_exact(d.max, 500);
    assert_int_equal(ac_snapshot_context_count(fx->snap), 1);
    assert_int_equal(ac_snapshot_version(fx->snap), 2);
    /* Resolving the same request again does not add the subsystems' items twice. */
    ac_snapshot_t *first = ac_snapshot_dup(fx->snap);
    fx_resolve(fx);
    assert_true(ac_snapshot_equal(first, fx->snap));
    assert_int_equal(ac_request_contribution_count(fx->req), 3);
    ac_snapshot_destroy(&first);
    fx_free(fx);
}

static void subsystem_order_never_changes_the_result(void **state)
{
    (void)state;
    fx_t *fx = fixture();
    set_actor(
        fx,
        "{\"id\":\"h\",\"version\":1,\"data\":{\"level\":3},\"subsystems\":[\"race\",\"buffs\"]}");
    fx_resolve(fx);
    ac_snapshot_t *a = ac_snapshot_dup(fx->snap);
    set_actor(
        fx,
        "{\"id\":\"h\",\"version\":1,\"data\":{\"level\":3},\"subsystems\":[\"buffs\",\"race\"]}");
    fx_resolve(fx);
    assert_true(ac_snapshot_equal(a, fx->snap));
    ac_snapshot_destroy(&a);
    fx_free(fx);
}

static void a_failing_subsystem_fails_the_request_with_its_message(void **state)
{
    (void)state;
    fx_t *fx = fixture();
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"race\",\"broken\"]}");
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ESUBSYSTEM_FAILED);
    assert_null(fx->snap);
    assert_string_equal(fx->err.path, "actor.subsystems[1]");
    assert_non_null(strstr(fx->err.message, "item table is missing"));
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"sloppy\"]}");
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ESUBSYSTEM_FAILED);
    assert_non_null(strstr(fx->err.message, "charisma"));
    assert_non_null(strstr(fx->err.message, "actor.subsystems[0].primary[0].dimension"));
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"sloppy_id\"]}");
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ESUBSYSTEM_FAILED);
    assert_non_null(strstr(fx->err.message, "dimension id 9999"));
    /* The resolver is still good afterwards. */
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"race\"]}");
    fx_resolve(fx);
    fx_free(fx);
}

static void unknown_or_repeated_subsystems_are_rejected_by_name(void **state)
{
    (void)state;
    fx_t *fx = fixture();
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"race\",\"ghost\"]}");
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ESCHEMA);
    assert_string_equal(fx->err.path, "actor.subsystems[1]");
    assert_non_null(strstr(fx->err.message, "ghost"));
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"race\",\"race\"]}");
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ESCHEMA);
    ac_subsystem_t dup = {"race", 0, NULL, race_contribute, NULL, 1, false, 0};
    assert_int_equal(ac_resolver_add_subsystem(fx->r, &dup, &fx->err), AC_ESCHEMA);
    ac_subsystem_t none = {NULL, 0, NULL, NULL, NULL, 1, false, 0};
    assert_int_equal(ac_resolver_add_subsystem(fx->r, &none, &fx->err), AC_ESCHEMA);
    int destroyed = s_destroyed;
    fx_free(fx);
    assert_int_equal(s_destroyed, destroyed + 1); /* state freed with the resolver */
}

typedef struct {
    int ok;     /* items resolved */
    int failed; /* items failed */
} batch_seen_t;

/* Items 0 and 2 resolve (versions 1 and 5); item 1's subsystem fails. */
static void on_item(void *arg, size_t index, const ac_snapshot_t *snap, const ac_error_t *err)
{
    batch_seen_t *seen = arg;
    if (snap) {
        seen->ok++;
        assert_true(index == 0 || index == 2);
        assert_int_equal(ac_snapshot_version(snap), index == 0 ? 1 : 5);
    } else {
        seen->failed++;
        assert_int_equal(index, 1);
        assert_int_equal(err->code, AC_ESUBSYSTEM_FAILED);
    }
}

static void batch_resolves_each_item_and_fails_only_bad_ones(void **state)
{
    (void)state;
    fx_t *fx = fixture();
    ac_request_t *reqs[3];
    const char *actors[] = {
        "{\"id\":\"a\",\"version\":1,\"subsystems\":[\"race\"]}",
        "{\"id\":\"b\",\"version\":1,\"subsystems\":[\"broken\"]}",
        "{\"id\":\"c\",\"version\":5,\"data\":{\"level\":2},\"subsystems\":[\"race\"]}"};
    for (int i = 0; i < 3; i++) {
        reqs[i] = ac_request_new(fx->reg);
        assert_int_equal(ac_decode_actor_json(reqs[i], actors[i], strlen(actors[i]), &fx->err), 0);
    }
    batch_seen_t seen = {0, 0};
    assert_int_equal(ac_resolve_batch(fx->r, reqs, 3, on_item, &seen), 1);
    assert_int_equal(seen.ok, 2);
    assert_int_equal(seen.failed, 1);
    for (int i = 0; i < 3; i++)
        ac_request_destroy(&reqs[i]);
    fx_free(fx);
}

/* ---- stage 2: the second pass aggregates again only what stage 2 touched ---- */

static int s_repair_calls;
static uint32_t s_strength_id; /* registry id of strength, for ac_output_primary */

/* Stage 2: hp (Derived) FLAT = 2 x the capped stage-1 strength and a TOTAL cap on hp;
   crit_rate OVERRIDE 0.5; strength (which has Primary contributions, so the first pass
   reduced it) a Derived FLAT 1; max_dim, which nothing else names, a Derived 3. */
static int repair_contribute(void *state, const ac_actor_t *actor, ac_output_t *out,
                             ac_error_t *err)
{
    (void)actor;
    s_repair_calls++;
    double strength = 0;
    ac_output_primary(out, *(const uint32_t *)state, &strength);
    if (ac_output_add(out, AC_DERIVED, "hp", AC_FLAT, 2 * strength, 0, err) ||
        ac_output_add_cap(out, "hp", AC_CAP_HARD_MAX, AC_KIND_MAX, 150, 0, "TOTAL", NULL, err) ||
        ac_output_add(out, AC_DERIVED, "strength", AC_FLAT, 1, 0, err) ||
        ac_output_add(out, AC_DERIVED, "max_dim", AC_FLAT, 3, 0, err))
        return -1;
    return ac_output_add(out, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.5, 0, err);
}

/* A fixture on combiner with the stage-2 subsystem "repair". */
static fx_t *stage2_fixture_on(const char *combiner)
{
    fx_t *fx = fx_new(combiner, TU_LAYERS);
    int id = ac_registry_dimension_id(fx->reg, "strength", 8);
    assert_true(id >= 0);
    s_strength_id = (uint32_t)id;
    ac_subsystem_t sub = {"repair", 0, &s_strength_id, repair_contribute, NULL, 2, false, 0};
    assert_int_equal(ac_resolver_add_subsystem(fx->r, &sub, &fx->err), 0);
    return fx;
}

static fx_t *stage2_fixture(void)
{
    return stage2_fixture_on(TU_COMBINER);
}

/* The items both requests below hold inline; `derived_nan` makes crit_rate's stage-1
   Derived value NaN (inf x (1 - 1)). */
static void stage2_items(fx_t *fx, bool derived_nan)
{
    assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 40, "items", 0);
    fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 2, "race", 5);
    fx_cap(fx, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 30, "world", 0, "WORLD");
    fx_add(fx, AC_DERIVED, "hp", AC_FLAT, 100, "items", 0);
    fx_add(fx, AC_DERIVED, "sum_dim", AC_FLAT, 7, "items", 0);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_FLAT, derived_nan ? 1e308 : 0.1, "items", 0);
    if (derived_nan) {
        fx_add(fx, AC_DERIVED, "crit_rate", AC_FLAT, 1e308, "race", 0);
        fx_add(fx, AC_DERIVED, "crit_rate", AC_MULT, -1, "race", 0);
    }
}

/* What stage 2 produces, equal to one aggregation of the same items all given inline. */
static void stage_two_equals_one_pass_over_the_same_items(void **state)
{
    (void)state;
    fx_t *fx = stage2_fixture();
    set_actor(fx, "{\"id\":\"h\",\"version\":3,\"subsystems\":[\"repair\"]}");
    stage2_items(fx, false);
    fx_resolve(fx);
    ac_snapshot_t *staged = ac_snapshot_dup(fx->snap);
    assert_double_exact(fx_dim(fx, "hp").derived, 150); /* 100 + 2 x 30, capped */
    assert_double_exact(fx_dim(fx, "hp").max, 150);
    assert_double_exact(fx_dim(fx, "crit_rate").derived, 0.5);
    assert_double_exact(fx_dim(fx, "sum_dim").derived, 7);
    assert_double_exact(fx_dim(fx, "strength").primary, 30);
    assert_double_exact(fx_dim(fx, "strength").derived, 1);
    assert_double_exact(fx_dim(fx, "max_dim").derived, 3);

    set_actor(fx, "{\"id\":\"h\",\"version\":3}");
    stage2_items(fx, false);
    assert_true(ac_request_begin_output(fx->req, "repair", &fx->err) >= 0);
    fx_add(fx, AC_DERIVED, "hp", AC_FLAT, 60, "repair", 0);
    fx_cap(fx, "hp", AC_CAP_HARD_MAX, AC_KIND_MAX, 150, "repair", 0, "TOTAL");
    fx_add(fx, AC_DERIVED, "strength", AC_FLAT, 1, "repair", 0);
    fx_add(fx, AC_DERIVED, "max_dim", AC_FLAT, 3, "repair", 0);
    fx_add(fx, AC_DERIVED, "crit_rate", AC_OVERRIDE, 0.5, "repair", 0);
    fx_resolve(fx);
    assert_true(ac_snapshot_equal(staged, fx->snap));
    ac_snapshot_destroy(&staged);
    fx_free(fx);
}

/* A dimension whose only Primary contributions sit in one bucket (FLAT, POST_ADD or
   OVERRIDE alone) is reduced before stage 2 as any other: stage 2 reads its value. */
static void stage_two_reads_a_primary_given_in_any_one_bucket(void **state)
{
    (void)state;
    const ac_bucket_t buckets[] = {AC_FLAT, AC_POST_ADD, AC_OVERRIDE};
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++) {
        fx_t *fx = stage2_fixture();
        set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"repair\"]}");
        assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
        fx_add(fx, AC_PRIMARY, "strength", buckets[i], 12, "items", 0);
        fx_resolve(fx);
        assert_double_exact(fx_dim(fx, "strength").primary, 12);
        assert_double_exact(fx_dim(fx, "hp").derived, 24); /* 2 x the stage-1 strength */
        fx_free(fx);
    }
}

/* A NaN Derived value of stage 1 is not final: stage 2's OVERRIDE replaces it. Without
   stage 2 the same items fail, naming the dimension. */
static void a_stage_one_derived_nan_is_replaced_by_stage_two(void **state)
{
    (void)state;
    fx_t *fx = stage2_fixture();
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"repair\"]}");
    stage2_items(fx, true);
    fx_resolve(fx);
    assert_double_exact(fx_dim(fx, "crit_rate").derived, 0.5);

    set_actor(fx, "{\"id\":\"h\",\"version\":1}");
    stage2_items(fx, true);
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ENON_FINITE);
    assert_non_null(strstr(fx->err.message, "the Derived value of dimension 'crit_rate'"));
    fx_free(fx);
}

/* A NaN Primary value of stage 1 fails the request before stage 2 reads it. */
static void a_stage_one_primary_nan_fails_before_stage_two_runs(void **state)
{
    (void)state;
    fx_t *fx = stage2_fixture();
    set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"repair\"]}");
    assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1e308, "items", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_FLAT, 1e308, "race", 0);
    fx_add(fx, AC_PRIMARY, "hp", AC_MULT, -1, "race", 0);
    int calls = s_repair_calls;
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ENON_FINITE);
    assert_non_null(strstr(fx->err.message, "the Primary value of dimension 'hp'"));
    assert_int_equal(s_repair_calls, calls);
    fx_free(fx);
}

/* ---- a batch shares the system ranks of consecutive items that name the same
   systems under the same ids; every item must still equal its single resolve ---- */

typedef struct {
    ac_snapshot_t *got[4]; /* each item's snapshot, copied */
} batch_copy_t;

static void copy_item(void *arg, size_t index, const ac_snapshot_t *snap, const ac_error_t *err)
{
    (void)err;
    assert_non_null(snap);
    ((batch_copy_t *)arg)->got[index] = ac_snapshot_dup(snap);
}

/* Fills req with FLATs on sum_dim (SUM, no clamp in reach) from systems named in `order`
   (their ids follow that order): with equal priorities the sum runs by system name, so
   the result depends on the ranks: 1e16 from "a" first, then 1 and 1 from "b" and "c",
   is not 1 + 1 + 1e16. */
static void fill_ranked(ac_request_t *req, const char *const order[3], const double v[3])
{
    ac_error_t err;
    assert_true(ac_request_begin_output(req, "out", &err) >= 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ac_request_add_contribution(req, AC_PRIMARY, "sum_dim", AC_FLAT, v[i],
                                                     order[i], 0, &err),
                         0);
}

static void a_batch_equals_single_resolves_whatever_the_systems_ids(void **state)
{
    (void)state;
    fx_t *fx = fx_new(TU_COMBINER, TU_LAYERS);
    static const char *const abc[3] = {"a", "b", "c"}, *const cba[3] = {"c", "b", "a"};
    const double v_abc[3] = {1e16, 1, 1}, v_cba[3] = {1, 1, 1e16}, v_big[3] = {-1e16, 3, 3};
    const char *const *orders[4] = {abc, abc, cba, abc};
    const double *values[4] = {v_abc, v_big, v_cba, v_abc};
    ac_request_t *reqs[4];
    for (int i = 0; i < 4; i++) {
        reqs[i] = ac_request_new(fx->reg);
        fill_ranked(reqs[i], orders[i], values[i]);
    }
    batch_copy_t out = {{NULL}};
    assert_int_equal(ac_resolve_batch(fx->r, reqs, 4, copy_item, &out), 0);
    for (int i = 0; i < 4; i++) {
        const ac_snapshot_t *single;
        assert_int_equal(ac_resolve(fx->r, reqs[i], &single, &fx->err), 0);
        assert_true(ac_snapshot_equal(out.got[i], single));
        ac_snapshot_destroy(&out.got[i]);
        ac_request_destroy(&reqs[i]);
    }
    fx_free(fx);
}

/* Stage 2 naming dimensions under the default rule (extras, ids above the registry's):
   "zeta" new to the request, "aura" already given inline; the snapshot equals one pass
   over the same items all given inline. */
static int extra_contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    (void)state;
    (void)actor;
    if (ac_output_add(out, AC_DERIVED, "zeta", AC_FLAT, 4, 0, err))
        return -1;
    return ac_output_add(out, AC_PRIMARY, "aura", AC_MULT, 0.5, 0, err);
}

/* A fixture on TU_COMBINER with a default rule (0..50) and the stage-2 subsystem id. */
static fx_t *default_rule_stage2_fixture(const char *id,
                                         int (*contribute)(void *, const ac_actor_t *,
                                                           ac_output_t *, ac_error_t *))
{
    char combiner[2048];
    snprintf(combiner, sizeof combiner,
             "%sdefault: { use_pipeline: true, clamp_default: { min: 0, max: 50 } }\n",
             TU_COMBINER);
    fx_t *fx = fx_new(combiner, TU_LAYERS);
    ac_subsystem_t sub = {id, 0, NULL, contribute, NULL, 2, false, 0};
    assert_int_equal(ac_resolver_add_subsystem(fx->r, &sub, &fx->err), 0);
    return fx;
}

static void stage_two_on_default_rule_dimensions_equals_one_pass(void **state)
{
    (void)state;
    fx_t *fx = default_rule_stage2_fixture("extra", extra_contribute);
    ac_snapshot_t *staged = NULL;
    for (int pass = 0; pass < 2; pass++) {
        set_actor(fx, pass == 0 ? "{\"id\":\"h\",\"version\":2,\"subsystems\":[\"extra\"]}"
                                : "{\"id\":\"h\",\"version\":2}");
        assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
        fx_add(fx, AC_PRIMARY, "aura", AC_FLAT, 20, "items", 0);
        fx_add(fx, AC_PRIMARY, "strength", AC_FLAT, 5, "items", 0);
        fx_add(fx, AC_DERIVED, "beta", AC_FLAT, 9, "items", 0);
        if (pass == 1) {
            assert_true(ac_request_begin_output(fx->req, "extra", &fx->err) >= 0);
            fx_add(fx, AC_DERIVED, "zeta", AC_FLAT, 4, "extra", 0);
            fx_add(fx, AC_PRIMARY, "aura", AC_MULT, 0.5, "extra", 0);
        }
        fx_resolve(fx);
        if (pass == 0) {
            assert_double_exact(fx_dim(fx, "aura").primary, 30);
            assert_double_exact(fx_dim(fx, "zeta").derived, 4);
            assert_double_exact(fx_dim(fx, "beta").derived, 9);
            staged = ac_snapshot_dup(fx->snap);
        }
    }
    assert_true(ac_snapshot_equal(staged, fx->snap));
    ac_snapshot_destroy(&staged);
    fx_free(fx);
}

/* With exactly 64 registry dimensions the first pass's bitmaps take one word; stage 2's
   first default-rule dimension is id 64 and needs a second. */
static int zeta_contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    (void)state;
    (void)actor;
    return ac_output_add(out, AC_DERIVED, "zeta", AC_FLAT, 4, 0, err);
}

static void stage_two_past_the_first_bitmap_word_equals_one_pass(void **state)
{
    (void)state;
    char combiner[8192];
    size_t n = (size_t)snprintf(combiner, sizeof combiner, "dimensions:\n");
    for (int d = 0; d < 64; d++)
        n += (size_t)snprintf(
            combiner + n, sizeof combiner - n,
            "  d%03d: { use_pipeline: true, clamp_default: { min: 0, max: 99 } }\n", d);
    snprintf(combiner + n, sizeof combiner - n,
             "default: { use_pipeline: true, clamp_default: { min: 0, max: 50 } }\n");
    fx_t *fx = fx_new(combiner, TU_LAYERS);
    ac_subsystem_t sub = {"zeta", 0, NULL, zeta_contribute, NULL, 2, false, 0};
    assert_int_equal(ac_resolver_add_subsystem(fx->r, &sub, &fx->err), 0);
    ac_snapshot_t *staged = NULL;
    for (int pass = 0; pass < 2; pass++) {
        set_actor(fx, pass == 0 ? "{\"id\":\"h\",\"version\":2,\"subsystems\":[\"zeta\"]}"
                                : "{\"id\":\"h\",\"version\":2}");
        assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
        fx_add(fx, AC_PRIMARY, "d063", AC_FLAT, 7, "items", 0);
        fx_add(fx, AC_DERIVED, "d000", AC_FLAT, 8, "items", 0);
        if (pass == 1) {
            assert_true(ac_request_begin_output(fx->req, "zeta", &fx->err) >= 0);
            fx_add(fx, AC_DERIVED, "zeta", AC_FLAT, 4, "zeta", 0);
        }
        fx_resolve(fx);
        assert_double_exact(fx_dim(fx, "zeta").derived, 4);
        assert_double_exact(fx_dim(fx, "d063").primary, 7);
        assert_double_exact(fx_dim(fx, "d000").derived, 8);
        if (pass == 0)
            staged = ac_snapshot_dup(fx->snap);
    }
    assert_true(ac_snapshot_equal(staged, fx->snap));
    ac_snapshot_destroy(&staged);
    fx_free(fx);
}

/* Stage 2 that names far more dimensions than stage 1 on a fresh resolver: stage 1's
   1,900 default-rule dimensions take 30 bitmap words, stage 2's 2,700 more take them past
   the 64 words the first pass reserved, so every per-dimension table grows between the
   passes; the snapshot equals one pass over the same items. */
#define WIDE_STAGE1 1900
#define WIDE_STAGE2 2700
static int wide_contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    (void)state;
    (void)actor;
    for (int d = 0; d < WIDE_STAGE2; d++) {
        char name[16];
        snprintf(name, sizeof name, "w%04d", d);
        if (ac_output_add(out, AC_DERIVED, name, AC_FLAT, d % 7, 0, err))
            return -1;
    }
    return 0;
}

static void stage_two_that_widens_the_request_past_its_tables_equals_one_pass(void **state)
{
    (void)state;
    fx_t *fx = default_rule_stage2_fixture("wide", wide_contribute);
    ac_snapshot_t *staged = NULL;
    for (int pass = 0; pass < 2; pass++) {
        set_actor(fx, pass == 0 ? "{\"id\":\"h\",\"version\":2,\"subsystems\":[\"wide\"]}"
                                : "{\"id\":\"h\",\"version\":2}");
        assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
        for (int d = 0; d < WIDE_STAGE1; d++) {
            char name[16];
            snprintf(name, sizeof name, "a%04d", d);
            fx_add(fx, AC_PRIMARY, name, AC_FLAT, d % 5, "items", 0);
        }
        if (pass == 1) {
            assert_true(ac_request_begin_output(fx->req, "wide", &fx->err) >= 0);
            for (int d = 0; d < WIDE_STAGE2; d++) {
                char name[16];
                snprintf(name, sizeof name, "w%04d", d);
                fx_add(fx, AC_DERIVED, name, AC_FLAT, d % 7, "wide", 0);
            }
        }
        fx_resolve(fx);
        assert_int_equal(ac_snapshot_dimension_count(fx->snap), WIDE_STAGE1 + WIDE_STAGE2);
        assert_double_exact(fx_dim(fx, "a1899").primary, 1899 % 5);
        assert_double_exact(fx_dim(fx, "w2699").derived, 2699 % 7);
        if (pass == 0)
            staged = ac_snapshot_dup(fx->snap);
    }
    assert_true(ac_snapshot_equal(staged, fx->snap));
    ac_snapshot_destroy(&staged);
    fx_free(fx);
}

/* A Primary NaN before stage 2 fails the request at the first faulty dimension in output
   order: registry dimensions first, then those under the default rule by name. */
static void a_primary_nan_before_stage_two_names_the_first_in_output_order(void **state)
{
    (void)state;
    char combiner[2048];
    snprintf(combiner, sizeof combiner,
             "%sdefault: { use_pipeline: true, clamp_default: { min: "
             "-1e300, max: 1e300 } }\n",
             TU_COMBINER);
    for (int round = 0; round < 4; round++) {
        int with_registry_nan = round < 2;
        bool name_order = round % 2; /* the extras added in name order, or reversed */
        fx_t *fx = stage2_fixture_on(combiner);
        set_actor(fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"repair\"]}");
        assert_true(ac_request_begin_output(fx->req, "items", &fx->err) >= 0);
        const char *dims[] = {name_order ? "aa_x" : "zz_x", "hp", name_order ? "zz_x" : "aa_x"};
        for (int d = 0; d < 3; d++) {
            if (d == 1 && !with_registry_nan)
                continue;
            fx_add(fx, AC_PRIMARY, dims[d], AC_FLAT, 1e308, "items", 0);
            fx_add(fx, AC_PRIMARY, dims[d], AC_FLAT, 1e308, "race", 0);
            fx_add(fx, AC_PRIMARY, dims[d], AC_MULT, -1, "race", 0);
        }
        assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ENON_FINITE);
        const char *want = with_registry_nan ? "dimension 'hp'" : "dimension 'aa_x'";
        if (!strstr(fx->err.message, want))
            fail_msg("'%s' does not name %s", fx->err.message, want);
        fx_free(fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listed_subsystems_run_and_merge_with_inline_outputs),
        cmocka_unit_test(subsystem_order_never_changes_the_result),
        cmocka_unit_test(a_failing_subsystem_fails_the_request_with_its_message),
        cmocka_unit_test(unknown_or_repeated_subsystems_are_rejected_by_name),
        cmocka_unit_test(batch_resolves_each_item_and_fails_only_bad_ones),
        cmocka_unit_test(a_batch_equals_single_resolves_whatever_the_systems_ids),
        cmocka_unit_test(stage_two_equals_one_pass_over_the_same_items),
        cmocka_unit_test(a_stage_one_derived_nan_is_replaced_by_stage_two),
        cmocka_unit_test(stage_two_reads_a_primary_given_in_any_one_bucket),
        cmocka_unit_test(a_stage_one_primary_nan_fails_before_stage_two_runs),
        cmocka_unit_test(a_primary_nan_before_stage_two_names_the_first_in_output_order),
        cmocka_unit_test(stage_two_on_default_rule_dimensions_equals_one_pass),
        cmocka_unit_test(stage_two_past_the_first_bitmap_word_equals_one_pass),
        cmocka_unit_test(stage_two_that_widens_the_request_past_its_tables_equals_one_pass),
    };
    return cmocka_run_group_tests_name("subsystem", tests, NULL, NULL);
}
