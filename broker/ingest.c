/*  ingest.c - actor changes pushed or published by game services, resolved and published.

    A game service that already speaks pub/sub sends `[topic][body]`, body a resolve item
    `{actor, outputs?}`, to the broker's PULL socket (`ingest.pull`: producers PUSH, so a
    full broker pushes back instead of losing) or publishes it on its own PUB socket, which
    the broker's SUB connects to (`ingest.sub`, topics `ingest.topics`: libzmq drops at the
    high-water mark there, which the broker cannot see; what it sees, it counts). The broker
    checks the item, turns it into `{op: resolve, actor, outputs}` and queues it with no
    client; the worker's answer is not sent to anyone: the broker publishes its snapshot on
    `snap/<actor_id>` (on its event forwarder's XPUB), itself, so that an actor's
    snapshots go out in the order of its changes whichever workers computed them.

    One change per actor at a time: an actor has an entry while a change of it is in the
    system (queued or at a worker); a change that arrives meanwhile waits in the entry, and
    a newer one replaces it (by version; equal versions: the later arrival), counted
    `ingest_coalesced`; one older than what is in the system is dropped (`ingest_stale`).
    When the change in the system is done (answered, or given up on), the one waiting goes
    in. So a burst of 20 changes to one actor costs two resolves, and a subscriber never
    sees version v after v + 1. Entries are bounded (`ingest.max_actors`): when every
    entry is taken, the PULL socket is not read, and producers block (back-pressure).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "core/hash.h"
#include "service/settings.h"

struct ingest_entry {
    uint64_t hash;    /* the actor id's hash; 0: free slot */
    int64_t version;  /* of the change in the system */
    bool waiting;     /* a change waits */
    bool done;        /* the change in the system is done: the waiting one goes next */
    int64_t wversion; /* its version */
    zmq_msg_t wbody;  /* its resolve body */
};

int ingest_start(broker_t *b)
{
    ingest_t *g = &b->ingest;
    bool pull = b->cfg.ingest_pull && *b->cfg.ingest_pull;
    bool sub = b->cfg.ingest_sub && *b->cfg.ingest_sub;
    if (!pull && !sub)
        return 0;
    uint32_t cap = 16;
    while (cap < 2 * (uint64_t)b->cfg.ingest_max_actors)
        cap *= 2;
    g->slots = calloc(cap, sizeof *g->slots);
    g->ready = calloc(cap, sizeof *g->ready);
    if (!g->slots || !g->ready) {
        ac_log(AC_LOG_ERROR, "start_failed", "code=out_of_memory path=--ingest-max-actors msg=%s",
               "no memory for the ingest table");
        return -1;
    }
    for (uint32_t i = 0; i < cap; i++)
        zmq_msg_init(&g->slots[i].wbody);
    g->mask = cap - 1;
    msgpack_sbuffer_init(&g->sb);
    if (pull) {
        g->pull = zsock_new(ZMQ_PULL);
        if (!g->pull)
            return -1;
        auth_secure(b, g->pull, AC_ZAP_CLIENTS);
        zsock_set_rcvhwm(g->pull, 10000);
        zsock_set_maxmsgsize(g->pull, b->cfg.socket_max_bytes);
        if (zsock_bind(g->pull, "%s", b->cfg.ingest_pull) < 0) {
            ac_log_bad_setting("ingest.pull", "cannot bind %s: %s", b->cfg.ingest_pull,
                               zmq_strerror(zmq_errno()));
            return -1;
        }
    }
    if (sub) {
        g->sub = zsock_new(ZMQ_SUB);
        if (!g->sub)
            return -1;
        zsock_set_rcvhwm(g->sub, 100000);
        zsock_set_maxmsgsize(g->sub, b->cfg.socket_max_bytes);
        char *topics[AC_ENDPOINTS_MAX], *eps[AC_ENDPOINTS_MAX];
        const char *tl = b->cfg.ingest_topics ? b->cfg.ingest_topics : "";
        int nt = *tl ? ac_endpoint_list_split(tl, topics, AC_ENDPOINTS_MAX) : 0;
        for (int i = 0; i < nt; i++) {
            zsock_set_subscribe(g->sub, topics[i]);
            free(topics[i]);
        }
        if (nt == 0)
            zsock_set_subscribe(g->sub, "");
        int ne = ac_endpoint_list_split(b->cfg.ingest_sub, eps, AC_ENDPOINTS_MAX);
        int rc = 0;
        for (int i = 0; i < ne; i++) {
            if (!rc && zsock_connect(g->sub, "%s", eps[i]) != 0) {
                ac_log_bad_setting("ingest.sub", "cannot connect to %s", eps[i]);
                rc = -1;
            }
            free(eps[i]);
        }
        if (rc)
            return -1;
    }
    return 0;
}

