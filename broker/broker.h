/*  broker.h - actorcore-broker, the Majordomo (MDP/0.1, ZeroMQ RFC 7) broker of actorcore:
    the state its files share.

    Clients speak MDP client on the frontend ROUTER, workers MDP worker on the backend
    ROUTER. Beyond the reference Majordomo broker:
    - credit: a worker's READY may carry its credit (ASCII decimal frame); the broker keeps
      up to that many requests outstanding at it (a plain MDP worker gets credit 1);
    - actor-affine dispatch: a request that names an actor goes to that actor's owner among
      the service's live workers (rendezvous hashing over a fixed set of buckets), unless
      the owner holds more than ceil((1 + epsilon) * average) requests: then to the
      actor's next choice ("consistent hashing with bounded loads"); a request that names
      no actor goes to the least-loaded worker (a heap: O(log workers));
    - nothing is lost: every dispatched request stays owned by the broker until its reply
      arrives; when a worker expires or disconnects, every request it held goes back to the
      front of the queue (resolve is idempotent), up to max_requeues times;
    - no duplicates: a request's envelope carries a tag (slot + generation); a reply whose
      tag is not held by the worker sending it is dropped and counted;
    - bounded and fair: every table has a bound (services, workers, client queues, request
      slots, the bytes of held requests); within a service, queued requests are served
      round-robin across clients, so one client's backlog delays another by one request
      per backlogged client; a service entry without workers nor requests is reclaimed;
    - malformed frames are dropped and counted; the broker never exits on bad traffic;
    - MMI (RFC 8): mmi.service; and mmi.stats returns the broker's counters (msgpack);
    - an XSUB -> XPUB forwarder (zmq_proxy_steerable in a thread) carries workers'
      snapshot events to subscribers.
    SIGINT/SIGTERM: stop accepting, wait (up to a grace period) for in-flight replies,
    answer what is left with `unavailable`, exit 0.

    The hot path allocates nothing and copies no body bytes: frames are libzmq messages
    (zmq_msg_t) received into a reused array and moved; the copy kept for re-queue is a
    zmq_msg_copy, which shares the buffer; identities are bytes kept inline; requests live
    in a slab of chunks that is only ever grown.

    One thread, one broker_t, one file per concern: frames.c receives and sends multipart
    messages; itab.c is the open-addressing index behind the three lookup tables; queue.c
    owns requests (the slab that makes tags, services, client queues, admission, timeouts,
    re-queue, replies to clients); dispatch.c chooses workers (the least-loaded heap, the
    affinity buckets); skim.c finds the actor a body names; workers.c owns workers (READY,
    replies, heartbeats, expiry); mmi.c answers `mmi.*` requests; events.c runs the event
    forwarder; metrics.c writes the `/metrics` text (service/http.h, polled by the same
    loop: no thread); main.c reads the settings, binds the sockets and runs the poll loop.
*/
#ifndef AC_BROKER_H
#define AC_BROKER_H

#include <czmq.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "actorcore/actorcore.h"
#include "actorcore/wire.h"
#include "service/curve.h"
#include "service/log.h"
#include "service/http.h"
#include "service/mdp.h"
#include "service/metrics.h"

#define BODY_FRAMES_MAX 4                /* body frames a request may have (SPEC: one) */
#define FRAMES_MAX (6 + BODY_FRAMES_MAX) /* frames of the longest message we accept */
#define IDENT_MAX 255                    /* ZeroMQ routing ids are 1..255 bytes */
#define SLAB_CHUNK 256                   /* requests per slab chunk */
#define AFFINITY_BUCKETS 4096            /* actors hash into these; each has owners */
#define AFFINITY_CHOICES 4               /* owners kept per bucket, best first */

#define BROKER_DEFAULT_STATE "var/broker.state" /* the floors file when none is set */
#define FLOOR_SETS 16384                        /* sets of the floor table (floors.c) */
#define FLOOR_WAYS 8                            /* actors kept exactly per set */
#define FLOOR_IDS_MAX AC_FLOORS_IDS_MAX         /* actors of one request given their floor */

typedef struct service service_t;
typedef struct worker worker_t;
typedef struct request request_t;
typedef struct cqueue cqueue_t;

