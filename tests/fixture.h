/*  fixture.h - a registry + request + resolver built with the C builder API, for the rule
    tests: add items, resolve, read values back by name. */
#ifndef AC_FIXTURE_H
#define AC_FIXTURE_H

#include "testutil.h"

typedef struct {
    ac_registry_t *reg;
    ac_request_t *req;
    ac_resolver_t *r;
    const ac_snapshot_t *snap;
    ac_error_t err;
} fx_t;

static inline fx_t *fx_new(const char *combiner, const char *layers)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->reg = tu_registry(combiner, layers);
    fx->req = ac_request_new(fx->reg);
    fx->r = ac_resolver_new(fx->reg);
    assert_true(ac_request_begin_output(fx->req, "test", &fx->err) >= 0);
    return fx;
}

static inline void fx_free(fx_t *fx)
{
    ac_resolver_destroy(&fx->r);
    ac_request_destroy(&fx->req);
    ac_registry_destroy(&fx->reg);
    free(fx);
}

static inline void fx_add(fx_t *fx, ac_section_t sec, const char *dim, ac_bucket_t b, double v,
                          const char *sys, int32_t prio)
{
    if (ac_request_add_contribution(fx->req, sec, dim, b, v, sys, prio, &fx->err))
        fail_msg("add: %s at %s", fx->err.message, fx->err.path);
}

static inline void fx_cap(fx_t *fx, const char *dim, ac_cap_mode_t mode, ac_cap_kind_t kind,
                          double v, const char *sys, int32_t prio, const char *scope)
{
    const char *realm = scope && strcmp(scope, "REALM") == 0 ? "r1" : NULL;
    if (ac_request_add_cap(fx->req, dim, mode, kind, v, sys, prio, scope, realm, &fx->err))
        fail_msg("cap: %s at %s", fx->err.message, fx->err.path);
}

static inline void fx_resolve(fx_t *fx)
{
    if (ac_resolve(fx->r, fx->req, &fx->snap, &fx->err))
        fail_msg("resolve: %s at %s", fx->err.message, fx->err.path);
}

static inline ac_snapshot_dim_t fx_dim(fx_t *fx, const char *name)
{
    ac_snapshot_dim_t d;
    if (!ac_snapshot_find(fx->snap, fx->reg, name, &d))
        fail_msg("dimension %s not in the snapshot", name);
    return d;
}

/* Exact comparison of doubles, with a readable failure. */
#define assert_double_exact(a, b)                               \
    do {                                                        \
        double a_ = (a), b_ = (b);                              \
        if (!(a_ == b_))                                        \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_); \
    } while (0)

#endif
