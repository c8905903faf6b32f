/*  bench_service - W1-inline (WORKLOADS.md) through the real broker and two real workers
    over loopback tcp, against the same broker with two bare echo workers measured in the
    same run (the transport ceiling of this machine).

    For each setup: throughput with 256 requests in flight, and latency with 1 in flight
    (p50, p99). Median / min / max over 3 runs each. Every reply is checked (ok); W1
    replies are checked for the W1 answer on every dimension.

    Then the forwarding limit: the bare credit-based forwarder (bench/forwarder.c) and
    actorcore-broker, each with two echo workers, runs interleaved, for echo bodies of
    300 B, 1 KB and 25 KB: req/s with 256 in flight, p50 / p99 with 1 in flight, the
    broker process's CPU per request (/proc/<pid>/stat) and its heap allocations per
    request after a warm-up (libac_alloc_count.so preloaded), and the ratios
    broker / forwarder. Every echo is checked to be as long as its request.

    Then actor affinity (also alone: `bench_service affinity`, about a minute): W2 with L1
    on through 4 real workers of 20 000 L1 entries, 256 in flight, `--dispatch affine`
    against `--dispatch least_loaded`, on one fixed sequence of actor ids (Zipf s = 1.1,
    then uniform, over 100 000 actors) after a warm-up: L1 hit rate (the replies' `cache`),
    resolves/s, the share of requests the broker spilled past an actor's owner, CPU per
    request of each process; and the hit rates the real L1 has in process on the same
    sequence as one cache of 80 000 entries and as 4 of 20 000 fed at random. Every reply
    is checked: ok, the snapshot of the actor asked for, the same values as computed.

    Then metrics (also alone: `bench_service metrics`): W2 through two clusters started at
    once, /metrics on in every process (scraped every 250 ms) and off, taking turns in short
    chunks: resolves/s and CPU per resolve of each, and the on / off ratio per run (issue 11:
    >= 0.97).
*/
#include <czmq.h>
#include <math.h>
#include <signal.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "actorcore/actorcore.h"
#include "actorcore/cache.h"
#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "keys.h"
#include "procs.h"
#include "mmi_stat.h"
#include "w1.h"
#include "core/yamldoc.h"
#include "service/curve.h"
#include "service/mdp.h"
#include "service/metrics.h"

#define RUNS 3
#define REQUESTS 20000
#define LAT_REQUESTS 3000
/* The forwarding limit: requests per run for bodies up to 1 KB (enough for the CPU clock's
   10 ms ticks to resolve a few microseconds per request) and for 25 KB; warm-up requests
   before each run; requests at 1 in flight. */
#define LIMIT_REQUESTS 50000
#define LIMIT_REQUESTS_25K 10000
#define WARMUP 2000
#define LIMIT_LAT_REQUESTS 2000

/* The temporary directory: cleanup (atexit) kills and reaps the processes left (procs.h)
   and removes it, also after a failed check's exit(1). */
static char s_dir[] = "/tmp/ac_bsvc_XXXXXX";

static void stop(pid_t pid)
{
    procs_stop(pid);
}

static void cleanup(void)
{
    procs_kill_all();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_service: could not remove %s\n", s_dir);
}

/* Starts argv with stdout and stderr on /dev/null and, when env is not NULL, these
   NAME=VALUE entries added to the environment (NULL-terminated). */
static pid_t spawn_env(const char *const *argv, const char *const *env)
{
    return procs_spawn(argv, env, NULL);
}

static pid_t spawn(const char *const *argv)
{
    return spawn_env(argv, NULL);
}

static void report(const char *what, double *v, int n, const char *unit)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    printf("  %-40s median %10.1f  min %10.1f  max %10.1f  %s\n", what, v[n / 2], v[0], v[n - 1],
           unit);
}

/* Starts a request body {op, <key>: ...} of three entries (op, key, id); the caller packs
   key's value, then end_body adds the id. */
static void begin_body(msgpack_sbuffer *sb, msgpack_packer *pk, const char *op, const char *key)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(pk, 3);
    ac_wire_pack_str(pk, "op");
    ac_wire_pack_str(pk, op);
    ac_wire_pack_str(pk, key);
}

/* The id goes last, at a fixed width, so that it can be patched in place per request. */
static void end_body(msgpack_packer *pk)
{
    ac_wire_pack_str(pk, "id");
    msgpack_pack_uint64(pk, UINT64_MAX);
}

/* The W1 request body: {op: resolve, outputs: [...], id} (id patched per send). */
static msgpack_sbuffer s_body;
static double s_w1_value;

static void build_w1_body(void)
{
    msgpack_packer pk;
    begin_body(&s_body, &pk, "resolve", "outputs");
    w1_pack_outputs(&pk);
    end_body(&pk);
    s_w1_value = w1_expected(0);
}

/* W2: {op: resolve, actor: <demo actor>, id} and {op: resolve_batch, items: [{actor} x 100
   with distinct ids], id}. */
static msgpack_sbuffer s_w2, s_w2_batch;
/* The bytes of a W2 request and of its reply in their packed frames (the curve section's
   ceiling); the reply's from the last W2 reply pump saw. */
static size_t s_w2_request_bytes, s_w2_reply_bytes;
#define BATCH 100

/* Packs the demo actor, its id replaced by `id` unless NULL. */
static void pack_actor(msgpack_packer *pk, const msgpack_object *actor, const char *id)
{
    msgpack_pack_map(pk, actor->via.map.size);
    for (uint32_t i = 0; i < actor->via.map.size; i++) {
        const msgpack_object_kv *kv = &actor->via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        if (id && kv->key.via.str.size == 2 && memcmp(kv->key.via.str.ptr, "id", 2) == 0) {
            ac_wire_pack_str(pk, id);
        } else {
            msgpack_pack_object(pk, kv->val);
        }
    }
}

/* ---- actor affinity: the request template and key sequences ---- */

#define AFF_ACTORS 100000                            /* actors the load ranges over */
#define AFF_WORKERS 4                                /* real workers per setup */
#define AFF_L1_ENTRIES 20000                         /* each worker's --l1-entries */
#define AFF_ONE_CACHE (AFF_WORKERS * AFF_L1_ENTRIES) /* the single cache compared with */
#define AFF_ZIPF_S 1.1                               /* Zipf exponent: actor k has weight k^-s */
#define AFF_SEED 0x5eed0008u                         /* fixed: every setup sees one sequence */
#define AFF_WARMUP 300000                            /* requests before the measured runs */
#define AFF_REQUESTS 100000                          /* requests per measured run */
#define AFF_WINDOW 256                               /* requests in flight */

/* {op: resolve, actor: {id: "aff-000000", <the demo actor's other fields>}, id}: the actor
   comes before anything long so that the broker's skim finds actor.id; its six digits are
   rewritten per request at s_aff_digits. */
static msgpack_sbuffer s_aff;
static size_t s_aff_digits;

static void build_affinity_body(const msgpack_object *actor)
{
    msgpack_packer pk;
    begin_body(&s_aff, &pk, "resolve", "actor");
    pack_actor(&pk, actor, "aff-000000");
    end_body(&pk);
    for (size_t i = 0; i + 10 <= s_aff.size; i++)
        if (memcmp(s_aff.data + i, "aff-000000", 10) == 0) {
            s_aff_digits = i + 4;
            return;
        }
    fprintf(stderr, "the affinity body lost its actor id\n");
    exit(1);
}

/* Writes actor's number (< 1 000 000) into the template's id. */
static void patch_actor(uint32_t actor)
{
    char *p = s_aff.data + s_aff_digits;
    for (int i = 5; i >= 0; i--) {
        p[i] = (char)('0' + actor % 10);
        actor /= 10;
    }
}

/* n actor numbers from the fixed seed: Zipf(AFF_ZIPF_S) by rank (keys.h), or uniform. */
static uint32_t *aff_sequence(bool zipf, size_t n)
{
    uint32_t *seq = malloc(n * sizeof *seq);
    keys_t keys;
    if (!seq || keys_init(&keys, AFF_ACTORS, zipf ? AFF_ZIPF_S : 0, AFF_SEED + zipf)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        seq[i] = keys_next(&keys);
    keys_fini(&keys);
    return seq;
}

static void build_w2_bodies(void)
{
    size_t len;
    ac_error_t err;
    char *json = ac_read_file(AC_SOURCE_DIR "/config/demo/actor.json", 1 << 20, &len, &err);
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object actor;
    if (!json || ac_json_parse(json, len, zone, &actor, &err)) {
        fprintf(stderr, "demo actor: %s\n", err.message);
        exit(1);
    }
    msgpack_packer pk;
    begin_body(&s_w2, &pk, "resolve", "actor");
    pack_actor(&pk, &actor, NULL);
    end_body(&pk);
    s_w2_request_bytes = AC_PACKED_HEAD + strlen(AC_SERVICE) + s_w2.size;
    begin_body(&s_w2_batch, &pk, "resolve_batch", "items");
    msgpack_pack_array(&pk, BATCH);
    for (int i = 0; i < BATCH; i++) {
        msgpack_pack_map(&pk, 1);
        ac_wire_pack_str(&pk, "actor");
        char id[32];
        snprintf(id, sizeof id, "w2-actor-%03d", i);
        pack_actor(&pk, &actor, id);
    }
    end_body(&pk);
    build_affinity_body(&actor);
    msgpack_zone_free(zone);
    free(json);
}

/* Writes id into the body's trailing uint64 (0xcf + 8 bytes big-endian). */
static void patch_id(msgpack_sbuffer *body, uint64_t id)
{
    unsigned char *p = (unsigned char *)body->data + body->size - 8;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)id;
        id >>= 8;
    }
}

