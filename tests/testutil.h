/*  testutil.h - helpers shared by the cmocka suites: registries from text, resolving a
    JSON input, reading the golden files, comparing snapshots as JSON. */
#ifndef AC_TESTUTIL_H
#define AC_TESTUTIL_H

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "actorcore/actorcore.h"

#ifndef AC_GOLDEN_DIR
#error "AC_GOLDEN_DIR must name ../shared/golden"
#endif

/* The golden combiner, with extra dimensions used by the rule tests. */
static const char *const TU_COMBINER =
    "dimensions:\n"
    "  strength: { use_pipeline: true, clamp_default: { min: 0, max: 999999 } }\n"
    "  crit_rate: { use_pipeline: true, clamp_default: { min: 0, max: 1 } }\n"
    "  hp: { use_pipeline: true, clamp_default: { min: -1000, max: 1000000 } }\n"
    "  sum_dim: { use_pipeline: false, operator: SUM, clamp_default: { min: -1e300, max: 1e300 } "
    "}\n"
    "  max_dim: { use_pipeline: false, operator: MAX, clamp_default: { min: -1e9, max: 1e9 } }\n"
    "  min_dim: { use_pipeline: false, operator: MIN, clamp_default: { min: -1e9, max: 1e9 } }\n"
    "  avg_dim: { use_pipeline: false, operator: AVERAGE, clamp_default: { min: -1e9, max: 1e9 } "
    "}\n"
    "  mul_dim: { use_pipeline: false, operator: MULTIPLY, clamp_default: { min: -1e9, max: 1e9 } "
    "}\n";

static const char *const TU_LAYERS =
    "order: [REALM, WORLD, EVENT, TOTAL]\nacross_policy: INTERSECT\n";
static const char *const TU_LAYERS_PO =
    "order: [REALM, WORLD, EVENT, TOTAL]\nacross_policy: PRIORITIZED_OVERRIDE\n";

static inline ac_registry_t *tu_registry(const char *combiner, const char *layers)
{
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load_buffers("combiner.yaml", combiner, strlen(combiner),
                                                  "layers.yaml", layers, strlen(layers), &err);
    if (!reg)
        fail_msg("registry: %s (%s)", err.message, err.path);
    return reg;
}

static inline char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Resolves JSON outputs under reg. Returns 0 and a malloc'd JSON snapshot in *json, or the
   error code with err filled. */
static inline int tu_resolve_json(const ac_registry_t *reg, const char *text, char **json,
                                  ac_error_t *err)
{
    ac_request_t *req = ac_request_new(reg);
    ac_resolver_t *r = ac_resolver_new(reg);
    const ac_snapshot_t *snap;
    int rc = ac_decode_outputs_json(req, text, strlen(text), err);
    if (rc == 0)
        rc = ac_resolve(r, req, &snap, err);
    if (rc == 0 && json) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(ac_snapshot_to_json(snap, reg, &sb), 0);
        *json = strndup(sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    return rc;
}

static inline int tu_close(double a, double b)
{
    if (a == b)
        return 1;
    return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* Compares the numbers map `want` with `got`: same keys, numbers within 1e-12 relative. */
static inline void tu_assert_number_map(json_t *want, json_t *got, const char *what)
{
    if (!json_is_object(want) || !json_is_object(got))
        fail_msg("%s: not an object", what);
    if (json_object_size(want) != json_object_size(got))
        fail_msg("%s: %zu keys expected, %zu found", what, json_object_size(want),
                 json_object_size(got));
    const char *key;
    json_t *wv;
    json_object_foreach(want, key, wv)
    {
        json_t *gv = json_object_get(got, key);
        if (!gv)
            fail_msg("%s: missing '%s'", what, key);
        if (json_is_object(wv)) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.%s", what, key);
            tu_assert_number_map(wv, gv, sub);
        } else if (!json_is_number(gv) || !tu_close(json_number_value(wv), json_number_value(gv))) {
            fail_msg("%s.%s: expected %.17g, found %.17g", what, key, json_number_value(wv),
                     json_number_value(gv));
        }
    }
}

/* Asserts that snapshot JSON `got` matches the expected snapshot JSON `want`. */
static inline void tu_assert_snapshot(const char *want_text, const char *got_text)
{
    json_error_t je;
    json_t *want = json_loads(want_text, 0, &je), *got = json_loads(got_text, 0, &je);
    if (!want || !got)
        fail_msg("unparsable snapshot: %s", got ? want_text : got_text);
    const char *keys[] = {"Primary", "Derived", "CapsUsed"};
    for (int i = 0; i < 3; i++)
        tu_assert_number_map(json_object_get(want, keys[i]), json_object_get(got, keys[i]),
                             keys[i]);
    assert_true(json_equal(json_object_get(want, "Version"), json_object_get(got, "Version")));
    json_decref(want);
    json_decref(got);
}

/* A fresh directory under /tmp for one suite (buf >= 64 bytes); 0 or -1. */
/* Runs fn(arg) with file descriptor fd (1 or 2) written into a temporary file, and
   returns what was written (malloc'd, NUL-terminated). */
static inline char *tu_capture(int fd, void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/ac_test_capture_XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    FILE *stream = fd == 1 ? stdout : stderr;
    fflush(stream);
    int saved = dup(fd);
    dup2(tmp, fd);
    fn(arg);
    fflush(stream);
    dup2(saved, fd);
    close(saved);
    close(tmp);
    char *text = tu_slurp(path);
    unlink(path);
    assert_non_null(text);
    return text;
}

static inline int tu_mkdtemp(char *buf, size_t size, const char *tag)
{
    snprintf(buf, size, "/tmp/ac_%s_XXXXXX", tag);
    return mkdtemp(buf) ? 0 : -1;
}

/* Removes a directory made by tu_mkdtemp, with its content. */
static inline int tu_rmtree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* The design's ten truth files (../shared/golden), in order; case09 has a layer registry
   of its own (cap_layer_registry.json beside its input). */
#define TU_GOLDEN_NCASES 10
static const char *const tu_golden_cases[TU_GOLDEN_NCASES] __attribute__((unused)) = {
    "case01_total_cap_sum",
    "case02_realm_world_total",
    "case03_override_priority",
    "case04_mult_stacking",
    "case05_cdr_cap",
    "case06_lifespan_operator_max",
    "case07_move_speed_floor",
    "case08_min_gt_max_conflict",
    "case09_prioritized_override",
    "case10_primary_derived_realm_min",
};

/* Path of a file in the golden folder. */
static inline void tu_golden_path(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", AC_GOLDEN_DIR, rel);
}

/* The layer registry of golden case `name`: its own cap_layer_registry.json when it has
   one, else the shared cap_layers.yaml. */
static inline void tu_case_layers(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s/cap_layer_registry.json", AC_GOLDEN_DIR, name);
    FILE *probe = fopen(buf, "r");
    if (probe)
        fclose(probe);
    else
        tu_golden_path(buf, size, "cap_layers.yaml");
}

#endif
