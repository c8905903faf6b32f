/*  bench_resolve - workload W1 through ac_resolve, in process, one thread.

    Reports, as median / min / max over RUNS runs:
      - resolves/s and latency p50 / p99 / p999 of single resolves;
      - heap allocations per resolve after warm-up (malloc, calloc, realloc counted by
        interposition);
      - actors/ms for batches of 100 distinct W1 actors through ac_resolve_batch;
      - the bytes one W1 snapshot occupies;
    and a baseline measured in the same run: the least any aggregator must do, one pass
    summing the request's 380 values, so that figures from a noisy machine can be read
    as ratios. Every snapshot is verified before anything is timed.
*/
#include <stdint.h>
#include <time.h>

#include "bench.h"
#include "w1.h"
#include "core/yamldoc.h"

/* ---- allocation counting: interpose the allocator (glibc exports __libc_*) ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile size_t s_allocs;

void *malloc(size_t n)
{
    s_allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    s_allocs++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    s_allocs++;
    return __libc_realloc(p, n);
}

#define RUNS 5
#define RESOLVES 200000
#define BATCHES 2000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double v[RUNS];
} series_t;

static void report(const char *what, series_t *s, const char *unit)
{
    qsort(s->v, RUNS, sizeof(double), cmp_d);
    printf("  %-34s median %12.2f  min %12.2f  max %12.2f  %s\n", what, s->v[RUNS / 2], s->v[0],
           s->v[RUNS - 1], unit);
}

typedef struct {
    const ac_registry_t *reg;
    size_t ok;
} batch_ctx_t;

/* Verifies every item (outside the timed runs). */
static void verify_item(void *arg, size_t index, const ac_snapshot_t *snap, const ac_error_t *err)
{
    batch_ctx_t *ctx = arg;
    if (!snap) {
        fprintf(stderr, "batch item %zu failed: %s\n", index, err->message);
        exit(1);
    }
    w1_verify(snap, ctx->reg, (double)index * 0.001);
    ctx->ok++;
}

/* Counts successes (inside the timed runs). */
static void count_item(void *arg, size_t index, const ac_snapshot_t *snap, const ac_error_t *err)
{
    (void)index;
    (void)err;
    ((batch_ctx_t *)arg)->ok += snap != NULL;
}

/* The baseline: one pass over the request's values, the least any aggregator does. */
static volatile double s_sink;

static double baseline_pass(const double *values, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += values[i];
    return acc;
}

/* main is long on purpose: it is the report, one block per figure in the order they are
   printed, each block setting up, timing and printing its own figure. */
