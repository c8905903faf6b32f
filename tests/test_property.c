/*  test_property.c - properties over thousands of generated requests:
    - shuffling the outputs and every list inside them gives a bitwise identical snapshot;
    - every value lies within its CapsUsed, and CapsUsed within clamp_default;
    - resolving twice gives the same bytes; the JSON path gives what the builder gives. */
#include "testutil.h"

#define CASES 1500

static const char *const COMBINER =
    "dimensions:\n"
    "  alpha: { use_pipeline: true, clamp_default: { min: -1000, max: 1000 } }\n"
    "  beta: { use_pipeline: true, clamp_default: { min: 0, max: 1e12 } }\n"
    "  gamma: { use_pipeline: false, operator: SUM, clamp_default: { min: -1e6, max: 1e6 } }\n"
    "  delta: { use_pipeline: false, operator: MAX, clamp_default: { min: -50, max: 50 } }\n"
    "  eps: { use_pipeline: false, operator: MIN, clamp_default: { min: -50, max: 50 } }\n"
    "  zeta: { use_pipeline: false, operator: AVERAGE, clamp_default: { min: -1e9, max: 1e9 } }\n"
    "  eta: { use_pipeline: false, operator: MULTIPLY, clamp_default: { min: -1e9, max: 1e9 } }\n"
    "default: { use_pipeline: true, clamp_default: { min: -10, max: 10 } }\n";

static const char *const DIMS[] = {"alpha", "beta", "gamma", "delta", "eps",
                                   "zeta",  "eta",  "xtra",  "yy"};
static const char *const SYSTEMS[] = {"a", "b", "B", "aa", "sys_1", "items", "\xce\xb6"};
static const char *const LAYERS[] = {"REALM", "WORLD", "EVENT", "TOTAL"};
static const char *const CTX[] = {"combat", "pvp", "Zone"};
static const int32_t PRIOS[] = {-1, 0, 0, 0, 1, 5, INT32_MAX, INT32_MIN};
static const double VALUES[] = {0, -0.0, 1, 0.1, 0.2, 0.3, 1e-9, 123.456, -5, 1e15, 7, 0.7, -0.1};

static uint64_t s_rng = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static size_t pick(size_t n)
{
    return (size_t)(rnd() % n);
}

static double value(void)
{
    if (rnd() % 3)
        return VALUES[pick(sizeof VALUES / sizeof VALUES[0])];
    return ((double)(rnd() % 2000001) - 1000000.0) / 997.0;
}

typedef enum { IT_CONTRIB, IT_CAP, IT_CTX } item_kind_t;

typedef struct {
    item_kind_t kind;
    ac_section_t section;
    const char *dim, *system, *layer, *ctx;
    int bucket, mode, kind2;
    int32_t prio;
    double value, add, post;
    double mults[4];
    size_t n_mults;
} item_t;

typedef struct {
    const char *system;
    item_t items[24];
    size_t n;
} output_t;

typedef struct {
    output_t outs[6];
    size_t n;
} gen_t;

static void generate(gen_t *g)
{
    g->n = 1 + pick(6);
    for (size_t o = 0; o < g->n; o++) {
        output_t *out = &g->outs[o];
        out->system = SYSTEMS[pick(7)];
        out->n = pick(24);
        for (size_t i = 0; i < out->n; i++) {
            item_t *it = &out->items[i];
            memset(it, 0, sizeof *it);
            int r = (int)pick(10);
            it->kind = r < 6 ? IT_CONTRIB : r < 9 ? IT_CAP : IT_CTX;
            it->dim = DIMS[pick(sizeof DIMS / sizeof DIMS[0])];
            it->system = SYSTEMS[pick(7)];
            it->prio = PRIOS[pick(8)];
            it->value = value();
            it->section = pick(2) ? AC_PRIMARY : AC_DERIVED;
            it->bucket = (int)pick(4);
            it->layer = LAYERS[pick(4)];
            it->mode = (int)pick(5);
            it->kind2 = it->mode == AC_CAP_HARD_MAX   ? AC_KIND_MAX
                        : it->mode == AC_CAP_HARD_MIN ? AC_KIND_MIN
                                                      : (int)pick(2);
            if (it->kind == IT_CAP && it->value < 0 && pick(2))
                it->value = -it->value;
            it->ctx = CTX[pick(3)];
            it->add = value() / 1000;
            it->post = value();
            it->n_mults = pick(4);
            for (size_t m = 0; m < it->n_mults; m++)
                it->mults[m] = 0.5 + (double)pick(100) / 37.0;
        }
    }
}

