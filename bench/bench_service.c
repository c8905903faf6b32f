/*  bench_service - W1-inline (WORKLOADS.md) through the real broker and two real workers
    over loopback tcp, against the same broker with two bare echo workers measured in the
    same run (the transport ceiling of this machine).

    For each setup: throughput with 256 requests in flight, and latency with 1 in flight
    (p50, p99). Median / min / max over 3 runs each. Every reply is checked (ok); W1
    replies are checked for the W1 answer on every dimension.
*/
#include <czmq.h>
#include <math.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "actorcore/actorcore.h"
#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "w1.h"
#include "core/yamldoc.h"

#define RUNS 3
#define REQUESTS 20000
#define LAT_REQUESTS 3000

static pid_t spawn(const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
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
#define BATCH 100

static void pack_actor(msgpack_packer *pk, const msgpack_object *actor, int variant)
{
    msgpack_pack_map(pk, actor->via.map.size);
    for (uint32_t i = 0; i < actor->via.map.size; i++) {
        const msgpack_object_kv *kv = &actor->via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        if (variant >= 0 && kv->key.via.str.size == 2 &&
            memcmp(kv->key.via.str.ptr, "id", 2) == 0) {
            char id[32];
            snprintf(id, sizeof id, "w2-actor-%03d", variant);
            ac_wire_pack_str(pk, id);
        } else {
            msgpack_pack_object(pk, kv->val);
        }
    }
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
    pack_actor(&pk, &actor, -1);
    end_body(&pk);
    begin_body(&s_w2_batch, &pk, "resolve_batch", "items");
    msgpack_pack_array(&pk, BATCH);
    for (int i = 0; i < BATCH; i++) {
        msgpack_pack_map(&pk, 1);
        ac_wire_pack_str(&pk, "actor");
        pack_actor(&pk, &actor, i);
    }
    end_body(&pk);
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

/* Requests/s with `window` in flight. */
static double throughput_n(const char *fe, int window, int check, msgpack_sbuffer *body,
                           int requests);

static double throughput(const char *fe, int window, bool w1, msgpack_sbuffer *body)
{
    return throughput_n(fe, window, w1 ? 1 : 0, body, REQUESTS);
}

static double throughput_n(const char *fe, int window, int check, msgpack_sbuffer *body,
                           int requests)
{
    ac_client_config_t cfg = {30000, 0};
    ac_client_t *c = ac_client_new(fe, &cfg);
    msgpack_zone *zone = msgpack_zone_new(65536);
    int sent = 0, got = 0;
    double t0 = zclock_usecs() / 1e6;
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
        if (got % 64 == 0 || check == 3) {
            if (check >= 2)
                check_w2(&r, check == 3, zone);
            else
                check_reply(&r, check == 1, zone);
        }
        got++;
    }
    double t1 = zclock_usecs() / 1e6;
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
    return requests / (t1 - t0);
}

/* p50 and p99 in microseconds with one request in flight. */
static void latency(const char *fe, bool w1, double *p50, double *p99)
{
    ac_client_t *c = ac_client_new(fe, NULL);
    msgpack_zone *zone = msgpack_zone_new(65536);
    double *lat = malloc(LAT_REQUESTS * sizeof *lat);
    for (int i = -200; i < LAT_REQUESTS; i++) {
        uint64_t id = ac_client_next_id(c);
        patch_id(&s_body, id);
        int64_t t0 = zclock_usecs();
        ac_client_send_raw(c, id, s_body.data, s_body.size);
        ac_reply_t r;
        if (ac_client_recv(c, &r, 30000) != 1)
            exit(1);
        int64_t t1 = zclock_usecs();
        if (i >= 0)
            lat[i] = (double)(t1 - t0);
        if (i % 100 == 0)
            check_reply(&r, w1, zone);
    }
    qsort(lat, LAT_REQUESTS, sizeof *lat, cmp_d);
    *p50 = lat[LAT_REQUESTS / 2];
    *p99 = lat[LAT_REQUESTS * 99 / 100];
    free(lat);
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
}

/* main is long on purpose: it is the report, one block per figure in the order they are
   printed, each block setting up, timing and printing its own figure. */
int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    build_w1_body();
    build_small_body();
    build_w2_bodies();
    char dir[] = "/tmp/ac_bsvc_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
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
    const char *fe = "tcp://127.0.0.1:19555", *be = "tcp://127.0.0.1:19556";
    const char *broker_argv[] = {AC_BROKER_PATH,
                                 "--frontend",
                                 fe,
                                 "--backend",
                                 be,
                                 "--events-in",
                                 "tcp://127.0.0.1:19558",
                                 "--events-out",
                                 "tcp://127.0.0.1:19557",
                                 NULL};
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
                                      "--combiner",
                                      AC_SOURCE_DIR "/config/combiner.yaml",
                                      "--layers",
                                      AC_SOURCE_DIR "/config/cap_layers.yaml",
                                      "--subsystems",
                                      AC_SOURCE_DIR "/config/subsystems",
                                      "--store",
                                      "none",
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
                latency(fe, false, &echo_p50[run], &echo_p99[run]);
            } else if (phase == 2) {
                w2_tp[run] = throughput_n(fe, 256, 2, &s_w2, REQUESTS * 2);
                w2_batch[run] = throughput_n(fe, 16, 3, &s_w2_batch, 400) * BATCH / 1000.0;
            } else if (phase == 3) {
                throughput_n(fe, 16, 3, &s_w2_batch, 20); /* warm both workers' L1 */
                w2_batch_l1[run] = throughput_n(fe, 16, 3, &s_w2_batch, 400) * BATCH / 1000.0;
            } else {
                w1_tp[run] = throughput(fe, 256, true, &s_body);
                latency(fe, true, &w1_p50[run], &w1_p99[run]);
            }
        }
        for (int i = 0; i < 2; i++)
            stop(workers[i]);
        usleep(300000);
    }
    stop(broker);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
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
    return 0;
}