int main(void)
{
    ac_registry_t *reg = w1_registry();
    ac_request_t *req = ac_request_new(reg);
    ac_resolver_t *r = ac_resolver_new(reg);
    const ac_snapshot_t *snap = w1_resolve_checked(r, req, reg);
    ac_error_t err;
    size_t snap_bytes = ac_snapshot_size(snap);

    printf("W1 (WORKLOADS.md): %zu contributions, %zu caps, 20 dimensions; %d runs\n",
           ac_request_contribution_count(req), ac_request_cap_count(req), RUNS);

    /* Warm-up, then count allocations over many resolves. */
    for (int i = 0; i < 1000; i++)
        ac_resolve(r, req, &snap, &err);
    size_t before = s_allocs;
    for (int i = 0; i < 10000; i++)
        ac_resolve(r, req, &snap, &err);
    double allocs_per = (double)(s_allocs - before) / 10000.0;

    series_t rate, p50, p99, p999, batch, base;
    uint64_t *lat = __libc_malloc(RESOLVES * sizeof *lat);
    double values[380];
    for (size_t i = 0; i < 380; i++)
        values[i] = 10 + (double)(i % 10);
    for (int run = 0; run < RUNS; run++) {
        /* Throughput without per-call clock reads; latency in a second, timed pass. */
        double t0 = now_s();
        for (int i = 0; i < RESOLVES; i++)
            ac_resolve(r, req, &snap, &err);
        double t1 = now_s();
        w1_verify(snap, reg, 0);
        rate.v[run] = RESOLVES / (t1 - t0);
        for (int i = 0; i < RESOLVES; i++) {
            uint64_t a = now_ns();
            ac_resolve(r, req, &snap, &err);
            lat[i] = now_ns() - a;
        }
        qsort(lat, RESOLVES, sizeof *lat, cmp_u64);
        p50.v[run] = (double)lat[RESOLVES / 2] / 1000.0;
        p99.v[run] = (double)lat[RESOLVES * 99 / 100] / 1000.0;
        p999.v[run] = (double)lat[RESOLVES * 999 / 1000] / 1000.0;

        t0 = now_s();
        for (int i = 0; i < RESOLVES; i++)
            s_sink = baseline_pass(values, 380);
        t1 = now_s();
        base.v[run] = RESOLVES / (t1 - t0);
    }

    /* Batches of 100 distinct actors. */
    ac_request_t *reqs[100];
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "actor-%03d", i);
        reqs[i] = ac_request_new(reg);
        w1_fill(reqs[i], id, (double)i * 0.001);
    }
    batch_ctx_t ctx = {reg, 0};
    ac_resolve_batch(r, reqs, 100, verify_item, &ctx);
    for (int run = 0; run < RUNS; run++) {
        ctx.ok = 0;
        double t0 = now_s();
        for (int b = 0; b < BATCHES; b++)
            ac_resolve_batch(r, reqs, 100, count_item, &ctx);
        double t1 = now_s();
        if (ctx.ok != 100 * BATCHES)
            return 1;
        batch.v[run] = 100.0 * BATCHES / ((t1 - t0) * 1000.0);
    }
    ac_resolve_batch(r, reqs, 100, verify_item, &ctx);

    /* The worker's per-request work for W1-inline: msgpack body -> parse -> schema walk ->
       resolve -> snapshot packed as msgpack. */
    msgpack_sbuffer body, out;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&out);
    msgpack_packer bpk, opk;
    msgpack_packer_init(&bpk, &body, msgpack_sbuffer_write);
    msgpack_packer_init(&opk, &out, msgpack_sbuffer_write);
    w1_pack_outputs(&bpk);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4 << 20);
    ac_request_t *wreq = ac_request_new(reg);
    series_t wire;
    for (int run = 0; run < RUNS; run++) {
        const int n = 20000;
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            msgpack_object obj;
            msgpack_zone_clear(&zone);
            ac_request_reset(wreq);
            msgpack_sbuffer_clear(&out);
            if (ac_msgpack_parse(body.data, body.size, &zone, &obj, &err) ||
                ac_decode_outputs(wreq, &obj, "outputs", &err) ||
                ac_resolve(r, wreq, &snap, &err) || ac_snapshot_pack(&opk, snap, reg, NULL, 0)) {
                fprintf(stderr, "W1-inline: %s\n", err.message);
                return 1;
            }
        }
        double t1 = now_s();
        w1_verify(snap, reg, 0);
        wire.v[run] = (t1 - t0) / n * 1e6;
    }

    /* W2: the demo actor (race, class, 5 items, 3 buffs, realm, stage-2 formulas), its
       contributions produced by the subsystems in config/subsystems. */
    ac_registry_t *reg2 = ac_registry_load(AC_SOURCE_DIR "/config/combiner.yaml",
                                           AC_SOURCE_DIR "/config/cap_layers.yaml", &err);
    ac_subsystems_t *subs =
        reg2 ? ac_subsystems_load(reg2, AC_SOURCE_DIR "/config/subsystems", &err) : NULL;
    if (!subs) {
        fprintf(stderr, "W2 config: %s\n", err.message);
        return 1;
    }
    ac_resolver_t *r2 = ac_resolver_new(reg2);
    ac_request_t *q2 = ac_request_new(reg2);
    size_t alen;
    char *actor = ac_read_file(AC_SOURCE_DIR "/config/demo/actor.json", 1 << 20, &alen, &err);
    if (!actor || ac_subsystems_install(subs, r2, &err) ||
        ac_decode_actor_json(q2, actor, alen, &err) || ac_resolve(r2, q2, &snap, &err)) {
        fprintf(stderr, "W2: %s\n", err.message);
        return 1;
    }
    size_t w2_contribs = ac_request_contribution_count(q2), w2_caps = ac_request_cap_count(q2);
    ac_snapshot_t *w2_first = ac_snapshot_dup(snap);
    if (w2_contribs < 300 || w2_caps < 40 || ac_snapshot_dimension_count(snap) < 20) {
        fprintf(stderr, "the demo actor is not a W2 actor\n");
        return 1;
    }
    series_t w2;
    for (int run = 0; run < RUNS; run++) {
        const int n = 100000;
        double t0 = now_s();
        for (int i = 0; i < n; i++)
            ac_resolve(r2, q2, &snap, &err);
        double t1 = now_s();
        if (!ac_snapshot_equal(snap, w2_first)) {
            fprintf(stderr, "W2 snapshot changed between resolves\n");
            return 1;
        }
        w2.v[run] = n / (t1 - t0);
    }

    double rate_med, base_med;
    report("resolve, 1 thread", &rate, "resolves/s");
    rate_med = rate.v[RUNS / 2];
    report("latency p50", &p50, "us");
    report("latency p99", &p99, "us");
    report("latency p999", &p999, "us");
    report("batch of 100 distinct actors", &batch, "actors/ms");
    report("baseline: one pass over 380 values", &base, "passes/s");
    report("W1-inline msgpack: decode+resolve+pack", &wire, "us/request");
    printf("  W1-inline request body: %zu bytes; snapshot reply: %zu bytes\n", body.size, out.size);
    report("W2 actor resolve (subsystems+2 passes)", &w2, "resolves/s");
    printf("  W2 actor: %zu contributions, %zu caps, %zu dimensions\n", w2_contribs, w2_caps,
           ac_snapshot_dimension_count(w2_first));
    base_med = base.v[RUNS / 2];
    printf("  heap allocations per resolve after warm-up: %.4f\n", allocs_per);
    printf("  bytes of one W1 snapshot: %zu\n", snap_bytes);
    printf("  resolve cost / baseline pass cost: %.1fx\n", base_med / rate_med);
    printf("  vs the Go implementation's ~10 000 resolves/s: %.0fx\n", rate_med / 10000.0);

    for (int i = 0; i < 100; i++)
        ac_request_destroy(&reqs[i]);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
    ac_snapshot_destroy(&w2_first);
    ac_request_destroy(&q2);
    ac_resolver_destroy(&r2);
    ac_subsystems_destroy(&subs);
    ac_registry_destroy(&reg2);
    free(actor);
    return 0;
}
