/*  bench_cache - the two cache tiers.

    - L1 get on 100 000 keys (random order), one thread: gets/s;
    - L3 point get on 100 000 rows (SQLite WAL, mmap): gets/s;
    - L3 write-behind: snapshots queued and committed per second (queue + flush);
    baseline in the same run: a plain array read of the same 100 000 snapshots by index.
    Median / min / max of 5 runs. Every hit is checked to return the stored bytes.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "actorcore/cache.h"
#include "actorcore/store.h"

#define KEYS 100000
#define RUNS 5
#define SNAP_BYTES 584

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
    char *snap = malloc(SNAP_BYTES);
    for (int i = 0; i < SNAP_BYTES; i++)
        snap[i] = (char)i;
    for (int i = 0; i < KEYS; i++) {
        snprintf(ids[i], sizeof ids[i], "actor-%06d", i);
        order[i] = (unsigned)i;
    }
    srand(7);
    for (int i = KEYS - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        unsigned t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    ac_l1_config_t cfg = {KEYS, (size_t)KEYS * 1024, 0};
    ac_l1_t *l1 = ac_l1_new(&cfg);
    for (int i = 0; i < KEYS; i++) {
        ac_cache_key_t k = {ids[i], strlen(ids[i]), 1, 2, 3};
        memcpy(snap, &i, sizeof i);
        if (ac_l1_put(l1, &k, snap, SNAP_BYTES, 0)) {
            fprintf(stderr, "L1 put failed\n");
            return 1;
        }
    }
    char *array = malloc((size_t)KEYS * SNAP_BYTES);
    for (int i = 0; i < KEYS; i++)
        memcpy(array + (size_t)i * SNAP_BYTES, &i, sizeof i);

    double l1_rate[RUNS], base_rate[RUNS], l3_get[RUNS], l3_put[RUNS];
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
                sink += (size_t)array[(size_t)order[i] * SNAP_BYTES];
        t1 = now_s();
        base_rate[run] = (double)rounds * KEYS / (t1 - t0);
    }
    /* Correctness of what was timed. */
    for (int i = 0; i < KEYS; i++) {
        ac_cache_key_t k = {ids[i], strlen(ids[i]), 1, 2, 3};
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
            ac_cache_key_t k = {ids[i], strlen(ids[i]), 1, 2, 3};
            memcpy(snap, &i, sizeof i);
            ac_store_put(st, &k, snap, SNAP_BYTES);
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
    printf("cache tiers, %d keys, %d-byte snapshots, %d runs\n", KEYS, SNAP_BYTES, RUNS);
    report("L1 get (random order), 1 thread", l1_rate, "gets/s");
    report("baseline: array read by index", base_rate, "reads/s");
    report("L3 point get (SQLite WAL, mmap)", l3_get, "gets/s");
    report("L3 write-behind (queue + commit)", l3_put, "snapshots/s");
    ac_l1_destroy(&l1);
    free(array);
    free(snap);
    return sink == 0;
}
