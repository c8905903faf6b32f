/*  actorcore-broker - the Majordomo (MDP/0.1, ZeroMQ RFC 7) broker of actorcore.

    Clients speak MDP client on the frontend ROUTER, workers MDP worker on the backend
    ROUTER. Beyond the reference Majordomo broker:
    - credit: a worker's READY may carry its credit (ASCII decimal frame); the broker keeps
      up to that many requests outstanding at it, least-loaded worker first (a plain MDP
      worker gets credit 1);
    - nothing is lost: every dispatched request stays owned by the broker until its reply
      arrives; when a worker expires or disconnects, every request it held goes back to the
      front of the queue (resolve is idempotent), up to max_requeues times;
    - no duplicates: a request's envelope carries a tag (slot + generation); a reply whose
      tag is not held by the worker sending it is dropped and counted;
    - bounded: a request that finds no worker within request_timeout_ms, or a full queue,
      or a body over max_message_bytes gets an error reply (unavailable / too_large);
    - malformed frames are dropped and counted; the broker never exits on bad traffic;
    - MMI (RFC 8): mmi.service; and mmi.stats returns the broker's counters (msgpack);
    - an XSUB -> XPUB forwarder (zproxy) carries workers' snapshot events to subscribers.
    SIGINT/SIGTERM: stop accepting, wait (up to a grace period) for in-flight replies,
    answer what is left with `unavailable`, exit 0.
*/
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/actorcore.h"
#include "actorcore/wire.h"
#include "service/mdp.h"
#include "service/settings.h"

typedef struct service service_t;
typedef struct worker worker_t;
typedef struct request request_t;

struct request {
    uint32_t slot;            /* index in the broker's slab */
    zframe_t *client;         /* the client's routing id */
    zmsg_t *body;             /* body frames */
    service_t *service;       /* where it queues */
    worker_t *worker;         /* holder, NULL while queued */
    int64_t deadline;         /* when a queued request times out */
    int requeues;             /* times its worker was lost */
    request_t *prev, *next;   /* queue or worker's in-flight list */
};

struct worker {
    char *key;                /* hex of the identity, the workers hash key */
    zframe_t *identity;       /* routing id */
    service_t *service;       /* the service it serves */
    int credit;               /* outstanding requests allowed */
    int inflight;             /* outstanding requests now */
    int64_t expiry;           /* when it is presumed dead */
    request_t *head, *tail;   /* requests it holds */
};

struct service {
    char *name;               /* service name */
    request_t *qhead, *qtail; /* waiting requests */
    size_t qlen;              /* entries in the queue */
    zlistx_t *workers;        /* worker_t * serving it */
};

typedef struct {
    char *config, *frontend, *backend, *events_in, *events_out;
    long long heartbeat_ms, liveness, queue_max, request_timeout_ms, max_message_bytes;
    long long max_requeues, socket_max_bytes, grace_ms, max_services;
    bool verbose;
} config_t;

typedef struct {
    uint64_t requests, replies, malformed, stale_replies, requeued, timeouts, too_large,
        queue_full, workers_expired, workers_joined, lost, unroutable;
} counters_t;

typedef struct {
    config_t cfg;
    zsock_t *frontend, *backend;
    zactor_t *proxy;
    zhashx_t *services;       /* name -> service_t */
    zhashx_t *workers;        /* key -> worker_t */
    request_t **slab;         /* slot -> request, NULL when free */
    uint32_t *gen;            /* slot -> generation, bumped on free */
    uint32_t *free_slots;     /* stack of free slots */
    uint32_t nfree, cap;      /* free slots; slab capacity */
    int64_t heartbeat_at;     /* next heartbeat to workers */
    counters_t n;             /* counters */
    msgpack_zone zone;        /* for reading ids out of bodies */
} broker_t;

/* ---- request slab ---- */

