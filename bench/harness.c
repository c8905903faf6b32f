/*  actorcore-bench - the benchmark harness: one command, figures with their spread, their
    cost and a check of every answer (issue 10; README "Benchmark harness").

    usage: actorcore-bench MODE [FLAGS]   (--help lists both)

    This file: the flags, the service, echo and clients modes (through h_load.c and
    h_cluster.c), the suite and its ratio table. harness.h says how the modules fit.
*/
#include <czmq.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"

static const char s_usage[] =
    "usage: actorcore-bench MODE [FLAGS]\n"
    "\n"
    "Modes:\n"
    "  inproc    W1 and W2 through ac_resolve in this process: 1..--threads threads,\n"
    "            batches of 1, 10 and 100\n"
    "  cache     L1 get / put on 1,000 and 100,000 keys, 1 and 2 threads; L3 get, put\n"
    "            (each committed) and write-behind\n"
    "  echo      the transport ceiling: the broker and the bare forwarder of bench/, runs\n"
    "            alternating, each with --workers echo workers answering the --workload's\n"
    "            request with a reply of its size\n"
    "  service   --workload through a broker and --workers workers started here, or a running\n"
    "            cluster (--broker EP); closed loop, open loop (--rate) or --sweep\n"
    "  clients   --clients sockets, each one request in flight, --runs rounds: time, broker RSS\n"
    "  suite     the standard set (all of the above, short runs) and a ratio table, < 5 min\n"
    "  compare OLD.json NEW.json   compare two result files, as --compare does after a run\n"
    "\n"
    "Measurement (every mode):\n"
    "  --duration S      seconds per measured run (default 2)\n"
    "  --warmup S        seconds of warm-up before the runs, not counted (default 1)\n"
    "  --runs N          measured runs, 3..16 (default 3): figures are median [min - max]\n"
    "  --threads N       inproc: up to N threads (default 2)\n"
    "Service (service, echo, clients):\n"
    "  --broker EP       a running cluster's frontend (tcp://host:5555); default: start one\n"
    "  --curve-cert NAME --curve-server FILE   CURVE keys for a cluster with security curve\n"
    "  --pids B[,W...]   with --broker on this host: the broker's and workers' pids, so that\n"
    "                    their CPU per request is measured too\n"
    "  --workers N       workers started (default 2)\n"
    "  --connections C   client sockets (default 4)\n"
    "  --depth D         requests in flight per socket (default 64)\n"
    "  --transport T     tcp or ipc, for a cluster started here (default tcp)\n"
    "  --workload W      w2 (the demo actor; default) or w1 (W1-inline)\n"
    "  --batch B         1 (resolve; default) or more (resolve_batch of B actors)\n"
    "  --cache on|off    workers' L1 and L3 on, requests `cache: use` (default off: bypass)\n"
    "  --keys N          distinct actor ids bench-0000000.. (default 1)\n"
    "  --zipf S          Zipf exponent over the keys (default 0: uniform)\n"
    "  --rate R          open loop at R requests/s, latency from each intended send time\n"
    "  --sweep           closed loop, then open loop at 10..120 % of its rate (a chart)\n"
    "  --tick-us T       open loop: send the requests due within T us together (fewer\n"
    "                    wake-ups of the harness; still timed from each intended time;\n"
    "                    default 0: each request at its own time)\n"
    "  --clients N       clients mode: sockets (default 5000)\n"
    "  --worker-bin P    the worker program to start (default: the one built beside)\n"
    "  --config-dir D    registries, subsystems and demo actor (default: the source's config/)\n"
    "Output:\n"
    "  --out FILE        the JSON result file (default: --results-dir/<UTC timestamp>.json)\n"
    "  --results-dir D   default: the source's bench/results\n"
    "  --compare OLD     compare every figure with OLD.json; exit 3 when one regressed\n"
    "  --no-progress     no live line (there is none anyway when stderr is not a terminal)\n"
    "  -h, --help        this text;  -V, --version  the version\n"
    "\n"
    "Exit status: 0, 1 when a run failed (a wrong or missing answer, a process that would not\n"
    "start), 2 for bad flags, 3 when --compare found a regression.\n";

static char s_tmp[64];
static bool s_failed;