static void shuffle(gen_t *g)
{
    for (size_t i = g->n; i > 1; i--) {
        size_t j = pick(i);
        output_t t = g->outs[i - 1];
        g->outs[i - 1] = g->outs[j];
        g->outs[j] = t;
    }
    for (size_t o = 0; o < g->n; o++) {
        output_t *out = &g->outs[o];
        for (size_t i = out->n; i > 1; i--) {
            size_t j = pick(i);
            item_t t = out->items[i - 1];
            out->items[i - 1] = out->items[j];
            out->items[j] = t;
        }
        for (size_t i = 0; i < out->n; i++) {
            item_t *it = &out->items[i];
            for (size_t m = it->n_mults; m > 1; m--) {
                size_t j = pick(m);
                double t = it->mults[m - 1];
                it->mults[m - 1] = it->mults[j];
                it->mults[j] = t;
            }
        }
    }
}

static void build(ac_request_t *req, const gen_t *g)
{
    ac_error_t err;
    for (size_t o = 0; o < g->n; o++) {
        const output_t *out = &g->outs[o];
        assert_true(ac_request_begin_output(req, out->system, &err) >= 0);
        for (size_t i = 0; i < out->n; i++) {
            const item_t *it = &out->items[i];
            int rc = 0;
            if (it->kind == IT_CONTRIB)
                rc = ac_request_add_contribution(req, it->section, it->dim, it->bucket, it->value,
                                                 it->system, it->prio, &err);
            else if (it->kind == IT_CAP)
                rc = ac_request_add_cap(req, it->dim, it->mode, it->kind2, it->value, it->system,
                                        it->prio, it->layer, "realm_1", &err);
            else
                rc = ac_request_add_context(req, it->ctx, it->add, it->mults, it->n_mults, it->post,
                                            &err);
            if (rc)
                fail_msg("build: %s at %s", err.message, err.path);
        }
    }
}

/* %.17g round-trips every double but -0, which JSON readers take as the integer 0. */
static const char *num(double v, char *buf)
{
    if (v == 0 && signbit(v))
        return "-0.0";
    snprintf(buf, 32, "%.17g", v);
    return buf;
}

