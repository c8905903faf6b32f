/*  queue.c - the broker's requests: the slab whose slots and generations make the tags a
    reply must carry, the services (interned names, reclaimed when they have neither worker
    nor request), the client queues that make a service fair (round-robin across clients,
    re-queued requests first), the timeline that times out queued requests in O(expired),
    admission of the frontend's (clients') messages under every bound, re-queue of a lost
    worker's requests, and the replies to clients.
*/
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* ---- pools ---- */

static void *pool_at(const pool_t *p, uint32_t index)
{
    return p->chunks[index / SLAB_CHUNK] + (size_t)(index % SLAB_CHUNK) * p->elem;
}

/* Adds a chunk of zeroed entries, each given to init with its index, and pushes their
   indices (lowest on top). -1 when out of memory; the pool is unchanged but for capacity. */
static int pool_grow(pool_t *p, void (*init)(void *entry, uint32_t index))
{
    char **chunks = realloc(p->chunks, (p->nchunks + 1) * sizeof *chunks);
    if (!chunks)
        return -1;
    p->chunks = chunks;
    uint32_t cap = (p->nchunks + 1) * SLAB_CHUNK;
    uint32_t *fs = realloc(p->free, cap * sizeof *fs);
    if (fs)
        p->free = fs;
    char *chunk = fs ? calloc(SLAB_CHUNK, p->elem) : NULL;
    if (!chunk)
        return -1;
    p->chunks[p->nchunks++] = chunk;
    for (uint32_t i = 0; i < SLAB_CHUNK; i++) {
        init(chunk + (size_t)i * p->elem, cap - SLAB_CHUNK + i);
        p->free[p->nfree++] = cap - 1 - i;
    }
    return 0;
}

/* Frees every chunk, fini (when not NULL) seeing each entry first. */
static void pool_fini(pool_t *p, void (*fini)(void *entry))
{
    for (uint32_t c = 0; c < p->nchunks; c++) {
        for (uint32_t i = 0; fini && i < SLAB_CHUNK; i++)
            fini(p->chunks[c] + (size_t)i * p->elem);
        free(p->chunks[c]);
    }
    free(p->chunks);
    free(p->free);
    memset(p, 0, sizeof *p);
}

/* ---- request slab ---- */

static request_t *request_at(const broker_t *b, uint32_t slot)
{
    return pool_at(&b->requests, slot);
}

static void request_init(void *entry, uint32_t index)
{
    request_t *r = entry;
    r->slot = index;
    for (int f = 0; f < BODY_FRAMES_MAX; f++)
        zmq_msg_init(&r->body[f]);
    zmq_msg_init(&r->best);
}

static void request_fini(void *entry)
{
    request_t *r = entry;
    for (int f = 0; f < BODY_FRAMES_MAX; f++)
        zmq_msg_close(&r->body[f]);
    zmq_msg_close(&r->best);
}

/* A free request; the slab grows by one chunk when none is left (never per request once
   warm). NULL when out of memory. */
static request_t *request_alloc(broker_t *b)
{
    if (b->requests.nfree == 0 && pool_grow(&b->requests, request_init) != 0)
        return NULL;
    request_t *r = request_at(b, b->requests.free[--b->requests.nfree]);
    r->live = true;
    r->requeues = 0;
    r->worker = NULL;
    r->cq = NULL;
    r->prev = r->next = r->tprev = r->tnext = NULL;
    r->fan = FAN_NONE;
    r->parent = NULL;
    r->counted = false;
    r->ingest = false;
    r->op = BOP_OTHER;
    r->t0_us = 0;
    r->bytes = 0;
    r->nbody = 0;
    r->has_key = false;
    return r;
}

request_t *request_new(broker_t *b)
{
    request_t *r = request_alloc(b);
    if (r)
        b->nrequests++;
    return r;
}

void request_free(broker_t *b, request_t *r)
{
    if (r->ingest && !r->parent)
        ingest_done(b, r->key); /* the actor's next change may go in */
    for (int f = 0; f < r->nbody; f++) {
        zmq_msg_close(&r->body[f]);
        zmq_msg_init(&r->body[f]);
    }
    r->nbody = 0;
    zmq_msg_close(&r->best);
    zmq_msg_init(&r->best);
    r->live = false;
    r->gen++;
    b->held_bytes -= r->bytes;
    b->nrequests--;
    b->requests.free[b->requests.nfree++] = r->slot;
}

