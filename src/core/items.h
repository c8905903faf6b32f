/*  items.h - sort items, the shared form of everything the resolver orders, and the
    per-dimension reducers over them (caps.c, aggregate.c) that the resolver calls.

    Everything the resolver orders is turned into a 128-bit item: `k`, the packed sort key
    (bucket or layer, priority descending, system rank), then `v`, the value itself. Ties
    of k are broken on the value's bits mapped so that unsigned order is numeric order
    (ac_order_bits: -0 before +0, a total order, so even ties of equal values sort the
    same way whatever the input order): (k, ac_order_bits(v)) is the whole sort key of
    SPEC 3 and 5. The value stays a double because the reducers only add and multiply it;
    the mapping is paid only on the rare tie of keys.
*/
#ifndef AC_ITEMS_H
#define AC_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "actorcore/error.h"
#include "actorcore/registry.h"

typedef struct {
    uint64_t k; /* packed key */
    double v;   /* the value */
} ac_item_t;

static inline uint64_t ac_order_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return (u >> 63) ? ~u : u | (1ull << 63);
}

static inline double ac_order_value(uint64_t o)
{
    uint64_t u = (o >> 63) ? o & ~(1ull << 63) : ~o;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Priority descending as an ascending unsigned field. */
static inline uint64_t ac_prio_desc(int32_t priority)
{
    return (uint32_t) ~((uint32_t)priority ^ 0x80000000u);
}

/* Contribution key: bucket(2) | priority desc(32) | system rank(30). */
static inline uint64_t ac_contrib_key(unsigned bucket, int32_t priority, uint32_t rank)
{
    return ((uint64_t)bucket << 62) | (ac_prio_desc(priority) << 30) | rank;
}

/* Cap key: layer(6) | priority desc(32) | system rank(22) | kind(1) | mode(3). Kind and mode
   sit before the value only to split the items into the sums they feed; inside each sum
   the order stays (priority, system, value). */
static inline uint64_t ac_cap_key(unsigned layer, int32_t priority, uint32_t rank, unsigned kind,
                                  unsigned mode)
{
    return ((uint64_t)layer << 58) | (ac_prio_desc(priority) << 26) | ((uint64_t)rank << 4) |
           ((uint64_t)kind << 3) | mode;
}

static inline int ac_item_less(const ac_item_t *a, const ac_item_t *b)
{
    return a->k < b->k || (a->k == b->k && ac_order_bits(a->v) < ac_order_bits(b->v));
}

/* Sorts items by (k, v); scratch has room for n items. */
void ac_items_sort(ac_item_t *items, size_t n, ac_item_t *scratch);

/* Sorts items unless they already are in order: one compare per item in the common case
   (a bucket's contributions mostly arrive by priority), no call. A short list is sorted
   by insertion from its first item out of order (the prefix before it is in order);
   the order is total, so any sort gives the same bytes. */
static inline void ac_items_sort_unless_sorted(ac_item_t *items, size_t n, ac_item_t *scratch)
{
    size_t i = 1;
    while (i < n && !ac_item_less(&items[i], &items[i - 1]))
        i++;
    if (i >= n)
        return;
    if (n > 16) {
        ac_items_sort(items, n, scratch);
        return;
    }
    for (; i < n; i++) {
        ac_item_t x = items[i];
        size_t j = i;
        while (j > 0 && ac_item_less(&x, &items[j - 1])) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
    }
}

/* True when every layer's cap items are contiguous and in sort order among themselves
   (the layers themselves in any order): what ac_caps_reduce needs. */
bool ac_caps_grouped(const ac_item_t *items, size_t n);

/* SPEC 3-4: the EffectiveCapsFinal of one dimension from its cap items, grouped by layer
   and sorted within each (ac_caps_grouped).
   Returns 0, or non_finite_value when a sum overflows into NaN. */
int ac_caps_reduce(const ac_item_t *items, size_t n, const ac_rule_t *rule, ac_policy_t policy,
                   double *min, double *max);

/* SPEC 5: the unclamped value of one dimension from its sorted contribution items, given
   as consecutive bucket parts of n[FLAT], n[MULT], n[POST_ADD], n[OVERRIDE] items. */
double ac_aggregate(const ac_item_t *items, const uint32_t n[4], const ac_rule_t *rule);

/* Clamps v into [min, max] (min <= max). */
static inline double ac_clamp(double v, double min, double max)
{
    return v < min ? min : v > max ? max : v;
}

#endif