/* The same case as JSON text. */
static char *to_json(const gen_t *g)
{
    char n1[32], n2[32];
    static const char *const buckets[] = {"FLAT", "MULT", "POST_ADD", "OVERRIDE"};
    static const char *const modes[] = {"BASELINE", "ADDITIVE", "OVERRIDE", "HARD_MAX", "HARD_MIN"};
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
#define APP(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
    APP("[");
    for (size_t o = 0; o < g->n; o++) {
        const output_t *out = &g->outs[o];
        APP("%s{\"meta\":{\"system\":\"%s\"}", o ? "," : "", out->system);
        const char *lists[] = {"primary", "derived", "caps"};
        for (int l = 0; l < 3; l++) {
            APP(",\"%s\":[", lists[l]);
            int first = 1;
            for (size_t i = 0; i < out->n; i++) {
                const item_t *it = &out->items[i];
                if (l < 2 && it->kind == IT_CONTRIB && (int)it->section == l) {
                    APP("%s{\"dimension\":\"%s\",\"bucket\":\"%s\",\"value\":%s,\"system\":\"%s\","
                        "\"priority\":%d}",
                        first ? "" : ",", it->dim, buckets[it->bucket], num(it->value, n1),
                        it->system, (int)it->prio);
                    first = 0;
                } else if (l == 2 && it->kind == IT_CAP) {
                    APP("%s{\"dimension\":\"%s\",\"mode\":\"%s\",\"kind\":\"%s\",\"value\":%s,"
                        "\"system\":\"%s\",\"priority\":%d,\"scope\":\"%s\",\"realm\":\"realm_1\"}",
                        first ? "" : ",", it->dim, modes[it->mode], it->kind2 ? "min" : "max",
                        num(it->value, n1), it->system, (int)it->prio, it->layer);
                    first = 0;
                }
            }
            APP("]");
        }
        /* Contexts: one pack per name per output (JSON maps have unique keys). */
        APP(",\"context\":{");
        int first = 1;
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < out->n; i++) {
                const item_t *it = &out->items[i];
                if (it->kind != IT_CTX || strcmp(it->ctx, CTX[c]) != 0)
                    continue;
                APP("%s\"%s\":{\"additive_percent\":%s,\"post_add\":%s,\"multipliers\":[",
                    first ? "" : ",", it->ctx, num(it->add, n1), num(it->post, n2));
                for (size_t m = 0; m < it->n_mults; m++)
                    APP("%s%.17g", m ? "," : "", it->mults[m]);
                APP("]}");
                first = 0;
                break;
            }
        APP("}}");
    }
    APP("]");
#undef APP
    assert_true(len < cap);
    return s;
}

/* Keeps only the first context pack of each name in each output (as to_json does). */
static void dedupe_contexts(gen_t *g)
{
    for (size_t o = 0; o < g->n; o++) {
        output_t *out = &g->outs[o];
        int seen[3] = {0, 0, 0};
        size_t k = 0;
        for (size_t i = 0; i < out->n; i++) {
            item_t *it = &out->items[i];
            if (it->kind == IT_CTX) {
                int c = it->ctx == CTX[0] ? 0 : it->ctx == CTX[1] ? 1 : 2;
                if (seen[c]++)
                    continue;
            }
            out->items[k++] = *it;
        }
        out->n = k;
    }
}

static void check_bounds(const ac_snapshot_t *s, const ac_registry_t *reg)
{
    ac_snapshot_iter_t it;
    ac_snapshot_dim_t d;
    ac_snapshot_iter_init(&it, s, reg);
    while (ac_snapshot_next(&it, &d)) {
        int id = ac_registry_dimension_id(reg, d.name, d.name_len);
        const ac_rule_t *rule =
            id >= 0 ? ac_registry_rule(reg, (uint32_t)id) : ac_registry_default_rule(reg);
        if (!(d.min <= d.max && d.min >= rule->clamp_min && d.max <= rule->clamp_max))
            fail_msg("%s: caps [%g, %g] outside clamp [%g, %g]", d.name, d.min, d.max,
                     rule->clamp_min, rule->clamp_max);
        if (d.has_primary && !(d.primary >= d.min && d.primary <= d.max))
            fail_msg("%s: primary %g outside [%g, %g]", d.name, d.primary, d.min, d.max);
        if (d.has_derived && !(d.derived >= d.min && d.derived <= d.max))
            fail_msg("%s: derived %g outside [%g, %g]", d.name, d.derived, d.min, d.max);
    }
}

