/*  caps.c - the caps provider: within-layer merge and across-layer reduction (SPEC 3-4).

    Input: the cap items of one dimension, sorted within each layer (ac_caps_grouped; a
    full sort gives that too). One pass accumulates every layer's sums and bounds, then
    the layers are folded in registry order into both the INTERSECT result and the
    PRIORITIZED_OVERRIDE authoritative sides: the order the layers came in never matters,
    so caps that arrive layer by layer need no sort.
*/
#include <math.h>

#include "actorcore/request.h"
#include "core/items.h"

enum { SIDE_MAX = AC_KIND_MAX, SIDE_MIN = AC_KIND_MIN };

/* One layer being reduced: both sides' sums, overrides and hard bounds. */
typedef struct {
    double base[2];    /* sum of BASELINE per side, in sort order */
    double add[2];     /* sum of ADDITIVE per side, in sort order */
    double ov[2];      /* the winning OVERRIDE per side */
    uint64_t hard_max; /* smallest HARD_MAX, in ac_order_bits */
    uint64_t hard_min; /* largest HARD_MIN, in ac_order_bits */
    unsigned has_sum;  /* bit per side: any BASELINE or ADDITIVE */
    unsigned has_ov;   /* bit per side: any OVERRIDE */
} layer_t;

/* The bounds of one accumulated layer: [*lmin, *lmax]; AC_ENON_FINITE on a NaN. */
static int layer_bounds(const layer_t *l, const ac_rule_t *rule, double *lmin, double *lmax)
{
    const unsigned MX = 1u << SIDE_MAX, MN = 1u << SIDE_MIN;
    double cand_max = (l->has_ov & MX)    ? l->ov[SIDE_MAX]
                      : (l->has_sum & MX) ? l->base[SIDE_MAX] + l->add[SIDE_MAX]
                                          : INFINITY;
    double cand_min = (l->has_ov & MN)    ? l->ov[SIDE_MIN]
                      : (l->has_sum & MN) ? l->base[SIDE_MIN] + l->add[SIDE_MIN]
                                          : -INFINITY;
    if (isnan(cand_max) || isnan(cand_min))
        return AC_ENON_FINITE;
    double hmax = ac_order_value(l->hard_max), hmin = ac_order_value(l->hard_min);
    double mx = cand_max < hmax ? cand_max : hmax;
    mx = mx < rule->clamp_max ? mx : rule->clamp_max;
    double mn = cand_min > hmin ? cand_min : hmin;
    mn = mn > rule->clamp_min ? mn : rule->clamp_min;
    if (mn > mx)
        mn = mx; /* the upper bound wins */
    *lmin = mn;
    *lmax = mx;
    return 0;
}

bool ac_caps_grouped(const ac_item_t *items, size_t n)
{
    uint64_t seen = n ? 1ull << (items[0].k >> 58) : 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t layer = items[i].k >> 58;
        if (layer == items[i - 1].k >> 58) {
            if (ac_item_less(&items[i], &items[i - 1]))
                return false;
        } else {
            if (seen & (1ull << layer))
                return false;
            seen |= 1ull << layer;
        }
    }
    return true;
}

int ac_caps_reduce(const ac_item_t *items, size_t n, const ac_rule_t *rule, ac_policy_t policy,
                   double *min, double *max)
{
    /* Accumulate each layer's items in the order given (sorted within the layer), then
       fold the layers in registry order (their positions ascending), whatever order the
       groups came in. */
    layer_t lay[64];
    uint64_t present = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = items[i].k;
        unsigned li = (unsigned)(k >> 58), side = (unsigned)(k >> 3) & 1;
        layer_t *l = &lay[li];
        if (!(present & (1ull << li))) {
            present |= 1ull << li;
            *l = (layer_t){
                {0, 0}, {0, 0}, {0, 0}, ac_order_bits(INFINITY), ac_order_bits(-INFINITY), 0, 0};
        }
        double v = items[i].v;
        switch (k & 7) {
        case AC_CAP_BASELINE:
            l->base[side] += v;
            l->has_sum |= 1u << side;
            break;
        case AC_CAP_ADDITIVE:
            l->add[side] += v;
            l->has_sum |= 1u << side;
            break;
        case AC_CAP_OVERRIDE:
            /* In order: the first is the highest priority, then the smallest system. */
            if (!(l->has_ov & (1u << side))) {
                l->ov[side] = v;
                l->has_ov |= 1u << side;
            }
            break;
        case AC_CAP_HARD_MAX:
            if (ac_order_bits(v) < l->hard_max)
                l->hard_max = ac_order_bits(v);
            break;
        default: /* AC_CAP_HARD_MIN */
            if (ac_order_bits(v) > l->hard_min)
                l->hard_min = ac_order_bits(v);
            break;
        }
    }
    double imin = -INFINITY, imax = INFINITY; /* INTERSECT over present layers */
    double po_min = 0, po_max = 0;            /* PRIORITIZED_OVERRIDE authoritative sides */
    int po_min_set = 0, po_max_set = 0;
    for (uint64_t bits = present; bits; bits &= bits - 1) {
        const layer_t *l = &lay[__builtin_ctzll(bits)];
        double lmin, lmax;
        int rc = layer_bounds(l, rule, &lmin, &lmax);
        if (rc)
            return rc;
        imin = lmin > imin ? lmin : imin;
        imax = lmax < imax ? lmax : imax;
        if (!po_max_set && (l->has_ov & (1u << SIDE_MAX))) {
            po_max = lmax;
            po_max_set = 1;
        }
        if (!po_min_set && (l->has_ov & (1u << SIDE_MIN))) {
            po_min = lmin;
            po_min_set = 1;
        }
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
