/*  h_inproc.c - the in-process modes of actorcore-bench: `inproc` (W1 and W2 through
    ac_resolve, 1..N threads, batches of 1, 10 and 100) and `cache` (L1 get and put on a hot
    set and on 100 000 keys, 1 and 2 threads, one L1 per thread as in a worker; L3 get, put
    and write-behind). Every snapshot resolved is checked (W1: every dimension's value and
    caps; W2: equal to the first one resolved), every cache hit returns the bytes stored. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/actorcore.h"
#include "actorcore/cache.h"
#include "actorcore/store.h"
#include "bench.h"
#include "harness.h"
#include "keys.h"
#include "core/yamldoc.h"
#include "w1.h"

#define MAX_THREADS 16
#define MAX_BATCH 100

/* ---- inproc ---- */

/* What every thread of a W2 measurement shares: the registry and the subsystems (read
   only), the demo actor's JSON and the snapshot every resolve must equal. */
typedef struct {
    ac_registry_t *reg;
    ac_subsystems_t *subs;
    char *actor;
    size_t actor_len;
    ac_snapshot_t *ref;
} w2_t;

typedef struct {
    const hb_opts_t *o;
    bool w2;               /* else W1 */
    const w2_t *w;         /* W2's shared state */
    ac_registry_t *w1reg;  /* W1's registry (shared) */
    int batch;             /* requests per call */
    double seconds;        /* to run */
    pthread_barrier_t *go; /* all threads start together */
    uint64_t calls;        /* out: calls made */
    bh_hist_t hist;        /* out: latency per call */
} job_t;

typedef struct {
    job_t *job;
    size_t bad;
} batch_check_t;

static void check_item(void *arg, size_t index, const ac_snapshot_t *snap, const ac_error_t *err)
{
    batch_check_t *bc = arg;
    if (!snap) {
        fprintf(stderr, "actorcore-bench: batch item %zu: %s\n", index, err->message);
        bc->bad++;
        return;
    }
    if (bc->job->w2) {
        if (!ac_snapshot_equal(snap, bc->job->w->ref))
            bc->bad++;
    } else {
        w1_verify(snap, bc->job->w1reg, (double)index * 0.001);
    }
}

static void *inproc_thread(void *arg)
{
    job_t *j = arg;
    ac_registry_t *reg = j->w2 ? j->w->reg : j->w1reg;
    ac_resolver_t *r = ac_resolver_new(reg);
    ac_request_t *reqs[MAX_BATCH];
    ac_error_t err;
    if (j->w2 && ac_subsystems_install(j->w->subs, r, &err))
        hb_fail("W2: %s", err.message);
    for (int i = 0; i < j->batch; i++) {
        reqs[i] = ac_request_new(reg);
        if (j->w2) {
            if (ac_decode_actor_json(reqs[i], j->w->actor, j->w->actor_len, &err))
                hb_fail("W2 actor: %s", err.message);
        } else {
            char id[32];
            snprintf(id, sizeof id, "actor-%03d", i);
            w1_fill(reqs[i], id, (double)i * 0.001);
        }
    }
    bh_reset(&j->hist);
    j->calls = 0;
    batch_check_t bc = {j, 0};
    pthread_barrier_wait(j->go);
    uint64_t end = now_ns() + (uint64_t)(j->seconds * 1e9);
    for (uint64_t t = now_ns(); t < end;) {
        if (j->batch == 1) {
            const ac_snapshot_t *snap;
            if (ac_resolve(r, reqs[0], &snap, &err))
                hb_fail("resolve: %s", err.message);
            uint64_t t1 = now_ns();
            bh_record(&j->hist, t1 - t);
            check_item(&bc, 0, snap, NULL);
            t = t1;
        } else {
            ac_resolve_batch(r, reqs, (size_t)j->batch, check_item, &bc);
            uint64_t t1 = now_ns();
            bh_record(&j->hist, t1 - t);
            t = t1;
        }
        if (bc.bad)
            hb_fail("a wrong %s snapshot in process", j->w2 ? "W2" : "W1");
        j->calls++;
        t = now_ns();
    }
    for (int i = 0; i < j->batch; i++)
        ac_request_destroy(&reqs[i]);
    ac_resolver_destroy(&r);
    return NULL;
}

/* Runs `threads` threads of the job for `seconds`; rate in resolves (actors) per second,
   the merged per-call latency in *hist. */