/* Parses a reply into o (in zone), or ends the benchmark: a garbled reply measures nothing. */
static void parse_or_die(const ac_reply_t *r, msgpack_zone *zone, msgpack_object *o)
{
    ac_error_t err;
    msgpack_zone_clear(zone);
    if (ac_msgpack_parse(r->body, r->len, zone, o, &err)) {
        fprintf(stderr, "bad reply: %s\n", err.message);
        exit(1);
    }
}

/* Checks a W2 reply: ok, and for a batch every one of the 100 results ok. */
static void check_w2(const ac_reply_t *r, bool batch, msgpack_zone *zone)
{
    msgpack_object o;
    parse_or_die(r, zone, &o);
    const msgpack_object *ok = ac_wire_get(&o, "ok");
    const msgpack_object *results = ac_wire_get(&o, "results");
    bool good = ok && ok->via.boolean;
    if (good && batch) {
        good = results && results->via.array.size == BATCH;
        for (uint32_t i = 0; good && i < results->via.array.size; i++) {
            const msgpack_object *iok = ac_wire_get(&results->via.array.ptr[i], "ok");
            good = iok && iok->via.boolean;
        }
    }
    if (!good) {
        fprintf(stderr, "a W2 request failed\n");
        exit(1);
    }
}

static void check_reply(const ac_reply_t *r, bool w1, msgpack_zone *zone)
{
    msgpack_object o;
    parse_or_die(r, zone, &o);
    if (!w1)
        return; /* the echo is the request itself */
    const msgpack_object *ok = ac_wire_get(&o, "ok");
    if (!ok || !ok->via.boolean) {
        fprintf(stderr, "a W1 request failed\n");
        exit(1);
    }
    const msgpack_object *snap = ac_wire_get(&o, "snapshot");
    for (int sec = 0; sec < 2; sec++) {
        const msgpack_object *m = ac_wire_get(snap, sec ? "Derived" : "Primary");
        for (uint32_t i = 0; i < m->via.map.size; i++)
            if (m->via.map.ptr[i].val.via.f64 != s_w1_value) {
                fprintf(stderr, "wrong W1 answer\n");
                exit(1);
            }
        if (m->via.map.size != 10) {
            fprintf(stderr, "wrong W1 dimension count\n");
            exit(1);
        }
    }
}

/* A small body for the broker's own ceiling: {op, pad: 1 000 bytes, id}. */
static msgpack_sbuffer s_small;

/* The client's CURVE keys while the curve section measures the secured broker; else NULL. */
static const char *s_curve_cert, *s_curve_server;

static void build_small_body(void)
{
    msgpack_packer pk;
    begin_body(&s_small, &pk, "ping", "pad");
    char pad[1000];
    memset(pad, 'x', sizeof pad);
    msgpack_pack_bin(&pk, sizeof pad);
    msgpack_pack_bin_body(&pk, pad, sizeof pad);
    end_body(&pk);
}

/* Sends `requests` requests of body through c, `window` in flight, and checks the replies:
   check 0 echo (every reply as long as the request; every 64th parsed), 1 W1, 2 W2,
   3 W2 batch (every reply). */
static void pump(ac_client_t *c, int window, int check, msgpack_sbuffer *body, int requests)
{
    msgpack_zone *zone = msgpack_zone_new(65536);
    int sent = 0, got = 0;
    while (got < requests) {
        while (sent < requests && sent - got < window) {
            uint64_t id = ac_client_next_id(c);
            patch_id(body, id);
            ac_client_send_raw(c, id, body->data, body->size);
            sent++;
        }
        ac_reply_t r;
        if (ac_client_recv(c, &r, 30000) != 1) {
            fprintf(stderr, "no reply\n");
            exit(1);
        }
        if (check == 0 && r.len != body->size) {
            fprintf(stderr, "an echo of %zu bytes for a request of %zu\n", r.len, body->size);
            exit(1);
        }
        if (check == 2)
            s_w2_reply_bytes = AC_PACKED_HEAD + strlen(AC_SERVICE) + r.len;
        if (got % 64 == 0 || check == 3) {
            if (check >= 2)
                check_w2(&r, check == 3, zone);
            else
                check_reply(&r, check == 1, zone);
        }
        got++;
    }
    msgpack_zone_free(zone);
}

/* Requests/s with `window` in flight, on a fresh client. */
static double throughput_n(const char *fe, int window, int check, msgpack_sbuffer *body,
                           int requests)
{
    ac_client_config_t cfg = {.timeout_ms = 30000,
                              .retries = 0,
                              .curve_cert = s_curve_cert,
                              .curve_server = s_curve_server};
    ac_client_t *c = ac_client_new(fe, &cfg);
    double t0 = zclock_usecs() / 1e6;
    pump(c, window, check, body, requests);
    double t1 = zclock_usecs() / 1e6;
    ac_client_destroy(&c);
    return requests / (t1 - t0);
}

static double throughput(const char *fe, int window, bool w1, msgpack_sbuffer *body)
{
    return throughput_n(fe, window, w1 ? 1 : 0, body, REQUESTS);
}

/* p50 and p99 in microseconds with one request of body in flight (W1 replies checked when
   w1, else echoes). */
static void latency(const char *fe, bool w1, msgpack_sbuffer *body, int n, double *p50, double *p99)
{
    ac_client_t *c = ac_client_new(fe, NULL);
    msgpack_zone *zone = msgpack_zone_new(65536);
    double *lat = malloc((size_t)n * sizeof *lat);
    for (int i = -200; i < n; i++) {
        uint64_t id = ac_client_next_id(c);
        patch_id(body, id);
        int64_t t0 = zclock_usecs();
        ac_client_send_raw(c, id, body->data, body->size);
        ac_reply_t r;
        if (ac_client_recv(c, &r, 30000) != 1)
            exit(1);
        int64_t t1 = zclock_usecs();
        if (i >= 0)
            lat[i] = (double)(t1 - t0);
        if (!w1 && r.len != body->size) {
            fprintf(stderr, "an echo of %zu bytes for a request of %zu\n", r.len, body->size);
            exit(1);
        }
        if (i % 100 == 0)
            check_reply(&r, w1, zone);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    *p50 = lat[n / 2];
    *p99 = lat[n * 99 / 100];
    free(lat);
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
}

/* ---- the forwarding limit: bench_forwarder against actorcore-broker ---- */

#define N_SIZES 3
static const size_t s_sizes[N_SIZES] = {300, 1024, 25 * 1024};

/* An echo body of exactly `total` bytes: {op: ping, pad: <bin>, id} (25 bytes of map, keys,
   op and id, plus the bin header and the pad). */
static void build_sized_body(msgpack_sbuffer *sb, size_t total)
{
    size_t pad = total - 25 - (total - 27 <= 255 ? 2 : 3);
    msgpack_packer pk;
    begin_body(sb, &pk, "ping", "pad");
    char *bytes = malloc(pad);
    memset(bytes, 'x', pad);
    msgpack_pack_bin(&pk, pad);
    msgpack_pack_bin_body(&pk, bytes, pad);
    free(bytes);
    end_body(&pk);
    if (sb->size != total) {
        fprintf(stderr, "an echo body of %zu bytes instead of %zu\n", sb->size, total);
        exit(1);
    }
}

/* One program under test with its two echo workers. */
typedef struct {
    const char *name;  /* as printed */
    pid_t pid;         /* the forwarder or the broker */
    pid_t workers[2];  /* its echo workers */
    char ep[4][64];    /* frontend, backend (, the broker's events in and out) */
    char count[160];   /* AC_ALLOC_COUNT_FILE */
    char env[2][1100]; /* LD_PRELOAD=..., AC_ALLOC_COUNT_FILE=... */
} target_t;

static void target_start(target_t *t, const char *name, const char *dir, bool broker)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    bench_free_endpoints(t->ep, broker ? 4 : 2);
    snprintf(t->count, sizeof t->count, "%s/%s.allocs", dir, broker ? "broker" : "forwarder");
    const char *env[3] = {NULL, NULL, NULL};
#ifdef AC_ALLOC_COUNT_PATH
    snprintf(t->env[0], sizeof t->env[0], "LD_PRELOAD=%s", AC_ALLOC_COUNT_PATH);
    snprintf(t->env[1], sizeof t->env[1], "AC_ALLOC_COUNT_FILE=%s", t->count);
    env[0] = t->env[0];
    env[1] = t->env[1];
#endif
    if (broker) {
        const char *argv[] = {AC_BROKER_PATH, "--frontend", t->ep[0],       "--backend", t->ep[1],
                              "--events-in",  t->ep[2],     "--events-out", t->ep[3],    NULL};
        t->pid = spawn_env(argv, env);
    } else {
        const char *argv[] = {AC_FORWARDER_PATH, t->ep[0], t->ep[1], NULL};
        t->pid = spawn_env(argv, env);
    }
    usleep(300000);
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {AC_ECHO_PATH, t->ep[1], "64", NULL};
        t->workers[i] = spawn(argv);
    }
}

static void target_stop(target_t *t)
{
    for (int i = 0; i < 2; i++)
        stop(t->workers[i]);
    usleep(100000);
    stop(t->pid);
}

/* The process's heap allocations so far, all threads (SIGUSR1 to libac_alloc_count.so,
   which renames the count into place); -1 when not counted. */
