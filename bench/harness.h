/*  harness.h - what the modules of actorcore-bench share.

    The harness is one program with one mode per question (inproc, cache, echo, service,
    clients, suite). Every mode measures the same way: a warm-up that is not counted, then
    `runs` runs, each figure kept as its runs' values (median, min, max) under a stable
    name such as `service/w2/closed/tcp/c4x64/rate`, so that --compare can match the
    figures of two result files by name. Latency comes from hist.h; CPU per request of
    each process from /proc/<pid>/stat (bench.h). A wrong or missing answer ends the
    program with status 1 (hb_fail): a figure of wrong answers measures nothing.

    Modules: harness.c (flags, modes, suite), h_report.c (figures, table, JSON, compare,
    chart), h_inproc.c (inproc and cache), h_load.c (the load generator: MDP client
    sockets, closed and open loop, reply checks), h_cluster.c (the processes the harness
    starts: broker, workers, echo workers, the bare forwarder).
*/
#ifndef AC_BENCH_HARNESS_H
#define AC_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "hist.h"

#define HB_MAX_RUNS 16
#define HB_MAX_PROCS 16

/* Every setting of a mode, from the flags (harness.c documents each in --help). */
typedef struct {
    double duration;          /* seconds per measured run */
    double warmup;            /* seconds of warm-up, not counted */
    int runs;                 /* measured runs (>= 3 for a median with a spread) */
    int threads;              /* inproc / cache: up to this many threads */
    const char *broker;       /* service: a running cluster's frontend; NULL: start one */
    const char *curve_cert;   /* CURVE: this client's key pair NAME (NAME_secret read) */
    const char *curve_server; /* CURVE: the broker's public certificate */
    const char *pids;         /* --broker on this host: "BROKER[,WORKER...]" pids to watch */
    int workers;              /* workers the harness starts */
    int connections;          /* client sockets */
    int depth;                /* requests in flight per socket */
    const char *transport;    /* tcp or ipc (clusters the harness starts) */
    int batch;                /* 1: resolve; more: resolve_batch of that many actors */
    bool cache;               /* workers' L1 + L3 on (and requests `cache: use`) */
    const char *workload;     /* w1 (W1-inline) or w2 */
    int keys;                 /* distinct actor ids (W2) */
    double zipf;              /* Zipf exponent over the keys; 0: uniform */
    double rate;              /* open loop: requests/s (0: closed loop) */
    bool sweep;               /* a sweep of open-loop rates up to saturation */
    int tick_us;              /* open loop: requests due within a tick leave together */
    int clients;              /* clients mode: sockets */
    const char *out;          /* result file; NULL: results_dir/<timestamp>.json */
    const char *results_dir;  /* where result files and charts go */
    const char *compare;      /* an older result file to compare with */
    const char *worker_bin;   /* the worker program to start */
    const char *config_dir;   /* registries, subsystems and demo actor (W2) */
    bool progress;            /* a live line on stderr (only when it is a terminal) */
} hb_opts_t;

/* ---- h_report.c: figures and result files ---- */

/* One figure: its runs' values and what they summarise to. */
typedef struct {
    char name[160];          /* stable: mode/workload/.../what */
    char unit[24];           /* req/s, us, us/req, ... */
    bool higher_better;      /* for --compare */
    int n;                   /* runs */
    double v[HB_MAX_RUNS];   /* one value per run */
    double median, min, max; /* of v */
} hb_figure_t;

/* Records a figure from n run values; returns it (owned by the report). */
const hb_figure_t *hb_figure(const char *name, const char *unit, bool higher_better,
                             const double *v, int n);
/* The figure recorded under name, or NULL. */
const hb_figure_t *hb_find(const char *name);
/* Adds key = value to the settings of the result file. */
void hb_setting(const char *key, json_t *value);
/* Records a sweep point (rate asked, rate reached, latency quantiles in us). */
void hb_sweep_point(const char *name, double asked, double reached, double p50, double p99,
                    double p999, double max);
/* Prints the human table of every figure recorded so far (since the last table). */
void hb_table(const char *title);
/* Writes the result file; returns its path (static storage). */
const char *hb_write_results(const hb_opts_t *o, int argc, char **argv);
/* Compares the figures recorded with those of an older result file: prints each change and
   returns the number of regressions beyond the runs' spread, or -1 when unreadable. */
