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

static inline ac_registry_t *w1_registry(void)
{
    char combiner[4096];
    size_t n = (size_t)snprintf(combiner, sizeof combiner, "dimensions:\n");
    for (int d = 0; d < 20; d++)
        n += (size_t)snprintf(combiner + n, sizeof combiner - n,
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
            rc |= ac_request_add_contribution(req, sec, dim, AC_FLAT, 10 + s + bias, sys, 100 - s, &err);
            if (s % 2 == 0)
                rc |= ac_request_add_contribution(req, sec, dim, AC_MULT, 0.05, sys, 100 - s, &err);
            if (s == 0)
                rc |= ac_request_add_cap(req, dim, AC_CAP_BASELINE, AC_KIND_MAX, 1000, sys, 100, "TOTAL", NULL, &err);
            if (s == 1)
                rc |= ac_request_add_cap(req, dim, AC_CAP_ADDITIVE, AC_KIND_MAX, 500, sys, 99, "TOTAL", NULL, &err);
            if (s == 2)
                rc |= ac_request_add_cap(req, dim, AC_CAP_HARD_MAX, AC_KIND_MAX, 1200, sys, 98, "WORLD", NULL, &err);
            if (s == 3)
                rc |= ac_request_add_cap(req, dim, AC_CAP_HARD_MIN, AC_KIND_MIN, 5, sys, 97, "WORLD", NULL, &err);
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

#endif