static double alloc_count(const target_t *t)
{
#ifdef AC_ALLOC_COUNT_PATH
    unlink(t->count);
    kill(t->pid, SIGUSR1);
    for (int i = 0; i < 2000; i++) {
        FILE *f = fopen(t->count, "r");
        if (f) {
            unsigned long long v = 0;
            int ok = fscanf(f, "%llu", &v);
            fclose(f);
            if (ok == 1)
                return (double)v;
        }
        usleep(1000);
    }
    fprintf(stderr, "%s wrote no allocation count to %s\n", t->name, t->count);
    exit(1);
#else
    (void)t;
    return -1;
#endif
}

/* One measured run: on one client, WARMUP requests, then `requests` timed with 256 in
   flight; the target's CPU and allocations are read between the two. */
static void measured_run(const target_t *t, msgpack_sbuffer *body, int requests, double *tp,
                         double *cpu_us, double *allocs)
{
    /* Plain MDP to both: the forwarder speaks nothing else, and the comparison is of the
       same protocol. */
    ac_client_config_t cfg = {.timeout_ms = 30000, .retries = 0, .plain_mdp = 1};
    ac_client_t *c = ac_client_new(t->ep[0], &cfg);
    pump(c, 256, 0, body, WARMUP);
    double a0 = alloc_count(t), c0 = bench_cpu_seconds(t->pid);
    double t0 = now_s();
    pump(c, 256, 0, body, requests);
    double t1 = now_s();
    double c1 = bench_cpu_seconds(t->pid), a1 = alloc_count(t);
    ac_client_destroy(&c);
    *tp = requests / (t1 - t0);
    *cpu_us = (c1 - c0) * 1e6 / requests;
    *allocs = a0 < 0 ? -1 : (a1 - a0) / requests;
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof *v, cmp_d);
    return v[RUNS / 2];
}

/* The forwarding limit: both targets up at once with their own echo workers, runs
   interleaved (size by size, forwarder then broker) so that drift on this noisy machine
   touches both alike; then one table. */
static void forwarding_limit(const char *dir)
{
    double t_start = now_s();
    target_t tg[2];
    target_start(&tg[0], "bench_forwarder", dir, false);
    target_start(&tg[1], "actorcore-broker", dir, true);
    usleep(500000);
    static msgpack_sbuffer bodies[N_SIZES];
    int requests[N_SIZES];
    for (int s = 0; s < N_SIZES; s++) {
        build_sized_body(&bodies[s], s_sizes[s]);
        requests[s] = s_sizes[s] > 10000 ? LIMIT_REQUESTS_25K : LIMIT_REQUESTS;
    }
    /* [target][size][run] */
    double tp[2][N_SIZES][RUNS], cpu[2][N_SIZES][RUNS], al[2][N_SIZES][RUNS];
    double p50[2][N_SIZES][RUNS], p99[2][N_SIZES][RUNS];
    for (int run = 0; run < RUNS; run++)
        for (int s = 0; s < N_SIZES; s++)
            for (int k = 0; k < 2; k++) {
                measured_run(&tg[k], &bodies[s], requests[s], &tp[k][s][run], &cpu[k][s][run],
                             &al[k][s][run]);
                latency(tg[k].ep[0], false, &bodies[s], LIMIT_LAT_REQUESTS, &p50[k][s][run],
                        &p99[k][s][run]);
            }
    target_stop(&tg[0]);
    target_stop(&tg[1]);
    printf("Forwarding limit: bench_forwarder vs actorcore-broker, each with 2 echo workers "
           "(credit 64), loopback tcp;\n  256 in flight, %d (25 KB: %d) requests per run after "
           "%d of warm-up; 1 in flight: %d; %d runs, interleaved\n",
           LIMIT_REQUESTS, LIMIT_REQUESTS_25K, WARMUP, LIMIT_LAT_REQUESTS, RUNS);
    printf("  %-8s %-17s %28s %8s %8s %20s %10s\n", "echo", "program", "req/s median [min-max]",
           "p50 us", "p99 us", "CPU us/req [min-max]", "allocs/req");
    for (int s = 0; s < N_SIZES; s++) {
        double mtp[2], mcpu[2];
        for (int k = 0; k < 2; k++) {
            mtp[k] = median(tp[k][s]);
            mcpu[k] = median(cpu[k][s]);
            double mal = median(al[k][s]);
            char size[16] = "", alloc[16] = "n/a";
            if (k == 0)
                snprintf(size, sizeof size, "%zu B", s_sizes[s]);
            if (mal >= 0)
                snprintf(alloc, sizeof alloc, "%.2f", mal);
            printf("  %-8s %-17s %10.0f [%7.0f-%7.0f] %8.0f %8.0f %8.2f [%5.2f-%5.2f] %10s\n", size,
                   tg[k].name, mtp[k], tp[k][s][0], tp[k][s][RUNS - 1], median(p50[k][s]),
                   median(p99[k][s]), mcpu[k], cpu[k][s][0], cpu[k][s][RUNS - 1], alloc);
        }
        printf("  %-8s broker / forwarder: req/s %.2f, CPU per request %.2f\n", "", mtp[1] / mtp[0],
               mcpu[1] / mcpu[0]);
    }
    printf("  (allocations: every thread of the process, libzmq's included: the forwarder's "
           "are libzmq's own)\n");
    printf("  forwarding limit section: %.0f s\n", now_s() - t_start);
    for (int s = 0; s < N_SIZES; s++)
        msgpack_sbuffer_destroy(&bodies[s]);
}

/* ---- actor affinity: affine vs least-loaded dispatch over 4 real workers, L1 on ---- */

/* One broker with its four workers. */
typedef struct {
    const char *dispatch;       /* the broker's --dispatch */
    pid_t broker;               /* actorcore-broker */
    pid_t workers[AFF_WORKERS]; /* actorcore-worker, --l1-entries AFF_L1_ENTRIES */
    char ep[4][64];             /* frontend, backend, events in, events out */
    uint8_t last[AFF_ACTORS];   /* worker index that last served each actor; 0xff: none */
} aff_setup_t;

/* What one pass measured. */
typedef struct {
    double rate;    /* resolves/s */
    double hit;     /* fraction of replies answered from L1 */
    double moved;   /* fraction served by another worker than the actor's previous request */
    double spilled; /* fraction the broker sent past the actor's owner (mmi.stats) */
    double cpu[3];  /* CPU microseconds per request: this client, the broker, all workers */
} aff_result_t;

/* The broker's counter `name` from mmi.stats, asked on a REQ socket (any MDP client
   works). */

static void aff_start(aff_setup_t *t, const char *dispatch)
{
    memset(t, 0, sizeof *t);
    memset(t->last, 0xff, sizeof t->last);
    t->dispatch = dispatch;
    bench_free_endpoints(t->ep, 4);
    const char *argv[] = {AC_BROKER_PATH, "--frontend",  t->ep[0], "--backend",
                          t->ep[1],       "--events-in", t->ep[2], "--events-out",
                          t->ep[3],       "--dispatch",  dispatch, NULL};
    t->broker = spawn(argv);
    usleep(300000);
    char entries[16];
    snprintf(entries, sizeof entries, "%d", AFF_L1_ENTRIES);
    for (int i = 0; i < AFF_WORKERS; i++) {
        const char *wargv[] = {
            AC_WORKER_PATH, "--broker", t->ep[1],   "--events", "",  BENCH_W2_WORKER_FLAGS,
            "--l1-entries", entries,    "--credit", "64",       NULL};
        t->workers[i] = spawn(wargv);
    }
}

static void aff_stop(aff_setup_t *t)
{
    for (int i = 0; i < AFF_WORKERS; i++)
        stop(t->workers[i]);
    usleep(100000);
    stop(t->broker);
}

/* The first computed reply, parsed into its own zone: every later snapshot must carry the
   same Primary and Derived values (all actors differ only by id), so an L1 hit that served
   the wrong bytes ends the benchmark. */
static char *s_ref_body;
static size_t s_ref_len;
static msgpack_zone *s_ref_zone;
static msgpack_object s_ref;

static void aff_fail(const char *what, uint32_t actor)
{
    fprintf(stderr, "affinity: %s (actor aff-%06u)\n", what, actor);
    exit(1);
}

/* Checks one reply to a request for `actor`: ok, a known cache tier, the snapshot of that
   actor with the reference values. Returns the index of the worker that answered, and sets
   *hit when the tier is "l1". */
