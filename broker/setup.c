/*  setup.c - the broker's state made and unmade: the settings' defaults, the tables, the
    two bound ROUTER sockets, the monitor, the ZAP handler, the fail-over pair, ingest and
    the event forwarder. main.c parses the settings and runs the loop; the fuzz target of
    the broker's frame handling (tests/fuzz/fuzz_broker.c) makes a broker the same way.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* A bound ROUTER; rcvhwm bounds the messages libzmq buffers per connected peer before the
   loop reads them (per peer, the bytes it may buffer are rcvhwm x the message size). */
static zsock_t *router(broker_t *b, const char *setting, const char *endpoint, int rcvhwm,
                       const char *domain)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    if (!s)
        return NULL;
    auth_secure(b, s, domain);
    zsock_set_router_mandatory(s, 1);
    zsock_set_linger(s, 500);
    zsock_set_maxmsgsize(s, b->cfg.socket_max_bytes);
    zsock_set_rcvhwm(s, rcvhwm);
    zsock_set_sndhwm(s, 1000000);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        ac_log_bad_setting(setting, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
    }
    return s;
}

/* The defaults, before the --config file and the flags. */
void broker_config_defaults(config_t *c)
{
    c->frontend = strdup(AC_DEFAULT_FRONTEND);
    c->backend = strdup(AC_DEFAULT_BACKEND);
    c->events_in = strdup(AC_DEFAULT_EVENTS_IN);
    c->events_out = strdup(AC_DEFAULT_EVENTS_OUT);
    c->heartbeat_ms = 500;
    c->liveness = 4;
    c->queue_max = 100000;
    c->request_timeout_ms = 10000;
    c->max_message_bytes = 1 << 20;
    c->max_requeues = 3;
    c->socket_max_bytes = 16 << 20;
    c->grace_ms = 5000;
    c->max_services = 64;
    c->max_workers = 4096;
    c->frontend_hwm = 1000;
    c->queue_max_bytes = 256ll << 20;
    c->client_queue_max = 0;
    c->fair_queuing = true;
    c->dispatch = strdup("affine");
    c->affinity_epsilon = 0.25;
    c->security = strdup("none");
    c->state = strdup(BROKER_DEFAULT_STATE);
    c->replicas = 1;
    c->pair_role = strdup("none");
    c->pair_heartbeat_ms = 250;
    c->ingest_max_actors = 65536;
    c->events_hwm = 20000;
    c->log_level = strdup("info");
}

/* The tables, the two ROUTERs and the event forwarder; -1 when a socket cannot bind (the
   setting and the reason are on stderr) or memory runs out. */
int broker_setup(broker_t *b)
{
    msgpack_zone_init(&b->zone, 4096);
    for (int i = 0; i < FRAMES_MAX; i++)
        zmq_msg_init(&b->in.f[i]);
    if (queue_init(b) != 0 || workers_init(b) != 0) {
        ac_log(AC_LOG_ERROR, "start_failed", "code=out_of_memory msg=%s",
               "no memory for the tables");
        return -1;
    }
    if (floors_open(b) != 0)
        return -1;
    if (auth_start(b) != 0)
        return -1;
    b->frontend = router(b, "frontend", b->cfg.frontend, (int)b->cfg.frontend_hwm, AC_ZAP_CLIENTS);
    /* Workers' replies are bounded by their credit already. */
    b->backend = router(b, "backend", b->cfg.backend, 1000000, AC_ZAP_WORKERS);
    if (!b->frontend || !b->backend)
        return -1;
    b->fe = zsock_resolve(b->frontend);
    b->be = zsock_resolve(b->backend);
    if (pair_start(b) != 0 || ingest_start(b) != 0)
        return -1;
    if (metrics_start(b) != 0)
        return -1;
    if (monitor_start(b) != 0) {
        ac_log(AC_LOG_ERROR, "start_failed", "code=internal path=--backend msg=%s error=%s",
               "cannot monitor the backend", zmq_strerror(zmq_errno()));
        return -1;
    }
    return events_start(b);
}

/* Frees what setup made, whether it succeeded or not. */
void broker_teardown(broker_t *b)
{
    metrics_stop(b);
    events_stop(b);
    pair_stop(b);
    queue_fini(b); /* before the ingest table: freeing requests tells it */
    ingest_stop(b);
    workers_fini(b);
    for (int i = 0; i < FRAMES_MAX; i++)
        zmq_msg_close(&b->in.f[i]);
    monitor_stop(b);
    zsock_destroy(&b->frontend);
    zsock_destroy(&b->backend);
    auth_stop(b);
    floors_close(b);
    msgpack_zone_destroy(&b->zone);
}