uint64_t request_tag(const request_t *r)
{
    return ((uint64_t)r->gen << 32) | r->slot;
}

request_t *request_by_tag(broker_t *b, uint64_t tag)
{
    uint32_t slot = (uint32_t)tag;
    if (slot >= b->requests.nchunks * SLAB_CHUNK)
        return NULL;
    request_t *r = request_at(b, slot);
    return r->live && r->gen == (uint32_t)(tag >> 32) ? r : NULL;
}

/* ---- intrusive lists ---- */

void rlist_push_back(rlist_t *l, request_t *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static void rlist_push_front(rlist_t *l, request_t *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head)
        l->head->prev = r;
    else
        l->tail = r;
    l->head = r;
}

void rlist_remove(rlist_t *l, request_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
}

/* The timeline links queued requests in deadline order: every deadline is "now + the
   same timeout", so appending keeps it sorted. */
static void timeline_append(broker_t *b, request_t *r)
{
    r->tnext = NULL;
    r->tprev = b->timeline.tail;
    if (b->timeline.tail)
        b->timeline.tail->tnext = r;
    else
        b->timeline.head = r;
    b->timeline.tail = r;
}

static void timeline_remove(broker_t *b, request_t *r)
{
    if (r->tprev)
        r->tprev->tnext = r->tnext;
    else
        b->timeline.head = r->tnext;
    if (r->tnext)
        r->tnext->tprev = r->tprev;
    else
        b->timeline.tail = r->tprev;
    r->tprev = r->tnext = NULL;
}

/* ---- replies to clients ---- */

static void send_frames(broker_t *b, const ident_t *client, const char *service, zmq_msg_t *frames,
                        int n)
{
    if (frame_send(b->fe, client->b, client->len, true) != 0) {
        b->n.unroutable++; /* the client is gone (ROUTER_MANDATORY) */
        return;
    }
    frame_send(b->fe, NULL, 0, true);
    frame_send(b->fe, AC_MDPC, 6, true);
    frame_send(b->fe, service, strlen(service), n > 0);
    for (int i = 0; i < n; i++)
        frame_send_msg(b->fe, &frames[i], false, i + 1 < n);
}

void send_to_client(broker_t *b, const ident_t *client, const service_t *s, const char *name,
                    mpart_t *body, int from)
{
    send_frames(b, client, s ? s->name : name, &body->f[from], body->n - from);
}

void send_answer(broker_t *b, const request_t *r, mpart_t *body, int from)
{
    metrics_answered(b, r);
    if (r->ingest) { /* nobody waits for it: the broker publishes the snapshot */
        if (body->n > from)
            ingest_answered(b, r, &body->f[from]);
        else
            b->n.ingest_failed++;
        return;
    }
    if (!r->packed) {
        send_to_client(b, &r->client, r->service, NULL, body, from);
        return;
    }
    size_t n = r->service->name_len, len = body->n > from ? zmq_msg_size(&body->f[from]) : 0;
    zmq_msg_t one;
    if (zmq_msg_init_size(&one, AC_PACKED_HEAD + n + len) != 0)
        return;
    uint8_t *h = zmq_msg_data(&one);
    size_t at = ac_packed_put(h, AC_PACKED_ANSWER, r->service->name, n);
    if (len)
        memcpy(h + at, zmq_msg_data(&body->f[from]), len);
    if (frame_send(b->fe, r->client.b, r->client.len, true) != 0) {
        b->n.unroutable++;
        zmq_msg_close(&one);
        return;
    }
    frame_send_msg(b->fe, &one, false, false);
    zmq_msg_close(&one);
}

/* A packed client message [client][head + body] (service/mdp.h) rewritten in place as
   plain MDP, [client][empty][MDPC01][service][body]; false when it is not one. */