const char *hb_tmpdir(void)
{
    if (!s_tmp[0]) {
        snprintf(s_tmp, sizeof s_tmp, "/tmp/ac_hbench_XXXXXX");
        if (!mkdtemp(s_tmp)) {
            perror("actorcore-bench: mkdtemp");
            exit(1);
        }
    }
    return s_tmp;
}

static void cleanup(void)
{
    hb_cluster_stop_all();
    if (!s_tmp[0])
        return;
    if (s_failed) {
        fprintf(stderr, "actorcore-bench: the processes' output is in %s\n", s_tmp);
        return;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "actorcore-bench: could not remove %s\n", s_tmp);
}

void hb_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nactorcore-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s_failed = true;
    exit(1);
}

static void on_signal(int sig)
{
    hb_cluster_stop_all();
    _exit(128 + sig);
}

double hb_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- service, echo, clients ---- */

/* What one configuration measured, for the suite's ratios and targets. */
typedef struct {
    double rate;         /* median replies/s */
    double p99_us;       /* median p99 */
    double client_share; /* median client CPU / all CPU */
} summary_t;

/* Records the figures of `runs` runs under prefix. */
static summary_t record(const char *prefix, hb_run_t *r, int runs, int batch, bool ours)
{
    static const char *const qn[] = {"p50", "p90", "p99", "p99.9", "max"}; /* hb_run_t.q */
    double v[HB_MAX_RUNS];
    char name[200];
    summary_t s = {0, 0, 0};
    for (int i = 0; i < runs; i++)
        v[i] = r[i].rate;
    snprintf(name, sizeof name, "%s/rate", prefix);
    s.rate = hb_figure(name, batch > 1 ? "requests/s" : "replies/s", true, v, runs)->median;
    if (batch > 1) {
        for (int i = 0; i < runs; i++)
            v[i] = r[i].rate * batch;
        snprintf(name, sizeof name, "%s/actors", prefix);
        hb_figure(name, "actors/s", true, v, runs);
    }
    for (int q = 0; q < 5; q++) {
        for (int i = 0; i < runs; i++)
            v[i] = (double)r[i].q[q] / 1000.0;
        snprintf(name, sizeof name, "%s/%s", prefix, qn[q]);
        double m = hb_figure(name, "us", false, v, runs)->median;
        if (q == 2)
            s.p99_us = m;
    }
    for (int i = 0; i < runs; i++)
        v[i] = r[i].cpu_client * 1e6 / (double)r[i].done;
    snprintf(name, sizeof name, "%s/cpu/client", prefix);
    hb_figure(name, "us/req", false, v, runs);
    if (ours) {
        for (int i = 0; i < runs; i++)
            v[i] = r[i].cpu_broker * 1e6 / (double)r[i].done;
        snprintf(name, sizeof name, "%s/cpu/broker", prefix);
        hb_figure(name, "us/req", false, v, runs);
        for (int w = 0; w < r[0].n_workers; w++) {
            for (int i = 0; i < runs; i++)
                v[i] = r[i].cpu_worker[w] * 1e6 / (double)r[i].done;
            snprintf(name, sizeof name, "%s/cpu/worker%d", prefix, w);
            hb_figure(name, "us/req", false, v, runs);
        }
        for (int i = 0; i < runs; i++) {
            double all = r[i].cpu_client + r[i].cpu_broker + r[i].cpu_workers;
            v[i] = all > 0 ? 100 * r[i].cpu_client / all : 0;
        }
        snprintf(name, sizeof name, "%s/cpu/client-share", prefix);
        s.client_share = hb_figure(name, "% of CPU", false, v, runs)->median;
    }
    return s;
}

/* One measured run of l into *r, with its quantiles. */
static void one_run(const hb_opts_t *o, hb_load_t *l, const hb_cluster_t *c, double rate, int i,
                    hb_run_t *r)
{
    static const double qs[5] = {0.5, 0.9, 0.99, 0.999, 1.0};
    char label[96];
    snprintf(label, sizeof label, "run %d of %d", i + 1, o->runs);
    hb_load_label(l, label);
    hb_load_run(l, o->duration, rate, 0, r);
    for (int q = 0; q < 5; q++)
        r->q[q] = bh_quantile(r->hist, qs[q]);
    r->n_workers = c->n_workers;
}

