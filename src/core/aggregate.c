/*  aggregate.c - the aggregator: pipeline and operator modes (SPEC 5), and the sort that
    gives every sum and product its one order. */
#include "actorcore/registry.h"
#include "actorcore/request.h"
#include "core/items.h"

static void insertion_sort(ac_item_t *items, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        ac_item_t x = items[i];
        size_t j = i;
        while (j > 0 && ac_item_less(&x, &items[j - 1])) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
    }
}

/* Bottom-up merge sort over runs of 16 sorted by insertion: O(n log n) whatever an
   attacker sends, and no allocation (scratch is the caller's). */
void ac_items_sort(ac_item_t *items, size_t n, ac_item_t *scratch)
{
    const size_t run = 16;
    if (n <= run) {
        insertion_sort(items, n);
        return;
    }
    for (size_t i = 0; i < n; i += run)
        insertion_sort(items + i, n - i < run ? n - i : run);
    ac_item_t *src = items, *dst = scratch;
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = ac_item_less(&src[b], &src[a]) ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        ac_item_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != items)
        memcpy(items, src, n * sizeof *items);
}

/* flat * product(1 + MULT) + post, unless an OVERRIDE exists. The section arrives split by
   bucket (n[FLAT], n[MULT], n[POST_ADD], n[OVERRIDE] items, in that order), each part
   sorted, so no per-item dispatch is needed. */
static double pipeline(const ac_item_t *it, const uint32_t n[4])
{
    const ac_item_t *mult_it = it + n[AC_FLAT], *post_it = mult_it + n[AC_MULT];
    const ac_item_t *over_it = post_it + n[AC_POST_ADD];
    if (n[AC_OVERRIDE])
        return over_it[0].v; /* highest priority, then smallest system */
    double flat = 0, mult = 1, post = 0;
    for (uint32_t i = 0; i < n[AC_FLAT]; i++)
        flat += it[i].v;
    for (uint32_t i = 0; i < n[AC_MULT]; i++)
        mult *= 1 + mult_it[i].v;
    for (uint32_t i = 0; i < n[AC_POST_ADD]; i++)
        post += post_it[i].v;
    return flat * mult + post;
}

static double operator_mode(const ac_item_t *it, size_t n, int op)
{
    double acc = op == AC_OP_MULTIPLY ? 1 : 0;
    uint64_t best = ac_order_bits(it[0].v); /* MAX and MIN in the total order */
    for (size_t i = 0; i < n; i++) {
        double v = it[i].v;
        switch (op) {
        case AC_OP_MAX:
            if (ac_order_bits(v) > best)
                best = ac_order_bits(v);
            break;
        case AC_OP_MIN:
            if (ac_order_bits(v) < best)
                best = ac_order_bits(v);
            break;
        case AC_OP_MULTIPLY:
            acc *= v;
            break;
        default: /* SUM, AVERAGE */
            acc += v;
            break;
        }
    }
    if (op == AC_OP_MAX || op == AC_OP_MIN)
        return ac_order_value(best);
    if (op == AC_OP_AVERAGE)
        return acc / (double)n;
    return acc;
}

double ac_aggregate(const ac_item_t *items, const uint32_t n[4], const ac_rule_t *rule)
{
    if (rule->use_pipeline)
        return pipeline(items, n);
    return operator_mode(items, (size_t)n[0] + n[1] + n[2] + n[3], rule->op);
}