static int aff_check(const aff_setup_t *t, const ac_reply_t *r, uint32_t actor, msgpack_zone *zone,
                     bool *hit)
{
    msgpack_object o;
    parse_or_die(r, zone, &o);
    const msgpack_object *ok = ac_wire_get(&o, "ok");
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean)
        aff_fail("a request failed", actor);
    const msgpack_object *tier = ac_wire_get(&o, "cache");
    const msgpack_object *snap = ac_wire_get(&o, "snapshot");
    const msgpack_object *worker = ac_wire_get(&o, "worker");
    if (!tier || tier->type != MSGPACK_OBJECT_STR || !snap || snap->type != MSGPACK_OBJECT_MAP ||
        !worker || worker->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        aff_fail("a reply without cache, snapshot or worker", actor);
    *hit = tier->via.str.size == 2 && memcmp(tier->via.str.ptr, "l1", 2) == 0;
    if (!*hit && !(tier->via.str.size == 4 && memcmp(tier->via.str.ptr, "miss", 4) == 0))
        aff_fail("a cache tier other than l1 or miss (the store is off)", actor);
    char want[16];
    snprintf(want, sizeof want, "aff-%06u", actor);
    const msgpack_object *aid = ac_wire_get(snap, "ActorId");
    if (!aid || aid->type != MSGPACK_OBJECT_STR || aid->via.str.size != 10 ||
        memcmp(aid->via.str.ptr, want, 10) != 0)
        aff_fail("the snapshot of another actor", actor);
    if (!s_ref_zone && !*hit) {
        s_ref_len = r->len;
        s_ref_body = malloc(r->len);
        memcpy(s_ref_body, r->body, r->len);
        s_ref_zone = msgpack_zone_new(65536);
        ac_reply_t copy = {r->id, s_ref_body, r->len};
        parse_or_die(&copy, s_ref_zone, &s_ref);
        const msgpack_object *p = ac_wire_get(snap, "Primary"), *d = ac_wire_get(snap, "Derived");
        if (!p || !d || p->type != MSGPACK_OBJECT_MAP || d->type != MSGPACK_OBJECT_MAP ||
            p->via.map.size + d->via.map.size < 20)
            aff_fail("a W2 snapshot of fewer than 20 dimensions", actor);
    }
    const msgpack_object *ref_snap = ac_wire_get(&s_ref, "snapshot");
    for (int sec = 0; sec < 2; sec++) {
        const char *name = sec ? "Derived" : "Primary";
        const msgpack_object *a = ac_wire_get(snap, name), *b = ac_wire_get(ref_snap, name);
        if (!a || !b || a->type != MSGPACK_OBJECT_MAP || !msgpack_object_equal(*a, *b))
            aff_fail("a snapshot with other values than the first computed one", actor);
    }
    for (int i = 0; i < AFF_WORKERS; i++)
        if ((uint64_t)t->workers[i] == worker->via.u64)
            return i;
    aff_fail("a reply from a worker this setup did not start", actor);
    return -1;
}

/* Sends resolves for seq[0..n) through t's broker on a fresh client, AFF_WINDOW in flight,
   and checks every reply (aff_check). */
static void aff_pass(aff_setup_t *t, const uint32_t *seq, size_t n, aff_result_t *res)
{
    ac_client_config_t cfg = {.timeout_ms = 30000, .retries = 0};
    ac_client_t *c = ac_client_new(t->ep[0], &cfg);
    msgpack_zone *zone = msgpack_zone_new(65536);
    size_t sent = 0, got = 0, hits = 0, moved = 0, seen = 0;
    uint64_t first = 0;
    double spills0 = broker_counter(t->ep[0], "affine_spills"), cpu0[3] = {0, 0, 0};
    cpu0[0] = bench_cpu_seconds(getpid());
    cpu0[1] = bench_cpu_seconds(t->broker);
    for (int i = 0; i < AFF_WORKERS; i++)
        cpu0[2] += bench_cpu_seconds(t->workers[i]);
    double t0 = now_s();
    while (got < n) {
        while (sent < n && sent - got < AFF_WINDOW) {
            uint64_t id = ac_client_next_id(c);
            if (sent == 0)
                first = id;
            if (id != first + sent)
                aff_fail("the client's ids are not consecutive", seq[sent]);
            patch_actor(seq[sent]);
            patch_id(&s_aff, id);
            ac_client_send_raw(c, id, s_aff.data, s_aff.size);
            sent++;
        }
        ac_reply_t r;
        if (ac_client_recv(c, &r, 30000) != 1)
            aff_fail("no reply in 30 s", seq[got]);
        if (r.id < first || r.id - first >= sent)
            aff_fail("a reply to no request of this pass", seq[got]);
        uint32_t actor = seq[r.id - first];
        bool hit;
        int w = aff_check(t, &r, actor, zone, &hit);
        hits += hit;
        if (t->last[actor] != 0xff) {
            seen++;
            moved += t->last[actor] != w;
        }
        t->last[actor] = (uint8_t)w;
        got++;
    }
    double t1 = now_s();
    double cpu1[3] = {bench_cpu_seconds(getpid()), bench_cpu_seconds(t->broker), 0};
    for (int i = 0; i < AFF_WORKERS; i++)
        cpu1[2] += bench_cpu_seconds(t->workers[i]);
    for (int k = 0; k < 3; k++)
        res->cpu[k] = (cpu1[k] - cpu0[k]) * 1e6 / (double)n;
    res->spilled = (broker_counter(t->ep[0], "affine_spills") - spills0) / (double)n;
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
    res->rate = (double)n / (t1 - t0);
    res->hit = (double)hits / (double)n;
    res->moved = seen ? (double)moved / (double)seen : 0;
}

/* What the real L1 does on seq in process, fed the warm-up, then each measured run's
   requests counted: hit[0][run] for one L1 of AFF_ONE_CACHE entries, hit[1][run] for
   AFF_WORKERS L1s of AFF_L1_ENTRIES, each request to a random one (least-loaded dispatch
   at its best: the ceiling of affine / least-loaded is hit[0] / hit[1]). The workers' byte
   bound, no TTL; a miss stores a value as long as the first computed reply, as a worker
   stores the computed snapshot. */
static void aff_in_process(const uint32_t *seq, double hit[2][RUNS])
{
    ac_l1_config_t one_cfg = {AFF_ONE_CACHE, 256ull << 20, 0};
    ac_l1_config_t cfg = {AFF_L1_ENTRIES, 256ull << 20, 0};
    ac_l1_t *l1[1 + AFF_WORKERS];
    l1[0] = ac_l1_new(&one_cfg);
    for (int i = 1; i <= AFF_WORKERS; i++)
        l1[i] = ac_l1_new(&cfg);
    for (int i = 0; i <= AFF_WORKERS; i++)
        if (!l1[i])
            aff_fail("cannot create an in-process L1", 0);
    uint64_t state = AFF_SEED ^ 0xd15ba7c4u;
    for (int run = -1; run < RUNS; run++) {
        size_t from = run < 0 ? 0 : AFF_WARMUP + (size_t)run * AFF_REQUESTS;
        size_t n = run < 0 ? AFF_WARMUP : AFF_REQUESTS, hits[2] = {0, 0};
        for (size_t i = from; i < from + n; i++) {
            char id[16];
            snprintf(id, sizeof id, "aff-%06u", seq[i]);
            ac_cache_key_t key = {id, 10, 1, 1, 1, 0};
            ac_l1_t *which[2] = {l1[0], l1[1 + splitmix64(&state) % AFF_WORKERS]};
            for (int k = 0; k < 2; k++) {
                if (ac_l1_lookup(which[k], &key, 0))
                    hits[k]++;
                else if (ac_l1_put(which[k], &key, s_ref_body, s_ref_len, 0))
                    aff_fail("an in-process L1 refused a put", seq[i]);
            }
        }
        for (int k = 0; run >= 0 && k < 2; k++)
            hit[k][run] = (double)hits[k] / (double)n;
    }
    for (int i = 0; i <= AFF_WORKERS; i++)
        ac_l1_destroy(&l1[i]);
}

/* One row: median [min-max] of the runs' rates and hit rates, medians of the rest. */
static void aff_row(const char *load, const char *what, aff_result_t *r, double *rate, double *hit)
{
    double v[7][RUNS];
    for (int i = 0; i < RUNS; i++) {
        v[0][i] = r[i].rate;
        v[1][i] = r[i].hit;
        v[2][i] = r[i].moved;
        v[3][i] = r[i].spilled;
        for (int k = 0; k < 3; k++)
            v[4 + k][i] = r[i].cpu[k];
    }
    *rate = median(v[0]);
    *hit = median(v[1]);
    printf("  %-8s %-26s %7.0f [%5.0f-%5.0f] %6.4f [%6.4f-%6.4f] %6.3f %7.3f %6.1f %6.1f %7.1f\n",
           load, what, *rate, v[0][0], v[0][RUNS - 1], *hit, v[1][0], v[1][RUNS - 1], median(v[2]),
           median(v[3]), median(v[4]), median(v[5]), median(v[6]));
}

/* Zipf, then uniform load: the affine and the least-loaded setup up at once, each warmed
   with the same AFF_WARMUP requests, then RUNS measured runs on the same following
   segments of the sequence, interleaved; then the single cache on the same sequences. */
