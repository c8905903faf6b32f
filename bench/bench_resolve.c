/*  bench_resolve - W1, W1-inline and W2 through ac_resolve, in process, one thread.

    Reports, as median / min / max over RUNS runs:
      - resolves/s and latency p50 / p99 / p999 of single W1 resolves;
      - heap allocations per resolve after warm-up (malloc, calloc, realloc counted by
        interposition);
      - actors/ms for batches of 100 distinct W1 actors through ac_resolve_batch;
      - the worker's per-request work for W1-inline (msgpack in, msgpack out);
      - W2 resolves/s (the demo actor through the shipped subsystems, two passes);
    and a baseline measured in the same run: the least any aggregator must do, one pass
    summing the request's 380 values. Each run times W1, the baseline, the batch and W2
    in 100 chunks that take turns, so the ratios of issue 19's table are taken per run
    (paired: a load spike on a shared machine hits every side of a ratio) and their
    median is printed, with the bytes of one
    W1 snapshot and the memory per cached L1 entry of that size (bench/l1mem.h, as
    bench_cache), and instructions per resolve of W1 and W2 from a callgrind slope: this
    program under `valgrind --tool=callgrind` with `--only w1|w2 --requests N` for two N,
    (I(N2) - I(N1)) / (N2 - N1), so set-up cancels. Instruction counts do not drift with
    the machine's load. Every snapshot is verified before anything is timed.

    bench_resolve [--only w1|w2|batch --requests N] [--no-callgrind]
    --only runs set-up and then exactly N resolves of one workload, nothing else (what the
    slope measures; bench/callgrind_slope.sh does it from the shell).
*/
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "l1mem.h"
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
#define W2_RESOLVES 100000
#define L1_KEYS 100000
#define CHUNKS 100 /* turns per run: RESOLVES, BATCHES and W2_RESOLVES divide by it */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double v[RUNS];
} series_t;

static double median(series_t *s)
{
    qsort(s->v, RUNS, sizeof(double), cmp_d);
    return s->v[RUNS / 2];
}

static void report(const char *what, series_t *s, const char *unit)
{
    median(s);
    printf("  %-38s median %12.2f  min %12.2f  max %12.2f  %s\n", what, s->v[RUNS / 2], s->v[0],
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

/* W2: the demo actor (race, class, 5 items, 3 buffs, realm, stage-2 formulas), its
   contributions produced by the subsystems in config/subsystems. */
typedef struct {
    ac_registry_t *reg;
    ac_subsystems_t *subs;
    ac_resolver_t *r;
    ac_request_t *req;
    char *actor;           /* the actor's JSON */
    ac_snapshot_t *first;  /* the first snapshot, every later one must equal it */
    size_t contribs, caps; /* what the subsystems produced */
} w2_t;

static void w2_setup(w2_t *w)
{
    ac_error_t err;
    const ac_snapshot_t *snap;
    memset(w, 0, sizeof *w);
    w->reg = ac_registry_load(AC_SOURCE_DIR "/config/combiner.yaml",
                              AC_SOURCE_DIR "/config/cap_layers.yaml", &err);
    w->subs = w->reg ? ac_subsystems_load(w->reg, AC_SOURCE_DIR "/config/subsystems", &err) : NULL;
    if (!w->subs) {
        fprintf(stderr, "W2 config: %s\n", err.message);
        exit(1);
    }
    w->r = ac_resolver_new(w->reg);
    w->req = ac_request_new(w->reg);
    size_t alen;
    w->actor = ac_read_file(AC_SOURCE_DIR "/config/demo/actor.json", 1 << 20, &alen, &err);
    if (!w->actor || ac_subsystems_install(w->subs, w->r, &err) ||
        ac_decode_actor_json(w->req, w->actor, alen, &err) ||
        ac_resolve(w->r, w->req, &snap, &err)) {
        fprintf(stderr, "W2: %s\n", err.message);
        exit(1);
    }
    w->contribs = ac_request_contribution_count(w->req);
    w->caps = ac_request_cap_count(w->req);
    w->first = ac_snapshot_dup(snap);
    if (w->contribs < 300 || w->caps < 40 || ac_snapshot_dimension_count(snap) < 20) {
        fprintf(stderr, "the demo actor is not a W2 actor\n");
        exit(1);
    }
}

/* n W2 resolves; checks the last snapshot. */
static void w2_run(w2_t *w, int n)
{
    const ac_snapshot_t *snap = NULL;
    ac_error_t err;
    for (int i = 0; i < n; i++)
        ac_resolve(w->r, w->req, &snap, &err);
    if (n && !ac_snapshot_equal(snap, w->first)) {
        fprintf(stderr, "W2 snapshot changed between resolves\n");
        exit(1);
    }
}

static void w2_teardown(w2_t *w)
{
    ac_snapshot_destroy(&w->first);
    ac_request_destroy(&w->req);
    ac_resolver_destroy(&w->r);
    ac_subsystems_destroy(&w->subs);
    ac_registry_destroy(&w->reg);
    free(w->actor);
}

/* --only: set-up, then exactly n resolves of one workload; what the callgrind slope
   counts (two values of n, so the set-up cancels). */
static int only(const char *which, int n)
{
    if (strcmp(which, "w1") == 0) {
        ac_registry_t *reg = w1_registry();
        ac_request_t *req = ac_request_new(reg);
        ac_resolver_t *r = ac_resolver_new(reg);
        const ac_snapshot_t *snap = w1_resolve_checked(r, req, reg);
        ac_error_t err;
        for (int i = 0; i < n; i++)
            ac_resolve(r, req, &snap, &err);
        w1_verify(snap, reg, 0);
        ac_resolver_destroy(&r);
        ac_request_destroy(&req);
        ac_registry_destroy(&reg);
        return 0;
    }
    if (strcmp(which, "batch") == 0) { /* n actors: n / 100 batches of 100 distinct ones */
        ac_registry_t *reg = w1_registry();
        ac_resolver_t *r = ac_resolver_new(reg);
        ac_request_t *reqs[100];
        for (int i = 0; i < 100; i++) {
            char id[32];
            snprintf(id, sizeof id, "actor-%03d", i);
            reqs[i] = ac_request_new(reg);
            w1_fill(reqs[i], id, (double)i * 0.001);
        }
        batch_ctx_t ctx = {reg, 0};
        ac_resolve_batch(r, reqs, 100, verify_item, &ctx);
        for (int b = 0; b < n / 100; b++)
            ac_resolve_batch(r, reqs, 100, count_item, &ctx);
        for (int i = 0; i < 100; i++)
            ac_request_destroy(&reqs[i]);
        ac_resolver_destroy(&r);
        ac_registry_destroy(&reg);
        return 0;
    }
    if (strcmp(which, "w2") == 0) {
        w2_t w;
        w2_setup(&w);
        w2_run(&w, n);
        w2_teardown(&w);
        return 0;
    }
    fprintf(stderr, "bench_resolve: --only takes w1, w2 or batch, not '%s'\n", which);
    return 2;
}

/* Instructions of `self --only which --requests n` under callgrind; -1 when valgrind is
   missing or fails. */
static double callgrind_ir(const char *self, const char *which, int n)
{
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd,
             "valgrind --tool=callgrind --callgrind-out-file=/dev/null '%s' --only %s "
             "--requests %d 2>&1 >/dev/null",
             self, which, n);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char line[512];
    double ir = -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "Collected :");
        unsigned long long v;
        if (p && sscanf(p + 11, "%llu", &v) == 1)
            ir = (double)v;
    }
    return pclose(f) == 0 ? ir : -1;
}