static void warm_up(const hb_opts_t *o, hb_load_t *l, double rate)
{
    hb_run_t warm;
    hb_load_label(l, "warm-up");
    if (o->warmup > 0)
        hb_load_run(l, o->warmup, rate, 0, &warm);
}

/* Warm-up, then o->runs runs of one load at `rate` (0: closed loop); figures under prefix. */
static summary_t measure(const hb_opts_t *o, hb_load_t *l, const hb_cluster_t *c,
                         const char *prefix, double rate)
{
    hb_run_t runs[HB_MAX_RUNS];
    warm_up(o, l, rate);
    for (int i = 0; i < o->runs; i++)
        one_run(o, l, c, rate, i, &runs[i]);
    return record(prefix, runs, o->runs, o->batch, c->broker > 0);
}

/* The prefix of a service figure: service/<workload>/<transport>/c<C>x<D>/b<B>/<cache>/<keys>. */
static void service_prefix(const hb_opts_t *o, const char *what, char *out, size_t n)
{
    char keys[32];
    if (o->keys <= 1)
        snprintf(keys, sizeof keys, "k1");
    else if (o->zipf > 0)
        snprintf(keys, sizeof keys, "k%d-zipf%.2g", o->keys, o->zipf);
    else
        snprintf(keys, sizeof keys, "k%d-uniform", o->keys);
    snprintf(out, n, "%s/%s/%s/c%dx%d/b%d/cache-%s/%s", what, o->workload,
             o->broker ? "remote" : o->transport, o->connections, o->depth, o->batch,
             o->cache ? "on" : "off", keys);
}

static void settings_of(const hb_opts_t *o, const char *mode)
{
    hb_setting("mode", json_string(mode));
    hb_setting("duration_s", json_real(o->duration));
    hb_setting("warmup_s", json_real(o->warmup));
    hb_setting("runs", json_integer(o->runs));
    if (strcmp(mode, "inproc") == 0 || strcmp(mode, "cache") == 0)
        return;
    hb_setting("broker", o->broker ? json_string(o->broker) : json_null());
    hb_setting("pids", o->pids ? json_string(o->pids) : json_null());
    hb_setting("curve", json_boolean(o->curve_cert != NULL));
    hb_setting("workers", json_integer(o->broker ? 0 : o->workers));
    hb_setting("connections", json_integer(o->connections));
    hb_setting("depth", json_integer(o->depth));
    hb_setting("transport", json_string(o->transport));
    hb_setting("workload", json_string(o->workload));
    hb_setting("batch", json_integer(o->batch));
    hb_setting("cache", json_boolean(o->cache));
    hb_setting("keys", json_integer(o->keys));
    hb_setting("zipf", json_real(o->zipf));
    hb_setting("rate", json_real(o->rate));
    hb_setting("sweep", json_boolean(o->sweep));
    hb_setting("tick_us", json_integer(o->tick_us));
    hb_setting("clients", json_integer(o->clients));
    hb_setting("worker_bin", o->worker_bin ? json_string(o->worker_bin) : json_null());
}

/* A cluster for the service: the one given (--broker) or one started here. */
static void service_cluster(const hb_opts_t *o, hb_cluster_t *c)
{
    if (o->broker) {
        memset(c, 0, sizeof *c);
        snprintf(c->frontend, sizeof c->frontend, "%s", o->broker);
        c->external = true;
        /* --pids: the running cluster's processes on this host, for their CPU. */
        for (const char *p = o->pids; p && *p;) {
            char *end;
            long pid = strtol(p, &end, 10);
            if (end == p || pid <= 0 || kill((pid_t)pid, 0) != 0)
                hb_fail("--pids: '%s' is not a running process id", p);
            if (!c->broker)
                c->broker = (pid_t)pid;
            else if (c->n_workers < HB_MAX_PROCS)
                c->workers[c->n_workers++] = (pid_t)pid;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',')
                hb_fail("--pids: a comma-separated list of process ids, found '%s'", o->pids);
        }
        return;
    }
    hb_cluster_start(c, o, false, HB_WORKER_REAL, o->workers, 0);
}

static const double s_sweep[] = {0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2};
#define N_SWEEP (int)(sizeof s_sweep / sizeof s_sweep[0])

/* The service mode: closed loop (and the sweep) or open loop at o->rate. Returns the
   closed-loop summary (or the open loop's). */
