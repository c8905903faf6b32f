/*  caps.c - the caps provider: within-layer merge and across-layer reduction (SPEC 3-4).

    Input: the cap items of one dimension, grouped by layer and sorted within each group
    (ac_caps_grouped; a full sort gives that too). Each group is reduced in one pass with
    its sums in registers, then the layers are folded in registry order into both the
    INTERSECT result and the PRIORITIZED_OVERRIDE authoritative sides: the order the
    groups came in never matters, so caps that arrive layer by layer need no sort.
*/
#include <math.h>

#include "actorcore/request.h"
#include "core/items.h"

enum { SIDE_MAX = AC_KIND_MAX, SIDE_MIN = AC_KIND_MIN };

/* A reduced layer: its bounds, and which sides had an OVERRIDE. */
typedef struct {
    double min, max; /* layerMin, layerMax */
    unsigned has_ov; /* bit per side */
} layer_t;

/* Reduces the group of one layer, items[*i] up to the first item of another layer, into
   *out (SPEC 3); *i moves past the group. The sums live in registers: a group is a
   handful of items. AC_ENON_FINITE on a NaN candidate. */
static int reduce_layer(const ac_item_t *items, size_t n, size_t *i, const ac_rule_t *rule,
                        layer_t *out)
{
    const uint64_t layer = items[*i].k >> 58;
    double base_max = 0, add_max = 0, base_min = 0, add_min = 0, ov_max = 0, ov_min = 0;
    unsigned has_sum = 0, has_ov = 0;
    uint64_t hard_max = ac_order_bits(INFINITY), hard_min = ac_order_bits(-INFINITY);
    size_t j = *i;
    for (; j < n && (items[j].k >> 58) == layer; j++) {
        const uint64_t k = items[j].k;
        const double v = items[j].v;
        const unsigned side = (unsigned)(k >> 3) & 1, bit = 1u << side;
        switch (k & 7) {
        case AC_CAP_BASELINE:
            if (side == SIDE_MAX)
                base_max += v;
            else
                base_min += v;
            has_sum |= bit;
            break;
        case AC_CAP_ADDITIVE:
            if (side == SIDE_MAX)
                add_max += v;
            else
                add_min += v;
            has_sum |= bit;
            break;
        case AC_CAP_OVERRIDE:
            /* In order: the first is the highest priority, then the smallest system. */
            if (!(has_ov & bit)) {
                if (side == SIDE_MAX)
                    ov_max = v;
                else
                    ov_min = v;
                has_ov |= bit;
            }
            break;
        case AC_CAP_HARD_MAX:
            if (ac_order_bits(v) < hard_max)
                hard_max = ac_order_bits(v);
            break;
        default: /* AC_CAP_HARD_MIN */
            if (ac_order_bits(v) > hard_min)
                hard_min = ac_order_bits(v);
            break;
        }
    }
    *i = j;
    const unsigned MX = 1u << SIDE_MAX, MN = 1u << SIDE_MIN;
    double cand_max = (has_ov & MX) ? ov_max : (has_sum & MX) ? base_max + add_max : INFINITY;
    double cand_min = (has_ov & MN) ? ov_min : (has_sum & MN) ? base_min + add_min : -INFINITY;
    if (isnan(cand_max) || isnan(cand_min))
        return AC_ENON_FINITE;
    double hmax = ac_order_value(hard_max), hmin = ac_order_value(hard_min);
    double mx = cand_max < hmax ? cand_max : hmax;
    mx = mx < rule->clamp_max ? mx : rule->clamp_max;
    double mn = cand_min > hmin ? cand_min : hmin;
    mn = mn > rule->clamp_min ? mn : rule->clamp_min;
    if (mn > mx)
        mn = mx; /* the upper bound wins */
    out->min = mn;
    out->max = mx;
    out->has_ov = has_ov;
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
    /* Reduce each layer's group in the order given (sorted within the group), then fold
       the layers in registry order (their positions ascending), whatever order the
       groups came in. A NaN fails in registry order too. */
    layer_t lay[64];
    uint64_t present = 0, nan = 0;
    for (size_t i = 0; i < n;) {
        unsigned li = (unsigned)(items[i].k >> 58);
        present |= 1ull << li;
        if (reduce_layer(items, n, &i, rule, &lay[li]))
            nan |= 1ull << li;
    }
    if (nan)
        return AC_ENON_FINITE;
    double imin = -INFINITY, imax = INFINITY; /* INTERSECT over present layers */
    double po_min = 0, po_max = 0;            /* PRIORITIZED_OVERRIDE authoritative sides */
    int po_min_set = 0, po_max_set = 0;
    for (uint64_t bits = present; bits; bits &= bits - 1) {
        const layer_t *l = &lay[__builtin_ctzll(bits)];
        imin = l->min > imin ? l->min : imin;
        imax = l->max < imax ? l->max : imax;
        if (!po_max_set && (l->has_ov & (1u << SIDE_MAX))) {
            po_max = l->max;
            po_max_set = 1;
        }
        if (!po_min_set && (l->has_ov & (1u << SIDE_MIN))) {
            po_min = l->min;
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