/* Instructions per resolve: the slope between n1 and n2 resolves; -1 when not measured. */
static double callgrind_slope(const char *self, const char *which, int n1, int n2)
{
    double a = callgrind_ir(self, which, n1), b = callgrind_ir(self, which, n2);
    return a < 0 || b < 0 ? -1 : (b - a) / (n2 - n1);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_resolve [--only w1|w2|batch --requests N] [--no-callgrind]\n");
}

/* main is long on purpose: it is the report, one block per figure in the order they are
   printed, each block setting up, timing and printing its own figure. */
int main(int argc, char **argv)
{
    const char *only_which = NULL;
    int requests = -1, callgrind = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only_which = argv[++i];
        else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
            requests = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-callgrind") == 0)
            callgrind = 0;
        else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (only_which)
        return only(only_which, requests < 0 ? 1000 : requests);

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

    w2_t w2;
    w2_setup(&w2);

    series_t rate, p50, p99, p999, batch, base, w2_rate;
    series_t cost_ratio, w2_ratio, batch_ratio;
    uint64_t *lat = __libc_malloc(RESOLVES * sizeof *lat);
    double values[380];
    for (size_t i = 0; i < 380; i++)
        values[i] = 10 + (double)(i % 10);
    for (int run = 0; run < RUNS; run++) {
        /* Throughput without per-call clock reads, in chunks that take turns (W1, the
           baseline, a batch, W2), so that a load spike on this shared machine falls on
           every side of a ratio alike. */
        double t_w1 = 0, t_base = 0, t_batch = 0, t_w2 = 0;
        ctx.ok = 0;
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            double t0 = now_s();
            for (int i = 0; i < RESOLVES / CHUNKS; i++)
                ac_resolve(r, req, &snap, &err);
            double t1 = now_s();
            for (int i = 0; i < RESOLVES / CHUNKS; i++)
                s_sink = baseline_pass(values, 380);
            double t2 = now_s();
            for (int b = 0; b < BATCHES / CHUNKS; b++)
                ac_resolve_batch(r, reqs, 100, count_item, &ctx);
            double t3 = now_s();
            w2_run(&w2, W2_RESOLVES / CHUNKS);
            double t4 = now_s();
            t_w1 += t1 - t0;
            t_base += t2 - t1;
            t_batch += t3 - t2;
            t_w2 += t4 - t3;
        }
        if (ctx.ok != 100 * BATCHES)
            return 1;
        ac_resolve(r, req, &snap, &err); /* the batch reused the resolver's snapshot */
        w1_verify(snap, reg, 0);
        rate.v[run] = RESOLVES / t_w1;
        base.v[run] = RESOLVES / t_base;
        batch.v[run] = 100.0 * BATCHES / (t_batch * 1000.0);
        w2_rate.v[run] = W2_RESOLVES / t_w2;

        cost_ratio.v[run] = base.v[run] / rate.v[run];
        w2_ratio.v[run] = w2_rate.v[run] / rate.v[run];
        batch_ratio.v[run] = batch.v[run] * 1000.0 / rate.v[run];

        /* Latency in a timed pass of its own (the clock reads would weigh on the rate). */
        for (int i = 0; i < RESOLVES; i++) {
            uint64_t a = now_ns();
            ac_resolve(r, req, &snap, &err);
            lat[i] = now_ns() - a;
        }
        qsort(lat, RESOLVES, sizeof *lat, cmp_u64);
        p50.v[run] = (double)lat[RESOLVES / 2] / 1000.0;
        p99.v[run] = (double)lat[RESOLVES * 99 / 100] / 1000.0;
        p999.v[run] = (double)lat[RESOLVES * 999 / 1000] / 1000.0;
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

    /* Memory per cached L1 entry of one W1 snapshot's size (bench_cache's figure). */
    static char ids[L1_KEYS][24];
    l1mem_ids(ids, L1_KEYS);
    char *value = __libc_malloc(snap_bytes);
    memset(value, 0x5a, snap_bytes);
    double l1_per_entry;
    ac_l1_t *l1 = l1mem_fill(ids, L1_KEYS, value, snap_bytes, &l1_per_entry);
    ac_l1_destroy(&l1);
    free(value);

    report("resolve, 1 thread", &rate, "resolves/s");
    report("latency p50", &p50, "us");
    report("latency p99", &p99, "us");
    report("latency p999", &p999, "us");
    report("batch of 100 distinct actors", &batch, "actors/ms");
    report("baseline: one pass over 380 values", &base, "passes/s");
    report("W1-inline msgpack: decode+resolve+pack", &wire, "us/request");
    printf("  W1-inline request body: %zu bytes; snapshot reply: %zu bytes\n", body.size, out.size);
    report("W2 actor resolve (subsystems+2 passes)", &w2_rate, "resolves/s");
    printf("  W2 actor: %zu contributions, %zu caps, %zu dimensions\n", w2.contribs, w2.caps,
           ac_snapshot_dimension_count(w2.first));
    printf("  vs the Go implementation's ~10 000 resolves/s: %.0fx\n", median(&rate) / 10000.0);

    double ir_w1 = -1, ir_w2 = -1, ir_batch = -1;
    char self[PATH_MAX];
    ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
    if (callgrind && sn > 0) {
        self[sn] = '\0';
        ir_w1 = callgrind_slope(self, "w1", 2000, 4000);
        ir_w2 = callgrind_slope(self, "w2", 1000, 2000);
        ir_batch = callgrind_slope(self, "batch", 2000, 4000);
    }

    printf("issue 19 (ratios per run, paired; median / min / max of %d runs)\n", RUNS);
    report("W1 resolve cost / one-pass baseline", &cost_ratio, "x   (target <= 6)");
    report("W2 rate / W1 rate", &w2_ratio, "    (target >= 0.75)");
    report("batch per actor / single resolve", &batch_ratio, "x   (target >= 1.3)");
    printf("  %-38s %zu                  (target <= 500)\n", "bytes of one W1 snapshot",
           snap_bytes);
    printf("  %-38s %.0f                  (target <= 650)\n", "memory per cached L1 entry",
           l1_per_entry);
    printf("  %-38s %.4f               (target 0)\n", "heap allocations per resolve", allocs_per);
    if (ir_w1 >= 0)
        printf("  %-38s W1 %.0f  W2 %.0f  (W2 / W1 %.2f); per actor of a batch %.0f\n",
               "instructions per resolve (callgrind)", ir_w1, ir_w2, ir_w2 / ir_w1, ir_batch);
    else
        printf("  %-38s not measured (%s)\n", "instructions per resolve (callgrind)",
               callgrind ? "valgrind failed or is missing" : "--no-callgrind");

    free(lat);
    for (int i = 0; i < 100; i++)
        ac_request_destroy(&reqs[i]);
    ac_request_destroy(&wreq);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
    w2_teardown(&w2);
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&out);
    return 0;
}