static void run_properties(const char *layers)
{
    ac_registry_t *reg = tu_registry(COMBINER, layers);
    ac_request_t *a = ac_request_new(reg), *b = ac_request_new(reg);
    ac_resolver_t *r1 = ac_resolver_new(reg), *r2 = ac_resolver_new(reg);
    ac_error_t err;
    gen_t *g = malloc(sizeof *g);
    size_t resolved = 0;
    for (int n = 0; n < CASES; n++) {
        generate(g);
        ac_request_reset(a);
        build(a, g);
        const ac_snapshot_t *s1, *s2;
        int rc1 = ac_resolve(r1, a, &s1, &err);
        if (rc1) {
            /* Only overflow to NaN can fail a valid request; it must fail the same way. */
            assert_int_equal(rc1, AC_ENON_FINITE);
        }
        ac_snapshot_t *first = rc1 ? NULL : ac_snapshot_dup(s1);
        /* Resolving the same request again, with the same resolver: same bytes. */
        if (!rc1) {
            assert_int_equal(ac_resolve(r1, a, &s1, &err), 0);
            assert_true(ac_snapshot_equal(first, s1));
            check_bounds(first, reg);
            assert_true(ac_snapshot_check(first, ac_snapshot_size(first),
                                          ac_registry_dimension_count(reg)));
        }
        uint64_t hash = ac_request_outputs_hash(a);
        for (int k = 0; k < 3; k++) {
            shuffle(g);
            ac_request_reset(b);
            build(b, g);
            int rc2 = ac_resolve(k % 2 ? r1 : r2, b, &s2, &err);
            assert_int_equal(rc1, rc2);
            if (!rc1 && !ac_snapshot_equal(first, s2)) {
                msgpack_sbuffer x, y;
                msgpack_sbuffer_init(&x);
                msgpack_sbuffer_init(&y);
                ac_snapshot_to_json(first, reg, &x);
                ac_snapshot_to_json(s2, reg, &y);
                char *json = to_json(g);
                fail_msg("case %d: shuffled input gave different bytes\n%.*s\n%.*s\n%s", n,
                         (int)x.size, x.data, (int)y.size, y.data, json);
            }
            assert_true(hash == ac_request_outputs_hash(b));
        }
        /* The JSON door gives what the builder gives. */
        dedupe_contexts(g);
        ac_request_reset(a);
        build(a, g);
        char *json = to_json(g);
        ac_request_reset(b);
        if (ac_decode_outputs_json(b, json, strlen(json), &err))
            fail_msg("case %d: %s at %s\n%s", n, err.message, err.path, json);
        rc1 = ac_resolve(r1, a, &s1, &err);
        ac_snapshot_destroy(&first);
        first = rc1 ? NULL : ac_snapshot_dup(s1);
        assert_int_equal(ac_resolve(r2, b, &s2, &err), rc1);
        if (!rc1) {
            if (!ac_snapshot_equal(first, s2)) {
                msgpack_sbuffer x, y;
                msgpack_sbuffer_init(&x);
                msgpack_sbuffer_init(&y);
                ac_snapshot_to_json(first, reg, &x);
                ac_snapshot_to_json(s2, reg, &y);
                fail_msg("case %d: JSON and builder differ\n%.*s\n%.*s\n%s", n, (int)x.size, x.data,
                         (int)y.size, y.data, json);
            }
            resolved++;
        }
        free(json);
        ac_snapshot_destroy(&first);
    }
    /* The generator must mostly produce resolvable requests, or the test says little. */
    assert_true(resolved > CASES * 9 / 10);
    free(g);
    ac_resolver_destroy(&r1);
    ac_resolver_destroy(&r2);
    ac_request_destroy(&a);
    ac_request_destroy(&b);
    ac_registry_destroy(&reg);
}

static void shuffled_inputs_give_bitwise_identical_snapshots_intersect(void **state)
{
    (void)state;
    run_properties(TU_LAYERS);
}

static void shuffled_inputs_give_bitwise_identical_snapshots_prioritized(void **state)
{
    (void)state;
    run_properties(TU_LAYERS_PO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shuffled_inputs_give_bitwise_identical_snapshots_intersect),
        cmocka_unit_test(shuffled_inputs_give_bitwise_identical_snapshots_prioritized),
    };
    return cmocka_run_group_tests_name("property", tests, NULL, NULL);
}
