/*  client.c - the asynchronous MDP client (see client.h).

    Pending requests sit in an open-addressing table keyed by id (for matching replies)
    and in a list ordered by deadline (every attempt's deadline is now + timeout, so
    appending keeps the list sorted and expiry is a look at its head).

    A dropped broker connection loses whatever was on the wire, and the broker cannot
    route a reply to a connection that is gone; so a monitor watches the socket, and when
    the connection comes back after a drop, every pending request is sent again at once
    (replies that arrive twice are dropped by id), instead of waiting for its timeout.

    Fail-over: the endpoint may be a comma-separated list (a primary / backup pair of
    brokers, broker/pair.c). The client talks to one at a time; it moves to the next when
    the connection drops, when a fresh connection has not come up within FAILOVER_MS, when
    an attempt times out, or when the broker answers that it is the passive one, and sends
    every pending request there at once. A request leaves the pending table at its first
    reply, so the caller gets each exactly once whichever broker answered.
*/
#include "actorcore/client.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "actorcore/codec.h"
#include "actorcore/error.h"
#include "actorcore/wire.h"
#include "service/curve.h"
#include "service/mdp.h"
#include "service/settings.h"

#define FAILOVER_MS 250 /* a broker of a pair that does not connect in this long: the next */

typedef struct pending {
    uint64_t id;                 /* request id */
    int64_t deadline;            /* end of the current attempt */
    int attempts;                /* attempts sent */
    size_t len;                  /* bytes of body */
    char *body;                  /* kept for retries */
    struct pending *prev, *next; /* deadline order */
} pending_t;

struct ac_client {
    char *eps[AC_ENDPOINTS_MAX];     /* the brokers' frontends (a pair: two) */
    int neps;                        /* entries in eps */
    int cur;                         /* the one talked to */
    int64_t switched_at;             /* when it was chosen */
    bool connected;                  /* its connection came up since */
    int64_t switch_at;               /* a move to the next broker is due then (0: none) */
    char *curve_cert, *curve_server; /* kept for the sockets of a fail-over */
    char *ingest;                    /* the broker's ingest.pull, or NULL */
    zsock_t *push;                   /* PUSH to it, made at the first publish */
    zsock_t *sock;                   /* DEALER to the broker frontend */
    zsock_t *monitor;                /* PAIR: the socket's connect / disconnect events */
    bool dropped;                    /* the connection dropped and has not come back yet */
    int refused;             /* the last handshake failed: 0 no, 1 key refused, 2 mismatch */
    ac_client_config_t cfg;  /* timeouts */
    uint64_t next_id;        /* last id handed out */
    pending_t **table;       /* open addressing by id; NULL empty */
    size_t table_cap;        /* power of two */
    size_t count;            /* pending requests */
    pending_t *head, *tail;  /* deadline order */
    msgpack_sbuffer build;   /* body being begun */
    msgpack_packer pk;       /* packs into build */
    zmsg_t *last;            /* the reply handed out last */
    msgpack_sbuffer synth;   /* a synthesized timeout reply */
    ac_client_stats_t stats; /* counters */
};

static size_t slot_of(const ac_client_t *c, uint64_t id)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 20) & (c->table_cap - 1);
}

static pending_t **find(ac_client_t *c, uint64_t id)
{
    for (size_t i = slot_of(c, id);; i = (i + 1) & (c->table_cap - 1))
        if (!c->table[i] || c->table[i]->id == id)
            return &c->table[i];
}

static int grow(ac_client_t *c)
{
    size_t cap = c->table_cap ? c->table_cap * 2 : 1024;
    pending_t **old = c->table;
    size_t old_cap = c->table_cap;
    c->table = calloc(cap, sizeof *c->table);
    if (!c->table) {
        c->table = old;
        return -1;
    }
    c->table_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            *find(c, old[i]->id) = old[i];
    free(old);
    return 0;
}

