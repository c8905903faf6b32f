/*  w1.h - workload W1 of WORKLOADS.md ("standard actor"), shared by the benchmarks.

    10 subsystems sub00..sub09 (priority 100 - s), 20 dimensions dim00..dim19 (00-09
    primary, 10-19 derived), pipeline, clamp [0, 1e6]. Each subsystem gives every dimension
    one FLAT of 10 + s; even subsystems also one MULT of 0.05 (300 contributions). Caps per
    dimension: sub00 BASELINE max 1000 TOTAL, sub01 ADDITIVE max 500 TOTAL, sub02 HARD_MAX
    1200 WORLD, sub03 HARD_MIN 5 WORLD (80 caps). Result: 145 * 1.05^5, caps [5, 1200].
*/
#ifndef AC_BENCH_W1_H
#define AC_BENCH_W1_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/actorcore.h"
#include "actorcore/wire.h"

static inline ac_registry_t *w1_registry(void)
{
    char combiner[4096];
    size_t n = (size_t)snprintf(combiner, sizeof combiner, "dimensions:\n");
    for (int d = 0; d < 20; d++)
        n += (size_t)snprintf(
            combiner + n, sizeof combiner - n,
            "  dim%02d: { use_pipeline: true, clamp_default: { min: 0, max: 1000000 } }\n", d);
    const char *layers = "order: [REALM, WORLD, EVENT, TOTAL]\nacross_policy: INTERSECT\n";
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load_buffers("w1-combiner", combiner, n, "w1-layers", layers,
                                                  strlen(layers), &err);
    if (!reg) {
        fprintf(stderr, "w1 registry: %s\n", err.message);
        exit(1);
    }
    return reg;
}

/* Fills req with W1; `bias` is added to every FLAT so batch actors differ. */
static inline void w1_fill(ac_request_t *req, const char *actor_id, double bias)
{
    ac_error_t err;
    int rc = 0;
    if (actor_id)
        rc |= ac_request_set_actor(req, actor_id, 1, &err);
    for (int s = 0; s < 10; s++) {
        char sys[8], dim[8];
        snprintf(sys, sizeof sys, "sub%02d", s);
        rc |= ac_request_begin_output(req, sys, &err) < 0;
        for (int d = 0; d < 20; d++) {
            snprintf(dim, sizeof dim, "dim%02d", d);
            ac_section_t sec = d < 10 ? AC_PRIMARY : AC_DERIVED;
            rc |= ac_request_add_contribution(req, sec, dim, AC_FLAT, 10 + s + bias, sys, 100 - s,
                                              &err);
            if (s % 2 == 0)
                rc |= ac_request_add_contribution(req, sec, dim, AC_MULT, 0.05, sys, 100 - s, &err);
            if (s == 0)
                rc |= ac_request_add_cap(req, dim, AC_CAP_BASELINE, AC_KIND_MAX, 1000, sys, 100,
                                         "TOTAL", NULL, &err);
            if (s == 1)
                rc |= ac_request_add_cap(req, dim, AC_CAP_ADDITIVE, AC_KIND_MAX, 500, sys, 99,
                                         "TOTAL", NULL, &err);
            if (s == 2)
                rc |= ac_request_add_cap(req, dim, AC_CAP_HARD_MAX, AC_KIND_MAX, 1200, sys, 98,
                                         "WORLD", NULL, &err);
            if (s == 3)
                rc |= ac_request_add_cap(req, dim, AC_CAP_HARD_MIN, AC_KIND_MIN, 5, sys, 97,
                                         "WORLD", NULL, &err);
        }
    }
    if (rc) {
        fprintf(stderr, "w1 request: %s at %s\n", err.message, err.path);
        exit(1);
    }
}

/* The W1 answer for a FLAT bias: (145 + 10 * bias) * 1.05^5, multiplied in sort order. */
static inline double w1_expected(double bias)
{
    double flat = 0, mult = 1;
    for (int s = 0; s < 10; s++)
        flat += 10 + s + bias;
    for (int s = 0; s < 10; s += 2)
        mult *= 1.05;
    double v = flat * mult;
    return v < 5 ? 5 : v > 1200 ? 1200 : v;
}