static void affinity(void)
{
    double t_start = now_s();
    static const char *const modes[2] = {"affine", "least_loaded"};
    static const char *const loads[2] = {"zipf", "uniform"};
    size_t n = AFF_WARMUP + RUNS * (size_t)AFF_REQUESTS;
    aff_result_t res[2][2][RUNS];
    double warm_s[2][2];
    static aff_setup_t setups[2];
    for (int load = 0; load < 2; load++) {
        uint32_t *seq = aff_sequence(load == 0, n);
        for (int m = 0; m < 2; m++)
            aff_start(&setups[m], modes[m]);
        usleep(700000);
        for (int m = 0; m < 2; m++) {
            aff_result_t warm;
            double w0 = now_s();
            aff_pass(&setups[m], seq, AFF_WARMUP, &warm);
            warm_s[load][m] = now_s() - w0;
        }
        for (int run = 0; run < RUNS; run++)
            for (int m = 0; m < 2; m++)
                aff_pass(&setups[m], seq + AFF_WARMUP + (size_t)run * AFF_REQUESTS, AFF_REQUESTS,
                         &res[load][m][run]);
        for (int m = 0; m < 2; m++)
            aff_stop(&setups[m]);
        free(seq);
    }
    double sim[2][2][RUNS]; /* [load][one cache, random split][run] */
    for (int load = 0; load < 2; load++) {
        uint32_t *seq = aff_sequence(load == 0, n);
        aff_in_process(seq, sim[load]);
        free(seq);
    }
    printf("Actor affinity: W2 (the demo actor, id aff-NNNNNN varied per request), %d real "
           "workers, each --l1-entries %d, --store none, credit 64; %d in flight;\n"
           "  request %zu bytes, reply (computed) %zu bytes;\n"
           "  %d actors, Zipf s = %.1f (actor k-1 the k-th most requested) or uniform, seed "
           "0x%x, one sequence for every setup;\n"
           "  per setup: %d requests of warm-up (not counted), then %d measured runs of %d "
           "requests (medians [min-max]); every reply checked\n",
           AFF_WORKERS, AFF_L1_ENTRIES, AFF_WINDOW, s_aff.size, s_ref_len, AFF_ACTORS, AFF_ZIPF_S,
           AFF_SEED, AFF_WARMUP, RUNS, AFF_REQUESTS);
    printf("  %-8s %-26s %21s %22s %6s %7s %22s\n", "", "", "", "", "", "", "CPU us/request");
    printf("  %-8s %-26s %21s %22s %6s %7s %6s %6s %7s\n", "load", "dispatch",
           "resolves/s [min-max]", "L1 hit rate [min-max]", "moved", "spilled", "client", "broker",
           "workers");
    for (int load = 0; load < 2; load++) {
        double rate[2], hit[2], in_proc[2];
        for (int m = 0; m < 2; m++)
            aff_row(loads[load], modes[m], res[load][m], &rate[m], &hit[m]);
        for (int k = 0; k < 2; k++) {
            char what[40];
            if (k == 0)
                snprintf(what, sizeof what, "one L1 of %d, in process", AFF_ONE_CACHE);
            else
                snprintf(what, sizeof what, "%d x %d, random, in proc.", AFF_WORKERS,
                         AFF_L1_ENTRIES);
            in_proc[k] = median(sim[load][k]);
            printf("  %-8s %-26s %21s %6.4f [%6.4f-%6.4f]\n", loads[load], what, "-", in_proc[k],
                   sim[load][k][0], sim[load][k][RUNS - 1]);
        }
        printf("  %-8s hit rate affine / least_loaded %.3f (ceiling on this sequence, one L1 / "
               "random split: %.3f),\n  %-8s affine / one L1 of %d %.3f; misses least_loaded / "
               "affine %.2f; resolves/s affine / least_loaded %.3f\n",
               loads[load], hit[0] / hit[1], in_proc[0] / in_proc[1], "", AFF_ONE_CACHE,
               hit[0] / in_proc[0], (1 - hit[1]) / (1 - hit[0]), rate[0] / rate[1]);
        printf("  %-8s warm-up: affine %.1f s, least_loaded %.1f s\n", loads[load], warm_s[load][0],
               warm_s[load][1]);
    }
    printf("  (moved: share of requests served by another worker than the same actor's "
           "previous request;\n   spilled: share the broker sent past the actor's owner, "
           "mmi.stats affine_spills; CPU from /proc/<pid>/stat)\n");
    printf("  actor affinity section: %.0f s\n", now_s() - t_start);
    free(s_ref_body);
    msgpack_zone_free(s_ref_zone);
    s_ref_body = NULL;
    s_ref_zone = NULL;
}

/* main is long on purpose: it is the report, one block per figure in the order they are
   printed, each block setting up, timing and printing its own figure. */
/* CPU seconds of n messages of `size` bytes sent from a DEALER to a ROUTER over tcp, both
   processes (the receiver is forked), with CURVE (server and client keys made here) or
   plain: the transport's own cost of one hop, with no application around it. */
static double hop_cpu(size_t size, bool curve, int n)
{
    zcert_t *server = zcert_new(), *client = zcert_new();
    char ep[1][64];
    bench_free_endpoints(ep, 1);
    pid_t child = fork();
    if (child == 0) {
        /* A context of its own: the parent's (CZMQ's) must not be used after a fork. */
        void *ctx = zmq_ctx_new(), *r = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
        int on = 1, unbounded = 0;
        if (!r || zmq_setsockopt(r, ZMQ_RCVHWM, &unbounded, sizeof unbounded) != 0 ||
            (curve &&
             (zmq_setsockopt(r, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
              zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, zcert_secret_key(server), 32) != 0)) ||
            zmq_bind(r, ep[0]) != 0)
            _exit(1);
        zmq_msg_t m;
        zmq_msg_init(&m);
        for (int i = 0; i < 2 * n; i++) /* [routing id][bytes] */
            if (zmq_msg_recv(&m, r, 0) < 0)
                _exit(1);
        zmq_msg_close(&m);
        zmq_close(r);
        zmq_ctx_term(ctx);
        _exit(0);
    }
    zsock_t *d = zsock_new(ZMQ_DEALER);
    if (curve) {
        zcert_apply(client, d);
        zsock_set_curve_serverkey(d, zcert_public_txt(server));
    }
    zsock_set_sndhwm(d, 0);
    zsock_connect(d, "%s", ep[0]);
    char *buf = calloc(1, size);
    zmq_send(zsock_resolve(d), buf, size, 0); /* the handshake, outside the count */
    zclock_sleep(100);
    struct rusage u0, c0, u1, c1;
    getrusage(RUSAGE_SELF, &u0);
    getrusage(RUSAGE_CHILDREN, &c0);
    for (int i = 1; i < n; i++)
        zmq_send(zsock_resolve(d), buf, size, 0);
    int status;
    waitpid(child, &status, 0);
    getrusage(RUSAGE_SELF, &u1);
    getrusage(RUSAGE_CHILDREN, &c1);
    free(buf);
    zsock_destroy(&d);
    zcert_destroy(&server);
    zcert_destroy(&client);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "curve: the hop's receiver failed\n");
        exit(1);
    }
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec * 1e-6)
    return TV(u1.ru_utime) + TV(u1.ru_stime) - TV(u0.ru_utime) - TV(u0.ru_stime) + TV(c1.ru_utime) +
           TV(c1.ru_stime) - TV(c0.ru_utime) - TV(c0.ru_stime);
#undef TV
}

/* The curve section: W2 through a broker with security none and one with security curve
   (CURVE on every hop: client, broker, workers), both started at once and measured in
   alternating runs, so the machine's load falls on both alike. */