static summary_t mode_service(const hb_opts_t *o, const char *what)
{
    hb_cluster_t c;
    service_cluster(o, &c);
    hb_load_t *l =
        hb_load_new(o, &c, strcmp(o->workload, "w1") == 0 ? HB_CHECK_W1 : HB_CHECK_W2, 0, 0);
    hb_load_probe(l, 5000);
    char prefix[200], name[260];
    service_prefix(o, what, prefix, sizeof prefix);
    summary_t s;
    if (o->rate > 0 && !o->sweep) {
        snprintf(name, sizeof name, "%s/open-%.0f", prefix, o->rate);
        s = measure(o, l, &c, name, o->rate);
    } else {
        snprintf(name, sizeof name, "%s/closed", prefix);
        s = measure(o, l, &c, name, 0);
    }
    if (o->sweep) {
        double max = s.rate;
        for (int i = 0; i < N_SWEEP; i++) {
            double rate = max * s_sweep[i];
            snprintf(name, sizeof name, "%s/open-%.0fpct", prefix, s_sweep[i] * 100);
            summary_t p = measure(o, l, &c, name, rate);
            char fig[300];
            snprintf(fig, sizeof fig, "%s/p50", name);
            double p50 = hb_find(fig)->median;
            snprintf(fig, sizeof fig, "%s/p99.9", name);
            double p999 = hb_find(fig)->median;
            snprintf(fig, sizeof fig, "%s/max", name);
            double mx = hb_find(fig)->median;
            hb_sweep_point(prefix, rate, p.rate, p50, p.p99_us, p999, mx);
        }
    }
    char title[400];
    snprintf(title, sizeof title,
             "%s: %s through %s (%s), %d workers, %d sockets x %d in flight, request %zu B; "
             "latency: closed loop from the send, open loop from the intended send time",
             what, strcmp(o->workload, "w1") == 0 ? "W1-inline" : "W2",
             o->broker ? o->broker : "a broker started here", o->transport,
             o->broker ? 0 : o->workers, o->connections, o->depth, hb_load_request_bytes(l));
    hb_load_destroy(&l);
    hb_cluster_stop(&c);
    hb_table(title);
    return s;
}

/* The echo mode: the broker and the bare forwarder, each with o->workers echo workers, both
   up at once and measured in alternating runs (broker, forwarder, broker, ...), so that the
   machine's drift falls on both alike. */
static void mode_echo(const hb_opts_t *o, summary_t out[2])
{
    size_t reply = hb_reply_bytes(o);
    hb_cluster_t c[2];
    hb_load_t *l[2];
    hb_run_t runs[2][HB_MAX_RUNS];
    size_t request = 0;
    for (int fw = 0; fw < 2; fw++) {
        hb_cluster_start(&c[fw], o, fw == 1, HB_WORKER_ECHO, o->workers, reply);
        l[fw] = hb_load_new(o, &c[fw], HB_CHECK_ECHO, 0, reply);
        hb_load_probe(l[fw], 5000);
    }
    for (int fw = 0; fw < 2; fw++)
        warm_up(o, l[fw], 0);
    for (int i = 0; i < o->runs; i++)
        for (int fw = 0; fw < 2; fw++)
            one_run(o, l[fw], &c[fw], 0, i, &runs[fw][i]);
    for (int fw = 0; fw < 2; fw++) {
        char prefix[200];
        snprintf(prefix, sizeof prefix, "echo/%s/%s/%s/c%dx%d", o->workload,
                 fw ? "forwarder" : "broker", o->transport, o->connections, o->depth);
        out[fw] = record(prefix, runs[fw], o->runs, 1, true);
        request = hb_load_request_bytes(l[fw]);
        hb_load_destroy(&l[fw]);
        hb_cluster_stop(&c[fw]);
    }
    char title[300];
    snprintf(title, sizeof title,
             "echo: actorcore-broker and the bare forwarder, %d echo workers each (%s request "
             "of %zu bytes, %zu-byte reply), %d sockets x %d in flight, runs alternating",
             o->workers, strcmp(o->workload, "w1") == 0 ? "W1-inline" : "W2", request, reply,
             o->connections, o->depth);
    char key[64];
    snprintf(key, sizeof key, "echo_%s_reply_bytes", o->workload);
    hb_setting(key, json_integer((json_int_t)reply));
    snprintf(key, sizeof key, "echo_%s_request_bytes", o->workload);
    hb_setting(key, json_integer((json_int_t)request));
    hb_table(title);
}

