/*  caps.c - the caps provider: within-layer merge and across-layer reduction (SPEC 3-4).

    Input: the cap items of one dimension, sorted, so items of a layer are contiguous and
    layers come in registry order. One pass computes each layer's bounds and folds them
    into both the INTERSECT result and the PRIORITIZED_OVERRIDE authoritative sides.
*/
#include <math.h>

#include "actorcore/request.h"
#include "core/items.h"

enum { SIDE_MAX = AC_KIND_MAX, SIDE_MIN = AC_KIND_MIN };

/* One side (max or min) of a layer being reduced. */
typedef struct {
    double base; /* sum of BASELINE, in sort order */
    double add;  /* sum of ADDITIVE, in sort order */
    double ov;   /* the winning OVERRIDE */
    int has_sum; /* any BASELINE or ADDITIVE */
    int has_ov;  /* any OVERRIDE */
} side_t;

/* The bounds of one layer: [*lmin, *lmax]; has_ov[side] tells which sides had an OVERRIDE. */
static int layer_bounds(const ac_item_t *it, size_t n, const ac_rule_t *rule, double *lmin,
                        double *lmax, int has_ov[2])
{
    side_t side[2] = {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}};
    uint64_t hard_max = ac_order_bits(INFINITY), hard_min = ac_order_bits(-INFINITY);
    for (size_t i = 0; i < n; i++) {
        side_t *s = &side[(it[i].k >> 3) & 1];
        switch (it[i].k & 7) {
        case AC_CAP_BASELINE:
            s->base += it[i].v;
            s->has_sum = 1;
            break;
        case AC_CAP_ADDITIVE:
            s->add += it[i].v;
            s->has_sum = 1;
            break;
        case AC_CAP_OVERRIDE:
            /* Sorted: the first is the highest priority, then the smallest system. */
            if (!s->has_ov) {
                s->ov = it[i].v;
                s->has_ov = 1;
            }
            break;
        case AC_CAP_HARD_MAX:
            hard_max = ac_order_bits(it[i].v) < hard_max ? ac_order_bits(it[i].v) : hard_max;
            break;
        default: /* AC_CAP_HARD_MIN */
            hard_min = ac_order_bits(it[i].v) > hard_min ? ac_order_bits(it[i].v) : hard_min;
            break;
        }
    }
    const side_t *smax = &side[SIDE_MAX], *smin = &side[SIDE_MIN];
    double cand_max = smax->has_ov ? smax->ov : smax->has_sum ? smax->base + smax->add : INFINITY;
    double cand_min = smin->has_ov ? smin->ov : smin->has_sum ? smin->base + smin->add : -INFINITY;
    if (isnan(cand_max) || isnan(cand_min))
        return AC_ENON_FINITE;
    double hmax = ac_order_value(hard_max), hmin = ac_order_value(hard_min);
    double mx = cand_max < hmax ? cand_max : hmax;
    mx = mx < rule->clamp_max ? mx : rule->clamp_max;
    double mn = cand_min > hmin ? cand_min : hmin;
    mn = mn > rule->clamp_min ? mn : rule->clamp_min;
    if (mn > mx)
        mn = mx; /* the upper bound wins */
    *lmin = mn;
    *lmax = mx;
    has_ov[SIDE_MAX] = smax->has_ov;
    has_ov[SIDE_MIN] = smin->has_ov;
    return 0;
}

int ac_caps_reduce(const ac_item_t *items, size_t n, const ac_rule_t *rule, ac_policy_t policy,
                   double *min, double *max)
{
    double imin = -INFINITY, imax = INFINITY; /* INTERSECT over present layers */
    double po_min = 0, po_max = 0;            /* PRIORITIZED_OVERRIDE authoritative sides */
    int po_min_set = 0, po_max_set = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t layer = items[i].k >> 58;
        size_t j = i + 1;
        while (j < n && (items[j].k >> 58) == layer)
            j++;
        double lmin, lmax;
        int has_ov[2];
        int rc = layer_bounds(items + i, j - i, rule, &lmin, &lmax, has_ov);
        if (rc)
            return rc;
        imin = lmin > imin ? lmin : imin;
        imax = lmax < imax ? lmax : imax;
        if (!po_max_set && has_ov[SIDE_MAX]) {
            po_max = lmax;
            po_max_set = 1;
        }
        if (!po_min_set && has_ov[SIDE_MIN]) {
            po_min = lmin;
            po_min_set = 1;
        }
        i = j;
    }
    double mn = imin, mx = imax;
    if (policy == AC_POLICY_PRIORITIZED_OVERRIDE) {
        if (po_min_set)
            mn = po_min;
        if (po_max_set)
            mx = po_max;
    }
    /* Caps never exceed the defaults: both bounds are brought into clamp_default, so even
       a cap entirely below the default range (max < clamp_default.min) lands on its edge
       rather than outside it. Otherwise this is the plain intersection of SPEC 4. */
    mn = ac_clamp(mn, rule->clamp_min, rule->clamp_max);
    mx = ac_clamp(mx, rule->clamp_min, rule->clamp_max);
    if (mn > mx)
        mn = mx;
    *min = mn;
    *max = mx;
    return 0;
}
