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
#include "codec/mpobj.h"
#include "core/hash.h"
#include "service/settings.h"

struct ingest_entry {
    uint64_t hash;    /* the actor id's hash; 0: free slot */
    int64_t version;  /* of the change in the system */
    bool waiting;     /* a change waits */
    bool done;        /* the change in the system is done: the waiting one goes next */
    int64_t wversion; /* its version */
    uint32_t wid_at;  /* where the actor id lies in wbody */
    uint8_t wid_len;  /* and its length */
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
        to->wid_at = from->wid_at;
        to->wid_len = from->wid_len;
        zmq_msg_move(&to->wbody, &from->wbody);
    }
    g->count--;
}

bool ingest_readable(const broker_t *b)
{
    return b->ingest.count < (uint32_t)b->cfg.ingest_max_actors;
}

/* ---- a change in ---- */

/* A change, checked: where its actor and outputs lie in its body, the actor's id bytes,
   their hash and the version. */
typedef struct {
    size_t actor_at, actor_len;     /* the actor map's bytes */
    size_t outputs_at, outputs_len; /* the outputs' bytes; 0: none */
    const uint8_t *id;              /* the actor id's bytes */
    uint32_t id_len;
    uint64_t hash;   /* of the id, never 0 */
    int64_t version; /* actor.version */
} change_t;

/* The entry count of the map at *pos, which moves past its header; -1: not a map. */
static int64_t map_head(const uint8_t *p, size_t *pos)
{
    uint8_t t = p[(*pos)++];
    if (t >= 0x80 && t <= 0x8f)
        return t & 0x0f;
    int w = t == 0xde ? 2 : t == 0xdf ? 4 : 0;
    if (!w)
        return -1;
    *pos += (size_t)w;
    return (int64_t)ac_be_read(p + *pos - w, w);
}

/* The string at pos: its bytes and length; false when the object there is not a string. */
static bool str_at(const uint8_t *p, size_t pos, const uint8_t **s, uint32_t *len)
{
    uint8_t t = p[pos];
    int w = t == 0xd9 ? 1 : t == 0xda ? 2 : t == 0xdb ? 4 : 0;
    if (t >= 0xa0 && t <= 0xbf)
        *len = t & 0x1f;
    else if (w)
        *len = (uint32_t)ac_be_read(p + pos + 1, w);
    else
        return false;
    *s = p + pos + 1 + w;
    return true;
}