static void curve_section(const char *dir)
{
    double t_start = now_s();
    char names[4][128];
    const char *who[] = {"broker", "worker", "client"};
    char clients[160], workers[160];
    snprintf(clients, sizeof clients, "%s/clients", dir);
    snprintf(workers, sizeof workers, "%s/workers", dir);
    mkdir(clients, 0700);
    mkdir(workers, 0700);
    for (int i = 0; i < 3; i++) {
        snprintf(names[i], sizeof names[i], "%s/%s", dir, who[i]);
        char key[AC_CURVE_KEY_TXT];
        ac_error_t err;
        if (ac_curve_keygen(names[i], key, &err) != 0) {
            fprintf(stderr, "curve: %s\n", err.message);
            exit(1);
        }
    }
    /* Install the worker's and the client's public certificates. */
    for (int i = 1; i < 3; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", names[i], i == 1 ? workers : clients);
        if (system(cmd) != 0)
            exit(1);
    }
    char ep[2][4][64];
    pid_t procs[2][3];
    for (int secure = 0; secure < 2; secure++) {
        bench_free_endpoints(ep[secure], 4);
        const char *plain[] = {AC_BROKER_PATH, "--frontend",  ep[secure][0], "--backend",
                               ep[secure][1],  "--events-in", ep[secure][2], "--events-out",
                               ep[secure][3],  NULL};
        const char *curve[] = {AC_BROKER_PATH,    "--frontend",      ep[secure][0],
                               "--backend",       ep[secure][1],     "--events-in",
                               ep[secure][2],     "--events-out",    ep[secure][3],
                               "--security",      "curve",           "--curve-cert",
                               names[0],          "--curve-clients", clients,
                               "--curve-workers", workers,           NULL};
        procs[secure][0] = spawn(secure ? curve : plain);
    }
    usleep(300000);
    for (int secure = 0; secure < 2; secure++)
        for (int i = 0; i < 2; i++) {
            const char *argv[] = {AC_WORKER_PATH,
                                  "--broker",
                                  ep[secure][1],
                                  "--events",
                                  "",
                                  BENCH_W2_WORKER_FLAGS,
                                  "--l1-entries",
                                  "0",
                                  "--security",
                                  secure ? "curve" : "none",
                                  secure ? "--curve-cert" : NULL,
                                  names[1],
                                  "--curve-server",
                                  names[0],
                                  NULL};
            procs[secure][1 + i] = spawn(argv);
        }
    usleep(500000);
    printf("CURVE: W2 through the broker and 2 workers, security none vs curve (every hop), "
           "256 in flight, %d requests per run, %d paired runs\n",
           REQUESTS, RUNS);
    double tp[2][RUNS], ratio[RUNS], cpu[2][RUNS], cpu_ratio[RUNS], part[2][4][RUNS];
    for (int run = 0; run < RUNS; run++) {
        for (int secure = 0; secure < 2; secure++) {
            s_curve_cert = secure ? names[2] : NULL;
            s_curve_server = secure ? names[0] : NULL;
            /* CPU of every process of the run (broker, workers, this client), so the
               figure holds on a machine busy with other work too. */
            pid_t pids[4] = {getpid(), procs[secure][0], procs[secure][1], procs[secure][2]};
            double c0[4];
            for (int i = 0; i < 4; i++)
                c0[i] = bench_cpu_seconds(pids[i]);
            tp[secure][run] = throughput_n(ep[secure][0], 256, 2, &s_w2, REQUESTS);
            cpu[secure][run] = 0;
            for (int i = 0; i < 4; i++) {
                part[secure][i][run] = (bench_cpu_seconds(pids[i]) - c0[i]) / REQUESTS * 1e6;
                cpu[secure][run] += part[secure][i][run];
            }
        }
        ratio[run] = tp[1][run] / tp[0][run];
        cpu_ratio[run] = cpu[0][run] / cpu[1][run];
    }
    s_curve_cert = s_curve_server = NULL;
    for (int secure = 0; secure < 2; secure++)
        for (int i = 2; i >= 0; i--)
            stop(procs[secure][i]);
    report("W2, security none", tp[0], RUNS, "resolves/s");
    report("W2, security curve", tp[1], RUNS, "resolves/s");
    qsort(ratio, RUNS, sizeof(double), cmp_d);
    printf("  curve / none, paired runs: median %.3f  min %.3f  max %.3f\n", ratio[RUNS / 2],
           ratio[0], ratio[RUNS - 1]);
    report("CPU per resolve, security none", cpu[0], RUNS, "us (all processes)");
    report("CPU per resolve, security curve", cpu[1], RUNS, "us (all processes)");
    const char *names_of[4] = {"client", "broker", "worker 1", "worker 2"};
    for (int secure = 0; secure < 2; secure++) {
        printf("  CPU us per resolve, %s:", secure ? "curve" : "none ");
        for (int i = 0; i < 4; i++) {
            qsort(part[secure][i], RUNS, sizeof(double), cmp_d);
            printf(" %s %.1f", names_of[i], part[secure][i][RUNS / 2]);
        }
        printf(" (medians)\n");
    }
    qsort(cpu_ratio, RUNS, sizeof(double), cmp_d);
    printf("  CPU per resolve none / curve (the throughput ratio of an idle machine): median "
           "%.3f  min %.3f  max %.3f\n",
           cpu_ratio[RUNS / 2], cpu_ratio[0], cpu_ratio[RUNS - 1]);
    /* The ceiling: what CURVE costs the transport alone for a request's and a reply's bytes
       on one hop (a bare DEALER -> ROUTER pair, in this run), times the two hops each
       crosses, added to the plain run's CPU per resolve: the ratio an application that
       spent nothing of its own on CURVE would reach. */
    const int hop_n = 50000;
    double dreq[RUNS], drep[RUNS], ceiling[RUNS];
    for (int run = 0; run < RUNS; run++) {
        dreq[run] =
            (hop_cpu(s_w2_request_bytes, true, hop_n) - hop_cpu(s_w2_request_bytes, false, hop_n)) /
            hop_n * 1e6;
        drep[run] =
            (hop_cpu(s_w2_reply_bytes, true, hop_n) - hop_cpu(s_w2_reply_bytes, false, hop_n)) /
            hop_n * 1e6;
        ceiling[run] = cpu[0][RUNS / 2] / (cpu[0][RUNS / 2] + 2 * (dreq[run] + drep[run]));
    }
    qsort(dreq, RUNS, sizeof(double), cmp_d);
    qsort(drep, RUNS, sizeof(double), cmp_d);
    qsort(ceiling, RUNS, sizeof(double), cmp_d);
    printf("  CURVE's own cost on one hop (bare DEALER -> ROUTER, CPU of both ends): %zu-byte "
           "request %.2f us, %zu-byte reply %.2f us (medians)\n",
           s_w2_request_bytes, dreq[RUNS / 2], s_w2_reply_bytes, drep[RUNS / 2]);
    printf("  ceiling none / curve (plain CPU per resolve + 2 hops of that cost): median %.3f  "
           "min %.3f  max %.3f\n",
           ceiling[RUNS / 2], ceiling[0], ceiling[RUNS - 1]);
    printf("  curve section: %.0f s\n", now_s() - t_start);
}

/* ---- metrics: the /metrics endpoints on against off ---- */

#define METRICS_RUNS 3     /* per phase */
#define METRICS_CHUNKS 24  /* per run and setting, taking turns */
#define METRICS_CHUNK 4000 /* requests per chunk (about 0.1 s) */

/* GET /metrics from 127.0.0.1:port; the bytes of the answer (0: none). */
static size_t scrape(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t got = 0;
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        char buf[16384];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
            got += (size_t)n;
    }
    close(fd);
    return got;
}

/* The work metrics add to one request, in process, in nanoseconds: the broker's (two reads
   of the monotonic clock and a histogram add) and the worker's (a histogram add and two
   counters; it reads the clock for `stats` already). */
static void metrics_hot_path(double *broker_ns, double *worker_ns)
{
    static ac_hist_t h[5];
    static uint64_t counters[7][16];
    const int n = 5000000;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
        ac_hist_add(&h[i % 5], (uint64_t)us + (uint64_t)(i & 1023));
    }
    double t1 = now_s();
    for (int i = 0; i < n; i++) {
        ac_hist_add(&h[i % 5], (uint64_t)(i & 4095) * 7);
        counters[i % 7][0]++;
        counters[i % 7][1 + (i & 7)] += (i & 63) == 0;
        __asm__ volatile("" : : "r"(counters) : "memory"); /* not folded into one add */
    }
    double t2 = now_s();
    *broker_ns = (t1 - t0) / n * 1e9;
    *worker_ns = (t2 - t1) / n * 1e9;
}

/* A child process that scrapes every port every `ms` milliseconds until killed (what a
   Prometheus server does, 60 x more often than its 15 s default). Sockets only: the child
   never touches the parent's ZeroMQ context. */
static pid_t scraper_start(const int *ports, int n, int ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (;;) {
            for (int i = 0; i < n; i++)
                scrape(ports[i]);
            usleep((useconds_t)ms * 1000);
        }
    }
    return pid;
}

static void scraper_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Two clusters of a broker and 2 W2 workers (slots 0 and 1), started at once; the cluster
   in slot on_slot has /metrics on in every process (none with aa). */
typedef struct {
    char ep[2][4][64]; /* frontend, backend, events in, out of each slot */
    int ports[3];      /* the /metrics ports of the slot that has them */
    pid_t procs[2][3]; /* broker, worker, worker of each slot */
} mclusters_t;

static void mclusters_start(mclusters_t *m, int on_slot, bool aa)
{
    char http[3][64], listen[3][32];
    bench_free_endpoints(m->ep[0], 4);
    bench_free_endpoints(m->ep[1], 4);
    bench_free_endpoints(http, 3);
    for (int i = 0; i < 3; i++) {
        m->ports[i] = atoi(strrchr(http[i], ':') + 1);
        snprintf(listen[i], sizeof listen[i], "127.0.0.1:%d", m->ports[i]);
    }
    for (int c = 0; c < 2; c++) {
        bool on = c == on_slot && !aa;
        const char *argv[] = {AC_BROKER_PATH, "--frontend",  m->ep[c][0], "--backend",
                              m->ep[c][1],    "--events-in", m->ep[c][2], "--events-out",
                              m->ep[c][3],    "--state",     "none",      on ? "--metrics" : NULL,
                              listen[0],      NULL};
        m->procs[c][0] = spawn(argv);
    }
    usleep(300000);
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++) {
            bool on = c == on_slot && !aa;
            const char *argv[] = {AC_WORKER_PATH, "--broker", m->ep[c][1],
                                  "--events",     "",         BENCH_W2_WORKER_FLAGS,
                                  "--l1-entries", "0",        on ? "--metrics" : NULL,
                                  listen[1 + i],  NULL};
            m->procs[c][1 + i] = spawn(argv);
        }
    usleep(500000);
    for (int i = 0; i < 3 && !aa; i++)
        if (scrape(m->ports[i]) < 1000) {
            fprintf(stderr, "metrics: the /metrics of port %d does not answer\n", m->ports[i]);
            exit(1);
        }
}

static void mclusters_stop(mclusters_t *m)
{
    for (int c = 0; c < 2; c++)
        for (int i = 2; i >= 0; i--)
            stop(m->procs[c][i]);
}

/* The figures of one run: throughput and CPU per resolve of each setting ([0] off, [1] on),
   and the on / off ratio: the median over its pairs of neighbouring chunks (a chunk that
   another session's burst slowed moves one pair, not the figure). */
typedef struct {
    double tp[2], cpu[2], ratio;
} mrun_t;

/* One run: METRICS_CHUNKS chunks of each setting taking turns (ABBA), so the other
   sessions' load, which moves on a scale of seconds, falls on both alike. CPU: the
   cluster's processes and this client (not the scraper: Prometheus runs elsewhere). */