/* Removes p from the table (backward-shift deletion keeps probes intact). */
static void table_remove(ac_client_t *c, pending_t *p)
{
    size_t i = (size_t)(find(c, p->id) - c->table);
    c->table[i] = NULL;
    for (size_t j = (i + 1) & (c->table_cap - 1); c->table[j]; j = (j + 1) & (c->table_cap - 1)) {
        pending_t *q = c->table[j];
        c->table[j] = NULL;
        *find(c, q->id) = q;
    }
    c->count--;
}

static void list_append(ac_client_t *c, pending_t *p)
{
    p->next = NULL;
    p->prev = c->tail;
    if (c->tail)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
}

static void list_unlink(ac_client_t *c, pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        c->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        c->tail = p->prev;
}

/* CURVE keys from the config, applied before connect; -1 when they do not load. */
static int secure(zsock_t *sock, const ac_client_config_t *cfg)
{
    if (!cfg || (!cfg->curve_cert && !cfg->curve_server))
        return 0;
    ac_curve_settings_t set = {"curve", (char *)cfg->curve_cert, (char *)cfg->curve_server};
    ac_curve_keys_t keys;
    ac_error_t err;
    if (ac_curve_keys_load_client(&set, &keys, &err) != 0)
        return -1;
    ac_curve_keys_apply(&keys, sock);
    ac_curve_keys_fini(&keys);
    return 0;
}