static bool unpack_client(broker_t *b)
{
    mpart_t *m = &b->in;
    if (m->overflow || m->n != 2)
        return false;
    const uint8_t *h = zmq_msg_data(&m->f[1]);
    size_t size = zmq_msg_size(&m->f[1]);
    long got = ac_packed_get(h, size, AC_PACKED_CLIENT);
    if (got < 1 || got > 255)
        return false;
    size_t n = (size_t)got, body = AC_PACKED_HEAD + n;
    zmq_msg_init_size(&m->f[2], 6);
    memcpy(zmq_msg_data(&m->f[2]), AC_MDPC, 6);
    zmq_msg_init_size(&m->f[3], n);
    memcpy(zmq_msg_data(&m->f[3]), h + AC_PACKED_HEAD, n);
    zmq_msg_init_size(&m->f[4], size - body);
    memcpy(zmq_msg_data(&m->f[4]), h + body, size - body);
    zmq_msg_close(&m->f[1]);
    zmq_msg_init(&m->f[1]);
    m->n = 5;
    return true;
}

void reply_error(broker_t *b, const ident_t *client, const char *service, const zmq_msg_t *body,
                 int code, const char *fmt, const char *arg)
{
    char msg[200];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(msg, sizeof msg, fmt, arg);
#pragma GCC diagnostic pop
    reply_error_at(b, client, service, body, code, "", msg);
}

const msgpack_object *body_id(broker_t *b, const zmq_msg_t *body)
{
    msgpack_zone_clear(&b->zone);
    msgpack_object obj; /* its entries live in the zone: the id found outlives it */
    ac_error_t perr;
    if (!body || ac_msgpack_parse(zmq_msg_data((zmq_msg_t *)body), zmq_msg_size((zmq_msg_t *)body),
                                  &b->zone, &obj, &perr) != 0)
        return NULL;
    return ac_wire_get(&obj, "id");
}