static request_t *request_new(broker_t *b)
{
    if (b->nfree == 0) {
        uint32_t cap = b->cap ? b->cap * 2 : 1024;
        request_t **slab = realloc(b->slab, cap * sizeof *slab);
        uint32_t *gen = slab ? realloc(b->gen, cap * sizeof *gen) : NULL;
        uint32_t *fs = gen ? realloc(b->free_slots, cap * sizeof *fs) : NULL;
        if (slab)
            b->slab = slab;
        if (gen)
            b->gen = gen;
        if (!fs)
            return NULL;
        b->free_slots = fs;
        for (uint32_t i = b->cap; i < cap; i++) {
            b->slab[i] = NULL;
            b->gen[i] = 0;
            b->free_slots[b->nfree++] = cap - 1 - (i - b->cap);
        }
        b->cap = cap;
    }
    request_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->slot = b->free_slots[--b->nfree];
    b->slab[r->slot] = r;
    return r;
}

static void request_free(broker_t *b, request_t *r)
{
    b->slab[r->slot] = NULL;
    b->gen[r->slot]++;
    b->free_slots[b->nfree++] = r->slot;
    zframe_destroy(&r->client);
    zmsg_destroy(&r->body);
    free(r);
}

static uint64_t request_tag(const broker_t *b, const request_t *r)
{
    return ((uint64_t)b->gen[r->slot] << 32) | r->slot;
}

static request_t *request_by_tag(broker_t *b, uint64_t tag)
{
    uint32_t slot = (uint32_t)tag;
    if (slot >= b->cap || !b->slab[slot] || b->gen[slot] != (uint32_t)(tag >> 32))
        return NULL;
    return b->slab[slot];
}

/* ---- intrusive lists ---- */