static double inproc_run(job_t *tmpl, int threads, double seconds, bh_hist_t *hist)
{
    job_t jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        jobs[i] = *tmpl;
        jobs[i].seconds = seconds;
        jobs[i].go = &go;
        pthread_create(&tid[i], NULL, inproc_thread, &jobs[i]);
    }
    pthread_barrier_wait(&go);
    double t0 = now_s();
    uint64_t calls = 0;
    bh_reset(hist);
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        calls += jobs[i].calls;
        bh_merge(hist, &jobs[i].hist);
    }
    double t1 = now_s();
    pthread_barrier_destroy(&go);
    return (double)calls * tmpl->batch / (t1 - t0);
}

static void w2_load(const hb_opts_t *o, w2_t *w)
{
    char comb[1100], lay[1100], subs[1100], actor[1100];
    ac_error_t err;
    snprintf(comb, sizeof comb, "%s/combiner.yaml", o->config_dir);
    snprintf(lay, sizeof lay, "%s/cap_layers.yaml", o->config_dir);
    snprintf(subs, sizeof subs, "%s/subsystems", o->config_dir);
    snprintf(actor, sizeof actor, "%s/demo/actor.json", o->config_dir);
    w->reg = ac_registry_load(comb, lay, &err);
    w->subs = w->reg ? ac_subsystems_load(w->reg, subs, &err) : NULL;
    w->actor = w->subs ? ac_read_file(actor, 1 << 20, &w->actor_len, &err) : NULL;
    if (!w->actor)
        hb_fail("W2: %s", err.message);
    ac_resolver_t *r = ac_resolver_new(w->reg);
    ac_request_t *q = ac_request_new(w->reg);
    const ac_snapshot_t *snap;
    if (ac_subsystems_install(w->subs, r, &err) ||
        ac_decode_actor_json(q, w->actor, w->actor_len, &err) || ac_resolve(r, q, &snap, &err))
        hb_fail("W2: %s", err.message);
    if (ac_request_contribution_count(q) < 300 || ac_request_cap_count(q) < 40 ||
        ac_snapshot_dimension_count(snap) < 20)
        hb_fail("the demo actor is not a W2 actor (300 contributions, 40 caps, 20 dimensions)");
    w->ref = ac_snapshot_dup(snap);
    ac_request_destroy(&q);
    ac_resolver_destroy(&r);
}

static void w2_free(w2_t *w)
{
    ac_snapshot_destroy(&w->ref);
    free(w->actor);
    ac_subsystems_destroy(&w->subs);
    ac_registry_destroy(&w->reg);
}

size_t hb_reply_bytes(const hb_opts_t *o)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (strcmp(o->workload, "w1") == 0) {
        ac_registry_t *reg = w1_registry();
        ac_request_t *req = ac_request_new(reg);
        ac_resolver_t *r = ac_resolver_new(reg);
        ac_error_t err;
        const ac_snapshot_t *snap;
        w1_fill(req, NULL, 0);
        if (ac_resolve(r, req, &snap, &err) || ac_snapshot_pack_buffer(&sb, snap, reg, NULL, 0))
            hb_fail("cannot pack the W1 snapshot");
        ac_resolver_destroy(&r);
        ac_request_destroy(&req);
        ac_registry_destroy(&reg);
    } else {
        w2_t w;
        w2_load(o, &w);
        if (ac_snapshot_pack_buffer(&sb, w.ref, w.reg, "bench-0000000", 13))
            hb_fail("cannot pack the W2 snapshot");
        w2_free(&w);
    }
    /* {id: uint64, ok: true, snapshot: ..., cache: "miss", worker: uint32}: 49 bytes more. */
    size_t n = sb.size + 49;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