/* A routing id, kept as bytes. */
typedef struct {
    uint8_t len;          /* 1..255 */
    uint8_t b[IDENT_MAX]; /* the bytes */
} ident_t;

/* A multipart message as received: its frames in order. */
typedef struct {
    zmq_msg_t f[FRAMES_MAX]; /* frames; those past n are empty */
    int n;                   /* frames received */
    bool overflow;           /* more than FRAMES_MAX frames arrived (the rest dropped) */
} mpart_t;

/* A doubly linked list of requests through their prev/next. */
typedef struct {
    request_t *head, *tail;
} rlist_t;

/* A request's op, as the metrics label it (skim.c reads it; BOP_OTHER: anything else). */
enum { BOP_RESOLVE, BOP_BATCH, BOP_GET, BOP_INVALIDATE, BOP_OTHER, BOP_COUNT };
#define BROKER_CODES 16 /* error codes by -code (actorcore/error.h: -1 .. -15) */

/* What a fan-out request (fanout.c) does with its workers' answers. */
enum { FAN_NONE, FAN_INVALIDATE, FAN_GET, FAN_RESOLVE, FAN_ADMIN };

struct request {
    uint32_t slot;                   /* index in the slab */
    uint32_t gen;                    /* bumped when freed: tag = gen << 32 | slot */
    bool live;                       /* in use */
    bool has_key;                    /* names an actor: key is its hash */
    uint8_t nbody;                   /* body frames */
    bool packed;                     /* its client spoke packed: so is its answer */
    bool ingest;                     /* a change from ingest.c: no client, no answer */
    uint8_t id_len;                  /* ingest: the actor id's length, */
    uint32_t id_at;                  /* and where it lies in body[0] */
    uint8_t op;                      /* BOP_* (metrics) */
    int64_t t0_us;                   /* arrival, for the latency histogram (0: not timed) */
    int16_t requeues;                /* times its worker was lost */
    uint64_t key;                    /* hash of the actor id, for affinity */
    size_t bytes;                    /* what it costs against queue_max_bytes */
    int64_t deadline;                /* when a queued request times out */
    service_t *service;              /* where it queues */
    worker_t *worker;                /* holder, NULL while queued */
    cqueue_t *cq;                    /* its client queue while queued there, else NULL */
    request_t *prev, *next;          /* queue, or its worker's held list */
    request_t *tprev, *tnext;        /* the timeline of queued requests, in deadline order */
    ident_t client;                  /* the client's routing id */
    zmq_msg_t body[BODY_FRAMES_MAX]; /* body frames */
    /* fan-out (fanout.c): a parent is sent to every worker of its service through children,
       each held by one worker; it is answered when no child is left */
    uint8_t fan;          /* FAN_*: a parent of that kind; FAN_NONE otherwise */
    request_t *parent;    /* a child: its parent; NULL otherwise */
    bool counted;         /* a child counted in its worker's in-flight (FAN_RESOLVE) */
    uint32_t pending;     /* a parent: children not answered yet */
    bool removed;         /* invalidate: a worker had a copy */
    bool refused;         /* admin: a worker answered an error (best holds the first) */
    int64_t best_version; /* get: the highest snapshot Version answered (-1: none) */
    zmq_msg_t best;       /* get: that answer; invalidate / get: else the first error */
    uint64_t hosts[8];    /* resolve: the hosts its replicas were sent to */
    uint8_t nhosts;       /* entries of hosts */
    uint8_t replaced;     /* resolve: replicas sent again after their worker was lost */
};

/* The queue of one client at one service (fair queuing). */
struct cqueue {
    uint32_t index;          /* in the pool */
    bool live;               /* in use */
    service_t *service;      /* the service */
    ident_t client;          /* the client (empty with fair queuing off: one FIFO) */
    rlist_t q;               /* its queued requests, in arrival order */
    size_t len;              /* entries in q */
    cqueue_t *rprev, *rnext; /* ring of the service's non-empty client queues */
};

struct worker {
    uint32_t index;     /* in the pool */
    bool live;          /* in use */
    ident_t id;         /* routing id */
    uint64_t seed;      /* hash of the id: its rendezvous weights */
    uint64_t host;      /* hash of its READY's host label (its seed without one) */
    bool packed;        /* speaks the packed framing (service/mdp.h) */
    service_t *service; /* the service it serves */
    int credit;         /* outstanding requests allowed */
    int inflight;       /* outstanding requests now */
    int heap_pos;       /* place in the service's heap; -1 when it has no credit left */
    int member_pos;     /* place in the service's members */
    int64_t expiry;     /* when it is presumed dead */
    rlist_t held;       /* requests it holds, oldest first */
};

