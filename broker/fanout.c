/*  fanout.c - the requests every worker of a service must see: `invalidate`, `get` and
    `admin` (a reload).

    Workers of several hosts each keep their own L1 and their host's L3, so one worker's
    answer is not the service's: an invalidate must drop every copy, and a get must find
    the newest snapshot wherever it was stored. Such a request, once it reaches the head of
    its queue, is sent to every live worker of its service at once (in parallel, outside
    their credit: these ops are small and answered from the caches), each copy a child
    request held by its worker with a tag of its own. The parent is answered when the last
    child is: invalidate with ok and `removed` when any worker had a copy (the floor raised
    at admission, floors.c, is what makes it safe; the copies dropped are the space); get
    with the answer of highest snapshot Version; admin with the first worker's refusal when
    any refused, else the first worker's answer: sent once every worker has reloaded, after
    every reply each of them computed before (a worker's replies and answer come in order
    on its connection), so no snapshot of the old tables reaches a client after it. A
    worker lost before it answered counts as
    answered with nothing (its copies are stale by the floors, or unreachable with it);
    when every child was lost, the parent goes back to the front of the queue like any
    request of a lost worker. With no worker at all, the request waits in its queue.

    With `replicas: N` (N > 1), a resolve (or a batch) is sent to its worker and to N - 1
    more on other hosts (READY's host label), each counted in its worker's credit, and
    answered once all answered: then the snapshot is in the L3 of N hosts (with the workers'
    store_sync, committed) before the client sees it, so a get finds it while any one of
    those hosts is down. Resolve is deterministic: the answers are the same snapshot.
*/
#include <string.h>

#include "broker.h"

static void best_replace(request_t *p, zmq_msg_t *msg, int64_t version)
{
    zmq_msg_close(&p->best);
    zmq_msg_init(&p->best);
    zmq_msg_move(&p->best, msg);
    p->best_version = version;
}

/* Reads {ok, removed, snapshot.Version} of a worker's answer. False when it is no map. */
static bool read_answer(broker_t *b, const zmq_msg_t *body, bool *ok, bool *removed,
                        int64_t *version)
{
    msgpack_zone_clear(&b->zone);
    msgpack_object obj;
    ac_error_t err;
    if (ac_msgpack_parse(zmq_msg_data((zmq_msg_t *)body), zmq_msg_size((zmq_msg_t *)body), &b->zone,
                         &obj, &err) != 0 ||
        obj.type != MSGPACK_OBJECT_MAP)
        return false;
    const msgpack_object *o = ac_wire_get(&obj, "ok");
    *ok = o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
    o = ac_wire_get(&obj, "removed");
    *removed = o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
    *version = -1;
    const msgpack_object *snap = ac_wire_get(&obj, "snapshot");
    o = snap && snap->type == MSGPACK_OBJECT_MAP ? ac_wire_get(snap, "Version") : NULL;
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *version = (int64_t)o->via.u64;
    return true;
}