void ingest_stop(broker_t *b)
{
    ingest_t *g = &b->ingest;
    zsock_destroy(&g->pull);
    zsock_destroy(&g->sub);
    if (g->slots) {
        for (uint32_t i = 0; i <= g->mask; i++)
            zmq_msg_close(&g->slots[i].wbody);
        free(g->slots);
        free(g->ready);
        g->slots = NULL;
        msgpack_sbuffer_destroy(&g->sb);
    }
}

/* ---- the table of actors in the system ---- */

static ingest_entry_t *find(ingest_t *g, uint64_t h)
{
    for (uint32_t i = (uint32_t)(h >> 7) & g->mask;; i = (i + 1) & g->mask)
        if (g->slots[i].hash == h || g->slots[i].hash == 0)
            return &g->slots[i];
}

/* Frees e's slot (backward shift, so that later probes still find their entries). */
static void entry_free(ingest_t *g, ingest_entry_t *e)
{
    uint32_t i = (uint32_t)(e - g->slots);
    e->hash = 0;
    for (uint32_t j = (i + 1) & g->mask; g->slots[j].hash; j = (j + 1) & g->mask) {
        ingest_entry_t *from = &g->slots[j];
        uint64_t h = from->hash;
        from->hash = 0;
        ingest_entry_t *to = find(g, h);
        if (to == from) {
            from->hash = h;
            continue;
        }
        to->hash = h;
        to->version = from->version;
        to->waiting = from->waiting;
        to->done = from->done;
        to->wversion = from->wversion;
        zmq_msg_move(&to->wbody, &from->wbody);
    }
    g->count--;
}

bool ingest_readable(const broker_t *b)
{
    return b->ingest.count < (uint32_t)b->cfg.ingest_max_actors;
}

/* ---- a change in ---- */

/* Checks a change's body and builds its resolve body in g->sb: {op, publish, actor,
   outputs?}. The actor's id hash and version come back. NULL: fine, else why not. */
static const char *build(broker_t *b, const zmq_msg_t *body, uint64_t *hash, int64_t *version)
{
    ingest_t *g = &b->ingest;
    msgpack_zone_clear(&b->zone);
    msgpack_object o;
    ac_error_t err;
    if ((long long)zmq_msg_size((zmq_msg_t *)body) > b->cfg.max_message_bytes)
        return "larger than max_message_bytes";
    if (ac_msgpack_parse(zmq_msg_data((zmq_msg_t *)body), zmq_msg_size((zmq_msg_t *)body), &b->zone,
                         &o, &err) != 0)
        return "not msgpack";
    if (o.type != MSGPACK_OBJECT_MAP)
        return "not a map";
    const msgpack_object *actor = NULL, *outputs = NULL;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 5 &&
            memcmp(k->via.str.ptr, "actor", 5) == 0)
            actor = &o.via.map.ptr[i].val;
        else if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 7 &&
                 memcmp(k->via.str.ptr, "outputs", 7) == 0)
            outputs = &o.via.map.ptr[i].val;
        else
            return "a field other than actor and outputs";
    }
    if (!actor || actor->type != MSGPACK_OBJECT_MAP)
        return "no actor map";
    const msgpack_object *id = ac_wire_get(actor, "id"), *v = ac_wire_get(actor, "version");
    if (!id || id->type != MSGPACK_OBJECT_STR || id->via.str.size < 1 || id->via.str.size > 128)
        return "actor.id is not a string of 1 to 128 bytes";
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > INT64_MAX)
        return "actor.version is not an integer >= 0";
    *hash = ac_hash_finish(ac_hash_bytes(AC_HASH_INIT, id->via.str.ptr, id->via.str.size));
    if (!*hash)
        *hash = 1;
    *version = (int64_t)v->via.u64;
    msgpack_sbuffer_clear(&g->sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &g->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, outputs ? 3 : 2);
    ac_wire_pack_str(&pk, "op");
    ac_wire_pack_str(&pk, "resolve");
    ac_wire_pack_str(&pk, "actor");
    msgpack_pack_object(&pk, *actor);
    if (outputs) {
        ac_wire_pack_str(&pk, "outputs");
        msgpack_pack_object(&pk, *outputs);
    }
    return NULL;
}

/* Queues a resolve body (moved) for the actor with hash h, as a request with no client. */
static void queue_change(broker_t *b, zmq_msg_t *body, uint64_t h)
{
    service_t *s = service_require(b, AC_SERVICE, strlen(AC_SERVICE));
    request_t *r = s ? request_new(b) : NULL;
    if (!r) {
        b->n.ingest_dropped++;
        ingest_done(b, h);
        return;
    }
    r->client.len = 0;
    r->ingest = true;
    r->packed = false;
    r->nbody = 1;
    zmq_msg_move(&r->body[0], body);
    r->has_key = true;
    r->key = h;
    r->bytes = zmq_msg_size(&r->body[0]) + sizeof(request_t);
    b->held_bytes += r->bytes;
    r->service = s;
    r->fan = b->cfg.replicas > 1 ? FAN_RESOLVE : FAN_NONE;
    queue_append(b, s, r);
    b->n.ingest_queued++;
    dispatch(b, s);
}