void hb_mode_inproc(const hb_opts_t *o)
{
    static const int batches[] = {1, 10, 100};
    w2_t w;
    w2_load(o, &w);
    ac_registry_t *w1reg = w1_registry();
    int threads = o->threads < 1 ? 1 : o->threads > MAX_THREADS ? MAX_THREADS : o->threads;
    bh_hist_t *hist = malloc(sizeof *hist);
    for (int wl = 0; wl < 2; wl++)
        for (int t = 1; t <= threads; t++)
            for (int b = 0; b < 3; b++) {
                job_t tmpl = {.o = o, .w2 = wl == 1, .w = &w, .w1reg = w1reg, .batch = batches[b]};
                double rate[HB_MAX_RUNS], p50[HB_MAX_RUNS], p99[HB_MAX_RUNS];
                if (o->warmup > 0)
                    inproc_run(&tmpl, t, o->warmup < 0.5 ? o->warmup : 0.5, hist);
                for (int run = 0; run < o->runs; run++) {
                    rate[run] = inproc_run(&tmpl, t, o->duration, hist);
                    p50[run] = (double)bh_quantile(hist, 0.5) / 1000.0;
                    p99[run] = (double)bh_quantile(hist, 0.99) / 1000.0;
                }
                char name[160];
                const char *wn = wl ? "w2" : "w1";
                snprintf(name, sizeof name, "inproc/%s/t%d/b%d/rate", wn, t, batches[b]);
                hb_figure(name, "resolves/s", true, rate, o->runs);
                snprintf(name, sizeof name, "inproc/%s/t%d/b%d/p50", wn, t, batches[b]);
                hb_figure(name, "us/call", false, p50, o->runs);
                snprintf(name, sizeof name, "inproc/%s/t%d/b%d/p99", wn, t, batches[b]);
                hb_figure(name, "us/call", false, p99, o->runs);
            }
    free(hist);
    ac_registry_destroy(&w1reg);
    w2_free(&w);
    hb_setting("inproc_threads", json_integer(threads));
    hb_table("inproc: W1 and W2 through ac_resolve (batch b: ac_resolve_batch of b actors; "
             "latency per call)");
}

/* ---- cache ---- */

#define L1_KEYS 100000
#define HOT_KEYS 1000
#define L3_GETS 20000
#define L3_PUTS 300
#define L3_BEHIND 20000

typedef struct {
    int keys;              /* keys in the set */
    bool put;              /* put instead of get */
    double seconds;        /* to run */
    size_t snap_bytes;     /* value size */
    pthread_barrier_t *go; /* start together */
    uint64_t ops;          /* out */
} l1_job_t;

static void key_name(char *out, size_t n, uint32_t k)
{
    snprintf(out, n, "actor-%06u", k);
}

static void *l1_thread(void *arg)
{
    l1_job_t *j = arg;
    ac_l1_config_t cfg = {(size_t)j->keys, (size_t)j->keys * (j->snap_bytes + 256), 0};
    ac_l1_t *l1 = ac_l1_new(&cfg);
    char(*ids)[16] = malloc((size_t)j->keys * sizeof *ids);
    char *value = calloc(1, j->snap_bytes);
    uint32_t *order = malloc(L1_KEYS * sizeof *order);
    if (!l1 || !ids || !value || !order)
        hb_fail("out of memory");
    for (uint32_t k = 0; k < (uint32_t)j->keys; k++) {
        key_name(ids[k], sizeof ids[k], k);
        ac_cache_key_t key = {ids[k], 12, 1, 2, 3, 0};
        memcpy(value, &k, sizeof k);
        if (ac_l1_put(l1, &key, value, j->snap_bytes, 0))
            hb_fail("L1 refused a put");
    }
    keys_t gen;
    keys_init(&gen, (uint32_t)j->keys, 0, 0x5eedca11u);
    for (int i = 0; i < L1_KEYS; i++)
        order[i] = keys_next(&gen);
    pthread_barrier_wait(j->go);
    uint64_t end = now_ns() + (uint64_t)(j->seconds * 1e9), ops = 0;
    while (now_ns() < end) {
        for (int i = 0; i < L1_KEYS; i++) {
            uint32_t k = order[i];
            if (j->put) {
                ac_cache_key_t key = {ids[k], 12, 1, 2, 3, 0};
                memcpy(value, &k, sizeof k);
                if (ac_l1_put(l1, &key, value, j->snap_bytes, 0))
                    hb_fail("L1 refused a put");
            } else {
                const ac_l1_entry_t *e = ac_l1_get(l1, ids[k], 12, 0);
                uint32_t got;
                if (!e || e->value_len != j->snap_bytes)
                    hb_fail("L1 lost actor %u", k);
                memcpy(&got, e->value, sizeof got);
                if (got != k)
                    hb_fail("L1 returned another actor's snapshot");
            }
        }
        ops += L1_KEYS;
    }
    j->ops = ops;
    keys_fini(&gen);
    free(order);
    free(value);
    free(ids);
    ac_l1_destroy(&l1);
    return NULL;
}

static double l1_run(int threads, int keys, bool put, double seconds, size_t snap_bytes)
{
    l1_job_t jobs[2];
    pthread_t tid[2];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (l1_job_t){keys, put, seconds, snap_bytes, &go, 0};
        pthread_create(&tid[i], NULL, l1_thread, &jobs[i]);
    }
    pthread_barrier_wait(&go);
    double t0 = now_s();
    uint64_t ops = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        ops += jobs[i].ops;
    }
    double t1 = now_s();
    pthread_barrier_destroy(&go);
    return (double)ops / (t1 - t0);
}