/* Sends the invalidate's own answer: {id, ok: true, removed}. */
static void reply_invalidated(broker_t *b, request_t *p)
{
    const msgpack_object *id = body_id(b, &p->body[0]);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    ac_wire_pack_str(&pk, "id");
    ac_wire_pack_id(&pk, id && ac_wire_id_ok(id) ? id : NULL);
    ac_wire_pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    ac_wire_pack_str(&pk, "removed");
    if (p->removed)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    mpart_t one;
    one.n = 1;
    if (zmq_msg_init_size(&one.f[0], sb.size) == 0) {
        memcpy(zmq_msg_data(&one.f[0]), sb.data, sb.size);
        send_answer(b, p, &one, 0);
        zmq_msg_close(&one.f[0]);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* The last child is in: the parent is answered, or (nothing answered) queued again. */
static void finish(broker_t *b, request_t *p)
{
    service_t *s = p->service;
    bool answered = p->best_version >= 0 || zmq_msg_size(&p->best) > 0 || p->removed;
    if (!answered) {
        requeue_request(b, p);
        return;
    }
    b->n.replies++;
    if (p->fan == FAN_INVALIDATE && (p->best_version >= 0 || p->removed)) {
        reply_invalidated(b, p);
    } else {
        mpart_t one;
        one.n = 1;
        zmq_msg_init(&one.f[0]);
        zmq_msg_move(&one.f[0], &p->best);
        send_answer(b, p, &one, 0);
        zmq_msg_close(&one.f[0]);
    }
    request_free(b, p);
    service_reclaim(b, s);
}

/* A child of r held by w (counted in its in-flight when it is real work), sent. */
static bool child_send(broker_t *b, service_t *s, worker_t *w, request_t *r, bool counted,
                       const uint8_t *floors, size_t flen)
{
    request_t *c = request_new(b);
    if (!c)
        return false; /* out of memory: the workers reached so far answer */
    c->parent = r;
    c->service = s;
    c->client = r->client;
    c->counted = counted;
    if (counted) {
        worker_take(b, s, w, c);
    } else {
        c->worker = w;
        rlist_push_back(&w->held, c);
    }
    r->pending++;
    send_to(b, w, c, r, floors, flen);
    return true;
}

/* The least-loaded worker of s but skip on `host` (same_host), or else on a host that holds
   none of r's replicas; NULL when there is none. */
static worker_t *replica_worker(const service_t *s, const request_t *r, const worker_t *skip,
                                bool same_host, uint64_t host)
{
    worker_t *best = NULL;
    for (uint32_t m = 0; m < s->nmembers; m++) {
        worker_t *w = s->members[m];
        bool fits = w != skip;
        if (fits && same_host)
            fits = w->host == host;
        for (int i = 0; fits && !same_host && i < r->nhosts; i++)
            fits = r->hosts[i] != w->host;
        if (fits && (!best || w->inflight < best->inflight))
            best = w;
    }
    return best;
}

/* A resolve's replicas: its worker (affine or least-loaded), then, for each further replica,
   the least-loaded worker on a host none of the chosen is on. */
static void send_replicas(broker_t *b, service_t *s, request_t *r, const uint8_t *floors,
                          size_t flen)
{
    worker_t *w = choose_worker(b, s, r);
    r->nhosts = 0;
    r->replaced = 0;
    while (w && child_send(b, s, w, r, true, floors, flen)) {
        r->hosts[r->nhosts++] = w->host;
        if (r->nhosts >= b->cfg.replicas || r->nhosts >= 8)
            return;
        w = replica_worker(s, r, NULL, false, 0); /* NULL: no other host serves */
    }
}

bool fanout_start(broker_t *b, service_t *s, request_t *r)
{
    if (r->fan == FAN_NONE || s->nmembers == 0)
        return false;
    uint8_t floors[AC_FLOORS_FRAME_MAX];
    size_t flen = floors_frame(b, r, floors);
    r->pending = 0;
    r->removed = false;
    r->refused = false;
    r->best_version = -1;
    zmq_msg_close(&r->best);
    zmq_msg_init(&r->best);
    b->n.fanouts++;
    if (r->fan == FAN_RESOLVE) {
        send_replicas(b, s, r, floors, flen);
    } else {
        for (uint32_t m = 0; m < s->nmembers; m++)
            if (!child_send(b, s, s->members[m], r, false, floors, flen))
                break;
    }
    if (r->pending == 0)
        requeue_request(b, r);
    return true;
}

/* A child is done: off its worker (and its in-flight count), freed. */
static request_t *child_done(broker_t *b, worker_t *w, request_t *c)
{
    request_t *p = c->parent;
    rlist_remove(&w->held, c);
    if (c->counted) {
        w->inflight--;
        w->service->inflight--;
        worker_released(w->service, w);
    }
    request_free(b, c);
    return p;
}

void fanout_reply(broker_t *b, worker_t *w, request_t *c, int from)
{
    request_t *p = child_done(b, w, c);
    bool ok = false, removed = false;
    int64_t version = -1;
    zmq_msg_t *body = &b->in.f[from];
    if (b->in.n > from && read_answer(b, body, &ok, &removed, &version)) {
        if (ok && version < 0)
            version = 0; /* an answer without a readable Version still beats none */
        if (p->fan == FAN_ADMIN) {
            if (!ok && !p->refused) {
                best_replace(p, body, -1); /* a refusal is the answer, whatever the others */
                p->refused = true;
            } else if (ok && !p->refused && zmq_msg_size(&p->best) == 0) {
                best_replace(p, body, 0);
            }
        } else if (ok && p->fan == FAN_INVALIDATE) {
            p->removed = p->removed || removed;
            if (p->best_version < 0)
                best_replace(p, body, 0);
        } else if (ok && p->fan == FAN_RESOLVE) {
            if (p->best_version < 0)
                best_replace(p, body, 0); /* the first answer; the others are the same */
        } else if (ok && version > p->best_version) {
            best_replace(p, body, version);
        } else if (!ok && p->best_version < 0 && zmq_msg_size(&p->best) == 0) {
            best_replace(p, body, -1); /* the first error, answered when nothing better comes */
        }
    }
    if (--p->pending == 0)
        finish(b, p);
}

/* A resolve replica whose worker (on host) was lost: sent again to a live worker of that
   host (it shares the host's L3), else of a host that holds no replica, so that the answer
   still means `replicas` hosts hold the snapshot. False when no such worker is left (the
   answer then comes with fewer, as when too few hosts serve), or after too many losses. */
static bool replace_replica(broker_t *b, request_t *p, const worker_t *lost, uint64_t host)
{
    service_t *s = p->service;
    if (p->replaced >= 2 * 8)
        return false;
    worker_t *w = replica_worker(s, p, lost, true, host);
    bool same = w != NULL;
    if (!w)
        w = replica_worker(s, p, lost, false, 0);
    uint8_t floors[AC_FLOORS_FRAME_MAX];
    size_t flen = w ? floors_frame(b, p, floors) : 0;
    if (!w || !child_send(b, s, w, p, true, floors, flen))
        return false;
    if (!same && p->nhosts < 8)
        p->hosts[p->nhosts++] = w->host;
    p->replaced++;
    b->n.replicas_replaced++;
    return true;
}

void fanout_lost(broker_t *b, worker_t *w, request_t *c)
{
    uint64_t host = w->host;
    request_t *p = child_done(b, w, c);
    b->n.fanout_lost++;
    p->pending--;
    if (p->fan == FAN_RESOLVE && replace_replica(b, p, w, host))
        return; /* its new child is pending in its place */
    if (p->pending == 0)
        finish(b, p);
}
