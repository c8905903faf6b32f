/*  bench_cache - the two cache tiers.

    - L1 get on 100 000 keys (random order), one thread: gets/s;
    - L3 point get on 100 000 rows (SQLite WAL, mmap): gets/s;
    - L3 write-behind: snapshots queued and committed per second (queue + flush);
    baselines in the same run: a plain array read of the same 100 000 snapshots by index,
    and a plain open-addressing table (linear probing, hash + id pointer + value pointer
    per slot) probed with the same ids in the same order: the L1 get / probe ratio.
    The values are real W1 snapshots (their size is that of one W1 snapshot); memory per
    cached L1 entry is the heap the cache holds (mallinfo2) over its entries.
    Median / min / max of 5 runs. Every hit is checked to return the stored bytes.
*/
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "actorcore/cache.h"
#include "actorcore/store.h"
#include "l1mem.h"
#include "w1.h"

#define KEYS 100000
#define RUNS 5

/* The baseline probe: a power-of-two open-addressing table, linear probing. */
typedef struct {
    uint64_t hash;     /* full hash; 0 marks an empty slot */
    const char *id;    /* the key's bytes */
    size_t len;        /* its length */
    const void *value; /* what a get returns */
} oa_slot_t;

static uint64_t oa_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h | 1;
}

static const void *oa_get(const oa_slot_t *t, size_t mask, const char *id, size_t len)
{
    uint64_t h = oa_hash(id, len);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (t[i].hash == 0)
            return NULL;
        if (t[i].hash == h && t[i].len == len && memcmp(t[i].id, id, len) == 0)
            return t[i].value;
    }
}

static void oa_put(oa_slot_t *t, size_t mask, const char *id, size_t len, const void *value)
{
    uint64_t h = oa_hash(id, len);
    size_t i = h & mask;
    while (t[i].hash)
        i = (i + 1) & mask;
    t[i] = (oa_slot_t){h, id, len, value};
}

/* Bytes of one W1 snapshot, as resolved now. */
static size_t w1_snapshot_bytes(void)
{
    ac_registry_t *reg = w1_registry();
    ac_request_t *req = ac_request_new(reg);
    ac_resolver_t *r = ac_resolver_new(reg);
    size_t n = ac_snapshot_size(w1_resolve_checked(r, req, reg));
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
    return n;
}

static void report(const char *what, double *v, const char *unit)
{
    qsort(v, RUNS, sizeof *v, cmp_d);
    printf("  %-36s median %12.0f  min %12.0f  max %12.0f  %s\n", what, v[RUNS / 2], v[0],
           v[RUNS - 1], unit);
}

/* main is long on purpose: it is the report, one block per figure in the order they are
   printed, each block setting up, timing and printing its own figure. */