int hb_compare(const char *old_path);
/* Records the figures of a result file as if measured now (the compare mode). 0 or -1. */
int hb_load_figures(const char *path);
/* Writes the sweep chart next to the result file, when gnuplot is there (says so if not). */
void hb_chart(const char *results_path);

/* ---- small helpers (harness.c) ---- */

/* Prints "actorcore-bench: <message>" and exits 1, after stopping every process started. */
void hb_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Median of n values (sorts v). */
double hb_median(double *v, int n);
/* The folder of temporary files of this invocation (created on first use). */
const char *hb_tmpdir(void);

/* ---- h_inproc.c ---- */
void hb_mode_inproc(const hb_opts_t *o);
void hb_mode_cache(const hb_opts_t *o);
/* Bytes of the reply a worker sends for o->workload (msgpack {id, ok, snapshot, cache,
   worker}), for the echo workers to answer as much. */
size_t hb_reply_bytes(const hb_opts_t *o);

/* ---- h_cluster.c: processes ---- */

typedef struct {
    pid_t broker;                /* actorcore-broker or bench_forwarder; 0: not ours */
    pid_t workers[HB_MAX_PROCS]; /* workers started */
    int n_workers;               /* how many */
    char frontend[128];          /* clients connect here */
    char backend[128];           /* workers connect here */
    char events[2][128];         /* the broker's events in and out */
    bool forwarder;              /* the bare forwarder instead of the broker */
    bool external;               /* a running cluster (--broker): watched, never stopped */
} hb_cluster_t;

typedef enum { HB_WORKER_REAL, HB_WORKER_ECHO } hb_worker_kind_t;

/* Starts a broker (or the bare forwarder) on o->transport, then n workers of that kind, and
   waits until the broker counts them (the forwarder: a short wait). echo_bytes: the echo
   workers' reply size. */
void hb_cluster_start(hb_cluster_t *c, const hb_opts_t *o, bool forwarder, hb_worker_kind_t kind,
                      int n, size_t echo_bytes);
void hb_cluster_stop(hb_cluster_t *c);
/* Stops every process still running (atexit, hb_fail). */
void hb_cluster_stop_all(void);
/* Resident set size and its peak, in KiB, from /proc/<pid>/status. */
void hb_rss_kib(pid_t pid, long *rss, long *peak);

/* ---- h_load.c: the load generator ---- */

typedef enum { HB_CHECK_W1, HB_CHECK_W2, HB_CHECK_ECHO } hb_check_t;

/* One measured run. */
typedef struct {
    uint64_t done;                   /* replies received and checked */
    double seconds;                  /* first send to last reply */
    double rate;                     /* replies/s (batch: actors/s is rate * batch) */
    bh_hist_t *hist;                 /* latency (open loop: from the intended send time) */
    double cpu_client;               /* CPU seconds of this process */
    double cpu_broker;               /* of the broker (0 when not ours) */
    double cpu_workers;              /* of all workers */
    double cpu_worker[HB_MAX_PROCS]; /* of each worker */
    int n_workers;                   /* workers counted */
    uint64_t q[5];                   /* p50, p90, p99, p99.9, max in ns (filled by the caller) */
} hb_run_t;

typedef struct hb_load hb_load_t;

/* Connects o->connections (or n_sockets when > 0) sockets to c's frontend with the request
   template of the workload. */
hb_load_t *hb_load_new(const hb_opts_t *o, const hb_cluster_t *c, hb_check_t check, int n_sockets,
                       size_t echo_bytes);
void hb_load_destroy(hb_load_t **self_p);
/* One run: for `seconds` (or until each socket has had per_socket replies when > 0), at
   `rate` requests/s (0: closed loop, `depth` in flight per socket). Every reply checked;
   missing replies fail after the drain timeout. */
void hb_load_run(hb_load_t *self, double seconds, double rate, int per_socket, hb_run_t *out);
/* One request on the first socket, answered within timeout_ms or the program fails with
   a hint (no broker, no workers, CURVE keys missing or refused). */
void hb_load_probe(hb_load_t *self, int timeout_ms);
/* What the progress line names (e.g. "run 2 of 3"). */
void hb_load_label(hb_load_t *self, const char *label);
/* The request body size in bytes. */
size_t hb_load_request_bytes(const hb_load_t *self);

#endif
