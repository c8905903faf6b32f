/*  h_cluster.c - the processes actorcore-bench starts: a broker (or the bare forwarder of
    bench/forwarder.c) and its workers (real ones, or bench/echo_worker.c). Every child is
    remembered, so that hb_cluster_stop_all (at exit, after a failure) leaves nothing
    running; the children's output goes to files in the invocation's temporary folder. */
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actorcore/codec.h"
#include "actorcore/wire.h"
#include "bench.h"
#include "harness.h"
#include "mmi_stat.h"
#include "procs.h"

static int s_spawned; /* children started, for their log files' names */

/* The program `name`: built beside this one (its build-time path), else beside the running
   executable (an installed harness), else in ../libexec/actorcore. */
static const char *program(const char *built, const char *name)
{
    static char found[8][1024];
    static int next;
    if (access(built, X_OK) == 0)
        return built;
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *dir = dirname(self);
        char *out = found[next++ % 8];
        snprintf(out, sizeof found[0], "%s/%s", dir, name);
        if (access(out, X_OK) == 0)
            return out;
        snprintf(out, sizeof found[0], "%s/../libexec/actorcore/%s", dir, name);
        if (access(out, X_OK) == 0)
            return out;
    }
    hb_fail("cannot find the program %s (looked at %s and beside this program)", name, built);
}

/* Starts argv with its output in <tmpdir>/<log>-<n>.log; failing to start fails the run. */
static pid_t spawn(const char *const *argv, const char *log)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s-%d.log", hb_tmpdir(), log, s_spawned++);
    pid_t pid = procs_spawn(argv, NULL, path);
    if (pid < 0)
        hb_fail("cannot start %s: %s", argv[0], strerror(errno));
    return pid;
}

void hb_cluster_stop_all(void)
{
    procs_kill_all();
}

/* Endpoints for the cluster: free loopback ports, or ipc files in the temporary folder. */
static void endpoints(hb_cluster_t *c, const hb_opts_t *o)
{
    static int serial;
    if (strcmp(o->transport, "ipc") == 0) {
        int k = serial++;
        snprintf(c->frontend, sizeof c->frontend, "ipc://%s/fe%d", hb_tmpdir(), k);
        snprintf(c->backend, sizeof c->backend, "ipc://%s/be%d", hb_tmpdir(), k);
        snprintf(c->events[0], sizeof c->events[0], "ipc://%s/ei%d", hb_tmpdir(), k);
        snprintf(c->events[1], sizeof c->events[1], "ipc://%s/eo%d", hb_tmpdir(), k);
        return;
    }
    char ep[4][64];
    bench_free_endpoints(ep, 4);
    snprintf(c->frontend, sizeof c->frontend, "%s", ep[0]);
    snprintf(c->backend, sizeof c->backend, "%s", ep[1]);
    snprintf(c->events[0], sizeof c->events[0], "%s", ep[2]);
    snprintf(c->events[1], sizeof c->events[1], "%s", ep[3]);
}

void hb_cluster_start(hb_cluster_t *c, const hb_opts_t *o, bool forwarder, hb_worker_kind_t kind,
                      int n, size_t echo_bytes)
{
    memset(c, 0, sizeof *c);
    if (n > HB_MAX_PROCS)
        hb_fail("at most %d workers", HB_MAX_PROCS);
    endpoints(c, o);
    c->forwarder = forwarder;
    if (forwarder) {
        const char *argv[] = {program(AC_FORWARDER_PATH, "bench_forwarder"), c->frontend,
                              c->backend, NULL};
        c->broker = spawn(argv, "forwarder");
    } else {
        const char *argv[] = {program(AC_BROKER_PATH, "actorcore-broker"),
                              "--frontend",
                              c->frontend,
                              "--backend",
                              c->backend,
                              "--events-in",
                              c->events[0],
                              "--events-out",
                              c->events[1],
                              NULL};
        c->broker = spawn(argv, "broker");
    }
    usleep(200000);
    char combiner[1100], layers[1100], subsystems[1100], store[1100], bytes[32];
    snprintf(combiner, sizeof combiner, "%s/combiner.yaml", o->config_dir);
    snprintf(layers, sizeof layers, "%s/cap_layers.yaml", o->config_dir);
    snprintf(subsystems, sizeof subsystems, "%s/subsystems", o->config_dir);
    snprintf(bytes, sizeof bytes, "%zu", echo_bytes);
    bool w1 = strcmp(o->workload, "w1") == 0;
    if (w1) {
        /* W1-inline: the W1 registries (WORKLOADS.md), no subsystems. */
        snprintf(combiner, sizeof combiner, "%s/w1-combiner.yaml", hb_tmpdir());
        snprintf(layers, sizeof layers, "%s/w1-layers.yaml", hb_tmpdir());
        FILE *f = fopen(combiner, "w"), *g = fopen(layers, "w");
        if (!f || !g)
            hb_fail("cannot write the W1 registries in %s", hb_tmpdir());
        fputs("dimensions:\n", f);
        for (int d = 0; d < 20; d++)
            fprintf(f,
                    "  dim%02d: { use_pipeline: true, clamp_default: { min: 0, max: 1000000 } }\n",
                    d);
        fputs("order: [REALM, WORLD, EVENT, TOTAL]\nacross_policy: INTERSECT\n", g);
        fclose(f);
        fclose(g);
    }
    for (int i = 0; i < n; i++) {
        if (kind == HB_WORKER_ECHO) {
            const char *argv[] = {program(AC_ECHO_PATH, "echo_worker"), c->backend, "64", bytes,
                                  NULL};
            c->workers[i] = spawn(argv, "echo");
        } else {
            snprintf(store, sizeof store, "%s/l3-%d.db", hb_tmpdir(), s_spawned);
            const char *argv[] = {o->worker_bin ? o->worker_bin
                                                : program(AC_WORKER_PATH, "actorcore-worker"),
                                  "--broker",
                                  c->backend,
                                  "--events",
                                  "",
                                  "--combiner",
                                  combiner,
                                  "--layers",
                                  layers,
                                  "--subsystems",
                                  w1 ? "none" : subsystems,
                                  "--store",
                                  o->cache ? store : "none",
                                  "--l1-entries",
                                  o->cache ? "100000" : "0",
                                  NULL};
            c->workers[i] = spawn(argv, "worker");
        }
    }
    c->n_workers = n;
    /* Wait until the broker counts every worker (the forwarder cannot say: a pause). */
    if (forwarder) {
        usleep(500000);
        return;
    }
    for (int waited = 0;; waited += 50) {
        long long w = (long long)broker_counter(c->frontend, "workers");
        if (w >= n)
            break;
        for (int i = 0; i < n; i++)
            if (procs_exited(c->workers[i]))
                hb_fail("a worker exited at start (its output is in %s)", hb_tmpdir());
        if (waited > 15000)
            hb_fail("the broker counts %lld workers of %d after 15 s", w, n);
        usleep(50000);
    }
}

void hb_cluster_stop(hb_cluster_t *c)
{
    if (c->external) {
        c->n_workers = 0;
        c->broker = 0;
        return;
    }
    for (int i = 0; i < c->n_workers; i++)
        procs_stop(c->workers[i]);
    procs_stop(c->broker);
    c->n_workers = 0;
    c->broker = 0;
}

void hb_rss_kib(pid_t pid, long *rss, long *peak)
{
    char path[64], v[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    *rss = *peak = -1;
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %63s", v) == 1)
            *rss = atol(v);
        if (sscanf(line, "VmHWM: %63s", v) == 1)
            *peak = atol(v);
    }
    if (f)
        fclose(f);
}
