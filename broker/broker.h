/*  broker.h - actorcore-broker, the Majordomo (MDP/0.1, ZeroMQ RFC 7) broker of actorcore:
    the state its files share.

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

    One thread, one broker_t, one file per concern: queue.c owns requests (the slab that
    makes tags, the service queues, dispatch by credit, re-queue, request timeouts, the
    frontend's messages and the replies to clients); workers.c owns workers (READY,
    heartbeats, expiry, disconnect, the backend's messages); mmi.c answers `mmi.*`
    requests; events.c runs the event forwarder; main.c reads the settings, binds the
    sockets and runs the poll loop.
*/
#ifndef AC_BROKER_H
#define AC_BROKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "actorcore/actorcore.h"
#include "actorcore/wire.h"
#include "service/mdp.h"

typedef struct service service_t;
typedef struct worker worker_t;
typedef struct request request_t;

struct request {
    uint32_t slot;          /* index in the broker's slab */
    zframe_t *client;       /* the client's routing id */
    zmsg_t *body;           /* body frames */
    service_t *service;     /* where it queues */
    worker_t *worker;       /* holder, NULL while queued */
    int64_t deadline;       /* when a queued request times out */
    int requeues;           /* times its worker was lost */
    request_t *prev, *next; /* queue or worker's in-flight list */
};

struct worker {
    char *key;              /* hex of the identity, the workers hash key */
    zframe_t *identity;     /* routing id */
    service_t *service;     /* the service it serves */
    int credit;             /* outstanding requests allowed */
    int inflight;           /* outstanding requests now */
    int64_t expiry;         /* when it is presumed dead */
    request_t *head, *tail; /* requests it holds */
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
    uint64_t requests, replies, malformed, stale_replies, requeued, timeouts, too_large, queue_full,
        workers_expired, workers_joined, lost, unroutable;
} counters_t;

typedef struct {
    config_t cfg;         /* settings in force */
    zsock_t *frontend;    /* clients' ROUTER */
    zsock_t *backend;     /* workers' ROUTER */
    zactor_t *proxy;      /* the event forwarder (zproxy) */
    zhashx_t *services;   /* name -> service_t */
    zhashx_t *workers;    /* key -> worker_t */
    request_t **slab;     /* slot -> request, NULL when free */
    uint32_t *gen;        /* slot -> generation, bumped on free */
    uint32_t *free_slots; /* stack of free slots */
    uint32_t nfree, cap;  /* free slots; slab capacity */
    int64_t heartbeat_at; /* next heartbeat to workers */
    counters_t n;         /* counters */
    msgpack_zone zone;    /* for reading ids out of bodies */
} broker_t;

/* queue.c */
void request_free(broker_t *b, request_t *r);
/* The request holding that tag, or NULL when the tag is stale or unknown. */
request_t *request_by_tag(broker_t *b, uint64_t tag);
void list_remove(request_t **head, request_t **tail, request_t *r);
/* Sends *body to the client under that service name; *body is consumed. */
void send_to_client(broker_t *b, zframe_t *client, const char *service, zmsg_t **body);
/* Answers a request body with an error, echoing the request's id when it has one. */
void reply_error(broker_t *b, zframe_t *client, const char *service, zmsg_t *body, int code,
                 const char *fmt, const char *arg);
/* The service of that name, created on first use; NULL past max_services. */
service_t *service_require(broker_t *b, const char *name);
/* Sends queued requests to the least-loaded workers with credit left. */
void dispatch(broker_t *b, service_t *s);
/* Puts every request w holds back at the front of its service's queue, oldest first
   (past max_requeues: answered instead); w holds none after. */
void requeue_held(broker_t *b, worker_t *w);
/* Answers `unavailable` to the queued requests whose deadline is past at now. */
void expire_requests(broker_t *b, int64_t now);
void on_client_message(broker_t *b, zmsg_t *msg);

/* workers.c */
void send_to_worker(broker_t *b, worker_t *w, int command, zmsg_t *msg);
/* Deletes the workers silent past their expiry at now; heartbeats the others if asked. */
void expire_workers(broker_t *b, int64_t now, bool heartbeat);
void on_worker_message(broker_t *b, zmsg_t *msg);

/* mmi.c */
/* Answers an `mmi.*` request (RFC 8) from client. */
void on_mmi(broker_t *b, zframe_t *client, const char *service, zmsg_t *body);

/* events.c */
/* Starts the XSUB (events_in) -> XPUB (events_out) forwarder as b->proxy. */
void events_start(broker_t *b);
void events_stop(broker_t *b);

#endif