struct service {
    uint32_t index;     /* in the pool */
    bool live;          /* in use */
    uint8_t name_len;   /* bytes of name */
    char name[256];     /* service name, NUL-terminated */
    rlist_t retry;      /* re-queued requests: served before any client queue */
    cqueue_t *ring;     /* next client queue to serve, NULL when none */
    size_t qlen;        /* queued requests (retry + client queues) */
    uint32_t inflight;  /* requests its workers hold */
    worker_t **members; /* live workers, [max_workers] */
    uint32_t nmembers;  /* entries in members */
    worker_t **heap;    /* workers with credit left, least inflight first */
    uint32_t nheap;     /* entries in heap */
    uint32_t *buckets;  /* [AFFINITY_BUCKETS][AFFINITY_CHOICES] worker pool indices */
    uint32_t nchoices;  /* valid choices per bucket: min(nmembers, CHOICES) */
};

/* Entries of one size in chunks of SLAB_CHUNK (queue.c): grown a chunk at a time, never
   shrunk or moved, so pointers to entries stay valid; free entries on a stack of indices. */
typedef struct {
    char **chunks;    /* chunks of SLAB_CHUNK entries */
    uint32_t nchunks; /* chunks allocated */
    uint32_t *free;   /* stack of free indices */
    uint32_t nfree;   /* entries in free */
    size_t elem;      /* bytes of an entry */
} pool_t;

/* An open-addressing index of pool entries (itab.c): slots hold a hash and an index. */
typedef struct {
    uint64_t *slots; /* hash << 32 | (index + 1); 0 when empty */
    uint32_t mask;   /* slots - 1 */
    uint32_t count;  /* entries */
} itab_t;

/* The floor table (floors.c), mapped from the `state` file (or anonymous memory): set i
   holds up to FLOOR_WAYS actors' floors exactly, and the floor of every actor evicted
   from it. */
typedef struct {
    uint64_t hash;  /* the actor id's hash (ac_hash of its bytes); 0: empty */
    uint64_t floor; /* its floor */
} floor_way_t;

typedef struct {
    uint64_t evicted;            /* the highest floor of an actor dropped from the set */
    floor_way_t way[FLOOR_WAYS]; /* actors' floors */
} floor_set_t;

typedef struct {
    char magic[8];   /* "acfloor1" */
    uint64_t sets;   /* FLOOR_SETS */
    uint64_t ways;   /* FLOOR_WAYS */
    uint64_t global; /* the highest floor given (the floor of an actor not read) */
    uint64_t reserved[4];
    floor_set_t set[]; /* [sets] */
} floor_file_t;

typedef struct {
    floor_file_t *map; /* the table */
    size_t bytes;      /* mapped */
    bool file;         /* mapped from the state file (else anonymous) */
} floors_t;

/* Actor changes in (ingest.c). */
typedef struct ingest_entry ingest_entry_t;
typedef struct {
    zsock_t *pull;         /* ingest.pull: producers PUSH */
    zsock_t *sub;          /* ingest.sub: connected to producers' PUB */
    ingest_entry_t *slots; /* actors with a change in the system, open addressing */
    uint32_t mask;         /* slots - 1 */
    uint32_t count;        /* entries */
    uint64_t *ready;       /* actors whose waiting change goes in at the next pump */
    uint32_t nready;       /* entries in ready */
} ingest_t;

/* The primary / backup pair (pair.c). */
enum { PAIR_NONE, PAIR_PRIMARY, PAIR_BACKUP, PAIR_ACTIVE, PAIR_PASSIVE };

typedef struct {
    int role;              /* PAIR_PRIMARY or PAIR_BACKUP (PAIR_NONE: a lone broker) */
    int state;             /* PAIR_* */
    zsock_t *pub;          /* our state and floors, bound at pair.bind */
    zsock_t *sub;          /* the peer's, connected to pair.peer */
    int64_t peer_expiry;   /* the peer is presumed gone after this */
    int64_t beat_at;       /* next heartbeat */
    int64_t table_sent_at; /* when the floor table was last sent to the peer */
    bool heard_peer;       /* the peer spoke since we started */
    bool peer_needs_sync;  /* the peer asks for the floor table */
    bool synced;           /* our floors are the pair's (a passive that synced) */
    uint64_t seq;          /* floors we published */
    uint64_t peer_seq;     /* the peer's last floor applied */
    uint32_t sync_next;    /* the next set of a table being received */
} pair_t;

