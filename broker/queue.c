/*  queue.c - the broker's requests: the slab whose slots and generations make the tags a
    reply must carry, the intrusive lists that queue them, the services' queues and their
    dispatch to the least-loaded worker with credit left, the re-queue of a lost worker's
    requests, request timeouts, the frontend's (clients') messages and the replies to them.
*/
#include <stdlib.h>
#include <string.h>

#include "broker.h"

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

void request_free(broker_t *b, request_t *r)
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

request_t *request_by_tag(broker_t *b, uint64_t tag)
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

void list_remove(request_t **head, request_t **tail, request_t *r)
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

void send_to_client(broker_t *b, zframe_t *client, const char *service, zmsg_t **body)
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
void reply_error(broker_t *b, zframe_t *client, const char *service, zmsg_t *body, int code,
                 const char *fmt, const char *arg)
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

/* ---- services ---- */

service_t *service_require(broker_t *b, const char *name)
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
void dispatch(broker_t *b, service_t *s)
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

/* Puts every request w held back at the front of its queue, oldest first; a request that
   has lost its worker more than max_requeues times is answered instead. */
void requeue_held(broker_t *b, worker_t *w)
{
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
}

/* Requests that waited too long for a worker. */
void expire_requests(broker_t *b, int64_t now)
{
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

/* ---- frontend ---- */

void on_client_message(broker_t *b, zmsg_t *msg)
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
