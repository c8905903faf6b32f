/*  main.c - actorcore-broker's process: the settings (flags and the `broker:` section of a
    --config file; their defaults and the sockets are made in setup.c), the
    single-threaded poll loop that reads clients and workers and ticks the timers, the shutdown on SIGINT/SIGTERM that waits for
    in-flight replies and answers what is left, and main. See broker.h for the design.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "service/notify.h"
#include "service/settings.h"

/* ---- the loop ---- */

static size_t inflight_count(broker_t *b)
{
    size_t n = 0;
    for (long long i = 0; i < 2 * b->cfg.max_services; i++)
        n += b->services[i].live ? b->services[i].inflight : 0;
    return n;
}

/* One tick: workers that stopped talking go (their requests back to the queues), then
   queued requests that waited too long are answered. */
static void expire(broker_t *b, bool heartbeat)
{
    int64_t now = zclock_mono();
    expire_workers(b, now, heartbeat);
    expire_requests(b, now);
}

/* Whatever is left gets an answer, not silence. */
static void drain(broker_t *b)
{
    drain_requests(b);
    disconnect_workers(b);
}

static void run(broker_t *b)
{
    /* The backend, its monitor and the ZAP handler first: while stopping, only they are
       polled; the frontend is last. */
    zmq_pollitem_t items[10] = {{b->be, 0, ZMQ_POLLIN, 0},
                                {zsock_resolve(b->monitor), 0, ZMQ_POLLIN, 0},
                                {zsock_resolve(b->events.xsub), 0, ZMQ_POLLIN, 0},
                                {zsock_resolve(b->events.xpub), 0, ZMQ_POLLIN, 0}};
    int nitems = 4, zap = -1, pair = -1, isub = -1, ipull = -1, http = -1;
    if (b->auth.zap) {
        zap = nitems;
        items[nitems++] = (zmq_pollitem_t){zsock_resolve(b->auth.zap), 0, ZMQ_POLLIN, 0};
    }
    if (b->pair.sub) {
        pair = nitems;
        items[nitems++] = (zmq_pollitem_t){zsock_resolve(b->pair.sub), 0, ZMQ_POLLIN, 0};
    }
    if (b->ingest.sub) {
        isub = nitems;
        items[nitems++] = (zmq_pollitem_t){zsock_resolve(b->ingest.sub), 0, ZMQ_POLLIN, 0};
    }
    /* The PULL socket goes just before the frontend, and is left out of a poll while the
       ingest table is full: its producers then block (back-pressure). */
    if (b->ingest.pull) {
        ipull = nitems;
        items[nitems++] = (zmq_pollitem_t){zsock_resolve(b->ingest.pull), 0, ZMQ_POLLIN, 0};
    }
    /* The /metrics endpoint's descriptor (service/http.h: served in this thread). */
    if (b->http) {
        http = nitems;
        items[nitems++] = (zmq_pollitem_t){NULL, ac_http_fd(b->http), ZMQ_POLLIN, 0};
    }
    int fe = nitems;
    items[nitems++] = (zmq_pollitem_t){b->fe, 0, ZMQ_POLLIN, 0};
    b->heartbeat_at = zclock_mono() + b->cfg.heartbeat_ms;
    int64_t tick = b->cfg.heartbeat_ms < 100 ? b->cfg.heartbeat_ms : 100,
            next_tick = zclock_mono() + tick;
    int64_t stop_at = 0;
    for (;;) {
        if (zsys_interrupted && !stop_at) {
            ac_notify("STOPPING=1");
            stop_at = zclock_mono() + b->cfg.grace_ms;
            zsys_interrupted = 0;
            ac_log(AC_LOG_INFO, "stopping", "in_flight=%zu grace_ms=%lld", inflight_count(b),
                   b->cfg.grace_ms);
        }
        if (stop_at && (inflight_count(b) == 0 || zclock_mono() >= stop_at || zsys_interrupted))
            break;
        int64_t wait = next_tick - zclock_mono();
        if (b->probe_until && wait > 5)
            wait = 5; /* a connection dropped: probe again soon */
        if (b->pair.pub && wait > b->pair.beat_at - zclock_mono())
            wait = b->pair.beat_at - zclock_mono(); /* the pair's heartbeat is due */
        if (http >= 0)
            wait = ac_http_wait(b->http, wait > 0 ? (long)wait : 0);
        if (ipull >= 0)
            items[ipull].events = !stop_at && ingest_readable(b) ? ZMQ_POLLIN : 0;
        if (isub >= 0)
            items[isub].events = !stop_at ? ZMQ_POLLIN : 0;
        /* While stopping, the frontend is not read: nothing new is accepted. */
        int rc = zmq_poll(items, stop_at ? nitems - 1 : nitems, wait > 0 ? (long)wait : 0);
        if (rc < 0 && errno != EINTR)
            break;
        /* Several messages per wake-up, the two sockets in turn; a socket that poll did not
           report, or that ran dry, is not asked again in this wake-up (an empty read costs
           libzmq a system call). */
        if (zap >= 0 && (items[zap].revents & ZMQ_POLLIN))
            auth_on_readable(b);
        events_on_readable(b, items[2].revents & ZMQ_POLLIN, items[3].revents & ZMQ_POLLIN);
        if (pair >= 0 && (items[pair].revents & ZMQ_POLLIN))
            pair_on_readable(b);
        pair_tick(b);
        if (isub >= 0 && (items[isub].revents & ZMQ_POLLIN))
            ingest_on_readable(b, b->ingest.sub);
        if (ipull >= 0 && (items[ipull].revents & ZMQ_POLLIN))
            ingest_on_readable(b, b->ingest.pull);
        bool fe_open = !stop_at && (items[fe].revents & ZMQ_POLLIN);
        bool be_open = items[0].revents & ZMQ_POLLIN;
        for (int n = 0; n < 256 && (fe_open || be_open); n++) {
            if (fe_open && (fe_open = frames_recv(b->fe, &b->in))) {
                on_client_message(b);
                frames_reset(&b->in);
            }
            if (be_open && (be_open = frames_recv(b->be, &b->in))) {
                on_worker_message(b);
                frames_reset(&b->in);
            }
        }
        ingest_pump(b);
        on_monitor_events(b, items[1].revents & ZMQ_POLLIN);
        if (http >= 0)
            ac_http_run(b->http, rc > 0 && (items[http].revents & ZMQ_POLLIN));
        int64_t now = zclock_mono();
        if (now >= next_tick) {
            bool hb = now >= b->heartbeat_at;
            if (hb)
                b->heartbeat_at = now + b->cfg.heartbeat_ms;
            expire(b, hb);
            next_tick = now + tick;
        }
    }
    drain(b);
}