typedef struct {
    char *pair_role, *pair_bind, *pair_peer;
    char *ingest_pull, *ingest_sub, *ingest_topics;
    long long ingest_max_actors, events_hwm;
    long long pair_heartbeat_ms;
    char *config, *frontend, *backend, *events_in, *events_out, *dispatch, *state;
    char *metrics; /* HOST:PORT of the /metrics endpoint; NULL or "": none */
    char *security, *curve_cert, *curve_clients, *curve_workers; /* auth.c */
    long long heartbeat_ms, liveness, queue_max, request_timeout_ms, max_message_bytes;
    long long max_requeues, socket_max_bytes, grace_ms, max_services, max_workers;
    long long queue_max_bytes, client_queue_max, frontend_hwm, replicas;
    double affinity_epsilon;
    bool verbose, fair_queuing;
    char *log_level; /* debug, info, warn or error */
} config_t;

typedef struct {
    uint64_t requests, replies, malformed, stale_replies, requeued, timeouts, too_large, queue_full,
        workers_expired, workers_joined, lost, unroutable;
    uint64_t queue_bytes_full;     /* refused: the held bytes would pass queue_max_bytes */
    uint64_t client_queue_full;    /* refused: the client's queue is at client_queue_max */
    uint64_t services_evicted;     /* entries without workers dropped for a new name */
    uint64_t services_refused;     /* new names refused: max_services have workers */
    uint64_t workers_refused;      /* READY refused: the worker table is full */
    uint64_t affine_hits;          /* went to the actor's owner */
    uint64_t affine_spills;        /* named an actor, went elsewhere (bound or credit) */
    uint64_t least_loaded;         /* named no actor (or affinity off): least-loaded */
    uint64_t owner_changes;        /* buckets whose owner changed with the membership */
    uint64_t load_bound_exceeded;  /* dispatches leaving a worker past the bound + 1 */
    uint64_t workers_disconnected; /* workers found gone when their connection dropped */
    uint64_t auth_admitted;        /* CURVE handshakes whose key was in its domain's folder */
    uint64_t auth_refused;         /* CURVE handshakes refused (unknown key, wrong domain) */
    uint64_t fanouts;              /* requests sent to every worker of their service */
    uint64_t fanout_lost;          /* children whose worker was lost before answering */
    uint64_t replicas_replaced;    /* resolve replicas sent again: their worker was lost */
    uint64_t invalidations;        /* floors raised by invalidate */
    uint64_t floor_evictions;      /* actors whose exact floor was folded into their set's */
    uint64_t floors_applied;       /* pair: floors learnt from the active peer */
    uint64_t ingest_received;      /* changes in (well-formed) */
    uint64_t ingest_malformed;     /* changes dropped: not a resolve item */
    uint64_t ingest_coalesced;     /* waiting changes replaced by a newer one */
    uint64_t ingest_stale;         /* changes older than the actor's in the system: dropped */
    uint64_t ingest_queued;        /* resolves queued from changes */
    uint64_t ingest_resolved;      /* of those, answered ok */
    uint64_t ingest_failed;        /* answered with an error, or given up on */
    uint64_t ingest_dropped;       /* could not be queued (no memory) */
    uint64_t ingest_published;     /* snapshots of changes published */
    uint64_t takeovers;            /* pair: times this broker became active */
    uint64_t passive_refused;      /* pair: client requests refused while not active */
} counters_t;

/* The public keys admitted in one ZAP domain: a folder of certificates (auth.c). */
typedef struct {
    const char *dir;     /* the folder (the setting's string) */
    zcertstore_t *store; /* its keys as last read */
    size_t count;        /* certificates in store */
    int64_t mtime;       /* the folder's modification time when read (ns) */
    int64_t loaded_at;   /* when read (zclock_mono) */
} keyset_t;