static mrun_t mrun(const mclusters_t *m, ac_client_t **clients, const int *slot, int run)
{
    double secs[2] = {0, 0}, cpus[2] = {0, 0}, chunk_tp[2][METRICS_CHUNKS], pair[METRICS_CHUNKS];
    int done[2] = {0, 0};
    for (int chunk = 0; chunk < 2 * METRICS_CHUNKS; chunk++) {
        int on = (chunk + chunk / 2 + run) % 2, c = slot[on];
        double c0 = bench_cpu_seconds(getpid());
        for (int i = 0; i < 3; i++)
            c0 += bench_cpu_seconds(m->procs[c][i]);
        double t0 = now_s();
        pump(clients[c], 256, 2, &s_w2, METRICS_CHUNK);
        double t1 = now_s();
        secs[on] += t1 - t0;
        chunk_tp[on][done[on]++] = METRICS_CHUNK / (t1 - t0);
        double c1 = bench_cpu_seconds(getpid());
        for (int i = 0; i < 3; i++)
            c1 += bench_cpu_seconds(m->procs[c][i]);
        cpus[on] += c1 - c0;
    }
    mrun_t r;
    for (int on = 0; on < 2; on++) {
        r.tp[on] = METRICS_CHUNKS * METRICS_CHUNK / secs[on];
        r.cpu[on] = cpus[on] / (METRICS_CHUNKS * METRICS_CHUNK) * 1e6;
    }
    for (int k = 0; k < METRICS_CHUNKS; k++)
        pair[k] = chunk_tp[1][k] / chunk_tp[0][k];
    qsort(pair, METRICS_CHUNKS, sizeof(double), cmp_d);
    r.ratio = pair[METRICS_CHUNKS / 2];
    return r;
}

/* W2 through two clusters started at once, one with /metrics on in every process (scraped
   every 250 ms), one with it off, measured in chunks taking turns. Two phases: the
   metrics go to slot 1, then (all six processes restarted) to slot 0, so what favours one
   slot (an A/A run showed up to 15 %: start order, client order) weighs on both settings
   alike; the figure is the median of every run of both phases. aa: both clusters off and
   no scraper (the A/A run: the noise and the slots' bias alone). */
static void metrics_section(bool aa)
{
    double t_start = now_s();
    printf("Metrics: W2 through a broker and 2 workers, /metrics off vs on in every process "
           "(scraped every 250 ms), 256 in flight; 2 phases (on in slot 1, then in slot 0) of "
           "%d runs, each %d chunks of %d requests per setting, taking turns%s\n",
           METRICS_RUNS, METRICS_CHUNKS, METRICS_CHUNK,
           aa ? "; A/A: both off, no scraper (\"on\" is the other off cluster)" : "");
    const int n = 2 * METRICS_RUNS;
    double tp[2][2 * METRICS_RUNS], cpu[2][2 * METRICS_RUNS], ratio[2 * METRICS_RUNS],
        cpu_ratio[2 * METRICS_RUNS], phase_ratio[2][METRICS_RUNS];
    double scrape_ms[3] = {0, 0, 0};
    for (int phase = 0; phase < 2; phase++) {
        int slot[2] = {phase, 1 - phase}; /* slot[on]: the cluster of that setting */
        mclusters_t m;
        mclusters_start(&m, slot[1], aa);
        ac_client_config_t cfg = {.timeout_ms = 30000, .retries = 0};
        ac_client_t *clients[2] = {ac_client_new(m.ep[0][0], &cfg),
                                   ac_client_new(m.ep[1][0], &cfg)};
        for (int c = 0; c < 2; c++)
            pump(clients[c], 256, 2, &s_w2, REQUESTS / 4); /* warm-up of both */
        pid_t scraper = aa ? 0 : scraper_start(m.ports, 3, 250);
        for (int run = 0; run < METRICS_RUNS; run++) {
            mrun_t r = mrun(&m, clients, slot, run);
            int k = phase * METRICS_RUNS + run;
            for (int on = 0; on < 2; on++) {
                tp[on][k] = r.tp[on];
                cpu[on][k] = r.cpu[on];
            }
            ratio[k] = phase_ratio[phase][run] = r.ratio;
            cpu_ratio[k] = r.cpu[0] / r.cpu[1];
            printf("  phase %d run %d: off %6.0f/s %5.1f us, on %6.0f/s %5.1f us: on / off %.3f "
                   "(median of %d chunk pairs; totals %.3f), CPU off / on %.3f\n",
                   phase + 1, run + 1, r.tp[0], r.cpu[0], r.tp[1], r.cpu[1], r.ratio,
                   METRICS_CHUNKS, r.tp[1] / r.tp[0], cpu_ratio[k]);
        }
        if (scraper)
            scraper_stop(scraper);
        for (int c = 0; c < 2; c++)
            ac_client_destroy(&clients[c]);
        /* A scrape's wall time (render + HTTP over loopback), each process, 50 times. */
        for (int i = 0; i < 3 && !aa; i++) {
            double t0 = now_s();
            for (int k = 0; k < 50; k++)
                scrape(m.ports[i]);
            scrape_ms[i] += (now_s() - t0) / 50 * 1e3 / 2;
        }
        mclusters_stop(&m);
    }
    report("W2, metrics off", tp[0], n, "resolves/s");
    report("W2, metrics on", tp[1], n, "resolves/s");
    report("CPU per resolve, metrics off", cpu[0], n, "us (all processes)");
    report("CPU per resolve, metrics on", cpu[1], n, "us (all processes)");
    qsort(ratio, (size_t)n, sizeof(double), cmp_d);
    qsort(cpu_ratio, (size_t)n, sizeof(double), cmp_d);
    for (int phase = 0; phase < 2; phase++)
        qsort(phase_ratio[phase], METRICS_RUNS, sizeof(double), cmp_d);
    printf("  throughput on / off, every run of both phases: median %.3f  min %.3f  max %.3f  "
           "(target >= 0.97); phase medians %.3f (on in slot 1), %.3f (on in slot 0), their "
           "geometric mean %.3f\n",
           (ratio[n / 2 - 1] + ratio[n / 2]) / 2, ratio[0], ratio[n - 1],
           phase_ratio[0][METRICS_RUNS / 2], phase_ratio[1][METRICS_RUNS / 2],
           sqrt(phase_ratio[0][METRICS_RUNS / 2] * phase_ratio[1][METRICS_RUNS / 2]));
    printf("  CPU per resolve off / on (the throughput ratio of an idle machine): median %.3f  "
           "min %.3f  max %.3f\n",
           (cpu_ratio[n / 2 - 1] + cpu_ratio[n / 2]) / 2, cpu_ratio[0], cpu_ratio[n - 1]);
    double bns, wns, off_cpu = (cpu[0][n / 2 - 1] + cpu[0][n / 2]) / 2;
    metrics_hot_path(&bns, &wns);
    printf("  added per request, in process: broker %.1f ns, worker %.1f ns (%.2f %% of the %.1f "
           "us of CPU a resolve costs all processes with metrics off)\n",
           bns, wns, (bns + wns) / (off_cpu * 1e3) * 100, off_cpu);
    if (!aa)
        printf("  a scrape (render + HTTP, wall): broker %.2f ms, workers %.2f and %.2f ms\n",
               scrape_ms[0], scrape_ms[1], scrape_ms[2]);
    printf("  metrics section: %.0f s\n", now_s() - t_start);
}

/* ---- coherence: invalidate answered by every worker ---- */

/* p50 and p99 (us) of `n` invalidates (one in flight) of actors that each worker has
   cached (a resolve of each first), on a fresh client. */
static void invalidate_latency(const char *fe, int n, double *p50, double *p99)
{
    ac_client_t *c = ac_client_new(fe, NULL);
    double *lat = malloc((size_t)n * sizeof *lat);
    msgpack_zone *zone = msgpack_zone_new(4096);
    for (int i = -100; i < n; i++) {
        char actor[32];
        snprintf(actor, sizeof actor, "inv-%d", i + 100);
        msgpack_sbuffer body;
        msgpack_packer pk;
        begin_body(&body, &pk, "invalidate", "actor_id");
        ac_wire_pack_str(&pk, actor);
        end_body(&pk);
        uint64_t id = ac_client_next_id(c);
        patch_id(&body, id);
        int64_t t0 = zclock_usecs();
        ac_client_send_raw(c, id, body.data, body.size);
        ac_reply_t r;
        if (ac_client_recv(c, &r, 30000) != 1) {
            fprintf(stderr, "invalidate: no reply\n");
            exit(1);
        }
        int64_t t1 = zclock_usecs();
        msgpack_object o;
        parse_or_die(&r, zone, &o);
        const msgpack_object *ok = ac_wire_get(&o, "ok");
        if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean) {
            fprintf(stderr, "invalidate: not ok\n");
            exit(1);
        }
        if (i >= 0)
            lat[i] = (double)(t1 - t0);
        msgpack_sbuffer_destroy(&body);
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    *p50 = lat[n / 2];
    *p99 = lat[n * 99 / 100];
    free(lat);
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
}

/* A broker (state none) and `workers` workers, each with its own store file (a host of its
   own: every invalidate is one SQLite delete per worker). */
static void coherence_setup(const char *dir, int workers, char (*ep)[64], pid_t *procs)
{
    bench_free_endpoints(ep, 4);
    const char *broker[] = {AC_BROKER_PATH, "--frontend",  ep[0],  "--backend",
                            ep[1],          "--events-in", ep[2],  "--events-out",
                            ep[3],          "--state",     "none", NULL};
    procs[0] = spawn(broker);
    usleep(300000);
    for (int i = 0; i < workers; i++) {
        char store[200], host[32];
        snprintf(store, sizeof store, "%s/inv-%d-%d.db", dir, workers, i);
        snprintf(host, sizeof host, "inv-%d-%d", workers, i);
        const char *argv[] = {AC_WORKER_PATH, "--broker", ep[1],    "--events", "",
                              "--store",      store,      "--host", host,       NULL};
        procs[1 + i] = spawn(argv);
    }
    usleep(500000);
}