/* The clients mode: o->clients sockets, each one W2 request in flight, o->runs rounds. */
static void mode_clients(const hb_opts_t *o)
{
    hb_cluster_t c;
    service_cluster(o, &c);
    long rss0 = -1, peak0 = -1;
    if (c.broker)
        hb_rss_kib(c.broker, &rss0, &peak0);
    double t0 = now_s();
    hb_load_t *l = hb_load_new(o, &c, HB_CHECK_W2, o->clients, 0);
    hb_load_probe(l, 5000);
    double setup = now_s() - t0;
    hb_run_t r[HB_MAX_RUNS];
    double secs[HB_MAX_RUNS], p50[HB_MAX_RUNS], p99[HB_MAX_RUNS], mx[HB_MAX_RUNS];
    for (int i = 0; i < o->runs; i++) {
        hb_load_run(l, 0, 0, 1, &r[i]);
        if (r[i].done != (uint64_t)o->clients)
            hb_fail("%llu replies for %d clients", (unsigned long long)r[i].done, o->clients);
        secs[i] = r[i].seconds;
        p50[i] = (double)bh_quantile(r[i].hist, 0.5) / 1000.0;
        p99[i] = (double)bh_quantile(r[i].hist, 0.99) / 1000.0;
        mx[i] = (double)bh_quantile(r[i].hist, 1.0) / 1000.0;
    }
    long rss = -1, peak = -1;
    if (c.broker)
        hb_rss_kib(c.broker, &rss, &peak);
    char name[200];
    snprintf(name, sizeof name, "clients/%d/round-seconds", o->clients);
    hb_figure(name, "s", false, secs, o->runs);
    snprintf(name, sizeof name, "clients/%d/p50", o->clients);
    hb_figure(name, "us", false, p50, o->runs);
    snprintf(name, sizeof name, "clients/%d/p99", o->clients);
    hb_figure(name, "us", false, p99, o->runs);
    snprintf(name, sizeof name, "clients/%d/max", o->clients);
    hb_figure(name, "us", false, mx, o->runs);
    if (c.broker) {
        double v = (double)rss / 1024.0;
        double vs[HB_MAX_RUNS];
        for (int i = 0; i < o->runs; i++)
            vs[i] = v;
        snprintf(name, sizeof name, "clients/%d/broker-rss", o->clients);
        hb_figure(name, "MiB", false, vs, o->runs);
        for (int i = 0; i < o->runs; i++)
            vs[i] = (double)(rss - rss0) / 1024.0;
        snprintf(name, sizeof name, "clients/%d/broker-rss-growth", o->clients);
        hb_figure(name, "MiB", false, vs, o->runs);
    }
    hb_setting("clients_connect_seconds", json_real(setup));
    hb_load_destroy(&l);
    hb_cluster_stop(&c);
    char title[300];
    snprintf(title, sizeof title,
             "clients: %d sockets, one W2 request in flight each, %d rounds, every reply checked "
             "(%d answered right per round); sockets made in %.2f s; broker RSS %ld KiB before, "
             "%ld after, peak %ld",
             o->clients, o->runs, o->clients, setup, rss0, rss, peak);
    hb_table(title);
}

/* ---- the suite ---- */

static double fig(const char *name)
{
    const hb_figure_t *f = hb_find(name);
    return f ? f->median : NAN;
}

static void ratio(const char *what, double a, double b, const char *note)
{
    printf("  %-64s %10.3f   %s\n", what, a / b, note);
}