/* security: curve (auth.c); all NULL with security none. */
typedef struct {
    zcert_t *cert;    /* the broker's key pair */
    zsock_t *zap;     /* REP at inproc://zeromq.zap.01 */
    keyset_t clients; /* curve.clients: may call (frontend, events_out) */
    keyset_t workers; /* curve.workers: may serve (backend, events_in) */
} auth_t;

/* The event forwarder (events.c), run by the poll loop. */
typedef struct {
    zsock_t *xsub; /* events_in: workers publish here */
    zsock_t *xpub; /* events_out: subscribers connect here */
} events_t;

typedef struct {
    config_t cfg;                /* settings in force */
    bool affine;                 /* dispatch: affine */
    zsock_t *frontend;           /* clients' ROUTER */
    zsock_t *backend;            /* workers' ROUTER */
    void *fe, *be;               /* their libzmq handles */
    zsock_t *monitor;            /* PAIR: the backend's disconnection events */
    int64_t probe_until;         /* after a disconnection: probe workers until then (0: no) */
    int64_t probe_at;            /* next probe */
    events_t events;             /* the event forwarder */
    auth_t auth;                 /* CURVE keys and the ZAP handler */
    floors_t floors;             /* per-actor invalidation floors (floors.c) */
    pair_t pair;                 /* the primary / backup pair (pair.c) */
    ingest_t ingest;             /* actor changes in (ingest.c) */
    uint64_t ids[FLOOR_IDS_MAX]; /* scratch: the actors a request names (skim_body) */
    mpart_t in;                  /* the message being handled */
    bool in_packed;              /* it came packed from a client (rewritten as plain MDP) */
    /* requests */
    pool_t requests;   /* the slab of request_t: slot = pool index */
    size_t held_bytes; /* bytes of every request the broker holds */
    size_t nrequests;  /* requests the broker holds (queued or in flight) */
    rlist_t timeline;  /* queued requests by deadline (linked via tprev/tnext) */
    /* services */
    service_t *services; /* pool, [2 * max_services] */
    uint32_t nservices;  /* live entries */
    uint32_t served;     /* live entries with workers */
    itab_t service_ix;   /* name -> service */
    /* workers */
    worker_t *workers;      /* pool, [max_workers] */
    uint32_t nworkers;      /* live entries */
    uint32_t *free_workers; /* stack of free pool indices */
    itab_t worker_ix;       /* routing id -> worker */
    /* client queues */
    pool_t cqueues;       /* the pool of cqueue_t */
    uint32_t ncqs;        /* live client queues */
    itab_t cq_ix;         /* (service, client) -> client queue */
    int64_t heartbeat_at; /* next heartbeat to workers */
    counters_t n;         /* counters */
    /* metrics (metrics.c) */
    ac_http_t *http;                       /* the /metrics endpoint, NULL when off */
    uint64_t op_requests[BOP_COUNT];       /* client requests queued, by op */
    uint64_t errors_by_code[BROKER_CODES]; /* errors the broker answered itself, by -code */
    ac_hist_t op_latency[BOP_COUNT];       /* arrival to answer, by op (metrics on only) */
    msgpack_zone zone;                     /* for reading ids out of bodies (error replies) */
} broker_t;

/* setup.c */
/* The defaults of every setting, before a --config file and the flags. */
void broker_config_defaults(config_t *c);
/* The tables, the two ROUTERs, the monitor, ZAP, the pair, ingest and the event
   forwarder; -1 when a socket cannot bind (the setting and the reason are on stderr) or
   memory runs out. */
int broker_setup(broker_t *b);
/* Frees what broker_setup made, whether it succeeded or not. */
void broker_teardown(broker_t *b);

/* frames.c */
/* Receives one whole message from sock into m without waiting; false when none. */
bool frames_recv(void *sock, mpart_t *m);
/* Empties the frames of m (after a message was handled). */
void frames_reset(mpart_t *m);
/* Sends bytes as one frame; more: ZMQ_SNDMORE. -1 when the peer is unroutable. */
int frame_send(void *sock, const void *data, size_t len, bool more);
/* Sends msg (moved: empty after), or a shared copy of it when keep. */
int frame_send_msg(void *sock, zmq_msg_t *msg, bool keep, bool more);
/* True when frame f of m holds exactly the bytes of s. */
bool frame_is(const mpart_t *m, int f, const char *s);
bool ident_from(ident_t *id, const zmq_msg_t *frame);