static void coherence_section(const char *dir)
{
    enum { N = 2000 };
    char ep[2][4][64];
    pid_t procs[2][5];
    const int workers[2] = {1, 4};
    for (int k = 0; k < 2; k++)
        coherence_setup(dir, workers[k], ep[k], procs[k]);
    printf("Coherence: invalidate (fanned out to every worker, each deleting its L3 row), one "
           "in flight, %d per run, %d paired runs\n",
           N, RUNS);
    double p50[2][RUNS], p99[2][RUNS], ratio[RUNS];
    for (int run = 0; run < RUNS; run++) {
        for (int k = 0; k < 2; k++)
            invalidate_latency(ep[k][0], N, &p50[k][run], &p99[k][run]);
        ratio[run] = p50[1][run] / p50[0][run];
    }
    for (int k = 0; k < 2; k++)
        for (int i = workers[k]; i >= 0; i--)
            stop(procs[k][i]);
    report("invalidate p50, 1 worker", p50[0], RUNS, "us");
    report("invalidate p50, 4 workers", p50[1], RUNS, "us");
    report("invalidate p99, 1 worker", p99[0], RUNS, "us");
    report("invalidate p99, 4 workers", p99[1], RUNS, "us");
    qsort(ratio, RUNS, sizeof(double), cmp_d);
    printf("  4 workers / 1 worker p50, paired runs: median %.3f  min %.3f  max %.3f (target <= "
           "2)\n",
           ratio[RUNS / 2], ratio[0], ratio[RUNS - 1]);
}

int main(int argc, char **args)
{
    static const char *const usage =
        "usage: bench_service [affinity|forwarding|curve|coherence|metrics|metrics-aa]\n"
        "  no argument: every section; affinity: only the actor-affinity section (about a\n"
        "  minute); forwarding: only the forwarding limit (broker vs bare forwarder);\n"
        "  curve: only W2 with security curve vs none; coherence: invalidate with 4\n"
        "  workers vs 1; metrics: W2 with the /metrics endpoints on vs off; metrics-aa: the\n"
        "  same with both off (the noise floor)\n";
    bool only_affinity = argc == 2 && strcmp(args[1], "affinity") == 0;
    bool only_forwarding = argc == 2 && strcmp(args[1], "forwarding") == 0;
    bool only_curve = argc == 2 && strcmp(args[1], "curve") == 0;
    bool only_coherence = argc == 2 && strcmp(args[1], "coherence") == 0;
    bool only_metrics = argc == 2 && strcmp(args[1], "metrics") == 0;
    bool metrics_aa = argc == 2 && strcmp(args[1], "metrics-aa") == 0;
    if (argc == 2 && strcmp(args[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && !only_affinity && !only_forwarding && !only_curve &&
                     !only_coherence && !only_metrics && !metrics_aa)) {
        fputs(usage, stderr);
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    build_w1_body();
    build_small_body();
    build_w2_bodies();
    if (!mkdtemp(s_dir))
        return 1;
    atexit(cleanup);
    if (only_affinity) {
        affinity();
        return 0;
    }
    if (only_forwarding) {
        forwarding_limit(s_dir);
        return 0;
    }
    if (only_curve) {
        curve_section(s_dir);
        return 0;
    }
    if (only_coherence) {
        coherence_section(s_dir);
        return 0;
    }
    if (only_metrics || metrics_aa) {
        metrics_section(metrics_aa);
        return 0;
    }
    const char *dir = s_dir;
    char comb[128], lay[128];
    snprintf(comb, sizeof comb, "%s/w1.yaml", dir);
    snprintf(lay, sizeof lay, "%s/layers.yaml", dir);
    FILE *f = fopen(comb, "w");
    fputs("dimensions:\n", f);
    for (int d = 0; d < 20; d++)
        fprintf(f, "  dim%02d: { use_pipeline: true, clamp_default: { min: 0, max: 1000000 } }\n",
                d);
    fclose(f);
    f = fopen(lay, "w");
    fputs("order: [REALM, WORLD, EVENT, TOTAL]\nacross_policy: INTERSECT\n", f);
    fclose(f);
    char ep[4][64];
    bench_free_endpoints(ep, 4);
    const char *fe = ep[0], *be = ep[1];
    const char *broker_argv[] = {
        AC_BROKER_PATH, "--frontend",   fe,    "--backend", be, "--events-in",
        ep[2],          "--events-out", ep[3], NULL};
    pid_t broker = spawn(broker_argv);
    usleep(300000);
    printf("W1-inline through the broker, loopback tcp, request %zu bytes; %d requests per run, "
           "%d runs\n",
           s_body.size, REQUESTS, RUNS);
    double w2_echo_tp[RUNS], w2_tp[RUNS], w2_batch[RUNS], w2_batch_l1[RUNS];
    double small_tp[RUNS], echo_tp[RUNS], echo_p50[RUNS], echo_p99[RUNS], w1_tp[RUNS], w1_p50[RUNS],
        w1_p99[RUNS];
    for (int phase = 0; phase < 4; phase++) {
        pid_t workers[2];
        for (int i = 0; i < 2; i++) {
            if (phase == 0) {
                const char *argv[] = {AC_ECHO_PATH, be, "64", NULL};
                workers[i] = spawn(argv);
            } else if (phase == 1) {
                const char *argv[] = {
                    AC_WORKER_PATH, "--broker",     be,         "--events", "",
                    "--combiner",   comb,           "--layers", lay,        "--store",
                    "none",         "--l1-entries", "0",        NULL};
                workers[i] = spawn(argv);
            } else {
                /* phase 2: L1 off (every actor computed); phase 3: L1 on (repeated actors
                   are answered from the cache after the first batch). */
                const char *argv[] = {AC_WORKER_PATH,
                                      "--broker",
                                      be,
                                      "--events",
                                      "",
                                      BENCH_W2_WORKER_FLAGS,
                                      "--l1-entries",
                                      phase == 2 ? "0" : "100000",
                                      NULL};
                workers[i] = spawn(argv);
            }
        }
        usleep(500000);
        for (int run = 0; run < RUNS; run++) {
            if (phase == 0) {
                echo_tp[run] = throughput(fe, 256, false, &s_body);
                small_tp[run] = throughput(fe, 256, false, &s_small);
                w2_echo_tp[run] = throughput(fe, 256, false, &s_w2);
                latency(fe, false, &s_body, LAT_REQUESTS, &echo_p50[run], &echo_p99[run]);
            } else if (phase == 2) {
                w2_tp[run] = throughput_n(fe, 256, 2, &s_w2, REQUESTS * 2);
                w2_batch[run] = throughput_n(fe, 16, 3, &s_w2_batch, 400) * BATCH / 1000.0;
            } else if (phase == 3) {
                throughput_n(fe, 16, 3, &s_w2_batch, 20); /* warm both workers' L1 */
                w2_batch_l1[run] = throughput_n(fe, 16, 3, &s_w2_batch, 400) * BATCH / 1000.0;
            } else {
                w1_tp[run] = throughput(fe, 256, true, &s_body);
                latency(fe, true, &s_body, LAT_REQUESTS, &w1_p50[run], &w1_p99[run]);
            }
        }
        for (int i = 0; i < 2; i++)
            stop(workers[i]);
        usleep(300000);
    }
    stop(broker);
    double tp_ratio = 0, lat_ratio = 0;
    qsort(echo_tp, RUNS, sizeof(double), cmp_d);
    qsort(w1_tp, RUNS, sizeof(double), cmp_d);
    qsort(echo_p50, RUNS, sizeof(double), cmp_d);
    qsort(w1_p50, RUNS, sizeof(double), cmp_d);
    tp_ratio = w1_tp[RUNS / 2] / echo_tp[RUNS / 2];
    lat_ratio = w1_p50[RUNS / 2] / echo_p50[RUNS / 2];
    report("echo workers, 1 KB body: 256 in flight", small_tp, RUNS, "req/s");
    report("echo workers: 256 in flight", echo_tp, RUNS, "req/s");
    report("echo workers: 1 in flight, p50", echo_p50, RUNS, "us");
    report("echo workers: 1 in flight, p99", echo_p99, RUNS, "us");
    report("W1 workers: 256 in flight", w1_tp, RUNS, "resolves/s");
    report("W1 workers: 1 in flight, p50", w1_p50, RUNS, "us");
    report("W1 workers: 1 in flight, p99", w1_p99, RUNS, "us");
    printf("  W1 throughput / echo throughput: %.2f\n", tp_ratio);
    qsort(w2_echo_tp, RUNS, sizeof(double), cmp_d);
    qsort(w2_tp, RUNS, sizeof(double), cmp_d);
    printf("W2 (demo actor, %zu-byte request; workers run the subsystems; L1 off):\n", s_w2.size);
    report("echo workers, W2 request: 256 in flight", w2_echo_tp, RUNS, "req/s");
    report("W2 workers: 256 in flight", w2_tp, RUNS, "resolves/s");
    report("W2 workers: batches of 100, 16 in flight", w2_batch, RUNS, "actors/ms");
    report("  same, L1 on (repeated actors: hits)", w2_batch_l1, RUNS, "actors/ms");
    printf("  W2 throughput / echo throughput: %.2f\n", w2_tp[RUNS / 2] / w2_echo_tp[RUNS / 2]);
    printf("  W1 p50 / echo p50 (1 in flight): %.2f\n", lat_ratio);
    fflush(stdout);
    forwarding_limit(dir);
    fflush(stdout);
    affinity();
    fflush(stdout);
    curve_section(dir);
    coherence_section(dir);
    metrics_section(false);
    return 0;
}
