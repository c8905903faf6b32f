/*  worker.h - the actorcore worker process: its configuration, state and op handlers.

    worker.c runs the MDP/0.1 worker loop (READY with credit, heartbeats, reconnect with
    backoff); ops.c answers the ops of SPEC 8 from the aggregator and the two cache tiers;
    config.c holds the settings table and the embedded default registries.

    A generation is what a resolve reads of the configuration: the registries, the
    subsystems and the resolver built on them (its generation, a hash of their content, is
    in every cache key and every snapshot). A reload (SIGHUP or `admin reload`) loads a
    whole new one beside the old and swaps them between two requests, or keeps the old one
    when any file is bad; L1 is emptied with it, and an L3 row of another generation is
    never served.
*/
#ifndef AC_WORKER_H
#define AC_WORKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "actorcore/actorcore.h"
#include "actorcore/cache.h"
#include "actorcore/store.h"
#include "actorcore/wire.h"
#include "service/curve.h"
#include "service/log.h"
#include "service/http.h"
#include "service/metrics.h"
#include "service/settings.h"

/* The store a worker uses when none is set: its folder is made when missing, so that a
   worker started with no flags runs anywhere. */
#define WORKER_DEFAULT_STORE "var/actorcore.db"

typedef struct {
    char *config;                /* --config FILE, read before other flags apply */
    char *broker;                /* the broker's backend */
    char *events;                /* the broker's events-in (XSUB) */
    char *combiner;              /* CombinerRegistry file; NULL: the embedded default */
    char *layers;                /* CapLayerRegistry file; NULL: the embedded default */
    char *store;                 /* SQLite file, or "none" */
    char *subsystems;            /* folder of subsystem YAML files, or "none" */
    long long credit;            /* requests the broker may send before a reply */
    long long heartbeat_ms;      /* MDP heartbeat interval */
    long long liveness;          /* heartbeats missed before the broker is presumed dead */
    long long reconnect_max_ms;  /* backoff ceiling */
    bool publish;                /* publish every resolved snapshot */
    long long l1_entries;        /* L1 bound; 0 disables L1 */
    long long l1_bytes;          /* L1 bound in bytes */
    long long l1_ttl_ms;         /* L1 TTL; 0 = none */
    long long store_queue;       /* pending L3 writes before dropping */
    bool store_sync;             /* a reply waits until its L3 write is committed */
    char *host;                  /* the host label sent in READY (replication) */
    long long max_message_bytes; /* SPEC 7 limits */
    long long max_contributions;
    long long max_batch;
    bool verbose;              /* log at debug */
    char *log_level;           /* debug, info, warn or error */
    char *metrics;             /* HOST:PORT of the /metrics endpoint; NULL or "": none */
    ac_curve_settings_t curve; /* security, curve.cert, curve.server */
} worker_config_t;

/* The ops, as the metrics label them (WOP_OTHER: an unknown op or an unreadable request). */
enum {
    WOP_RESOLVE,
    WOP_BATCH,
    WOP_GET,
    WOP_INVALIDATE,
    WOP_STATS,
    WOP_PING,
    WOP_ADMIN,
    WOP_OTHER,
    WOP_COUNT
};
#define WORKER_CODES 16 /* error codes by -code (actorcore/error.h: -1 .. -15) */

/* Latency histogram: 8 sub-buckets per power of two of microseconds. */
#define HIST_BUCKETS (40 * 8)

typedef struct {
    worker_config_t cfg;     /* settings in force */
    ac_registry_t *reg;      /* combiner + layers */
    ac_subsystems_t *subs;   /* worker-side subsystems, NULL when none */
    ac_resolver_t *resolver; /* scratch of resolving */
    ac_request_t *req;       /* reused for every resolve */
    ac_limits_t limits;      /* from cfg */
    ac_l1_t *l1;             /* NULL when disabled */
    ac_store_t *store;       /* NULL when disabled or broken */
    zsock_t *pub;            /* events publisher, NULL when not connected */
    ac_curve_keys_t keys;    /* own key pair and the broker's key (security curve) */
    msgpack_zone zone;       /* decoded request bodies */
    msgpack_sbuffer snap;    /* one encoded snapshot */
    msgpack_sbuffer reply;   /* the reply being built */
    int pid;                 /* reported in replies */
    /* the floors frame of the request being served (service/mdp.h); absent: every floor 0 */
    const uint8_t *floor_pairs; /* n x (hash, floor), little-endian; NULL: no floors frame */
    uint32_t floor_count;       /* pairs */
    uint64_t floor_global;      /* the floor of an actor not listed */
    bool wrote_store;           /* the request queued an L3 write */
    /* counters */
    uint64_t requests, errors, resolves, batch_items, gets, invalidates, published;
    uint64_t l1_hits, l1_misses, l3_hits, l3_misses, store_errors;
    uint64_t stale;                  /* cached snapshots refused: computed before an invalidate */
    uint64_t old_generation;         /* L3 rows refused: computed under another generation */
    uint64_t reloads, reload_errors; /* reloads done, refused */
    bool reloaded;                   /* the request being served reloaded (worker.c sends
                                        the replies computed before it first) */
    uint64_t hist[HIST_BUCKETS];
    /* for /metrics (workers/metrics.c) */
    uint64_t op_requests[WOP_COUNT];             /* requests by op */
    uint64_t op_errors[WOP_COUNT][WORKER_CODES]; /* failed replies by op and -code */
    uint64_t item_errors[WORKER_CODES];          /* failed items of batches by -code */
    ac_hist_t op_latency[WOP_COUNT];             /* handling time by op */
    int reply_code;                              /* the reply's error code (0: ok) */
    int item_code;                               /* the last resolved item's error code */
    ac_http_t *http;                             /* the endpoint, NULL when off */
    int links, links_registered;                 /* brokers; those that spoke since READY */
    int held;                                    /* requests received, not answered yet */
} worker_t;

/* config.c */
ac_setting_t *worker_settings(worker_config_t *cfg, size_t *n);
void worker_config_defaults(worker_config_t *cfg);
/* The registries the settings name (or the embedded ones); NULL with err naming the file,
   line and setting. */
ac_registry_t *worker_load_registry(const worker_config_t *cfg, ac_error_t *err);
/* Prefixes err's message with "--setting: "; returns err->code. */
int worker_setting_error(ac_error_t *err, const char *setting);

/* ops.c */
int worker_init(worker_t *w, ac_error_t *err);
void worker_fini(worker_t *w);
/* Loads a new generation from the files the settings name and swaps it in (L1 emptied);
   on any error the old one stays, err names the file, line and setting, and nothing
   changed but the reload_errors counter. */
int worker_reload(worker_t *w, ac_error_t *err);
/* The reload's log line (stderr): the generation now in force and `before`, or err. */
void worker_log_reload(const worker_t *w, uint64_t before, const ac_error_t *err);
/* Answers one request body; the reply is left in w->reply. floors is the request's floors
   frame (service/mdp.h) or NULL. */
void worker_handle(worker_t *w, const char *body, size_t len, const uint8_t *floors,
                   size_t floors_len);

/* metrics.c */
/* Starts the /metrics endpoint when cfg.metrics is set; -1 with err set. */
int worker_metrics_start(worker_t *w, ac_error_t *err);

#endif