/* itab.c: eq(ctx, index, key) says whether pool entry index has that key. */
typedef bool (*itab_eq_fn)(const void *ctx, uint32_t index, const void *key);
int itab_init(itab_t *t, uint32_t capacity);
void itab_fini(itab_t *t);
/* The index of the entry with that key, or -1. */
int64_t itab_find(const itab_t *t, uint32_t hash, itab_eq_fn eq, const void *ctx, const void *key);
/* Adds index under hash (the caller checked it is absent); grows when half full: -1 when
   out of memory. */
int itab_insert(itab_t *t, uint32_t hash, uint32_t index);
void itab_remove(itab_t *t, uint32_t hash, uint32_t index);
uint32_t ident_hash(const ident_t *id, uint32_t salt);

/* queue.c */
#define SKIM_BUDGET 256 /* msgpack objects the affinity skim may read */
/* A new request (counted held); NULL when out of memory. */
request_t *request_new(broker_t *b);
void request_free(broker_t *b, request_t *r);
/* r, held by no worker, goes back to the front of its queue (or is answered past
   max_requeues). */
void requeue_request(broker_t *b, request_t *r);
/* The request holding that tag, or NULL when the tag is stale or unknown. */
request_t *request_by_tag(broker_t *b, uint64_t tag);
uint64_t request_tag(const request_t *r);
void rlist_push_back(rlist_t *l, request_t *r);
void rlist_remove(rlist_t *l, request_t *r);
/* The next request to serve at s (retries first, then the client queues in turn), taken
   off its queue; NULL when none. */
request_t *queue_pop(broker_t *b, service_t *s);
/* Sends [client][empty][MDPC01][service] then the frames of body from index from (moved). */
void send_to_client(broker_t *b, const ident_t *client, const service_t *s, const char *name,
                    mpart_t *body, int from);
/* Appends r to s's queue (the client queue of its client), counted in qlen. */
void queue_append(broker_t *b, service_t *s, request_t *r);
/* The answer to r: packed when its client spoke packed, else as send_to_client. */
void send_answer(broker_t *b, const request_t *r, mpart_t *body, int from);
/* Answers a client with an error, echoing the id of body (NULL: nil id). */
void reply_error(broker_t *b, const ident_t *client, const char *service, const zmq_msg_t *body,
                 int code, const char *fmt, const char *arg);
/* The `id` of a request body (parsed in b->zone: valid until its next use), or NULL. */
const msgpack_object *body_id(broker_t *b, const zmq_msg_t *body);
/* The same with the error's path. */
void reply_error_at(broker_t *b, const ident_t *client, const char *service, const zmq_msg_t *body,
                    int code, const char *path, const char *msg);
/* The service of that name, or NULL. */
service_t *service_find(broker_t *b, const char *name, size_t len);
/* The service of that name, created when absent (evicting an entry without workers when
   the pool is full); NULL when every entry is taken by services with workers. */
service_t *service_require(broker_t *b, const char *name, size_t len);
/* Frees s when it has no worker and no request. */
void service_reclaim(broker_t *b, service_t *s);
/* Puts every request w holds back at the front of its service's queue, oldest first
   (past max_requeues: answered instead); w holds none after. */
void requeue_held(broker_t *b, worker_t *w);
/* Answers `unavailable` to the queued requests whose deadline is past at now. */
void expire_requests(broker_t *b, int64_t now);
/* Answers every request the broker holds with `unavailable` (shutdown). */
void drain_requests(broker_t *b);
void on_client_message(broker_t *b);
int queue_init(broker_t *b);
void queue_fini(broker_t *b);

/* dispatch.c */
/* Sends queued requests of s to workers with credit left (affine or least-loaded). */
void dispatch(broker_t *b, service_t *s);
/* Membership: w joins / leaves its service's workers, heap and affinity buckets. */
int service_add_worker(broker_t *b, service_t *s, worker_t *w);
void service_remove_worker(broker_t *b, service_t *s, worker_t *w);
/* Sends w the request: [REQUEST][tag of tagged + client][empty][body of from...][floors]. */
void send_to(broker_t *b, worker_t *w, const request_t *tagged, request_t *from,
             const uint8_t *floors, size_t flen);