static void mode_suite(const hb_opts_t *base)
{
    double t_start = now_s();
    hb_opts_t o = *base;
    o.duration = base->duration < 1.5 ? base->duration : 1.5;
    o.warmup = base->warmup < 0.5 ? base->warmup : 0.5;
    hb_opts_t q = o;
    q.duration = o.duration < 0.5 ? o.duration : 0.5;
    q.warmup = 0.2;
    hb_mode_inproc(&q);
    q.duration = 0.3;
    hb_mode_cache(&q);
    summary_t echo[2], echo1[2];
    mode_echo(&o, echo);
    hb_opts_t s = o;
    s.workload = "w1";
    mode_echo(&s, echo1);
    s = o;
    summary_t w2 = mode_service(&s, "service");
    s.rate = w2.rate * 0.5;
    summary_t half = mode_service(&s, "service");
    s.rate = w2.rate * 0.8;
    summary_t eighty = mode_service(&s, "service");
    s = o;
    s.workload = "w1";
    summary_t w1 = mode_service(&s, "service");
    s = o;
    s.batch = 100;
    s.depth = 4;
    mode_service(&s, "service");
    s = o;
    s.cache = true;
    s.keys = 100000;
    s.zipf = 1.1;
    mode_service(&s, "service");
    s = o;
    s.transport = "ipc";
    mode_service(&s, "service");
    s = o;
    s.sweep = true;
    s.duration = 1;
    s.warmup = 0.3;
    mode_service(&s, "sweep");
    s = o;
    s.runs = 3;
    mode_clients(&s);

    printf("\nRatios (medians of this invocation; the Go figures are WORKLOADS.md's, measured "
           "on this kind of machine)\n");
    char n[300];
    ratio("service W2 closed / echo ceiling (broker + echo workers)", w2.rate, echo[0].rate, "");
    ratio("service W1-inline closed / its echo ceiling (W1's request and reply)", w1.rate,
          echo1[0].rate, "");
    for (int k = 0; k < 2; k++) {
        const char *wl = k ? "w1" : "w2";
        summary_t *e = k ? echo1 : echo;
        char what[160];
        snprintf(what, sizeof what, "echo %s: broker / bare forwarder, replies/s", wl);
        ratio(what, e[0].rate, e[1].rate, "");
        snprintf(n, sizeof n, "echo/%s/broker/%s/c%dx%d/cpu/broker", wl, o.transport, o.connections,
                 o.depth);
        double bc = fig(n);
        snprintf(n, sizeof n, "echo/%s/forwarder/%s/c%dx%d/cpu/broker", wl, o.transport,
                 o.connections, o.depth);
        snprintf(what, sizeof what, "echo %s: broker / bare forwarder, CPU per request", wl);
        ratio(what, bc, fig(n), "");
    }
    ratio("inproc W1, 1 thread / Go (5,669 resolves/s)", fig("inproc/w1/t1/b1/rate"), 5669, "");
    ratio("inproc W1, 2 threads / Go (7,744 resolves/s)", fig("inproc/w1/t2/b1/rate"), 7744, "");
    ratio("inproc W1 p50, 1 thread: Go (110 us) / ours", 110, fig("inproc/w1/t1/b1/p50"),
          "(latency: higher is better here)");
    ratio("inproc W1 p99, 1 thread: Go (931 us) / ours", 931, fig("inproc/w1/t1/b1/p99"), "");
    ratio("inproc W1 batch 100, 1 thread / Go (5.5 actors/ms)",
          fig("inproc/w1/t1/b100/rate") / 1000, 5.5, "");
    ratio("L1 get 100k keys, 1 thread / Go (1.54 M/s)", fig("cache/l1/get/100k/t1/rate"), 1.54e6,
          "");
    ratio("L1 get 100k keys, 2 threads / Go (2.9 M/s)", fig("cache/l1/get/100k/t2/rate"), 2.9e6,
          "");
    printf("\nTargets\n");
    printf("  open loop at 50 %% of the closed-loop maximum (%.0f/s), W2, %d workers: p99 %.0f us "
           "(target <= 2000): %s\n",
           w2.rate * 0.5, o.workers, half.p99_us, half.p99_us <= 2000 ? "met" : "NOT met");
    printf("  open loop at 80 %% (%.0f/s): p99 %.0f us (reported)\n", w2.rate * 0.8, eighty.p99_us);
    printf("  harness client's share of the CPU of the W2 closed-loop run: %.1f %% (target <= 25 "
           "%%): %s\n",
           w2.client_share, w2.client_share <= 25 ? "met" : "NOT met");
    printf("  suite: %.0f s\n", now_s() - t_start);
    hb_setting("suite_seconds", json_real(now_s() - t_start));
}

/* ---- flags ---- */

static double num(const char *flag, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(d >= lo && d <= hi)) {
        fprintf(stderr, "actorcore-bench: %s: expected a number in [%g, %g], found '%s'\n", flag,
                lo, hi, v);
        exit(2);
    }
    return d;
}