int main(void)
{
    static char ids[KEYS][24];
    static unsigned order[KEYS];
    const size_t snap_bytes = w1_snapshot_bytes();
    char *snap = malloc(snap_bytes);
    for (size_t i = 0; i < snap_bytes; i++)
        snap[i] = (char)i;
    l1mem_ids(ids, KEYS);
    for (int i = 0; i < KEYS; i++)
        order[i] = (unsigned)i;
    srand(7);
    for (int i = KEYS - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        unsigned t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    double per_entry;
    ac_l1_t *l1 = l1mem_fill(ids, KEYS, snap, snap_bytes, &per_entry);
    char *array = malloc((size_t)KEYS * snap_bytes);
    size_t oa_mask = 262143;
    oa_slot_t *oa = calloc(oa_mask + 1, sizeof *oa);
    for (int i = 0; i < KEYS; i++)
        oa_put(oa, oa_mask, ids[i], strlen(ids[i]), array + (size_t)i * snap_bytes);
    for (int i = 0; i < KEYS; i++)
        memcpy(array + (size_t)i * snap_bytes, &i, sizeof i);

    double l1_rate[RUNS], base_rate[RUNS], oa_rate[RUNS], ratio[RUNS], l3_get[RUNS], l3_put[RUNS];
    volatile size_t sink = 0;
    const int rounds = 20;
    for (int run = 0; run < RUNS; run++) {
        double t0 = now_s();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < KEYS; i++) {
                unsigned k = order[i];
                const ac_l1_entry_t *e = ac_l1_get(l1, ids[k], 12, 0);
                sink += e->value_len;
            }
        double t1 = now_s();
        l1_rate[run] = (double)rounds * KEYS / (t1 - t0);
        t0 = now_s();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < KEYS; i++)
                sink += (size_t)array[(size_t)order[i] * snap_bytes];
        t1 = now_s();
        base_rate[run] = (double)rounds * KEYS / (t1 - t0);
        t0 = now_s();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < KEYS; i++) {
                unsigned k = order[i];
                const char *v = oa_get(oa, oa_mask, ids[k], 12);
                sink += (size_t)v[0];
            }
        t1 = now_s();
        oa_rate[run] = (double)rounds * KEYS / (t1 - t0);
        ratio[run] = l1_rate[run] / oa_rate[run];
    }
    /* Correctness of what was timed. */
    for (int i = 0; i < KEYS; i++) {
        ac_cache_key_t k = {.actor_id = ids[i],
                            .actor_id_len = strlen(ids[i]),
                            .version = 1,
                            .generation = 2,
                            .outputs_hash = 3};
        const ac_l1_entry_t *e = ac_l1_lookup(l1, &k, 0);
        int got;
        memcpy(&got, e->value, sizeof got);
        if (got != i) {
            fprintf(stderr, "L1 returned the wrong snapshot\n");
            return 1;
        }
    }

    char dir[] = "/tmp/ac_bench_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    for (int run = 0; run < RUNS; run++) {
        char path[64];
        snprintf(path, sizeof path, "%s/l3-%d.db", dir, run);
        ac_error_t err;
        ac_store_t *st = ac_store_open(path, KEYS + 1, &err);
        if (!st) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double t0 = now_s();
        for (int i = 0; i < KEYS; i++) {
            ac_cache_key_t k = {.actor_id = ids[i],
                                .actor_id_len = strlen(ids[i]),
                                .version = 1,
                                .generation = 2,
                                .outputs_hash = 3};
            memcpy(snap, &i, sizeof i);
            ac_store_put(st, &k, snap, snap_bytes);
        }
        ac_store_flush(st);
        double t1 = now_s();
        l3_put[run] = KEYS / (t1 - t0);
        t0 = now_s();
        for (int i = 0; i < KEYS; i++) {
            unsigned k = order[i];
            ac_stored_t row;
            if (ac_store_get(st, ids[k], 12, &row, &err) != 1) {
                fprintf(stderr, "L3 lost a row\n");
                return 1;
            }
            int got;
            memcpy(&got, row.value, sizeof got);
            if (got != (int)k) {
                fprintf(stderr, "L3 returned the wrong snapshot\n");
                return 1;
            }
            free(row.value);
        }
        t1 = now_s();
        l3_get[run] = KEYS / (t1 - t0);
        ac_store_stats_t ss;
        ac_store_stats(st, &ss);
        if (ss.writes != KEYS) {
            fprintf(stderr, "L3 wrote %llu of %d\n", (unsigned long long)ss.writes, KEYS);
            return 1;
        }
        ac_store_close(&st);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    printf("cache tiers, %d keys, %zu-byte snapshots (one W1 snapshot), %d runs\n", KEYS,
           snap_bytes, RUNS);
    report("L1 get (random order), 1 thread", l1_rate, "gets/s");
    report("baseline: array read by index", base_rate, "reads/s");
    report("baseline: open-addressing probe", oa_rate, "gets/s");
    qsort(ratio, RUNS, sizeof *ratio, cmp_d);
    printf("  %-36s median %12.3f  min %12.3f  max %12.3f  (target >= 0.7)\n",
           "L1 get / open-addressing probe", ratio[RUNS / 2], ratio[0], ratio[RUNS - 1]);
    printf("  memory per cached L1 entry: %.0f bytes (snapshot %zu, id 12)\n", per_entry,
           snap_bytes);
    report("L3 point get (SQLite WAL, mmap)", l3_get, "gets/s");
    report("L3 write-behind (queue + commit)", l3_put, "snapshots/s");
    ac_l1_destroy(&l1);
    free(array);
    free(oa);
    free(snap);
    return sink == 0;
}