/* Checks every dimension of a W1 snapshot; exits on a wrong answer. */
static inline void w1_verify(const ac_snapshot_t *snap, const ac_registry_t *reg, double bias)
{
    double want = w1_expected(bias);
    if (ac_snapshot_dimension_count(snap) != 20 || ac_snapshot_primary_count(snap) != 10 ||
        ac_snapshot_derived_count(snap) != 10)
        goto wrong;
    ac_snapshot_iter_t it;
    ac_snapshot_dim_t d;
    ac_snapshot_iter_init(&it, snap, reg);
    while (ac_snapshot_next(&it, &d)) {
        double v = d.has_primary ? d.primary : d.derived;
        if (v != want || d.min != 5 || d.max != 1200)
            goto wrong;
    }
    if (bias == 0 && fabs(want - 185.0608) > 1e-3)
        goto wrong;
    return;
wrong:
    fprintf(stderr, "W1 snapshot is wrong: the benchmark would measure nothing\n");
    exit(1);
}

/* Fills req with W1 for actor_id, resolves it with r and checks the answer; exits on an
   error or a wrong snapshot. */
static inline const ac_snapshot_t *w1_resolve_checked(ac_resolver_t *r, ac_request_t *req,
                                                      const ac_registry_t *reg)
{
    w1_fill(req, "w1-actor", 0);
    const ac_snapshot_t *snap;
    ac_error_t err;
    if (ac_resolve(r, req, &snap, &err)) {
        fprintf(stderr, "W1: resolve: %s\n", err.message);
        exit(1);
    }
    w1_verify(snap, reg, 0);
    return snap;
}

/* Packs W1's ten SubsystemOutputs as a msgpack array (W1-inline), as a client would:
   field names as SPEC 1 spells them, integral values as integers. */
static inline void w1_pack_outputs(msgpack_packer *pk)
{
    static const char *const modes[] = {"BASELINE", "ADDITIVE", "HARD_MAX", "HARD_MIN"};
    static const char *const kinds[] = {"max", "max", "max", "min"};
    static const char *const scopes[] = {"TOTAL", "TOTAL", "WORLD", "WORLD"};
    static const int vals[] = {1000, 500, 1200, 5};
    msgpack_pack_array(pk, 10);
    for (int s = 0; s < 10; s++) {
        char sys[8];
        snprintf(sys, sizeof sys, "sub%02d", s);
        int per_dim = s % 2 == 0 ? 2 : 1;
        msgpack_pack_map(pk, 4);
        ac_wire_pack_str(pk, "meta");
        msgpack_pack_map(pk, 1);
        ac_wire_pack_str(pk, "system");
        ac_wire_pack_str(pk, sys);
        for (int sec = 0; sec < 2; sec++) {
            ac_wire_pack_str(pk, sec ? "derived" : "primary");
            msgpack_pack_array(pk, (size_t)(10 * per_dim));
            for (int d = sec * 10; d < sec * 10 + 10; d++) {
                char dim[8];
                snprintf(dim, sizeof dim, "dim%02d", d);
                for (int b = 0; b < per_dim; b++) {
                    msgpack_pack_map(pk, 5);
                    ac_wire_pack_str(pk, "dimension");
                    ac_wire_pack_str(pk, dim);
                    ac_wire_pack_str(pk, "bucket");
                    ac_wire_pack_str(pk, b ? "MULT" : "FLAT");
                    ac_wire_pack_str(pk, "value");
                    if (b)
                        msgpack_pack_double(pk, 0.05);
                    else
                        msgpack_pack_int(pk, 10 + s);
                    ac_wire_pack_str(pk, "system");
                    ac_wire_pack_str(pk, sys);
                    ac_wire_pack_str(pk, "priority");
                    msgpack_pack_int(pk, 100 - s);
                }
            }
        }
        ac_wire_pack_str(pk, "caps");
        msgpack_pack_array(pk, s < 4 ? 20 : 0);
        for (int d = 0; s < 4 && d < 20; d++) {
            char dim[8];
            snprintf(dim, sizeof dim, "dim%02d", d);
            msgpack_pack_map(pk, 7);
            ac_wire_pack_str(pk, "system");
            ac_wire_pack_str(pk, sys);
            ac_wire_pack_str(pk, "dimension");
            ac_wire_pack_str(pk, dim);
            ac_wire_pack_str(pk, "mode");
            ac_wire_pack_str(pk, modes[s]);
            ac_wire_pack_str(pk, "kind");
            ac_wire_pack_str(pk, kinds[s]);
            ac_wire_pack_str(pk, "value");
            msgpack_pack_int(pk, vals[s]);
            ac_wire_pack_str(pk, "scope");
            ac_wire_pack_str(pk, scopes[s]);
            ac_wire_pack_str(pk, "priority");
            msgpack_pack_int(pk, 100 - s);
        }
    }
}

#endif
