/*  keys.h - actor keys for load: a fixed-seed generator and Zipf(s) or uniform draws over
    n keys, shared by bench_service (actor affinity) and actorcore-bench (--keys, --zipf).
    Key k - 1 is the k-th most requested under Zipf: weight k^-s, drawn by binary search of
    the cumulative weights. */
#ifndef AC_BENCH_KEYS_H
#define AC_BENCH_KEYS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct {
    uint32_t n;     /* keys 0..n-1 */
    double *cdf;    /* cumulative Zipf weights; NULL: uniform */
    uint64_t state; /* splitmix64 state */
} keys_t;

/* n keys (>= 1), Zipf exponent s (0: uniform), seed. Returns 0, or -1 out of memory. */
static inline int keys_init(keys_t *k, uint32_t n, double s, uint64_t seed)
{
    k->n = n ? n : 1;
    k->state = seed;
    k->cdf = NULL;
    if (s <= 0)
        return 0;
    k->cdf = malloc(k->n * sizeof *k->cdf);
    if (!k->cdf)
        return -1;
    double total = 0;
    for (uint32_t i = 0; i < k->n; i++)
        k->cdf[i] = total += pow(i + 1, -s);
    for (uint32_t i = 0; i < k->n; i++)
        k->cdf[i] /= total;
    return 0;
}

static inline void keys_fini(keys_t *k)
{
    free(k->cdf);
    k->cdf = NULL;
}

/* The next key drawn. */
static inline uint32_t keys_next(keys_t *k)
{
    double u = (double)(splitmix64(&k->state) >> 11) * 0x1.0p-53;
    if (!k->cdf)
        return (uint32_t)(u * k->n);
    uint32_t lo = 0, hi = k->n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (k->cdf[mid] <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
