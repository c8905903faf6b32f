/*  metrics.c - the broker's /metrics text (README "Metrics" lists every name) and its
    readiness, served by service/http.h from the broker's own poll loop (main.c polls the
    endpoint's descriptor beside the sockets): the counters of mmi.stats are read as the
    loop left them, without locks. Requests are timed only while the endpoint is on.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static const char *const s_ops[BOP_COUNT] = {"resolve", "resolve_batch", "get", "invalidate",
                                             "other"};

int64_t metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Requests, errors and latency by op (and code). */
static void write_requests(const broker_t *b, ac_mtext_t *t)
{
    char lab[64];
    ac_mtext_single(t, "actorcore_broker_requests_received_total", "counter",
                    "Client requests to a service (mmi.* excluded), before any check.",
                    b->n.requests);
    ac_mtext_counter_by(t, "actorcore_broker_requests_total",
                        "Client requests queued for a worker, by op.", "op", s_ops, b->op_requests,
                        BOP_COUNT);
    ac_mtext_family(t, "actorcore_broker_errors_total", "counter",
                    "Errors the broker answered itself (too large, queue full, timeout, lost), "
                    "by code.");
    ac_mtext_codes(t, "actorcore_broker_errors_total", NULL, b->errors_by_code, BROKER_CODES);
    ac_mtext_family(t, "actorcore_broker_request_duration_seconds", "histogram",
                    "Time from a client request's arrival to its answer leaving, by op.");
    for (int op = 0; op < BOP_COUNT; op++) {
        snprintf(lab, sizeof lab, "op=\"%s\"", s_ops[op]);
        ac_mtext_hist(t, "actorcore_broker_request_duration_seconds", lab, &b->op_latency[op]);
    }
    ac_mtext_single(t, "actorcore_broker_replies_total", "counter",
                    "Worker answers forwarded to clients.", b->n.replies);
    ac_mtext_single(t, "actorcore_broker_malformed_total", "counter",
                    "Messages dropped: not MDP, or not well-formed.", b->n.malformed);
    ac_mtext_single(t, "actorcore_broker_stale_replies_total", "counter",
                    "Replies dropped: their request was re-queued or answered already.",
                    b->n.stale_replies);
    ac_mtext_single(t, "actorcore_broker_requeued_total", "counter",
                    "Requests put back in the queue because their worker was lost.", b->n.requeued);
    ac_mtext_single(t, "actorcore_broker_timeouts_total", "counter",
                    "Queued requests answered unavailable after request_timeout_ms.",
                    b->n.timeouts);
    ac_mtext_single(t, "actorcore_broker_lost_total", "counter",
                    "Requests answered internal after max_requeues lost workers.", b->n.lost);
    ac_mtext_single(t, "actorcore_broker_unroutable_total", "counter",
                    "Answers whose client was gone.", b->n.unroutable);
}

/* Workers, queues, credit and dispatch. */
static void write_pool(const broker_t *b, ac_mtext_t *t)
{
    uint64_t queued = 0, inflight = 0, credit = 0, credit_free = 0;
    for (long long i = 0; i < 2 * b->cfg.max_services; i++)
        if (b->services[i].live) {
            queued += b->services[i].qlen;
            inflight += b->services[i].inflight;
        }
    for (long long i = 0; i < b->cfg.max_workers; i++)
        if (b->workers[i].live) {
            credit += (uint64_t)b->workers[i].credit;
            if (b->workers[i].credit > b->workers[i].inflight)
                credit_free += (uint64_t)(b->workers[i].credit - b->workers[i].inflight);
        }
    ac_mtext_single(t, "actorcore_broker_workers", "gauge", "Workers alive (registered).",
                    b->nworkers);
    ac_mtext_single(t, "actorcore_broker_services", "gauge", "Services with at least one worker.",
                    b->served);
    ac_mtext_single(t, "actorcore_broker_workers_joined_total", "counter",
                    "Workers that said READY.", b->n.workers_joined);
    ac_mtext_single(t, "actorcore_broker_workers_expired_total", "counter",
                    "Workers dropped after missing their heartbeats.", b->n.workers_expired);
    ac_mtext_single(t, "actorcore_broker_workers_disconnected_total", "counter",
                    "Workers dropped when their connection closed.", b->n.workers_disconnected);
    ac_mtext_single(t, "actorcore_broker_requests_queued", "gauge",
                    "Requests waiting for a worker (re-queued ones included).", queued);
    ac_mtext_single(t, "actorcore_broker_requests_in_flight", "gauge",
                    "Requests sent to a worker and not answered yet.", inflight);
    ac_mtext_single(t, "actorcore_broker_requests_held", "gauge",
                    "Requests the broker holds (queued, in flight, fan-out parts).", b->nrequests);
    ac_mtext_single(t, "actorcore_broker_bytes_held", "gauge",
                    "Bytes of the requests held (bounded by queue_max_bytes).", b->held_bytes);
    ac_mtext_single(t, "actorcore_broker_credit", "gauge",
                    "Credit of the live workers: requests they accept at once.", credit);
    ac_mtext_single(t, "actorcore_broker_credit_free", "gauge",
                    "Credit not used by requests in flight.", credit_free);
    ac_mtext_family(t, "actorcore_broker_dispatch_total", "counter",
                    "Requests sent to a worker, by how it was chosen (affine_spill: named an "
                    "actor, its owner was full or past the load bound).");
    ac_mtext_u64(t, "actorcore_broker_dispatch_total", "how=\"affine_hit\"", b->n.affine_hits);
    ac_mtext_u64(t, "actorcore_broker_dispatch_total", "how=\"affine_spill\"", b->n.affine_spills);
    ac_mtext_u64(t, "actorcore_broker_dispatch_total", "how=\"least_loaded\"", b->n.least_loaded);
    ac_mtext_single(t, "actorcore_broker_load_bound_exceeded_total", "counter",
                    "Dispatches that left a worker past the affinity load bound.",
                    b->n.load_bound_exceeded);
    ac_mtext_single(t, "actorcore_broker_fanouts_total", "counter",
                    "Requests sent to every worker of their service (get, invalidate, replicas).",
                    b->n.fanouts);
}

static void write_metrics(void *ctx, ac_mtext_t *t)
{
    const broker_t *b = ctx;
    write_requests(b, t);
    write_pool(b, t);
}

/* Ready when a worker is registered and this broker serves clients (not a pair's
   passive). */
static bool ready(void *ctx)
{
    const broker_t *b = ctx;
    return b->nworkers > 0 && pair_serves(b);
}

int metrics_start(broker_t *b)
{
    if (!b->cfg.metrics || !*b->cfg.metrics)
        return 0;
    ac_http_handlers_t h = {write_metrics, ready, b};
    ac_error_t err;
    b->http = ac_http_start("metrics", b->cfg.metrics, &h, &err);
    if (!b->http) {
        ac_log_bad_setting("metrics", "%s", err.message);
        return -1;
    }
    return 0;
}

void metrics_stop(broker_t *b)
{
    ac_http_stop(&b->http);
}