static const char *s_usage_head =
    "Usage: actorcore-broker [--config FILE] [--SETTING VALUE]...\n"
    "\n"
    "The actorcore Majordomo (MDP/0.1) broker and snapshot event forwarder.\n"
    "Settings (also the `broker:` section of a --config YAML file, see\n"
    "config/actorcore.yaml; flags override the file):\n"
    "  --config FILE              read settings from FILE first\n"
    "  -h, --help                 this text\n"
    "  -V, --version              the version\n";

int main(int argc, char **argv)
{
    broker_t b;
    memset(&b, 0, sizeof b);
    config_t *c = &b.cfg;
    broker_config_defaults(c);
    ac_setting_t t[] = {
        {"frontend", AC_SET_ENDPOINT, &c->frontend, AC_ENDPOINT_BIND, 0,
         "clients' endpoint (ROUTER, bound)"},
        {"backend", AC_SET_ENDPOINT, &c->backend, AC_ENDPOINT_BIND, 0,
         "workers' endpoint (ROUTER, bound)"},
        {"events_in", AC_SET_ENDPOINT, &c->events_in, AC_ENDPOINT_BIND, 0,
         "workers publish here (XSUB, bound)"},
        {"events_out", AC_SET_ENDPOINT, &c->events_out, AC_ENDPOINT_BIND, 0,
         "subscribers connect here (XPUB, bound)"},
        {"heartbeat_ms", AC_SET_INT, &c->heartbeat_ms, 10, 600000, "MDP heartbeat interval"},
        {"liveness", AC_SET_INT, &c->liveness, 1, 100, "heartbeats a worker may miss"},
        {"queue_max", AC_SET_INT, &c->queue_max, 1, 100000000, "queued requests per service"},
        {"request_timeout_ms", AC_SET_INT, &c->request_timeout_ms, 1, 86400000,
         "how long a request may wait for a worker"},
        {"max_message_bytes", AC_SET_INT, &c->max_message_bytes, 64, 1ll << 30,
         "largest request body answered (else too_large)"},
        {"max_requeues", AC_SET_INT, &c->max_requeues, 0, 1000,
         "times a request may lose its worker"},
        {"socket_max_bytes", AC_SET_INT, &c->socket_max_bytes, 1024, 1ll << 31,
         "ZMQ_MAXMSGSIZE: larger messages drop the connection"},
        {"grace_ms", AC_SET_INT, &c->grace_ms, 0, 600000,
         "on SIGTERM, how long to wait for in-flight replies"},
        {"max_services", AC_SET_INT, &c->max_services, 1, 100000,
         "distinct service names accepted"},
        {"frontend_hwm", AC_SET_INT, &c->frontend_hwm, 1, 1000000,
         "messages buffered per client connection before the broker reads them"},
        {"max_workers", AC_SET_INT, &c->max_workers, 1, 65536, "workers registered at once"},
        {"queue_max_bytes", AC_SET_INT, &c->queue_max_bytes, 1 << 20, 1ll << 40,
         "bytes of requests held (queued or in flight), all services"},
        {"client_queue_max", AC_SET_INT, &c->client_queue_max, 0, 100000000,
         "queued requests per client and service (0: no cap)"},
        {"fair_queuing", AC_SET_BOOL, &c->fair_queuing, 0, 0,
         "serve a service's clients in turn (false: one FIFO)"},
        {"dispatch", AC_SET_STR, &c->dispatch, 0, 0, "affine or least_loaded"},
        {"affinity_epsilon", AC_SET_DOUBLE, &c->affinity_epsilon, 0, 100,
         "affine: a worker may hold (1 + epsilon) x the average"},
        {"security", AC_SET_STR, &c->security, 0, 0,
         "none (plain text, a warning) or curve (keys below)"},
        {"curve.cert", AC_SET_PATH, &c->curve_cert, 0, 0,
         "the broker's key pair NAME (NAME_secret is read; actorcore keygen)"},
        {"curve.clients", AC_SET_PATH, &c->curve_clients, 0, 0,
         "folder of client certificates admitted on frontend and events_out"},
        {"curve.workers", AC_SET_PATH, &c->curve_workers, 0, 0,
         "folder of worker certificates admitted on backend and events_in"},
        {"pair.role", AC_SET_STR, &c->pair_role, 0, 0,
         "none, or primary / backup of a fail-over pair (README \"Fail-over\")"},
        {"pair.bind", AC_SET_ENDPOINT, &c->pair_bind, AC_ENDPOINT_BIND, AC_ENDPOINT_OPTIONAL,
         "where this broker publishes its state to its peer (PUB)"},
        {"pair.peer", AC_SET_ENDPOINT, &c->pair_peer, AC_ENDPOINT_CONNECT, AC_ENDPOINT_OPTIONAL,
         "the peer's pair.bind"},
        {"pair.heartbeat_ms", AC_SET_INT, &c->pair_heartbeat_ms, 10, 60000,
         "state heartbeats to the peer; silent for two, it is presumed gone"},
        {"events_hwm", AC_SET_INT, &c->events_hwm, 1, 10000000,
         "events buffered per publisher and subscriber before libzmq drops (at most once)"},
        {"ingest.pull", AC_SET_ENDPOINT, &c->ingest_pull, AC_ENDPOINT_BIND, AC_ENDPOINT_OPTIONAL,
         "game services PUSH actor changes here (PULL, bound; README \"Ingest\")"},
        {"ingest.sub", AC_SET_ENDPOINT, &c->ingest_sub, AC_ENDPOINT_CONNECT,
         AC_ENDPOINT_OPTIONAL | AC_ENDPOINT_LIST,
         "game services' PUB endpoints to subscribe to, comma-separated"},
        {"ingest.topics", AC_SET_STR, &c->ingest_topics, 0, 0,
         "topic prefixes subscribed on ingest.sub, comma-separated (empty: all)"},
        {"ingest.max_actors", AC_SET_INT, &c->ingest_max_actors, 1, 1 << 24,
         "actors with a change in the system at once (then PULL is not read)"},
        {"replicas", AC_SET_INT, &c->replicas, 1, 8,
         "hosts each resolve is computed and stored on before it is answered"},
        {"state", AC_SET_PATH, &c->state, 0, 0,
         "file of the invalidation floors (coherence across restarts), or none"},
        {"metrics", AC_SET_LISTEN, &c->metrics, 0, 0,
         "HOST:PORT of the HTTP /metrics, /healthz, /readyz endpoint (empty: none)"},
        {"log_level", AC_SET_STR, &c->log_level, 0, 0,
         "debug, info, warn or error (logfmt lines on stderr; README \"Logs\")"},
        {"verbose", AC_SET_BOOL, &c->verbose, 0, 0, "log at debug (as log_level: debug)"},
    };
    size_t n = sizeof t / sizeof t[0];
    int parsed =
        ac_settings_parse_args(argc, argv, "actorcore-broker", "broker", s_usage_head, t, n);
    if (parsed >= 0) {
        ac_settings_free(t, n);
        return parsed;
    }

    if (ac_log_start("broker", c->log_level, c->verbose) != 0) {
        ac_settings_free(t, n);
        return 2;
    }
    if (strcmp(c->dispatch, "affine") == 0) {
        b.affine = true;
    } else if (strcmp(c->dispatch, "least_loaded") != 0) {
        ac_log_bad_setting("dispatch", "expected affine or least_loaded, found '%.40s'",
                           c->dispatch);
        ac_settings_free(t, n);
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL); /* our own lines only (service/log.h) */
    int status = 0;
    if (broker_setup(&b) != 0) {
        status = 2;
        goto out;
    }
    ac_log(AC_LOG_INFO, "started", "frontend=%s backend=%s events_in=%s events_out=%s version=%s",
           c->frontend, c->backend, c->events_in, c->events_out, AC_VERSION_STRING);
    ac_notify("READY=1"); /* bound: systemd starts what comes after the broker */
    run(&b);
    ac_log(AC_LOG_INFO, "stopped",
           "requests=%" PRIu64 " replies=%" PRIu64 " malformed=%" PRIu64 " requeued=%" PRIu64
           " stale=%" PRIu64,
           b.n.requests, b.n.replies, b.n.malformed, b.n.requeued, b.n.stale_replies);
out:
    broker_teardown(&b);
    ac_settings_free(t, n);
    return status;
}