static void list_push_back(request_t **head, request_t **tail, request_t *r)
{
    r->next = NULL;
    r->prev = *tail;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static void list_push_front(request_t **head, request_t **tail, request_t *r)
{
    r->prev = NULL;
    r->next = *head;
    if (*head)
        (*head)->prev = r;
    else
        *tail = r;
    *head = r;
}

static void list_remove(request_t **head, request_t **tail, request_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        *tail = r->prev;
    r->prev = r->next = NULL;
}

/* ---- replies to clients ---- */

static void send_to_client(broker_t *b, zframe_t *client, const char *service, zmsg_t **body)
{
    zmsg_t *msg = *body;
    *body = NULL;
    zmsg_pushstr(msg, service);
    zmsg_pushstr(msg, AC_MDPC);
    zmsg_pushmem(msg, NULL, 0);
    zmsg_prepend(msg, &(zframe_t *){zframe_dup(client)});
    if (zmsg_send(&msg, b->frontend) != 0)
        b->n.unroutable++; /* the client is gone (ROUTER_MANDATORY) */
    zmsg_destroy(&msg);
}

/* Answers a request body with an error, echoing the request's id when it has one. */
static void reply_error(broker_t *b, zframe_t *client, const char *service, zmsg_t *body,
                        int code, const char *fmt, const char *arg)
{
    msgpack_zone_clear(&b->zone);
    const msgpack_object *id = NULL;
    msgpack_object obj;
    zframe_t *first = body ? zmsg_first(body) : NULL;
    ac_error_t perr;
    if (first && ac_msgpack_parse((const char *)zframe_data(first), zframe_size(first), &b->zone,
                                  &obj, &perr) == 0)
        id = ac_wire_get(&obj, "id");
    ac_error_t err;
    char msg[200];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(msg, sizeof msg, fmt, arg);
#pragma GCC diagnostic pop
    ac_error_set(&err, code, "", "%s", msg);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ac_wire_pack_error(&pk, id, &err);
    zmsg_t *reply = zmsg_new();
    zmsg_addmem(reply, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    send_to_client(b, client, service, &reply);
}

/* ---- workers ---- */

/* Sends a worker command to the peer with that routing id. */
static void send_to_identity(broker_t *b, zframe_t *identity, int command, zmsg_t *msg)
{
    msg = ac_mdp_worker_frames(msg, command);
    zmsg_prepend(msg, &(zframe_t *){zframe_dup(identity)});
    if (zmsg_send(&msg, b->backend) != 0)
        b->n.unroutable++;
    zmsg_destroy(&msg);
}

static void send_to_worker(broker_t *b, worker_t *w, int command, zmsg_t *msg)
{
    send_to_identity(b, w->identity, command, msg);
}

static void dispatch(broker_t *b, service_t *s);

/* Removes a worker; every request it held goes back to the front of its queue. */
static void worker_delete(broker_t *b, worker_t *w, bool send_disconnect)
{
    if (send_disconnect)
        send_to_worker(b, w, AC_MDPW_DISCONNECT, NULL);
    service_t *s = w->service;
    /* Requeue in reverse so that the oldest ends up first. */
    while (w->tail) {
        request_t *r = w->tail;
        list_remove(&w->head, &w->tail, r);
        r->worker = NULL;
        if (++r->requeues > b->cfg.max_requeues) {
            b->n.lost++;
            reply_error(b, r->client, s->name, r->body, AC_EINTERNAL,
                        "the request lost its worker %s times; not retried again", "several");
            request_free(b, r);
            continue;
        }
        b->n.requeued++;
        r->deadline = zclock_mono() + b->cfg.request_timeout_ms;
        list_push_front(&s->qhead, &s->qtail, r);
        s->qlen++;
    }
    void *handle = zlistx_find(s->workers, w);
    if (handle)
        zlistx_delete(s->workers, handle);
    zhashx_delete(b->workers, w->key);
    zframe_destroy(&w->identity);
    free(w->key);
    free(w);
    dispatch(b, s);
}

static service_t *service_require(broker_t *b, const char *name)
{
    service_t *s = zhashx_lookup(b->services, name);
    if (s)
        return s;
    if ((long long)zhashx_size(b->services) >= b->cfg.max_services)
        return NULL;
    s = calloc(1, sizeof *s);
    s->name = strdup(name);
    s->workers = zlistx_new();
    zhashx_insert(b->services, name, s);
    return s;
}

/* Sends queued requests to the least-loaded workers with credit left. */
static void dispatch(broker_t *b, service_t *s)
{
    while (s->qhead) {
        worker_t *best = NULL;
        for (worker_t *w = zlistx_first(s->workers); w; w = zlistx_next(s->workers))
            if (w->inflight < w->credit && (!best || w->inflight < best->inflight))
                best = w;
        if (!best)
            return;
        request_t *r = s->qhead;
        list_remove(&s->qhead, &s->qtail, r);
        s->qlen--;
        list_push_back(&best->head, &best->tail, r);
        r->worker = best;
        best->inflight++;
        /* [envelope = tag + client id][empty][body...] */
        zmsg_t *msg = zmsg_dup(r->body);
        size_t idlen = zframe_size(r->client);
        zframe_t *env = zframe_new(NULL, 8 + idlen);
        uint64_t tag = request_tag(b, r);
        memcpy(zframe_data(env), &tag, 8);
        memcpy(zframe_data(env) + 8, zframe_data(r->client), idlen);
        zmsg_pushmem(msg, NULL, 0);
        zmsg_prepend(msg, &env);
        send_to_worker(b, best, AC_MDPW_REQUEST, msg);
    }
}

/* ---- backend ---- */

static void on_worker_message(broker_t *b, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop(msg), *empty = zmsg_pop(msg), *proto = zmsg_pop(msg),
             *cmd = zmsg_pop(msg);
    if (!identity || !empty || zframe_size(empty) != 0 || !proto || !zframe_streq(proto, AC_MDPW) ||
        !cmd || zframe_size(cmd) != 1) {
        b->n.malformed++;
        goto done;
    }
    char *key = zframe_strhex(identity);
    worker_t *w = zhashx_lookup(b->workers, key);
    int command = zframe_data(cmd)[0];
    if (w)
        w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
    if (command == AC_MDPW_READY) {
        char *name = zmsg_popstr(msg), *credit = zmsg_popstr(msg);
        long c = credit ? strtol(credit, NULL, 10) : 1;
        if (w || !name || !*name || strlen(name) > 255 || strncmp(name, "mmi.", 4) == 0 ||
            c < 1 || c > 100000) {
            b->n.malformed++;
            if (w)
                worker_delete(b, w, true);
            else
                send_to_identity(b, identity, AC_MDPW_DISCONNECT, NULL);
        } else {
            service_t *s = service_require(b, name);
            if (!s) {
                b->n.malformed++;
                send_to_identity(b, identity, AC_MDPW_DISCONNECT, NULL);
            } else {
                w = calloc(1, sizeof *w);
                w->key = strdup(key);
                w->identity = zframe_dup(identity);
                w->service = s;
                w->credit = (int)c;
                w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
                zhashx_insert(b->workers, key, w);
                zlistx_add_end(s->workers, w);
                b->n.workers_joined++;
                if (b->cfg.verbose)
                    zsys_info("broker: worker %s joined %s with credit %ld", key, name, c);
                dispatch(b, s);
            }
        }
        zstr_free(&name);
        zstr_free(&credit);
    } else if (!w) {
        /* Not a worker we know (e.g. we restarted): tell it to reconnect. */
        b->n.malformed += command != AC_MDPW_HEARTBEAT && command != AC_MDPW_DISCONNECT;
        if (command != AC_MDPW_DISCONNECT)
            send_to_identity(b, identity, AC_MDPW_DISCONNECT, NULL);
    } else if (command == AC_MDPW_REPLY) {
        zframe_t *env = zmsg_pop(msg), *delim = zmsg_pop(msg);
        request_t *r = NULL;
        if (env && zframe_size(env) >= 8 && delim && zframe_size(delim) == 0 && zmsg_size(msg) > 0) {
            uint64_t tag;
            memcpy(&tag, zframe_data(env), 8);
            r = request_by_tag(b, tag);
        } else {
            b->n.malformed++;
        }
        if (r && r->worker == w) {
            list_remove(&w->head, &w->tail, r);
            w->inflight--;
            b->n.replies++;
            send_to_client(b, r->client, w->service->name, &msg);
            request_free(b, r);
            dispatch(b, w->service);
        } else if (env && delim) {
            b->n.stale_replies++;
        }
        zframe_destroy(&env);
        zframe_destroy(&delim);
    } else if (command == AC_MDPW_DISCONNECT) {
        worker_delete(b, w, false);
    } else if (command != AC_MDPW_HEARTBEAT) {
        b->n.malformed++;
    }
    free(key);
done:
    zframe_destroy(&identity);
    zframe_destroy(&empty);
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    zmsg_destroy(&msg);
}

/* ---- frontend ---- */

static void pack_counter(msgpack_packer *pk, const char *name, uint64_t v)
{
    ac_wire_pack_str(pk, name);
    msgpack_pack_uint64(pk, v);
}

static void on_mmi(broker_t *b, zframe_t *client, const char *service, zmsg_t *body)
{
    zmsg_t *reply = zmsg_new();
    if (strcmp(service, "mmi.service") == 0) {
        char *name = zmsg_popstr(body);
        service_t *s = name ? zhashx_lookup(b->services, name) : NULL;
        zmsg_addstr(reply, s && zlistx_size(s->workers) ? "200" : "404");
        zstr_free(&name);
    } else if (strcmp(service, "mmi.stats") == 0) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 14);
        pack_counter(&pk, "requests", b->n.requests);
        pack_counter(&pk, "replies", b->n.replies);
        pack_counter(&pk, "malformed", b->n.malformed);
        pack_counter(&pk, "stale_replies", b->n.stale_replies);
        pack_counter(&pk, "requeued", b->n.requeued);
        pack_counter(&pk, "timeouts", b->n.timeouts);
        pack_counter(&pk, "too_large", b->n.too_large);
        pack_counter(&pk, "queue_full", b->n.queue_full);
        pack_counter(&pk, "workers_expired", b->n.workers_expired);
        pack_counter(&pk, "workers_joined", b->n.workers_joined);
        pack_counter(&pk, "lost", b->n.lost);
        pack_counter(&pk, "unroutable", b->n.unroutable);
        pack_counter(&pk, "workers", zhashx_size(b->workers));
        pack_counter(&pk, "services", zhashx_size(b->services));
        zmsg_addmem(reply, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    } else {
        zmsg_addstr(reply, "501");
    }
    send_to_client(b, client, service, &reply);
}

static void on_client_message(broker_t *b, zmsg_t *msg)
{
    zframe_t *client = zmsg_pop(msg), *empty = zmsg_pop(msg), *proto = zmsg_pop(msg);
    char *service = NULL;
    zframe_t *sframe = zmsg_pop(msg);
    if (!client || !empty || zframe_size(empty) != 0 || !proto || !zframe_streq(proto, AC_MDPC) ||
        !sframe || zframe_size(sframe) == 0 || zframe_size(sframe) > 255 || zmsg_size(msg) == 0) {
        b->n.malformed++;
        goto done;
    }
    service = zframe_strdup(sframe);
    if (strlen(service) != zframe_size(sframe)) {
        b->n.malformed++;
        goto done;
    }
    if (strncmp(service, "mmi.", 4) == 0) {
        on_mmi(b, client, service, msg);
        goto done;
    }
    b->n.requests++;
    if ((long long)zmsg_content_size(msg) > b->cfg.max_message_bytes) {
        b->n.too_large++;
        /* The id is not read out of a body this large: the reply's id is nil. */
        reply_error(b, client, service, NULL, AC_ETOO_LARGE,
                    "request body is larger than the broker's limit%s", "");
        goto done;
    }
    service_t *s = service_require(b, service);
    if (!s) {
        reply_error(b, client, service, msg, AC_EUNAVAILABLE, "no such service '%s'", service);
        goto done;
    }
    if ((long long)s->qlen >= b->cfg.queue_max) {
        b->n.queue_full++;
        reply_error(b, client, service, msg, AC_EUNAVAILABLE, "the %s queue is full", service);
        goto done;
    }
    request_t *r = request_new(b);
    if (!r) {
        reply_error(b, client, service, msg, AC_EINTERNAL, "broker out of memory%s", "");
        goto done;
    }
    r->client = client;
    client = NULL;
    r->body = msg;
    msg = NULL;
    r->service = s;
    r->deadline = zclock_mono() + b->cfg.request_timeout_ms;
    list_push_back(&s->qhead, &s->qtail, r);
    s->qlen++;
    dispatch(b, s);
done:
    zstr_free(&service);
    zframe_destroy(&client);
    zframe_destroy(&empty);
    zframe_destroy(&proto);
    zframe_destroy(&sframe);
    zmsg_destroy(&msg);
}

/* ---- timers ---- */

static void expire(broker_t *b, bool heartbeat)
{
    int64_t now = zclock_mono();
    /* Workers that stopped talking. */
    zlistx_t *dead = zlistx_new();
    for (worker_t *w = zhashx_first(b->workers); w; w = zhashx_next(b->workers)) {
        if (w->expiry < now)
            zlistx_add_end(dead, w);
        else if (heartbeat)
            send_to_worker(b, w, AC_MDPW_HEARTBEAT, NULL);
    }
    for (worker_t *w = zlistx_first(dead); w; w = zlistx_next(dead)) {
        b->n.workers_expired++;
        if (b->cfg.verbose)
            zsys_info("broker: worker %s expired", w->key);
        worker_delete(b, w, false);
    }
    zlistx_destroy(&dead);
    /* Requests that waited too long for a worker. */
    for (service_t *s = zhashx_first(b->services); s; s = zhashx_next(b->services)) {
        request_t *r = s->qhead;
        while (r) {
            request_t *next = r->next;
            if (r->deadline <= now) {
                list_remove(&s->qhead, &s->qtail, r);
                s->qlen--;
                b->n.timeouts++;
                reply_error(b, r->client, s->name, r->body, AC_EUNAVAILABLE,
                            "no %s worker answered in time", s->name);
                request_free(b, r);
            }
            r = next;
        }
    }
}

static size_t inflight_count(broker_t *b)
{
    size_t n = 0;
    for (worker_t *w = zhashx_first(b->workers); w; w = zhashx_next(b->workers))
        n += (size_t)w->inflight;
    return n;
}

static void run(broker_t *b)
{
    zmq_pollitem_t items[] = {{zsock_resolve(b->frontend), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve(b->backend), 0, ZMQ_POLLIN, 0}};
    b->heartbeat_at = zclock_mono() + b->cfg.heartbeat_ms;
    int64_t tick = b->cfg.heartbeat_ms < 100 ? b->cfg.heartbeat_ms : 100, next_tick = zclock_mono() + tick;
    int64_t stop_at = 0;
    for (;;) {
        if (zsys_interrupted && !stop_at) {
            stop_at = zclock_mono() + b->cfg.grace_ms;
            zsys_interrupted = 0;
            if (b->cfg.verbose)
                zsys_info("broker: stopping; %zu requests in flight", inflight_count(b));
        }
        if (stop_at && (inflight_count(b) == 0 || zclock_mono() >= stop_at || zsys_interrupted))
            break;
        int64_t wait = next_tick - zclock_mono();
        /* While stopping, the frontend is not read: nothing new is accepted. */
        int rc = zmq_poll(stop_at ? items + 1 : items, stop_at ? 1 : 2, wait > 0 ? (long)wait : 0);
        if (rc < 0 && errno != EINTR)
            break;
        for (int n = 0; n < 256; n++) {
            bool any = false;
            zmsg_t *msg;
            if (!stop_at && (msg = zmsg_recv_nowait(b->frontend))) {
                on_client_message(b, msg);
                any = true;
            }
            if ((msg = zmsg_recv_nowait(b->backend))) {
                on_worker_message(b, msg);
                any = true;
            }
            if (!any)
                break;
        }
        int64_t now = zclock_mono();
        if (now >= next_tick) {
            bool hb = now >= b->heartbeat_at;
            if (hb)
                b->heartbeat_at = now + b->cfg.heartbeat_ms;
            expire(b, hb);
            next_tick = now + tick;
        }
    }
    /* Whatever is left gets an answer, not silence. */
    for (service_t *s = zhashx_first(b->services); s; s = zhashx_next(b->services)) {
        while (s->qhead) {
            request_t *r = s->qhead;
            list_remove(&s->qhead, &s->qtail, r);
            reply_error(b, r->client, s->name, r->body, AC_EUNAVAILABLE, "the broker is %s",
                        "shutting down");
            request_free(b, r);
        }
    }
    for (worker_t *w = zhashx_first(b->workers); w; w = zhashx_next(b->workers)) {
        while (w->head) {
            request_t *r = w->head;
            list_remove(&w->head, &w->tail, r);
            reply_error(b, r->client, w->service->name, r->body, AC_EUNAVAILABLE,
                        "the broker is %s", "shutting down");
            request_free(b, r);
        }
        send_to_worker(b, w, AC_MDPW_DISCONNECT, NULL);
    }
}

static zsock_t *router(broker_t *b, const char *endpoint)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    if (!s)
        return NULL;
    zsock_set_router_mandatory(s, 1);
    zsock_set_linger(s, 500);
    zsock_set_maxmsgsize(s, b->cfg.socket_max_bytes);
    zsock_set_rcvhwm(s, 1000000);
    zsock_set_sndhwm(s, 1000000);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        fprintf(stderr, "actorcore-broker: cannot bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
    }
    return s;
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

static void service_free(void **item)
{
    service_t *s = *item;
    zlistx_destroy(&s->workers);
    free(s->name);
    free(s);
    *item = NULL;
}

int main(int argc, char **argv)
{
    broker_t b;
    memset(&b, 0, sizeof b);
    config_t *c = &b.cfg;
    c->frontend = strdup(AC_DEFAULT_FRONTEND);
    c->backend = strdup(AC_DEFAULT_BACKEND);
    c->events_in = strdup(AC_DEFAULT_EVENTS_IN);
    c->events_out = strdup(AC_DEFAULT_EVENTS_OUT);
    c->heartbeat_ms = 2500;
    c->liveness = 3;
    c->queue_max = 100000;
    c->request_timeout_ms = 10000;
    c->max_message_bytes = 1 << 20;
    c->max_requeues = 3;
    c->socket_max_bytes = 16 << 20;
    c->grace_ms = 5000;
    c->max_services = 64;
    ac_setting_t t[] = {
        {"frontend", AC_SET_STR, &c->frontend, 0, 0, "clients' endpoint (ROUTER, bound)"},
        {"backend", AC_SET_STR, &c->backend, 0, 0, "workers' endpoint (ROUTER, bound)"},
        {"events_in", AC_SET_STR, &c->events_in, 0, 0, "workers publish here (XSUB, bound)"},
        {"events_out", AC_SET_STR, &c->events_out, 0, 0, "subscribers connect here (XPUB, bound)"},
        {"heartbeat_ms", AC_SET_INT, &c->heartbeat_ms, 10, 600000, "MDP heartbeat interval"},
        {"liveness", AC_SET_INT, &c->liveness, 1, 100, "heartbeats a worker may miss"},
        {"queue_max", AC_SET_INT, &c->queue_max, 1, 100000000, "queued requests per service"},
        {"request_timeout_ms", AC_SET_INT, &c->request_timeout_ms, 1, 86400000, "how long a request may wait for a worker"},
        {"max_message_bytes", AC_SET_INT, &c->max_message_bytes, 64, 1ll << 30, "largest request body answered (else too_large)"},
        {"max_requeues", AC_SET_INT, &c->max_requeues, 0, 1000, "times a request may lose its worker"},
        {"socket_max_bytes", AC_SET_INT, &c->socket_max_bytes, 1024, 1ll << 31, "ZMQ_MAXMSGSIZE: larger messages drop the connection"},
        {"grace_ms", AC_SET_INT, &c->grace_ms, 0, 600000, "on SIGTERM, how long to wait for in-flight replies"},
        {"max_services", AC_SET_INT, &c->max_services, 1, 100000, "distinct service names accepted"},
        {"verbose", AC_SET_BOOL, &c->verbose, 0, 0, "log workers joining and leaving"},
    };
    size_t n = sizeof t / sizeof t[0];
    int parsed = ac_settings_parse_args(argc, argv, "actorcore-broker", "broker", s_usage_head, t, n);
    if (parsed >= 0) {
        ac_settings_free(t, n);
        return parsed;
    }

    zsys_init();
    zsys_set_logstream(c->verbose ? stderr : NULL);
    msgpack_zone_init(&b.zone, 4096);
    b.services = zhashx_new();
    zhashx_set_destructor(b.services, service_free);
    b.workers = zhashx_new();
    b.frontend = router(&b, c->frontend);
    b.backend = router(&b, c->backend);
    int status = 0;
    if (!b.frontend || !b.backend) {
        status = 2;
        goto out;
    }
    b.proxy = zactor_new(zproxy, NULL);
    zstr_sendx(b.proxy, "FRONTEND", "XSUB", c->events_in, NULL);
    zsock_wait(b.proxy);
    zstr_sendx(b.proxy, "BACKEND", "XPUB", c->events_out, NULL);
    zsock_wait(b.proxy);
    fprintf(stderr, "actorcore-broker: clients %s, workers %s, events in %s, out %s\n",
            c->frontend, c->backend, c->events_in, c->events_out);
    run(&b);
    if (c->verbose)
        fprintf(stderr,
                "actorcore-broker: requests %" PRIu64 ", replies %" PRIu64 ", malformed %" PRIu64
                ", requeued %" PRIu64 ", stale %" PRIu64 "\n",
                b.n.requests, b.n.replies, b.n.malformed, b.n.requeued, b.n.stale_replies);
out:
    zactor_destroy(&b.proxy);
    /* Workers' in-flight lists were emptied by run(); free the records. */
    for (worker_t *w = zhashx_first(b.workers); w; w = zhashx_next(b.workers)) {
        zframe_destroy(&w->identity);
        free(w->key);
        free(w);
    }
    zhashx_destroy(&b.workers);
    zhashx_destroy(&b.services);
    for (uint32_t i = 0; i < b.cap; i++)
        if (b.slab[i])
            request_free(&b, b.slab[i]);
    free(b.slab);
    free(b.gen);
    free(b.free_slots);
    zsock_destroy(&b.frontend);
    zsock_destroy(&b.backend);
    msgpack_zone_destroy(&b.zone);
    ac_settings_free(t, n);
    return status;
}
