/*  bench_failover - what a crashed worker costs the requests it held.

    A broker and three real workers over loopback tcp; one client keeps 256 of 5,000
    resolves in flight. Each run is made twice, interleaved, 3 times: undisturbed, and with
    one worker killed with SIGKILL after 1,500 replies (a new one is started at once, as an
    operator's supervisor would). Reports, as medians over the runs: the run's total time,
    and the latency of every request from its send to its reply (p50, p99, max); then the
    ratios kill / undisturbed. Every reply is checked: ok, the value the request carried,
    each id answered once.
*/
#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actorcore/actorcore.h"
#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "bench.h"
#include "procs.h"

#define RUNS 3
#define REQUESTS 5000
#define WINDOW 256
#define KILL_AFTER 1500
#define WORKERS 3

static char s_tmp[64] = "/tmp/ac_failover_XXXXXX";
static pid_t spawn(const char *const *argv)
{
    return procs_spawn(argv, NULL, NULL);
}

static void cleanup(void)
{
    procs_kill_all();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_failover: could not remove %s\n", s_tmp);
}

typedef struct {
    char fe[64], be[64], ein[64], eout[64];
    pid_t broker;
    pid_t workers[WORKERS];
} cluster_t;

static pid_t start_worker(const cluster_t *c, int n)
{
    char store[128];
    snprintf(store, sizeof store, "%s/l3-%d.db", s_tmp, n);
    const char *argv[] = {AC_WORKER_PATH, "--broker", c->be,          "--events", c->ein,
                          "--store",      store,      "--l1-entries", "0",        NULL};
    return spawn(argv);
}

static void start_cluster(cluster_t *c)
{
    char ep[4][64];
    bench_free_endpoints(ep, 4);
    snprintf(c->fe, sizeof c->fe, "%s", ep[0]);
    snprintf(c->be, sizeof c->be, "%s", ep[1]);
    snprintf(c->ein, sizeof c->ein, "%s", ep[2]);
    snprintf(c->eout, sizeof c->eout, "%s", ep[3]);
    const char *argv[] = {AC_BROKER_PATH, "--frontend", c->fe,          "--backend", c->be,
                          "--events-in",  c->ein,       "--events-out", c->eout,     NULL};
    c->broker = spawn(argv);
    for (int i = 0; i < WORKERS; i++)
        c->workers[i] = start_worker(c, i);
}

static void stop_cluster(cluster_t *c)
{
    for (int i = 0; i < WORKERS; i++)
        procs_signal(c->workers[i], SIGTERM);
    procs_signal(c->broker, SIGTERM);
}

/* A resolve of one FLAT contribution of value v, which the snapshot must echo. */
static uint64_t send_one(ac_client_t *cl, double v)
{
    uint64_t id = ac_client_next_id(cl);
    msgpack_packer *pk;
    ac_client_begin(cl, &pk, "resolve", id, 1);
    ac_wire_pack_str(pk, "outputs");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 2);
    ac_wire_pack_str(pk, "meta");
    msgpack_pack_map(pk, 1);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, "items");
    ac_wire_pack_str(pk, "primary");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    ac_wire_pack_str(pk, "dimension");
    ac_wire_pack_str(pk, "strength");
    ac_wire_pack_str(pk, "bucket");
    ac_wire_pack_str(pk, "FLAT");
    ac_wire_pack_str(pk, "value");
    msgpack_pack_double(pk, v);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, "items");
    if (ac_client_send(cl, id) != 0) {
        fprintf(stderr, "bench_failover: send failed\n");
        exit(1);
    }
    return id;
}

/* The strength of an ok reply; exits on anything else. */
static double reply_strength(const ac_reply_t *r, msgpack_zone *zone)
{
    msgpack_object o;
    ac_error_t err;
    msgpack_zone_clear(zone);
    if (ac_msgpack_parse(r->body, r->len, zone, &o, &err) != 0) {
        fprintf(stderr, "bench_failover: unreadable reply\n");
        exit(1);
    }
    const msgpack_object *ok = ac_wire_get(&o, "ok");
    const msgpack_object *snap = ac_wire_get(&o, "snapshot");
    const msgpack_object *prim = snap ? ac_wire_get(snap, "Primary") : NULL;
    const msgpack_object *v = prim ? ac_wire_get(prim, "strength") : NULL;
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean || !v) {
        fprintf(stderr, "bench_failover: a reply is not ok\n");
        exit(1);
    }
    return v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32
               ? v->via.f64
               : (double)v->via.u64;
}

typedef struct {
    double total_ms, p50_ms, p99_ms, max_ms;
} run_t;

