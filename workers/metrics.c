/*  metrics.c - the worker's /metrics text (README "Metrics" lists every name) and its
    readiness, served by service/http.h in the worker's own loop thread: the counters are
    read as the loop left them between two requests, without locks. The counters are the
    ones the `stats` op reports, plus the per-op ones worker_handle keeps.
*/
#include <stdio.h>
#include <string.h>

#include "worker.h"

static const char *const s_ops[WOP_COUNT] = {"resolve", "resolve_batch", "get",   "invalidate",
                                             "stats",   "ping",          "admin", "other"};

/* Requests, errors and latency by op (and code). */
static void write_ops(const worker_t *w, ac_mtext_t *t)
{
    char lab[96];
    ac_mtext_counter_by(t, "actorcore_worker_requests_total",
                        "Requests handled, by op (other: unknown op or unreadable request).", "op",
                        s_ops, w->op_requests, WOP_COUNT);
    ac_mtext_family(t, "actorcore_worker_errors_total", "counter",
                    "Requests answered with an error, by op and error code.");
    for (int op = 0; op < WOP_COUNT; op++) {
        snprintf(lab, sizeof lab, "op=\"%s\"", s_ops[op]);
        ac_mtext_codes(t, "actorcore_worker_errors_total", lab, w->op_errors[op], WORKER_CODES);
    }
    ac_mtext_single(t, "actorcore_worker_batch_items_total", "counter",
                    "Items of resolve_batch requests.", w->batch_items);
    ac_mtext_family(t, "actorcore_worker_batch_item_errors_total", "counter",
                    "Items of resolve_batch requests that failed, by error code.");
    ac_mtext_codes(t, "actorcore_worker_batch_item_errors_total", NULL, w->item_errors,
                   WORKER_CODES);
    ac_mtext_family(t, "actorcore_worker_request_duration_seconds", "histogram",
                    "Time to handle a request (decode to encoded reply), by op.");
    for (int op = 0; op < WOP_COUNT; op++) {
        snprintf(lab, sizeof lab, "op=\"%s\"", s_ops[op]);
        ac_mtext_hist(t, "actorcore_worker_request_duration_seconds", lab, &w->op_latency[op]);
    }
}

/* The cache tiers and the L3 writer. */
static void write_caches(const worker_t *w, ac_mtext_t *t)
{
    ac_l1_stats_t l1 = {0};
    ac_store_stats_t l3 = {0};
    if (w->l1)
        ac_l1_stats(w->l1, &l1);
    if (w->store)
        ac_store_stats(w->store, &l3);
    ac_mtext_family(t, "actorcore_worker_cache_hits_total", "counter",
                    "Resolves answered from a cache tier (l1: memory, l3: SQLite).");
    ac_mtext_u64(t, "actorcore_worker_cache_hits_total", "tier=\"l1\"", w->l1_hits);
    ac_mtext_u64(t, "actorcore_worker_cache_hits_total", "tier=\"l3\"", w->l3_hits);
    ac_mtext_family(t, "actorcore_worker_cache_misses_total", "counter",
                    "Resolves a cache tier could not answer (l3: only with a store).");
    ac_mtext_u64(t, "actorcore_worker_cache_misses_total", "tier=\"l1\"", w->l1_misses);
    ac_mtext_u64(t, "actorcore_worker_cache_misses_total", "tier=\"l3\"", w->l3_misses);
    ac_mtext_single(t, "actorcore_worker_cache_stale_total", "counter",
                    "Cached snapshots refused: computed before the actor's invalidation floor.",
                    w->stale);
    ac_mtext_single(t, "actorcore_worker_resolves_total", "counter",
                    "Snapshots computed (not served from a cache).", w->resolves);
    ac_mtext_single(t, "actorcore_worker_l1_entries", "gauge", "Snapshots held in L1.", l1.entries);
    ac_mtext_single(t, "actorcore_worker_l1_bytes", "gauge", "Bytes held in L1.", l1.bytes);
    ac_mtext_single(t, "actorcore_worker_l1_evictions_total", "counter",
                    "L1 entries evicted or expired.", l1.evictions + l1.expirations);
    ac_mtext_single(t, "actorcore_worker_l3_queue_depth", "gauge",
                    "L3 writes waiting for the write-behind thread.", l3.queued);
    ac_mtext_single(t, "actorcore_worker_l3_writes_total", "counter", "L3 rows written.",
                    l3.writes);
    ac_mtext_single(t, "actorcore_worker_l3_write_errors_total", "counter",
                    "L3 rows that failed to be written.", l3.write_errors);
    ac_mtext_single(t, "actorcore_worker_l3_dropped_total", "counter",
                    "L3 writes dropped: the queue was full or memory ran out.", l3.dropped);
    ac_mtext_single(t, "actorcore_worker_store_errors_total", "counter",
                    "L3 reads, deletes or queueings that failed.", w->store_errors);
}

static void write_metrics(void *ctx, ac_mtext_t *t)
{
    const worker_t *w = ctx;
    write_ops(w, t);
    write_caches(w, t);
    ac_mtext_single(t, "actorcore_worker_published_total", "counter",
                    "Snapshots published on snap/<actor_id>.", w->published);
    ac_mtext_single(t, "actorcore_worker_credit", "gauge",
                    "Requests each broker may send before a reply.", (uint64_t)w->cfg.credit);
    ac_mtext_single(t, "actorcore_worker_requests_held", "gauge",
                    "Requests received and not answered yet.", (uint64_t)w->held);
    ac_mtext_single(t, "actorcore_worker_brokers", "gauge", "Brokers this worker serves.",
                    (uint64_t)w->links);
    ac_mtext_single(t, "actorcore_worker_brokers_registered", "gauge",
                    "Brokers that spoke since this worker's READY (they know it).",
                    (uint64_t)w->links_registered);
}

/* Ready when at least one broker has this worker registered. */
static bool ready(void *ctx)
{
    const worker_t *w = ctx;
    return w->links_registered > 0;
}

int worker_metrics_start(worker_t *w, ac_error_t *err)
{
    if (!w->cfg.metrics || !*w->cfg.metrics)
        return 0;
    ac_http_handlers_t h = {write_metrics, ready, w};
    w->http = ac_http_start("metrics", w->cfg.metrics, &h, err);
    return w->http ? 0 : err->code;
}