/* The worker r goes to (s has a worker with credit): affine or least-loaded. */
worker_t *choose_worker(broker_t *b, service_t *s, const request_t *r);
/* w takes r: held by it and counted in its in-flight requests. */
void worker_take(broker_t *b, service_t *s, worker_t *w, request_t *r);
/* w's in-flight count went down by one (a reply): back in the heap or moved up. */
void worker_released(service_t *s, worker_t *w);
/* skim.c */
enum { SKIM_OP_OTHER, SKIM_OP_RESOLVE, SKIM_OP_GET, SKIM_OP_INVALIDATE, SKIM_OP_ADMIN };
typedef struct {
    int op;         /* SKIM_OP_* of the body's `op` */
    bool batch;     /* the body has `items`, or its op is resolve_batch */
    bool one_actor; /* at least one actor id, all the same: key is its hash */
    bool complete;  /* the whole body was read and every id fits in ids */
    uint64_t key;   /* the first id's hash */
    uint64_t *ids;  /* the ids' hashes, in order (repeats kept); [cap], may be NULL */
    uint32_t nids;  /* ids found (may pass cap) */
    uint32_t cap;   /* room in ids */
} skim_info_t;
/* Skims a body reading at most budget objects; false when it cannot be read whole. */
bool skim_body(const uint8_t *p, size_t n, int budget, skim_info_t *out);
/* The bytes of the value of `key` in the top-level map of a msgpack body (bounded by the
   body's size); false when the body has none or cannot be read. */
bool skim_value(const uint8_t *p, size_t n, const char *key, const uint8_t **value,
                size_t *value_len);
/* The hash of the actor a request body names, when a bounded skim finds one. */
bool skim_actor(const uint8_t *p, size_t n, uint64_t *key);

/* floors.c: coherence. Every actor has a floor, a stamp of the last time it was
   invalidated (microseconds since the epoch, strictly increasing); a worker serves a
   cached snapshot only when the floor it was computed under is at least the actor's
   floor now, and stamps what it computes with the floor it was given. */
/* Maps the table from cfg.state (created when missing; "none": memory only, every floor
   starts at now, so nothing cached before counts). -1 with the reason on stderr. */
int floors_open(broker_t *b);
void floors_close(broker_t *b);
/* The floor of the actor whose id hashes to h. */
uint64_t floors_of(const broker_t *b, uint64_t h);
/* Raises that actor's floor to a new stamp (above every floor given so far); returns it. */
uint64_t floors_raise(broker_t *b, uint64_t h);
/* Applies a floor learnt from the pair's peer (hash 0: the global floor only). */
void floors_apply(broker_t *b, uint64_t h, uint64_t floor);
/* Applies n sets of the peer's table from set first. */
void floors_apply_sets(broker_t *b, uint32_t first, const floor_set_t *sets, uint32_t n);
/* Raises every floor to a new stamp: nothing cached before counts (a takeover unsynced). */
void floors_raise_all(broker_t *b);
/* The floors frame for r's body: [global][n][n x (hash, floor)], little-endian; written to
   out (AC_FLOORS_FRAME_MAX bytes); returns its length. */
size_t floors_frame(broker_t *b, const request_t *r, uint8_t *out);

/* ingest.c */
/* Binds ingest.pull and connects ingest.sub (neither set: nothing). -1 with the reason on
   stderr. */
int ingest_start(broker_t *b);
void ingest_stop(broker_t *b);
/* True while the PULL socket may be read (the table has room). */
bool ingest_readable(const broker_t *b);
/* Reads changes from sock (pull or sub). */
void ingest_on_readable(broker_t *b, zsock_t *sock);
/* One change as received, [topic][body]: checked, then queued, or kept waiting behind the
   actor's change in the system, or counted malformed or stale. */
void ingest_on_change(broker_t *b, mpart_t *m);
/* The change of the actor with hash h in the system is done (answered or given up). */
void ingest_done(broker_t *b, uint64_t h);
/* Queues the changes that waited for one that is done. */
void ingest_pump(broker_t *b);
/* A change's answer: its snapshot is published on snap/<actor_id> (by the broker, so that
   an actor's snapshots go out in order whichever workers computed them). */
void ingest_answered(broker_t *b, const request_t *r, const zmq_msg_t *body);