/* The socket and its monitor for eps[cur]. -1 when either cannot be made. */
static int open_socket(ac_client_t *c)
{
    ac_client_config_t keys = {.curve_cert = c->curve_cert, .curve_server = c->curve_server};
    c->sock = zsock_new(ZMQ_DEALER);
    if (!c->sock || secure(c->sock, &keys) != 0)
        return -1;
    zsock_set_linger(c->sock, 0);
    /* Never block in a send: a connection ended by a protocol error (a refused key, a
       security mismatch) is not retried by libzmq, and a DEALER with no peer would wait in
       zmq_send forever. A request that cannot go now stays pending: it is retried at its
       deadline, or answered `unavailable` when the handshake was refused. */
    zsock_set_sndtimeo(c->sock, 0);
    zsock_set_sndhwm(c->sock, 1000000);
    zsock_set_rcvhwm(c->sock, 1000000);
    if (zsock_connect(c->sock, "%s", c->eps[c->cur]) != 0)
        return -1;
    /* A name never used before in this process: a closed monitor's name is released
       asynchronously, so a new client at the same address could not reuse it. */
    static _Atomic unsigned s_monitors;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ac-client-monitor-%u", s_monitors++);
    if (zmq_socket_monitor(
            zsock_resolve(c->sock), ep,
            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0 ||
        !(c->monitor = zsock_new(ZMQ_PAIR)) || zsock_connect(c->monitor, "%s", ep) != 0)
        return -1;
    c->switched_at = zclock_mono();
    c->connected = false;
    c->dropped = false;
    return 0;
}

static void close_socket(ac_client_t *c)
{
    if (c->monitor && c->sock)
        zmq_socket_monitor(zsock_resolve(c->sock), NULL, 0);
    zsock_destroy(&c->monitor);
    zsock_destroy(&c->sock);
}

ac_client_t *ac_client_new(const char *endpoint, const ac_client_config_t *cfg)
{
    ac_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg.timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    c->cfg.retries = cfg && cfg->retries >= 0 ? cfg->retries : 2;
    c->cfg.plain_mdp = cfg && cfg->plain_mdp;
    ac_error_t err;
    if (!endpoint || ac_endpoint_list_check("endpoint", endpoint, false, &err) != 0) {
        free(c);
        return NULL;
    }
    c->neps = ac_endpoint_list_split(endpoint, c->eps, AC_ENDPOINTS_MAX);
    c->curve_cert = cfg && cfg->curve_cert ? strdup(cfg->curve_cert) : NULL;
    c->curve_server = cfg && cfg->curve_server ? strdup(cfg->curve_server) : NULL;
    c->ingest = cfg && cfg->ingest ? strdup(cfg->ingest) : NULL;
    msgpack_sbuffer_init(&c->build);
    msgpack_packer_init(&c->pk, &c->build, msgpack_sbuffer_write);
    msgpack_sbuffer_init(&c->synth);
    if (c->neps < 1 || grow(c) || open_socket(c) != 0) {
        ac_client_destroy(&c);
        return NULL;
    }
    return c;
}

void ac_client_destroy(ac_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_client_t *c = *self_p;
    for (pending_t *p = c->head; p;) {
        pending_t *next = p->next;
        free(p->body);
        free(p);
        p = next;
    }
    free(c->table);
    zmsg_destroy(&c->last);
    close_socket(c);
    zsock_destroy(&c->push); /* lingers up to timeout_ms: changes pushed are delivered */
    free(c->ingest);
    for (int i = 0; i < c->neps; i++)
        free(c->eps[i]);
    free(c->curve_cert);
    free(c->curve_server);
    msgpack_sbuffer_destroy(&c->build);
    msgpack_sbuffer_destroy(&c->synth);
    free(c);
    *self_p = NULL;
}

uint64_t ac_client_next_id(ac_client_t *c)
{
    return ++c->next_id;
}

void ac_client_begin(ac_client_t *c, msgpack_packer **pk, const char *op, uint64_t id,
                     uint32_t n_fields)
{
    msgpack_sbuffer_clear(&c->build);
    msgpack_pack_map(&c->pk, n_fields + 2);
    ac_wire_pack_str(&c->pk, "op");
    ac_wire_pack_str(&c->pk, op);
    ac_wire_pack_str(&c->pk, "id");
    msgpack_pack_uint64(&c->pk, id);
    *pk = &c->pk;
}

int ac_client_send(ac_client_t *c, uint64_t id)
{
    return ac_client_send_raw(c, id, c->build.data, c->build.size);
}

static int transmit(ac_client_t *c, const pending_t *p)
{
    if (!c->sock)
        return -1;
    zmsg_t *msg = zmsg_new();
    if (c->cfg.plain_mdp) {
        zmsg_addmem(msg, NULL, 0);
        zmsg_addstr(msg, AC_MDPC);
        zmsg_addstr(msg, AC_SERVICE);
        zmsg_addmem(msg, p->body, p->len);
    } else { /* one frame: head and body (service/mdp.h) */
        size_t n = strlen(AC_SERVICE);
        zframe_t *f = zframe_new(NULL, AC_PACKED_HEAD + n + p->len);
        uint8_t *h = zframe_data(f);
        memcpy(h + ac_packed_put(h, AC_PACKED_CLIENT, AC_SERVICE, n), p->body, p->len);
        zmsg_append(msg, &f);
    }
    int rc = zmsg_send(&msg, c->sock);
    zmsg_destroy(&msg);
    return rc;
}

int ac_client_send_raw(ac_client_t *c, uint64_t id, const void *body, size_t len)
{
    if ((c->count + 1) * 2 > c->table_cap && grow(c))
        return -1;
    pending_t **slot = find(c, id);
    if (*slot)
        return -1; /* an id already pending */
    pending_t *p = calloc(1, sizeof *p);
    char *copy = malloc(len ? len : 1);
    if (!p || !copy) {
        free(p);
        free(copy);
        return -1;
    }
    memcpy(copy, body, len);
    p->id = id;
    p->body = copy;
    p->len = len;
    p->attempts = 1;
    p->deadline = zclock_mono() + c->cfg.timeout_ms;
    *slot = p;
    c->count++;
    list_append(c, p);
    c->stats.sent++;
    transmit(c, p); /* a send that fails now is retried at the deadline */
    return 0;
}

/* Deals with expired attempts: retries them, or turns the oldest exhausted one into a
   synthesized timeout reply (returns 1 with *reply filled). */
/* Moves to the next broker of the list and sends it every pending request (their attempts
   are not counted again). */
static void fail_over(ac_client_t *c)
{
    close_socket(c);
    c->cur = (c->cur + 1) % c->neps;
    c->switch_at = 0;
    c->stats.failovers++;
    if (open_socket(c) != 0) {
        close_socket(c); /* retried at the next attempt's deadline */
        return;
    }
    for (pending_t *p = c->head; p; p = p->next) {
        c->stats.resent++;
        transmit(c, p);
    }
}

static int handle_expired(ac_client_t *c, ac_reply_t *reply)
{
    int64_t now = zclock_mono();
    if (c->neps > 1 && !c->refused &&
        ((c->switch_at && now >= c->switch_at) || !c->sock ||
         (c->count && !c->connected && now - c->switched_at >= FAILOVER_MS)))
        fail_over(c);
    if (c->neps > 1 && c->head && c->head->deadline <= now && !c->refused)
        fail_over(c); /* an attempt timed out: the other broker gets this one and the rest */
    /* While the broker refuses this client's key, nothing can get through: every pending
       request is answered at once, so a misconfigured key is an error, not a timeout. */
    while (c->head && (c->head->deadline <= now || c->refused)) {
        pending_t *p = c->head;
        list_unlink(c, p);
        if (!c->refused && p->attempts <= c->cfg.retries) {
            p->attempts++;
            p->deadline = now + c->cfg.timeout_ms;
            list_append(c, p);
            c->stats.retried++;
            transmit(c, p);
            continue;
        }
        table_remove(c, p);
        msgpack_sbuffer_clear(&c->synth);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &c->synth, msgpack_sbuffer_write);
        ac_error_t err;
        if (c->refused) {
            c->stats.refused++;
            ac_error_set(&err, AC_EUNAVAILABLE, "", "%s",
                         c->refused == 1
                             ? "the broker refused this client's CURVE key (its certificate is "
                               "not in the broker's curve.clients folder)"
                             : "the handshake with the broker failed: its security (none or "
                               "curve) or its server key does not match this client's");
        } else {
            c->stats.timed_out++;
            ac_error_set(&err, AC_ETIMEOUT, "", "no reply after %d attempts of %d ms", p->attempts,
                         c->cfg.timeout_ms);
        }
        msgpack_object id = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = p->id};
        ac_wire_pack_error(&pk, &id, &err);
        reply->id = p->id;
        reply->body = c->synth.data;
        reply->len = c->synth.size;
        free(p->body);
        free(p);
        return 1;
    }
    return 0;
}

