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
*/
#include <czmq.h>
#include <math.h>
#include <signal.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
/* The forwarding limit: requests per run for bodies up to 1 KB (enough for the CPU clock's
   10 ms ticks to resolve a few microseconds per request) and for 25 KB; warm-up requests
   before each run; requests at 1 in flight. */
#define LIMIT_REQUESTS 50000
#define LIMIT_REQUESTS_25K 10000
#define WARMUP 2000
#define LIMIT_LAT_REQUESTS 2000

/* Every process started and not yet stopped, and the temporary directory: cleanup (atexit)
   kills and reaps the ones left and removes the directory, also after a failed check's
   exit(1). */
#define MAX_CHILDREN 16
static pid_t s_children[MAX_CHILDREN];
static char s_dir[] = "/tmp/ac_bsvc_XXXXXX";

static void stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (s_children[i] == pid)
            s_children[i] = 0;
}

static void cleanup(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        stop(s_children[i]);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_service: could not remove %s\n", s_dir);
}

/* Starts argv with stdout and stderr on /dev/null and, when env is not NULL, these
   NAME=VALUE entries added to the environment (NULL-terminated). */
static pid_t spawn_env(const char *const *argv, const char *const *env)
{
    /* The child's environment is built before fork: the child only execs. */
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (env && env[extra])
        extra++;
    char **envp = calloc(n + extra + 1, sizeof *envp);
    memcpy(envp, environ, n * sizeof *envp);
    for (size_t i = 0; i < extra; i++)
        envp[n + i] = (char *)env[i];
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        dup2(nul, 2);
        execve(argv[0], (char *const *)argv, envp);
        _exit(127);
    }
    free(envp);
    for (int i = 0; pid > 0 && i < MAX_CHILDREN; i++)
        if (!s_children[i]) {
            s_children[i] = pid;
            break;
        }
    return pid;
}

static pid_t spawn(const char *const *argv)
{
    return spawn_env(argv, NULL);
}

/* n loopback tcp endpoints on ports free now: all probed at once (so they differ), then
   released for the programs to bind. */
static void free_endpoints(char (*ep)[64], int n)
{
    int fds[8];
    for (int i = 0; i < n && i < 8; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) != 0) {
            perror("bench_service: a free port");
            exit(1);
        }
        snprintf(ep[i], sizeof ep[i], "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    }
    for (int i = 0; i < n && i < 8; i++)
        close(fds[i]);
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
    ac_client_config_t cfg = {30000, 0};
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
    free_endpoints(t->ep, broker ? 4 : 2);
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

/* utime + stime of the whole process (every thread), in clock ticks. */
static double cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* After "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
       cmajflt utime stime (fields 3..15). */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    return (double)(ut + st);
}

/* One measured run: on one client, WARMUP requests, then `requests` timed with 256 in
   flight; the target's CPU and allocations are read between the two. */
static void measured_run(const target_t *t, msgpack_sbuffer *body, int requests, double *tp,
                         double *cpu_us, double *allocs)
{
    ac_client_config_t cfg = {30000, 0};
    ac_client_t *c = ac_client_new(t->ep[0], &cfg);
    pump(c, 256, 0, body, WARMUP);
    double a0 = alloc_count(t), c0 = cpu_ticks(t->pid);
    double t0 = now_s();
    pump(c, 256, 0, body, requests);
    double t1 = now_s();
    double c1 = cpu_ticks(t->pid), a1 = alloc_count(t);
    ac_client_destroy(&c);
    *tp = requests / (t1 - t0);
    *cpu_us = (c1 - c0) * 1e6 / (double)sysconf(_SC_CLK_TCK) / requests;
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

/* main is long on purpose: it is the report, one block per figure in the order they are
   printed, each block setting up, timing and printing its own figure. */
int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    build_w1_body();
    build_small_body();
    build_w2_bodies();
    if (!mkdtemp(s_dir))
        return 1;
    atexit(cleanup);
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
    free_endpoints(ep, 4);
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
    return 0;
}