void reply_error_at(broker_t *b, const ident_t *client, const char *service, const zmq_msg_t *body,
                    int code, const char *path, const char *msg)
{
    const msgpack_object *id = body_id(b, body);
    ac_error_t err;
    ac_error_set(&err, code, path, "%s", msg);
    b->errors_by_code[-code & (BROKER_CODES - 1)]++;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ac_wire_pack_error(&pk, id, &err);
    if (ac_log_on(AC_LOG_DEBUG)) /* per request: debug only */
        ac_log(AC_LOG_DEBUG, "request_refused",
               "service=%s req_id=%" PRIu64 " code=%s path=%s msg=%s", service,
               id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? id->via.u64 : 0,
               ac_code_name(code), path, msg);
    zmq_msg_t reply;
    if (zmq_msg_init_size(&reply, sb.size) == 0) {
        memcpy(zmq_msg_data(&reply), sb.data, sb.size);
        send_frames(b, client, service, &reply, 1);
        zmq_msg_close(&reply);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* ---- services ---- */

typedef struct {
    const char *name;
    size_t len;
} name_key_t;

static bool service_eq(const void *ctx, uint32_t index, const void *key)
{
    const service_t *s = &((const broker_t *)ctx)->services[index];
    const name_key_t *k = key;
    return s->name_len == k->len && memcmp(s->name, k->name, k->len) == 0;
}

static uint32_t name_hash(const char *name, size_t len)
{
    ident_t id;
    id.len = (uint8_t)len;
    memcpy(id.b, name, len);
    return ident_hash(&id, 0x5e41);
}

service_t *service_find(broker_t *b, const char *name, size_t len)
{
    name_key_t k = {name, len};
    int64_t i = itab_find(&b->service_ix, name_hash(name, len), service_eq, b, &k);
    return i < 0 ? NULL : &b->services[i];
}

/* Answers every request queued at s (it has no worker) with `unavailable`. */
static void service_flush(broker_t *b, service_t *s, const char *why)
{
    request_t *r;
    while ((r = queue_pop(b, s))) {
        reply_error(b, &r->client, s->name, r->nbody ? &r->body[0] : NULL, AC_EUNAVAILABLE, "%s",
                    why);
        request_free(b, r);
    }
}

void service_reclaim(broker_t *b, service_t *s)
{
    if (!s->live || s->nmembers || s->qlen || s->inflight)
        return;
    itab_remove(&b->service_ix, name_hash(s->name, s->name_len), s->index);
    s->live = false;
    b->nservices--;
}

/* A pool entry for a new service: a free one, else one without workers, whose queued
   requests are answered. -1 when none can be had. */
static int64_t service_slot(broker_t *b)
{
    uint32_t pool = (uint32_t)(2 * b->cfg.max_services);
    for (uint32_t i = 0; i < pool; i++)
        if (!b->services[i].live)
            return i;
    for (uint32_t i = 0; i < pool; i++) {
        service_t *s = &b->services[i];
        if (s->nmembers == 0 && s->inflight == 0) {
            b->n.services_evicted++;
            service_flush(b, s, "no worker serves this service, and its entry was reclaimed");
            service_reclaim(b, s);
            return i;
        }
    }
    return -1;
}

service_t *service_require(broker_t *b, const char *name, size_t len)
{
    service_t *s = service_find(b, name, len);
    if (s)
        return s;
    int64_t i = service_slot(b);
    if (i < 0)
        return NULL;
    s = &b->services[i];
    if (!s->members) {
        /* Allocated on the entry's first use and kept: a reused entry allocates nothing. */
        s->members = calloc((size_t)b->cfg.max_workers, sizeof *s->members);
        s->heap = calloc((size_t)b->cfg.max_workers, sizeof *s->heap);
        s->buckets = calloc(AFFINITY_BUCKETS * AFFINITY_CHOICES, sizeof *s->buckets);
        if (!s->members || !s->heap || !s->buckets)
            return NULL;
    }
    if (itab_insert(&b->service_ix, name_hash(name, len), (uint32_t)i) != 0)
        return NULL;
    s->index = (uint32_t)i;
    s->live = true;
    s->name_len = (uint8_t)len;
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    s->retry.head = s->retry.tail = NULL;
    s->ring = NULL;
    s->qlen = 0;
    s->inflight = 0;
    s->nmembers = s->nheap = s->nchoices = 0;
    b->nservices++;
    return s;
}

/* ---- client queues ---- */

typedef struct {
    uint32_t service;
    const ident_t *client;
} cq_key_t;

static cqueue_t *cq_at(const broker_t *b, uint32_t index)
{
    return pool_at(&b->cqueues, index);
}

static void cq_init(void *entry, uint32_t index)
{
    ((cqueue_t *)entry)->index = index;
}

static bool cq_eq(const void *ctx, uint32_t index, const void *key)
{
    const cqueue_t *q = cq_at(ctx, index);
    const cq_key_t *k = key;
    return q->service->index == k->service && q->client.len == k->client->len &&
           memcmp(q->client.b, k->client->b, k->client->len) == 0;
}

static uint32_t cq_hash(uint32_t service, const ident_t *client)
{
    return ident_hash(client, service * 0x9e3779b9u);
}

/* The queue of client at s, created (and put last in s's ring) when absent. NULL when out
   of memory. */
static cqueue_t *cq_require(broker_t *b, service_t *s, const ident_t *client)
{
    cq_key_t k = {s->index, client};
    uint32_t h = cq_hash(s->index, client);
    int64_t i = itab_find(&b->cq_ix, h, cq_eq, b, &k);
    if (i >= 0)
        return cq_at(b, (uint32_t)i);
    if (b->cqueues.nfree == 0 && pool_grow(&b->cqueues, cq_init) != 0)
        return NULL;
    cqueue_t *q = cq_at(b, b->cqueues.free[b->cqueues.nfree - 1]);
    if (itab_insert(&b->cq_ix, h, q->index) != 0)
        return NULL;
    b->cqueues.nfree--;
    q->live = true;
    q->service = s;
    q->client = *client;
    q->q.head = q->q.tail = NULL;
    q->len = 0;
    if (!s->ring) {
        q->rprev = q->rnext = q;
        s->ring = q;
    } else { /* last of the round: just before the one served next */
        q->rnext = s->ring;
        q->rprev = s->ring->rprev;
        q->rprev->rnext = q;
        s->ring->rprev = q;
    }
    b->ncqs++;
    return q;
}

/* An empty client queue leaves its service's ring and the table. */
static void cq_release(broker_t *b, cqueue_t *q)
{
    service_t *s = q->service;
    if (q->rnext == q) {
        s->ring = NULL;
    } else {
        q->rprev->rnext = q->rnext;
        q->rnext->rprev = q->rprev;
        if (s->ring == q)
            s->ring = q->rnext;
    }
    itab_remove(&b->cq_ix, cq_hash(s->index, &q->client), q->index);
    q->live = false;
    b->cqueues.free[b->cqueues.nfree++] = q->index;
    b->ncqs--;
}

/* Takes r off whichever queue of s holds it (a client queue or the retries). */
static void queue_unlink(broker_t *b, service_t *s, request_t *r)
{
    cqueue_t *q = r->cq;
    if (q) {
        rlist_remove(&q->q, r);
        q->len--;
        r->cq = NULL;
        if (!q->len)
            cq_release(b, q);
    } else {
        rlist_remove(&s->retry, r);
    }
    timeline_remove(b, r);
    s->qlen--;
}

request_t *queue_pop(broker_t *b, service_t *s)
{
    request_t *r = s->retry.head;
    if (!r && s->ring) {
        cqueue_t *q = s->ring;
        r = q->q.head;
        s->ring = q->rnext; /* round-robin: the next client is served next */
    }
    if (r)
        queue_unlink(b, s, r);
    return r;
}

/* ---- re-queue, timeouts, shutdown ---- */

/* r (held by no worker) goes back to the front of its service's queue, or is answered
   when it has lost its worker max_requeues times. */
static void requeue_one(broker_t *b, request_t *r, int64_t deadline)
{
    service_t *s = r->service;
    if (++r->requeues > b->cfg.max_requeues) {
        b->n.lost++;
        reply_error(b, &r->client, s->name, &r->body[0], AC_EINTERNAL,
                    "the request lost its worker %s times; not retried again", "several");
        request_free(b, r);
        return;
    }
    b->n.requeued++;
    r->deadline = deadline;
    rlist_push_front(&s->retry, r);
    timeline_append(b, r);
    s->qlen++;
}

void requeue_request(broker_t *b, request_t *r)
{
    requeue_one(b, r, zclock_mono() + b->cfg.request_timeout_ms);
}

void requeue_held(broker_t *b, worker_t *w)
{
    service_t *s = w->service;
    int64_t deadline = zclock_mono() + b->cfg.request_timeout_ms;
    /* Requeue in reverse so that the oldest ends up first. */
    while (w->held.tail) {
        request_t *r = w->held.tail;
        if (r->parent) { /* a fan-out's copy: its parent counts it answered */
            fanout_lost(b, w, r);
            continue;
        }
        rlist_remove(&w->held, r);
        r->worker = NULL;
        w->inflight--;
        s->inflight--;
        requeue_one(b, r, deadline);
    }
}

void expire_requests(broker_t *b, int64_t now)
{
    while (b->timeline.head && b->timeline.head->deadline <= now) {
        request_t *r = b->timeline.head;
        service_t *s = r->service;
        queue_unlink(b, s, r);
        b->n.timeouts++;
        reply_error(b, &r->client, s->name, &r->body[0], AC_EUNAVAILABLE,
                    "no %s worker answered in time", s->name);
        request_free(b, r);
        service_reclaim(b, s);
    }
}

void drain_requests(broker_t *b)
{
    while (b->timeline.head) {
        request_t *r = b->timeline.head;
        queue_unlink(b, r->service, r);
        reply_error(b, &r->client, r->service->name, &r->body[0], AC_EUNAVAILABLE,
                    "the broker is %s", "shutting down");
        request_free(b, r);
    }
    for (uint32_t i = 0; i < (uint32_t)b->cfg.max_workers; i++) {
        worker_t *w = &b->workers[i];
        if (!w->live)
            continue;
        while (w->held.head) {
            request_t *r = w->held.head;
            if (r->parent) {
                request_t *p = r->parent;
                rlist_remove(&w->held, r);
                request_free(b, r);
                if (--p->pending == 0) {
                    reply_error(b, &p->client, w->service->name, &p->body[0], AC_EUNAVAILABLE,
                                "the broker is %s", "shutting down");
                    request_free(b, p);
                }
                continue;
            }
            rlist_remove(&w->held, r);
            w->inflight--;
            w->service->inflight--;
            reply_error(b, &r->client, w->service->name, &r->body[0], AC_EUNAVAILABLE,
                        "the broker is %s", "shutting down");
            request_free(b, r);
        }
    }
}

/* ---- frontend ---- */

/* Frames of a client's message: [client][empty][MDPC01][service][body...]. */
enum { C_CLIENT, C_EMPTY, C_PROTO, C_SERVICE, C_BODY };

/* The queue a request of client waits in at s: its own with fair queuing, else the one
   FIFO of the service. NULL when out of memory. */
static cqueue_t *client_queue(broker_t *b, service_t *s, const ident_t *client)
{
    static const ident_t anyone = {0, {0}};
    return cq_require(b, s, b->cfg.fair_queuing ? client : &anyone);
}

/* Appends r (its service set) to q, its deadline starting now. */
static void enqueue(broker_t *b, cqueue_t *q, request_t *r)
{
    r->deadline = zclock_mono() + b->cfg.request_timeout_ms;
    r->cq = q;
    rlist_push_back(&q->q, r);
    q->len++;
    timeline_append(b, r);
    r->service->qlen++;
}

/* Checks the admission bounds for a request of that many bytes at s; 0, or an error
   reply already sent. */
static int admit(broker_t *b, const ident_t *client, const char *name, size_t bytes,
                 service_t **s_out, cqueue_t **q_out)
{
    const zmq_msg_t *body = &b->in.f[C_BODY];
    if ((long long)(b->held_bytes + bytes) > b->cfg.queue_max_bytes) {
        b->n.queue_bytes_full++;
        reply_error(b, client, name, body, AC_EUNAVAILABLE,
                    "the broker holds queue_max_bytes of requests%s; retry later", "");
        return -1;
    }
    service_t *s = service_require(b, name, strlen(name));
    if (!s) {
        b->n.services_refused++;
        reply_error(b, client, name, body, AC_EUNAVAILABLE, "no such service '%s'", name);
        return -1;
    }
    if ((long long)s->qlen >= b->cfg.queue_max) {
        b->n.queue_full++;
        reply_error(b, client, name, body, AC_EUNAVAILABLE, "the %s queue is full", name);
        service_reclaim(b, s);
        return -1;
    }
    cqueue_t *q = client_queue(b, s, client);
    if (!q) {
        reply_error(b, client, name, body, AC_EINTERNAL, "broker out of memory%s", "");
        service_reclaim(b, s);
        return -1;
    }
    if (b->cfg.fair_queuing && b->cfg.client_queue_max > 0 &&
        (long long)q->len >= b->cfg.client_queue_max) {
        b->n.client_queue_full++;
        reply_error(b, client, name, body, AC_EUNAVAILABLE,
                    "this client has client_queue_max requests queued at %s", name);
        return -1;
    }
    *s_out = s;
    *q_out = q;
    return 0;
}

/* What the broker reads of r's body: the actor it names (affinity, floors); for get and
   invalidate, every actor named (read whole), and an invalidate raises their floors now:
   from here on, no request is sent without the new floor. */
static void classify(broker_t *b, request_t *r)
{
    const uint8_t *p = zmq_msg_data(&r->body[0]);
    size_t n = zmq_msg_size(&r->body[0]);
    skim_info_t info = {.ids = b->ids, .cap = FLOOR_IDS_MAX};
    bool whole = skim_body(p, n, SKIM_BUDGET, &info);
    if (!whole && (info.op == SKIM_OP_GET || info.op == SKIM_OP_INVALIDATE))
        whole = skim_body(p, n, (int)n + 1, &info); /* every actor of these is needed */
    r->has_key = whole && info.one_actor;
    r->key = info.key;
    r->op = info.op == SKIM_OP_RESOLVE      ? (info.batch ? BOP_BATCH : BOP_RESOLVE)
            : info.op == SKIM_OP_GET        ? BOP_GET
            : info.op == SKIM_OP_INVALIDATE ? BOP_INVALIDATE
                                            : BOP_OTHER;
    b->op_requests[r->op]++;
    if (info.op == SKIM_OP_RESOLVE && b->cfg.replicas > 1) {
        r->fan = FAN_RESOLVE;
        return;
    }
    if (info.op == SKIM_OP_ADMIN) { /* every worker reloads (fanout.c) */
        r->fan = FAN_ADMIN;
        return;
    }
    if (info.op != SKIM_OP_GET && info.op != SKIM_OP_INVALIDATE)
        return;
    uint32_t ids = info.nids < FLOOR_IDS_MAX ? info.nids : FLOOR_IDS_MAX;
    if (ids == 0)
        return; /* names no actor: one worker answers the error */
    r->fan = info.op == SKIM_OP_GET ? FAN_GET : FAN_INVALIDATE;
    if (r->fan == FAN_INVALIDATE)
        for (uint32_t i = 0; i < ids; i++)
            pair_floor_raised(b, b->ids[i], floors_raise(b, b->ids[i])); /* and the peer's */
}

void on_client_message(broker_t *b)
{
    mpart_t *m = &b->in;
    ident_t client;
    char name[256];
    b->in_packed = unpack_client(b);
    size_t nlen = m->n > C_SERVICE ? zmq_msg_size(&m->f[C_SERVICE]) : 0;
    if (m->overflow || m->n <= C_BODY || m->n - C_BODY > BODY_FRAMES_MAX ||
        !ident_from(&client, &m->f[C_CLIENT]) || zmq_msg_size(&m->f[C_EMPTY]) != 0 ||
        !frame_is(m, C_PROTO, AC_MDPC) || nlen == 0 || nlen > 255 ||
        memchr(zmq_msg_data(&m->f[C_SERVICE]), '\0', nlen)) {
        b->n.malformed++;
        return;
    }
    memcpy(name, zmq_msg_data(&m->f[C_SERVICE]), nlen);
    name[nlen] = '\0';
    if (strncmp(name, "mmi.", 4) == 0) {
        on_mmi(b, &client, name, C_BODY);
        return;
    }
    if (!pair_client_request(b)) {
        reply_error_at(b, &client, name, &m->f[C_BODY], AC_EUNAVAILABLE, "broker.passive",
                       "this broker is the passive one of a pair: ask its peer");
        return;
    }
    b->n.requests++;
    size_t body_bytes = 0;
    for (int f = C_BODY; f < m->n; f++)
        body_bytes += zmq_msg_size(&m->f[f]);
    if ((long long)body_bytes > b->cfg.max_message_bytes) {
        b->n.too_large++;
        /* The id is not read out of a body this large: the reply's id is nil. */
        reply_error(b, &client, name, NULL, AC_ETOO_LARGE,
                    "request body is larger than the broker's limit%s", "");
        return;
    }
    size_t bytes = body_bytes + sizeof(request_t);
    service_t *s;
    cqueue_t *q;
    if (admit(b, &client, name, bytes, &s, &q) != 0)
        return;
    request_t *r = request_alloc(b);
    if (!r) {
        reply_error(b, &client, name, &m->f[C_BODY], AC_EINTERNAL, "broker out of memory%s", "");
        if (!q->len)
            cq_release(b, q);
        service_reclaim(b, s);
        return;
    }
    r->client = client;
    r->t0_us = b->http ? metrics_now_us() : 0;
    r->packed = b->in_packed;
    r->nbody = (uint8_t)(m->n - C_BODY);
    for (int f = 0; f < r->nbody; f++)
        zmq_msg_move(&r->body[f], &m->f[C_BODY + f]);
    classify(b, r);
    r->bytes = bytes;
    r->service = s;
    enqueue(b, q, r);
    b->held_bytes += bytes;
    b->nrequests++;
    dispatch(b, s);
}

void queue_append(broker_t *b, service_t *s, request_t *r)
{
    cqueue_t *q = client_queue(b, s, &r->client);
    if (!q) {
        b->n.ingest_dropped += r->ingest;
        request_free(b, r);
        return;
    }
    r->service = s;
    enqueue(b, q, r);
}

/* ---- set-up ---- */

int queue_init(broker_t *b)
{
    b->requests.elem = sizeof(request_t);
    b->cqueues.elem = sizeof(cqueue_t);
    size_t pool = (size_t)(2 * b->cfg.max_services);
    b->services = calloc(pool, sizeof *b->services);
    if (!b->services || itab_init(&b->service_ix, (uint32_t)pool) != 0 ||
        itab_init(&b->cq_ix, 1024) != 0)
        return -1;
    for (size_t i = 0; i < pool; i++)
        b->services[i].index = (uint32_t)i;
    return 0;
}

void queue_fini(broker_t *b)
{
    pool_fini(&b->requests, request_fini);
    pool_fini(&b->cqueues, NULL);
    if (b->services)
        for (long long i = 0; i < 2 * b->cfg.max_services; i++) {
            free(b->services[i].members);
            free(b->services[i].heap);
            free(b->services[i].buckets);
        }
    free(b->services);
    itab_fini(&b->service_ix);
    itab_fini(&b->cq_ix);
}