/* Reads the monitor: after a drop, the reconnection re-sends every pending request. */
static void on_monitor(ac_client_t *c)
{
    zmq_msg_t f;
    zmq_msg_init(&f);
    void *mon = zsock_resolve(c->monitor);
    while (zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) >= 0) {
        /* An event is [uint16 event, uint32 value][endpoint]. */
        if (!zmq_msg_more(&f) || zmq_msg_size(&f) < 2)
            continue;
        uint16_t event;
        memcpy(&event, zmq_msg_data(&f), 2);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            c->refused = 1;
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
            c->refused = 2;
        } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            c->refused = 0;
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            c->dropped = true;
            if (c->neps > 1)
                c->switch_at = zclock_mono(); /* the pair's other broker, at once */
        } else if (event == ZMQ_EVENT_CONNECTED && !c->dropped) {
            c->connected = true;
        } else if (event == ZMQ_EVENT_CONNECTED && c->dropped) {
            c->connected = true;
            c->dropped = false;
            int64_t deadline = zclock_mono() + c->cfg.timeout_ms;
            /* Oldest first; each gets a fresh deadline, so the list stays in order. */
            for (pending_t *p = c->head; p; p = p->next) {
                p->deadline = deadline;
                c->stats.resent++;
                transmit(c, p);
            }
        }
    }
    zmq_msg_close(&f);
}

