/*  hist.c - the log-linear latency histogram of hist.h. */
#include "hist.h"

#include <string.h>

#define HALF (1u << BH_SUB_BITS)

void bh_reset(bh_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

int bh_index(uint64_t ns)
{
    if (ns > BH_MAX_NS)
        ns = BH_MAX_NS;
    if (ns < 2 * HALF)
        return (int)ns;
    /* ns has its top bit at position p >= 11: shift it down to 11 significant bits. */
    int shift = 63 - __builtin_clzll(ns) - BH_SUB_BITS;
    return (int)((unsigned)shift * HALF + (unsigned)(ns >> shift));
}

uint64_t bh_lowest(int index)
{
    if (index < (int)(2 * HALF))
        return (uint64_t)index;
    int shift = index / (int)HALF - 1;
    uint64_t sub = (uint64_t)(index - shift * (int)HALF);
    return sub << shift;
}

uint64_t bh_highest(int index)
{
    if (index < (int)(2 * HALF))
        return (uint64_t)index;
    int shift = index / (int)HALF - 1;
    return bh_lowest(index) + (1ull << shift) - 1;
}

void bh_record(bh_hist_t *h, uint64_t ns)
{
    if (ns > BH_MAX_NS) {
        h->saturated++;
        ns = BH_MAX_NS;
    }
    h->counts[bh_index(ns)]++;
    h->total++;
    h->sum += (double)ns;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
}

void bh_merge(bh_hist_t *into, const bh_hist_t *from)
{
    for (int i = 0; i < BH_COUNTS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    into->saturated += from->saturated;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bh_quantile(const bh_hist_t *h, double q)
{
    if (!h->total)
        return 0;
    if (q >= 1)
        return h->max;
    /* The rank of the value asked for: at least the first. */
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < BH_COUNTS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bh_highest(i);
            if (v > h->max)
                v = h->max;
            return v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double bh_mean(const bh_hist_t *h)
{
    return h->total ? h->sum / (double)h->total : 0;
}