static bool key_is(const uint8_t *p, size_t pos, const char *want)
{
    const uint8_t *s;
    uint32_t len;
    return str_at(p, pos, &s, &len) && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* The integer at pos when it is >= 0 and fits an int64 (any msgpack integer form). */
static bool version_at(const uint8_t *p, size_t pos, int64_t *v)
{
    uint8_t t = p[pos];
    if (t <= 0x7f) {
        *v = t;
        return true;
    }
    if (t < 0xcc || t > 0xd3)
        return false;
    int w = 1 << ((t - 0xcc) & 3);
    uint64_t u = ac_be_read(p + pos + 1, w);
    if (t >= 0xd0 && w < 8 && (u >> (8 * w - 1))) /* a negative int8 .. int32 */
        return false;
    if (u > INT64_MAX) /* uint64 past int64, or a negative int64 */
        return false;
    *v = (int64_t)u;
    return true;
}

/* Checks a change's body without decoding it: one walk checks that it is whole msgpack
   (every object, however nested), then the top map and the actor's own fields are read
   in place. NULL: fine, else why not. */
static const char *check(const broker_t *b, const zmq_msg_t *body, change_t *c)
{
    const uint8_t *p = zmq_msg_data((zmq_msg_t *)body);
    size_t n = zmq_msg_size((zmq_msg_t *)body), pos = 0;
    memset(c, 0, sizeof *c);
    if ((long long)n > b->cfg.max_message_bytes)
        return "larger than max_message_bytes";
    if (n == 0 || ac_wire_skip(p, n, 0) != n)
        return "not msgpack";
    int64_t fields = map_head(p, &pos);
    if (fields < 0)
        return "not a map";
    for (int64_t i = 0; i < fields; i++) {
        size_t key = pos, at = ac_wire_skip(p, n, key), end = ac_wire_skip(p, n, at);
        if (key_is(p, key, "actor"))
            c->actor_at = at, c->actor_len = end - at;
        else if (key_is(p, key, "outputs"))
            c->outputs_at = at, c->outputs_len = end - at;
        else
            return "a field other than actor and outputs";
        pos = end;
    }
    pos = c->actor_at;
    int64_t afields = c->actor_len ? map_head(p, &pos) : -1;
    if (afields < 0)
        return "no actor map";
    size_t id_at = 0, version_pos = 0; /* the first of each, as a map lookup reads them */
    for (int64_t i = 0; i < afields; i++) {
        size_t key = pos, at = ac_wire_skip(p, n, key);
        if (!id_at && key_is(p, key, "id"))
            id_at = at;
        else if (!version_pos && key_is(p, key, "version"))
            version_pos = at;
        pos = ac_wire_skip(p, n, at);
    }
    if (!id_at || !str_at(p, id_at, &c->id, &c->id_len) || c->id_len < 1 || c->id_len > 128)
        return "actor.id is not a string of 1 to 128 bytes";
    if (!version_pos || !version_at(p, version_pos, &c->version))
        return "actor.version is not an integer >= 0";
    c->hash = ac_hash_finish(ac_hash_bytes(AC_HASH_INIT, c->id, c->id_len));
    if (!c->hash)
        c->hash = 1;
    return NULL;
}

/* The resolve body of a checked change, {op: resolve, actor, outputs?}, its actor and
   outputs copied as they came (no re-encoding), into m; the id's offset in it comes back
   (ingest_answered names the snapshot's topic from it). -1: no memory. */
static long make_body(zmq_msg_t *m, const zmq_msg_t *change, const change_t *c)
{
    static const char head[] = "\x82\xa2op\xa7resolve\xa5"
                               "actor",
                      outputs[] = "\xa7outputs";
    size_t hn = sizeof head - 1, on = sizeof outputs - 1;
    size_t size = hn + c->actor_len + (c->outputs_len ? on + c->outputs_len : 0);
    if (zmq_msg_init_size(m, size) != 0)
        return -1;
    const uint8_t *p = zmq_msg_data((zmq_msg_t *)change);
    uint8_t *d = zmq_msg_data(m);
    memcpy(d, head, hn);
    if (c->outputs_len)
        d[0] = 0x83;
    memcpy(d + hn, p + c->actor_at, c->actor_len);
    if (c->outputs_len) {
        memcpy(d + hn + c->actor_len, outputs, on);
        memcpy(d + hn + c->actor_len + on, p + c->outputs_at, c->outputs_len);
    }
    return (long)(hn + (size_t)(c->id - p) - c->actor_at);
}

/* Queues a resolve body (moved) for the actor with hash h, its id at id_at, as a request
   with no client. */
static void queue_change(broker_t *b, zmq_msg_t *body, uint64_t h, uint32_t id_at, uint8_t id_len)
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
    r->id_at = id_at;
    r->id_len = id_len;
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

void ingest_on_change(broker_t *b, mpart_t *m)
{
    ingest_t *g = &b->ingest;
    change_t c;
    const char *why = m->overflow || m->n != 2 ? "not two frames ([topic][body])" : NULL;
    if (!why)
        why = check(b, &m->f[1], &c);
    if (why) {
        b->n.ingest_malformed++;
        /* The first ten at warn, the rest at debug: a bad producer cannot fill the journal. */
        ac_log(b->n.ingest_malformed <= 10 ? AC_LOG_WARN : AC_LOG_DEBUG, "ingest_dropped",
               "code=bad_request msg=%s dropped=%" PRIu64, why, b->n.ingest_malformed);
        return;
    }
    b->n.ingest_received++;
    ingest_entry_t *e = find(g, c.hash);
    bool fresh = e->hash == 0; /* the actor has nothing in the system: in it goes */
    if (!fresh && c.version < (e->waiting ? e->wversion : e->version)) {
        b->n.ingest_stale++;
        return;
    }
    zmq_msg_t body;
    long id_at = make_body(&body, &m->f[1], &c);
    if (id_at < 0) {
        b->n.ingest_dropped++;
        return;
    }
    if (fresh) {
        e->hash = c.hash;
        e->version = c.version;
        e->waiting = e->done = false;
        g->count++;
        queue_change(b, &body, c.hash, (uint32_t)id_at, (uint8_t)c.id_len);
        zmq_msg_close(&body);
        return;
    }
    if (e->waiting)
        b->n.ingest_coalesced++;
    zmq_msg_move(&e->wbody, &body); /* closes the body that waited */
    zmq_msg_close(&body);
    e->wversion = c.version;
    e->wid_at = (uint32_t)id_at;
    e->wid_len = (uint8_t)c.id_len;
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
        queue_change(b, &body, h, e->wid_at, e->wid_len);
        zmq_msg_close(&body);
    }
}

void ingest_answered(broker_t *b, const request_t *r, const zmq_msg_t *body)
{
    /* The snapshot's bytes are published as they are, found by a skim (no decoding, no
       encoding); the topic names the actor id the change carried. */
    const uint8_t *p = zmq_msg_data((zmq_msg_t *)body), *ok, *snap;
    size_t n = zmq_msg_size((zmq_msg_t *)body), ok_len, snap_len;
    if (!skim_value(p, n, "ok", &ok, &ok_len) || ok_len != 1 || ok[0] != 0xc3 ||
        !skim_value(p, n, "snapshot", &snap, &snap_len) || r->nbody < 1 ||
        r->id_at + (size_t)r->id_len > zmq_msg_size((zmq_msg_t *)&r->body[0])) {
        b->n.ingest_failed++;
        return;
    }
    b->n.ingest_resolved++;
    char topic[5 + 255];
    memcpy(topic, "snap/", 5);
    memcpy(topic + 5, (const uint8_t *)zmq_msg_data((zmq_msg_t *)&r->body[0]) + r->id_at,
           r->id_len);
    if (events_publish(b, topic, 5 + (size_t)r->id_len, snap, snap_len) == 0)
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
        ingest_on_change(b, &m);
        frames_reset(&m);
    }
    for (int i = 0; i < FRAMES_MAX; i++)
        zmq_msg_close(&m.f[i]);
}