int main(int argc, char **argv)
{
    hb_opts_t o = {.duration = 2,
                   .warmup = 1,
                   .runs = 3,
                   .threads = 2,
                   .workers = 2,
                   .connections = 4,
                   .depth = 64,
                   .transport = "tcp",
                   .batch = 1,
                   .workload = "w2",
                   .keys = 1,
                   .clients = 5000,
                   .results_dir = AC_SOURCE_DIR "/bench/results",
                   .config_dir = AC_SOURCE_DIR "/config",
                   .progress = true};
    enum {
        O_DUR = 256,
        O_WARM,
        O_RUNS,
        O_THREADS,
        O_BROKER,
        O_CERT,
        O_SERVER,
        O_PIDS,
        O_WORKERS,
        O_CONN,
        O_DEPTH,
        O_TRANSPORT,
        O_WORKLOAD,
        O_BATCH,
        O_CACHE,
        O_KEYS,
        O_ZIPF,
        O_RATE,
        O_SWEEP,
        O_TICK,
        O_CLIENTS,
        O_WBIN,
        O_CONF,
        O_OUT,
        O_RDIR,
        O_CMP,
        O_NOPROG
    };
    static const struct option longs[] = {
        {"duration", 1, 0, O_DUR},        {"warmup", 1, 0, O_WARM},
        {"runs", 1, 0, O_RUNS},           {"threads", 1, 0, O_THREADS},
        {"broker", 1, 0, O_BROKER},       {"curve-cert", 1, 0, O_CERT},
        {"curve-server", 1, 0, O_SERVER}, {"pids", 1, 0, O_PIDS},
        {"workers", 1, 0, O_WORKERS},     {"connections", 1, 0, O_CONN},
        {"depth", 1, 0, O_DEPTH},         {"transport", 1, 0, O_TRANSPORT},
        {"workload", 1, 0, O_WORKLOAD},   {"batch", 1, 0, O_BATCH},
        {"cache", 1, 0, O_CACHE},         {"keys", 1, 0, O_KEYS},
        {"zipf", 1, 0, O_ZIPF},           {"rate", 1, 0, O_RATE},
        {"sweep", 0, 0, O_SWEEP},         {"tick-us", 1, 0, O_TICK},
        {"clients", 1, 0, O_CLIENTS},     {"worker-bin", 1, 0, O_WBIN},
        {"config-dir", 1, 0, O_CONF},     {"out", 1, 0, O_OUT},
        {"results-dir", 1, 0, O_RDIR},    {"compare", 1, 0, O_CMP},
        {"no-progress", 0, 0, O_NOPROG},  {"help", 0, 0, 'h'},
        {"version", 0, 0, 'V'},           {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hV", longs, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(s_usage, stdout);
            return 0;
        case 'V':
            printf("actorcore-bench %s\n", AC_VERSION);
            return 0;
        case O_DUR:
            o.duration = num("--duration", optarg, 0.01, 3600);
            break;
        case O_WARM:
            o.warmup = num("--warmup", optarg, 0, 3600);
            break;
        case O_RUNS:
            o.runs = (int)num("--runs", optarg, 3, HB_MAX_RUNS);
            break;
        case O_THREADS:
            o.threads = (int)num("--threads", optarg, 1, 16);
            break;
        case O_BROKER:
            o.broker = optarg;
            break;
        case O_CERT:
            o.curve_cert = optarg;
            break;
        case O_SERVER:
            o.curve_server = optarg;
            break;
        case O_PIDS:
            o.pids = optarg;
            break;
        case O_WORKERS:
            o.workers = (int)num("--workers", optarg, 1, HB_MAX_PROCS);
            break;
        case O_CONN:
            o.connections = (int)num("--connections", optarg, 1, 100000);
            break;
        case O_DEPTH:
            o.depth = (int)num("--depth", optarg, 1, 4096);
            break;
        case O_TRANSPORT:
            o.transport = optarg;
            break;
        case O_WORKLOAD:
            o.workload = optarg;
            break;
        case O_BATCH:
            o.batch = (int)num("--batch", optarg, 1, 100);
            break;
        case O_CACHE:
            o.cache = strcmp(optarg, "on") == 0;
            break;
        case O_KEYS:
            o.keys = (int)num("--keys", optarg, 1, 9999999);
            break;
        case O_ZIPF:
            o.zipf = num("--zipf", optarg, 0, 10);
            break;
        case O_RATE:
            o.rate = num("--rate", optarg, 1, 1e8);
            break;
        case O_SWEEP:
            o.sweep = true;
            break;
        case O_TICK:
            o.tick_us = (int)num("--tick-us", optarg, 0, 100000);
            break;
        case O_CLIENTS:
            o.clients = (int)num("--clients", optarg, 1, 100000);
            break;
        case O_WBIN:
            o.worker_bin = optarg;
            break;
        case O_CONF:
            o.config_dir = optarg;
            break;
        case O_OUT:
            o.out = optarg;
            break;
        case O_RDIR:
            o.results_dir = optarg;
            break;
        case O_CMP:
            o.compare = optarg;
            break;
        case O_NOPROG:
            o.progress = false;
            break;
        default:
            fprintf(stderr, "actorcore-bench: unknown or incomplete flag '%s'\n\n%s",
                    argv[optind - 1], s_usage);
            return 2;
        }
    }
    const char *mode = optind < argc ? argv[optind] : NULL;
    static const char *const modes[] = {"inproc",  "cache", "echo",   "service",
                                        "clients", "suite", "compare"};
    int m = -1;
    for (int i = 0; mode && i < 7; i++)
        if (strcmp(mode, modes[i]) == 0)
            m = i;
    if (m == 6) {
        if (optind + 3 != argc) {
            fprintf(stderr, "actorcore-bench: compare OLD.json NEW.json\n");
            return 2;
        }
        if (hb_load_figures(argv[optind + 2]) != 0)
            return 2;
        int r = hb_compare(argv[optind + 1]);
        return r < 0 ? 2 : r > 0 ? 3 : 0;
    }
    if (m < 0 || optind + 1 < argc) {
        fprintf(stderr, "actorcore-bench: %s\n\n%s",
                mode ? "unknown mode or an extra argument" : "no mode given", s_usage);
        return 2;
    }
    if (strcmp(o.transport, "tcp") != 0 && strcmp(o.transport, "ipc") != 0) {
        fprintf(stderr, "actorcore-bench: --transport: tcp or ipc, found '%s'\n", o.transport);
        return 2;
    }
    if (strcmp(o.workload, "w1") != 0 && strcmp(o.workload, "w2") != 0) {
        fprintf(stderr, "actorcore-bench: --workload: w1 or w2, found '%s'\n", o.workload);
        return 2;
    }
    if (o.pids && !o.broker) {
        fprintf(stderr, "actorcore-bench: --pids goes with --broker (a running cluster)\n");
        return 2;
    }
    if (!o.curve_cert != !o.curve_server) {
        fprintf(stderr, "actorcore-bench: --curve-cert and --curve-server go together\n");
        return 2;
    }
    /* Room for the clients mode's sockets (and their descriptors). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    zsys_set_max_sockets((size_t)o.clients + (size_t)o.connections + 256);
    zsys_init();
    zsys_set_logstream(NULL);
    zsys_handler_set(NULL);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    atexit(cleanup);
    settings_of(&o, mode);
    /* Other work on the machine moves every figure: say so, and keep it in the file. */
    double load[3];
    if (getloadavg(load, 3) == 3) {
        hb_setting("loadavg_1min_at_start", json_real(load[0]));
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (load[0] > 0.5 * (double)cpus)
            fprintf(stderr,
                    "actorcore-bench: the machine is busy (load average %.2f on %ld CPUs): "
                    "expect noisy figures\n",
                    load[0], cpus);
    }
    switch (m) {
    case 0:
        hb_mode_inproc(&o);
        break;
    case 1:
        hb_mode_cache(&o);
        break;
    case 2: {
        summary_t e[2];
        mode_echo(&o, e);
        printf("  broker / bare forwarder: %.3f\n", e[0].rate / e[1].rate);
        break;
    }
    case 3:
        mode_service(&o, o.sweep ? "sweep" : "service");
        break;
    case 4:
        mode_clients(&o);
        break;
    default:
        mode_suite(&o);
        break;
    }
    const char *path = hb_write_results(&o, argc, argv);
    printf("\nresults: %s\n", path);
    hb_chart(path);
    if (o.compare) {
        int r = hb_compare(o.compare);
        if (r < 0)
            return 2;
        if (r > 0)
            return 3;
    }
    return 0;
}