/* pair.c */
/* Binds and connects the pair's sockets (pair.role none: nothing). -1 with the setting at
   fault on stderr. */
int pair_start(broker_t *b);
void pair_stop(broker_t *b);
const char *pair_state_name(int state);
/* True when this broker serves clients now. */
bool pair_serves(const broker_t *b);
/* A client's request arrived: true when it is to be served (possibly taking over now). */
bool pair_client_request(broker_t *b);
/* The active publishes every floor it raises to the peer. */
void pair_floor_raised(broker_t *b, uint64_t hash, uint64_t stamp);
/* Reads the peer's messages (when poll said readable). */
void pair_on_readable(broker_t *b);
/* Heartbeats (and the floor table when the peer asks). */
void pair_tick(broker_t *b);

/* fanout.c */
/* When r (popped from s's queue) is a fan-out request and s has workers: sends it to each
   and returns true (r is then answered by fanout_reply / fanout_lost). */
bool fanout_start(broker_t *b, service_t *s, request_t *r);
/* A child's answer (the message in b->in, body at frame from). */
void fanout_reply(broker_t *b, worker_t *w, request_t *child, int from);
/* A child's worker was lost: the child is dropped, its parent answered when it was the
   last. */
void fanout_lost(broker_t *b, worker_t *w, request_t *child);

/* workers.c */
/* Sends [id][empty][MDPW01][command] (no more frames when !more). */
int send_worker_command(broker_t *b, const ident_t *id, int command, bool more);
/* Deletes the workers silent past their expiry at now; heartbeats the others if asked. */
void expire_workers(broker_t *b, int64_t now, bool heartbeat);
/* Tells every worker to disconnect and frees them (shutdown). */
void disconnect_workers(broker_t *b);
void on_worker_message(broker_t *b);
/* Watches the backend for dropped connections (zmq_socket_monitor). -1 on failure. */
int monitor_start(broker_t *b);
void monitor_stop(broker_t *b);
/* Reads the monitor's events (when poll said readable); while a disconnection is recent,
   probes the workers: one whose routing id has no connection any more is deleted, its
   requests re-queued. */
void on_monitor_events(broker_t *b, bool readable);
/* A send to w failed: w's connection is gone; the next probe confirms and deletes it. */
void worker_unreachable(broker_t *b);
int workers_init(broker_t *b);
void workers_fini(broker_t *b);

/* mmi.c */
/* Answers an `mmi.*` request (RFC 8) from client; body is the message's first body frame. */
void on_mmi(broker_t *b, const ident_t *client, const char *service, int body);

/* metrics.c */
/* Starts the /metrics endpoint when cfg.metrics is set. -1 with the reason on stderr. */
int metrics_start(broker_t *b);
void metrics_stop(broker_t *b);
/* Microseconds of the monotonic clock (request timing). */
int64_t metrics_now_us(void);
/* r is answered: its time since arrival goes into its op's histogram (when timed). */
static inline void metrics_answered(broker_t *b, const request_t *r)
{
    if (r->t0_us)
        ac_hist_add(&b->op_latency[r->op], (uint64_t)(metrics_now_us() - r->t0_us));
}

/* auth.c */
/* security none: a warning; curve: loads the key pair and both folders and binds the ZAP
   handler (before any secured socket binds). -1 with the setting at fault on stderr. */
int auth_start(broker_t *b);
/* Makes s a CURVE server in domain (AC_ZAP_CLIENTS or AC_ZAP_WORKERS); nothing with
   security none. Before bind. */
void auth_secure(broker_t *b, zsock_t *s, const char *domain);
/* Answers the ZAP requests waiting (when poll said the handler is readable). */
void auth_on_readable(broker_t *b);
void auth_stop(broker_t *b);

/* events.c */
/* Binds the XSUB (events_in) and XPUB (events_out) sockets. -1 when a socket cannot bind
   (the setting and reason on stderr). */
int events_start(broker_t *b);
/* Forwards what is waiting: events (xsub readable), subscriptions (xpub readable). */
void events_on_readable(broker_t *b, bool xsub, bool xpub);
/* The broker's own event [topic][body] to the subscribers. -1 when it cannot be sent. */
int events_publish(broker_t *b, const void *topic, size_t topic_len, const void *body, size_t len);
void events_stop(broker_t *b);

#endif