/* Bytes of one W1 snapshot, the values the caches hold (as bench_cache). */
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

void hb_mode_cache(const hb_opts_t *o)
{
    size_t snap_bytes = w1_snapshot_bytes();
    static const int sets[] = {HOT_KEYS, L1_KEYS};
    char name[160];
    for (int put = 0; put < 2; put++)
        for (int s = 0; s < 2; s++)
            for (int t = 1; t <= 2; t++) {
                double v[HB_MAX_RUNS];
                l1_run(t, sets[s], put, o->warmup < 0.3 ? o->warmup : 0.3, snap_bytes);
                for (int run = 0; run < o->runs; run++)
                    v[run] = l1_run(t, sets[s], put, o->duration, snap_bytes);
                snprintf(name, sizeof name, "cache/l1/%s/%s/t%d/rate", put ? "put" : "get",
                         s ? "100k" : "hot1k", t);
                hb_figure(name, put ? "puts/s" : "gets/s", true, v, o->runs);
            }
    /* L3: a fresh file per run; write-behind fills it, then gets, then synchronous puts. */
    double behind[HB_MAX_RUNS], get[HB_MAX_RUNS], put[HB_MAX_RUNS];
    char *value = calloc(1, snap_bytes);
    char ids[L3_BEHIND][16];
    for (uint32_t k = 0; k < L3_BEHIND; k++)
        key_name(ids[k], sizeof ids[k], k);
    keys_t gen;
    keys_init(&gen, L3_BEHIND, 0, 0x5eed0013u);
    for (int run = 0; run < o->runs; run++) {
        char path[1100];
        ac_error_t err;
        snprintf(path, sizeof path, "%s/l3-cache-%d.db", hb_tmpdir(), run);
        ac_store_t *st = ac_store_open(path, L3_BEHIND + 1, &err);
        if (!st)
            hb_fail("L3: %s", err.message);
        double t0 = now_s();
        for (uint32_t k = 0; k < L3_BEHIND; k++) {
            ac_cache_key_t key = {ids[k], 12, 1, 2, 3, 0};
            memcpy(value, &k, sizeof k);
            if (ac_store_put(st, &key, value, snap_bytes))
                hb_fail("L3 dropped a write-behind put");
        }
        ac_store_flush(st);
        behind[run] = L3_BEHIND / (now_s() - t0);
        t0 = now_s();
        for (int i = 0; i < L3_GETS; i++) {
            uint32_t k = keys_next(&gen), got;
            ac_stored_t row;
            if (ac_store_get(st, ids[k], 12, &row, &err) != 1)
                hb_fail("L3 lost a row");
            memcpy(&got, row.value, sizeof got);
            free(row.value);
            if (got != k)
                hb_fail("L3 returned another actor's snapshot");
        }
        get[run] = L3_GETS / (now_s() - t0);
        t0 = now_s();
        for (uint32_t k = 0; k < L3_PUTS; k++) {
            ac_cache_key_t key = {ids[k], 12, 2, 2, 3, 0};
            if (ac_store_put(st, &key, value, snap_bytes))
                hb_fail("L3 dropped a put");
            ac_store_flush(st);
        }
        put[run] = L3_PUTS / (now_s() - t0);
        ac_store_stats_t ss;
        ac_store_stats(st, &ss);
        if (ss.writes != L3_BEHIND + L3_PUTS || ss.write_errors)
            hb_fail("L3 wrote %llu of %d rows", (unsigned long long)ss.writes, L3_BEHIND + L3_PUTS);
        ac_store_close(&st);
    }
    keys_fini(&gen);
    free(value);
    hb_figure("cache/l3/write-behind/rate", "snapshots/s", true, behind, o->runs);
    hb_figure("cache/l3/get/rate", "gets/s", true, get, o->runs);
    hb_figure("cache/l3/put-committed/rate", "puts/s", true, put, o->runs);
    hb_setting("cache_snapshot_bytes", json_integer((json_int_t)snap_bytes));
    char title[256];
    snprintf(title, sizeof title,
             "cache: L1 (one per thread, %zu-byte W1 snapshots, random keys), L3 (SQLite WAL: "
             "%d write-behind, %d random gets, %d puts each committed)",
             snap_bytes, L3_BEHIND, L3_GETS, L3_PUTS);
    hb_table(title);
}