/* Waits until the service answers a resolve (a worker has joined). */
static void wait_ready(const cluster_t *c)
{
    ac_client_config_t cfg = {.timeout_ms = 200, .retries = 0};
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    for (int attempt = 0; attempt < 100; attempt++) {
        ac_client_t *cl = ac_client_new(c->fe, &cfg);
        send_one(cl, 1);
        ac_reply_t r;
        msgpack_object o;
        ac_error_t err;
        bool ok = false;
        if (ac_client_recv(cl, &r, 500) == 1 &&
            ac_msgpack_parse(r.body, r.len, &zone, &o, &err) == 0) {
            const msgpack_object *v = ac_wire_get(&o, "ok");
            ok = v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
        }
        msgpack_zone_clear(&zone);
        ac_client_destroy(&cl);
        if (ok) {
            msgpack_zone_destroy(&zone);
            return;
        }
        usleep(100000);
    }
    fprintf(stderr, "bench_failover: the service never answered\n");
    exit(1);
}

static run_t run(bool with_kill)
{
    cluster_t c;
    start_cluster(&c);
    wait_ready(&c);
    usleep(300000); /* every worker registered */
    ac_client_config_t cfg = {.timeout_ms = 30000, .retries = 0};
    ac_client_t *cl = ac_client_new(c.fe, &cfg);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 8192);
    uint64_t *sent_at = calloc(REQUESTS + 1, sizeof *sent_at);
    double *lat = calloc(REQUESTS, sizeof *lat);
    unsigned char *seen = calloc(REQUESTS + 1, 1);
    uint64_t first = 0;
    int sent = 0, got = 0;
    uint64_t t0 = now_ns();
    while (got < REQUESTS) {
        while (sent < REQUESTS && sent - got < WINDOW) {
            uint64_t id = send_one(cl, sent);
            if (!first)
                first = id;
            sent_at[id - first] = now_ns();
            sent++;
        }
        ac_reply_t r;
        if (ac_client_recv(cl, &r, 30000) != 1) {
            fprintf(stderr, "bench_failover: no reply in 30 s\n");
            exit(1);
        }
        size_t k = (size_t)(r.id - first);
        if (k >= REQUESTS || seen[k] || reply_strength(&r, &zone) != (double)k) {
            fprintf(stderr, "bench_failover: a wrong or duplicate reply (id %zu)\n", k);
            exit(1);
        }
        seen[k] = 1;
        lat[got++] = (double)(now_ns() - sent_at[k]) / 1e6;
        if (with_kill && got == KILL_AFTER) {
            procs_signal(c.workers[0], SIGKILL);
            c.workers[0] = start_worker(&c, 0);
        }
    }
    run_t out = {(double)(now_ns() - t0) / 1e6, 0, 0, 0};
    qsort(lat, REQUESTS, sizeof *lat, cmp_d);
    out.p50_ms = lat[REQUESTS / 2];
    out.p99_ms = lat[REQUESTS * 99 / 100];
    out.max_ms = lat[REQUESTS - 1];
    free(sent_at);
    free(lat);
    free(seen);
    msgpack_zone_destroy(&zone);
    ac_client_destroy(&cl);
    stop_cluster(&c);
    return out;
}

static double median_of(run_t *runs, size_t field)
{
    double v[RUNS];
    for (int i = 0; i < RUNS; i++)
        v[i] = ((double *)&runs[i])[field];
    qsort(v, RUNS, sizeof *v, cmp_d);
    return v[RUNS / 2];
}

int main(void)
{
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    zsys_init();
    zsys_set_logstream(NULL);
    run_t calm[RUNS], killed[RUNS];
    double t0 = now_s();
    for (int i = 0; i < RUNS; i++) {
        calm[i] = run(false);
        killed[i] = run(true);
        fprintf(stderr,
                "bench_failover: run %d of %d: %.0f ms undisturbed, %.0f ms with the kill\n", i + 1,
                RUNS, calm[i].total_ms, killed[i].total_ms);
    }
    printf("Failover: broker + %d workers, %d resolves, %d in flight, SIGKILL of one worker "
           "after %d replies (a new one started); medians of %d runs, interleaved\n",
           WORKERS, REQUESTS, WINDOW, KILL_AFTER, RUNS);
    printf("  %-12s %10s %10s %10s %10s\n", "run", "total ms", "p50 ms", "p99 ms", "max ms");
    const char *names[2] = {"undisturbed", "kill -9"};
    run_t *sets[2] = {calm, killed};
    for (int s = 0; s < 2; s++)
        printf("  %-12s %10.1f %10.2f %10.2f %10.2f\n", names[s], median_of(sets[s], 0),
               median_of(sets[s], 1), median_of(sets[s], 2), median_of(sets[s], 3));
    printf("  kill / undisturbed: total %.2f (target <= 1.5), worst request %.1f ms (target <= "
           "500)\n",
           median_of(killed, 0) / median_of(calm, 0), median_of(killed, 3));
    printf("  wall time %.1f s\n", now_s() - t0);
    return 0;
}