static void on_change(broker_t *b, mpart_t *m)
{
    ingest_t *g = &b->ingest;
    uint64_t h = 0;
    int64_t version = 0;
    const char *why = m->overflow || m->n != 2 ? "not two frames ([topic][body])" : NULL;
    if (!why)
        why = build(b, &m->f[1], &h, &version);
    if (why) {
        b->n.ingest_malformed++;
        /* The first ten at warn, the rest at debug: a bad producer cannot fill the journal. */
        ac_log(b->n.ingest_malformed <= 10 ? AC_LOG_WARN : AC_LOG_DEBUG, "ingest_dropped",
               "code=bad_request msg=%s dropped=%" PRIu64, why, b->n.ingest_malformed);
        return;
    }
    b->n.ingest_received++;
    ingest_entry_t *e = find(g, h);
    if (e->hash == 0) { /* the actor has nothing in the system: in it goes */
        e->hash = h;
        e->version = version;
        e->waiting = e->done = false;
        g->count++;
        zmq_msg_t body;
        zmq_msg_init_size(&body, g->sb.size);
        memcpy(zmq_msg_data(&body), g->sb.data, g->sb.size);
        queue_change(b, &body, h);
        zmq_msg_close(&body);
        return;
    }
    if (version < (e->waiting ? e->wversion : e->version)) {
        b->n.ingest_stale++;
        return;
    }
    if (e->waiting)
        b->n.ingest_coalesced++;
    zmq_msg_close(&e->wbody);
    zmq_msg_init_size(&e->wbody, g->sb.size);
    memcpy(zmq_msg_data(&e->wbody), g->sb.data, g->sb.size);
    e->wversion = version;
    e->waiting = true;
}

void ingest_done(broker_t *b, uint64_t h)
{
    ingest_t *g = &b->ingest;
    if (!g->slots)
        return;
    ingest_entry_t *e = find(g, h);
    if (e->hash != h)
        return;
    if (!e->waiting) {
        entry_free(g, e);
        return;
    }
    /* The waiting change goes in at the next ingest_pump (not from here: this runs while a
       request is being freed, in the middle of the queue's own loops). */
    e->done = true;
    g->ready[g->nready++] = h;
}

void ingest_pump(broker_t *b)
{
    ingest_t *g = &b->ingest;
    while (g->nready) {
        uint64_t h = g->ready[--g->nready];
        ingest_entry_t *e = find(g, h);
        if (e->hash != h || !e->done)
            continue;
        e->done = false;
        e->waiting = false;
        e->version = e->wversion;
        zmq_msg_t body;
        zmq_msg_init(&body);
        zmq_msg_move(&body, &e->wbody);
        queue_change(b, &body, h);
        zmq_msg_close(&body);
    }
}

void ingest_answered(broker_t *b, const zmq_msg_t *body)
{
    /* The snapshot's bytes are published as they are: a skim finds them and the actor's
       id in them (no decoding, no encoding). */
    const uint8_t *p = zmq_msg_data((zmq_msg_t *)body), *ok, *snap, *id;
    size_t n = zmq_msg_size((zmq_msg_t *)body), ok_len, snap_len, id_len;
    if (!skim_value(p, n, "ok", &ok, &ok_len) || ok_len != 1 || ok[0] != 0xc3 ||
        !skim_value(p, n, "snapshot", &snap, &snap_len) ||
        !skim_value(snap, snap_len, "ActorId", &id, &id_len) || id_len < 2) {
        b->n.ingest_failed++;
        return;
    }
    /* id is a msgpack string: its header, then its bytes */
    size_t head = id[0] >= 0xa0 && id[0] <= 0xbf ? 1 : id[0] == 0xd9 ? 2 : id[0] == 0xda ? 3 : 0;
    if (!head || id_len - head > 128) {
        b->n.ingest_failed++;
        return;
    }
    b->n.ingest_resolved++;
    char topic[5 + 128];
    memcpy(topic, "snap/", 5);
    memcpy(topic + 5, id + head, id_len - head);
    if (events_publish(b, topic, 5 + id_len - head, snap, snap_len) == 0)
        b->n.ingest_published++;
}

void ingest_on_readable(broker_t *b, zsock_t *sock)
{
    mpart_t m;
    for (int i = 0; i < FRAMES_MAX; i++)
        zmq_msg_init(&m.f[i]);
    for (int n = 0; n < 256 && (sock != b->ingest.pull || ingest_readable(b)); n++) {
        if (!frames_recv(zsock_resolve(sock), &m))
            break;
        on_change(b, &m);
        frames_reset(&m);
    }
    for (int i = 0; i < FRAMES_MAX; i++)
        zmq_msg_close(&m.f[i]);
}