/* True when a reply is the passive broker's refusal (error path "broker.passive"). */
static bool from_passive(const void *body, size_t len)
{
    if (!memmem(body, len, "broker.passive", 14))
        return false;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool passive = false;
    if (msgpack_unpack_next(&u, body, len, NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *path = ac_wire_get(ac_wire_get(&u.data, "error"), "path");
        passive = path && path->type == MSGPACK_OBJECT_STR && path->via.str.size == 14 &&
                  memcmp(path->via.str.ptr, "broker.passive", 14) == 0;
    }
    msgpack_unpacked_destroy(&u);
    return passive;
}

int ac_client_recv(ac_client_t *c, ac_reply_t *reply, int timeout_ms)
{
    zmsg_destroy(&c->last);
    int64_t until = timeout_ms < 0 ? INT64_MAX : zclock_mono() + timeout_ms;
    for (;;) {
        if (handle_expired(c, reply))
            return 1;
        int64_t now = zclock_mono();
        if (now >= until && timeout_ms >= 0)
            return 0;
        if (c->count == 0 && timeout_ms < 0)
            return 0;
        int64_t wait = until - now;
        if (c->head && c->head->deadline - now < wait)
            wait = c->head->deadline - now;
        if (c->neps > 1 && wait > 10 && (c->switch_at || !c->connected || !c->sock))
            wait = 10; /* a fail-over may be due: look again soon */
        if (!c->sock) {
            zclock_sleep((int)(wait > 0 ? wait : 0));
            continue;
        }
        zmq_pollitem_t items[] = {{zsock_resolve(c->sock), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve(c->monitor), 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, wait > 0 ? (long)(wait > 1000000 ? 1000000 : wait) : 0);
        if (rc < 0)
            return 0;
        if (items[1].revents & ZMQ_POLLIN)
            on_monitor(c);
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmsg_t *msg = zmsg_recv(c->sock);
        if (!msg)
            return 0;
        /* [empty][MDPC01][service][body], or one packed frame [head + body] */
        zframe_t *f = zmsg_first(msg);
        const char *data = (const char *)zframe_data(zmsg_last(msg));
        size_t len = zframe_size(zmsg_last(msg));
        long head = zmsg_size(msg) == 1
                        ? ac_packed_get(zframe_data(f), zframe_size(f), AC_PACKED_ANSWER)
                        : -1;
        bool packed = head >= 0;
        size_t skip = packed ? AC_PACKED_HEAD + (size_t)head : 0;
        if (!packed && (zmsg_size(msg) < 4 || zframe_size(f) != 0)) {
            zmsg_destroy(&msg);
            c->stats.duplicates++;
            continue;
        }
        if (packed) {
            data += skip;
            len -= skip;
        }
        uint64_t rid = 0;
        pending_t **slot = ac_wire_peek_uint(data, len, "id", &rid) == 1 ? find(c, rid) : NULL;
        if (!slot || !*slot) {
            c->stats.duplicates++;
            zmsg_destroy(&msg);
            continue;
        }
        if (c->neps > 1 && from_passive(data, len)) {
            /* Not an answer: the broker is the passive one. The request stays pending, and
               goes to the next broker (soon, not at once: the pair may be taking over). */
            zmsg_destroy(&msg);
            c->stats.passive++;
            if (!c->switch_at)
                c->switch_at =
                    c->switched_at + 50 > zclock_mono() ? c->switched_at + 50 : zclock_mono();
            continue;
        }
        pending_t *p = *slot;
        list_unlink(c, p);
        table_remove(c, p);
        free(p->body);
        reply->id = p->id;
        free(p);
        reply->body = data;
        reply->len = len;
        c->last = msg;
        c->stats.received++;
        return 1;
    }
}

int ac_client_publish(ac_client_t *c, const char *topic, const void *body, size_t len)
{
    if (!c->ingest)
        return -1;
    if (!c->push) {
        ac_client_config_t keys = {.curve_cert = c->curve_cert, .curve_server = c->curve_server};
        c->push = zsock_new(ZMQ_PUSH);
        if (!c->push || secure(c->push, &keys) != 0 ||
            zsock_connect(c->push, "%s", c->ingest) != 0) {
            zsock_destroy(&c->push);
            return -1;
        }
        zsock_set_sndtimeo(c->push, c->cfg.timeout_ms);
        zsock_set_linger(c->push, c->cfg.timeout_ms);
    }
    void *s = zsock_resolve(c->push);
    const char *t = topic ? topic : "";
    if (zmq_send(s, t, strlen(t), ZMQ_SNDMORE) < 0 || zmq_send(s, body, len, 0) < 0)
        return -1;
    return 0;
}

size_t ac_client_pending(const ac_client_t *c)
{
    return c->count;
}

void ac_client_stats(const ac_client_t *c, ac_client_stats_t *stats)
{
    *stats = c->stats;
}
