/*  actorcore-worker - an MDP/0.1 worker for the "actorcore" service.

    Connects a DEALER to the broker's backend, announces READY with its credit, answers
    requests in arrival order, exchanges heartbeats, and when the broker goes silent for
    `liveness` heartbeats (or says DISCONNECT) it reconnects with a fresh socket and
    exponential backoff. Publishes resolved snapshots on a PUB socket connected to the
    broker's events-in.

    SIGINT/SIGTERM drain: no message is read any more; the requests already received are
    answered (and the replies that waited for their L3 commit sent), then DISCONNECT goes to
    each broker, which re-queues, once, what it sent that was never read; the store is
    flushed and the exit status is 0. Every reply leaves before the DISCONNECT on the same
    connection, so the broker never re-queues a request that was answered. SIGHUP reloads
    the registries and subsystem folders between two requests (worker_reload). The
    handlers only set flags (CZMQ's zsys_interrupted, s_reload_asked): the loop acts. With
    systemd (service/notify.h): READY=1 once a broker has answered the READY, RELOADING=1 /
    READY=1 around a reload, STOPPING=1 when the drain begins.
*/
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mdp.h"
#include "service/notify.h"
#include "worker.h"

static const char *s_usage_head =
    "Usage: actorcore-worker [--config FILE] [--SETTING VALUE]...\n"
    "\n"
    "An actorcore worker process: resolves requests from the broker with the aggregator,\n"
    "an in-memory L1 cache and a SQLite L3 store. Start one per core, on any host.\n"
    "Settings (also the `worker:` section of a --config YAML file, see\n"
    "config/actorcore.yaml; flags override the file):\n"
    "  --config FILE              read settings from FILE first\n"
    "  -h, --help                 this text\n"
    "  -V, --version              the version\n";

/* SIGHUP: a reload is due (done by the loop, between two requests). */
static volatile sig_atomic_t s_reload_asked;

static void on_sighup(int sig)
{
    (void)sig;
    s_reload_asked = 1;
}

static int64_t clock_ms(void)
{
    return zclock_mono();
}

static void send_command(zsock_t *sock, int command, zmsg_t *msg)
{
    msg = ac_mdp_worker_frames(msg, command);
    zmsg_send(&msg, sock);
    zmsg_destroy(&msg);
}

static zsock_t *connect_broker(worker_t *w, const char *endpoint)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    if (!s)
        return NULL;
    zsock_set_linger(s, 0);
    /* A send never blocks the loop: after a refused handshake (a protocol error) libzmq
       leaves the DEALER with no peer for good, and the link's monitor makes a new one. */
    zsock_set_sndtimeo(s, 0);
    zsock_set_maxmsgsize(s, (int64_t)w->cfg.max_message_bytes * 2 + 65536);
    zsock_set_rcvhwm(s, 100000);
    zsock_set_sndhwm(s, 100000);
    ac_curve_keys_apply(&w->keys, s);
    if (zsock_connect(s, "%s", endpoint) != 0) {
        zsock_destroy(&s);
        return NULL;
    }
    zmsg_t *ready = zmsg_new();
    zmsg_addstr(ready, AC_SERVICE);
    zmsg_addstrf(ready, "%lld", w->cfg.credit);
    zmsg_addstr(ready, w->cfg.host);
    zmsg_addstr(ready, AC_PACKED_OPTION); /* our broker then sends [head][body] */
    send_command(s, AC_MDPW_READY, ready);
    ac_log(AC_LOG_INFO, "broker_connected", "broker=%s credit=%lld", endpoint, w->cfg.credit);
    return s;
}

/* A broker link: the DEALER and a monitor that reports its connection dropping, and the
   link's timers. A worker of a pair of brokers has one link to each and serves both. */
typedef struct {
    char *endpoint;       /* the broker's backend */
    zsock_t *sock;        /* DEALER to it */
    zsock_t *mon;         /* PAIR: ZMQ_EVENT_DISCONNECTED of sock */
    int64_t heartbeat_at; /* next heartbeat to send */
    int64_t last_heard;   /* last message from the broker */
    int64_t backoff;      /* next reconnection's wait */
    bool reconnect;       /* to be reopened */
    bool registered;      /* the broker spoke since our READY: it knows this worker */
} link_t;

static void link_close(link_t *l)
{
    l->registered = false;
    if (l->mon && l->sock)
        zmq_socket_monitor(zsock_resolve(l->sock), NULL, 0);
    zsock_destroy(&l->mon);
    zsock_destroy(&l->sock);
}

/* A fresh socket that says READY, watched by a monitor. -1 when either cannot be made. */
static int link_open(worker_t *w, link_t *l)
{
    static unsigned s_links; /* monitor names are released asynchronously: never reuse one */
    char ep[64];
    l->mon = NULL;
    l->sock = connect_broker(w, l->endpoint);
    if (!l->sock)
        return -1;
    snprintf(ep, sizeof ep, "inproc://ac-worker-monitor-%u", s_links++);
    if (zmq_socket_monitor(zsock_resolve(l->sock), ep,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 ||
        !(l->mon = zsock_new(ZMQ_PAIR)) || zsock_connect(l->mon, "%s", ep) != 0) {
        link_close(l);
        return -1;
    }
    return 0;
}

typedef enum { LINK_UP, LINK_DROPPED, LINK_REFUSED } link_state_t;

/* What the monitor saw (its events are drained): the connection dropped, or the broker
   refused this worker's CURVE key. */
static link_state_t link_state(link_t *l)
{
    link_state_t st = LINK_UP;
    zmq_msg_t f;
    zmq_msg_init(&f);
    while (zmq_msg_recv(&f, zsock_resolve(l->mon), ZMQ_DONTWAIT) >= 0) {
        /* An event is [uint16 event, uint32 value][endpoint]. */
        uint16_t event = 0;
        if (zmq_msg_more(&f) && zmq_msg_size(&f) >= 2)
            memcpy(&event, zmq_msg_data(&f), 2);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
            event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            st = LINK_REFUSED;
        else if (event == ZMQ_EVENT_DISCONNECTED && st == LINK_UP)
            st = LINK_DROPPED;
    }
    zmq_msg_close(&f);
    return st;
}

/* Requests received and not yet answered, served in turn across clients: each time, the
   oldest request of the client served least since the worker was last idle goes next. So
   one client's burst that fills the worker's credit delays another client's request by
   one request, not by the burst (the broker is fair between clients; this keeps it so at
   the worker). */
#define PENDING_MAX 1024

typedef struct {
    zmsg_t *req[PENDING_MAX]; /* [envelope = tag + client][empty][body], arrival order */
    int link[PENDING_MAX];    /* the link each came on (its reply goes back there) */
    int n;                    /* requests held */
    struct {
        const uint8_t *id; /* the client's bytes (in a held envelope or a copy) */
        size_t len;
        uint8_t copy[256];
        int served; /* requests of it served since idle */
    } clients[PENDING_MAX];
    int nclients; /* clients seen since idle */
} pending_t;

/* A request that came packed (service/mdp.h) is held with this bit on its link index,
   and answered packed. */
#define LINK_PACKED 0x100

/* Sends a reply [envelope][empty][body] on sock, plain MDP or packed (one frame). */
static void send_reply(zsock_t *sock, zmsg_t *reply, bool packed)
{
    if (!packed) {
        send_command(sock, AC_MDPW_REPLY, reply);
        return;
    }
    zframe_t *env = zmsg_pop(reply), *delim = zmsg_pop(reply), *body = zmsg_pop(reply);
    size_t n = zframe_size(env) < 8 + 255 ? zframe_size(env) : 8 + 255;
    size_t len = body ? zframe_size(body) : 0;
    zmq_msg_t one;
    if (zmq_msg_init_size(&one, AC_PACKED_HEAD + n + len) == 0) {
        uint8_t *h = zmq_msg_data(&one);
        size_t at = ac_packed_put(h, AC_MDPW_REPLY, zframe_data(env), n);
        if (len)
            memcpy(h + at, zframe_data(body), len);
        if (zmq_msg_send(&one, zsock_resolve(sock), 0) < 0)
            zmq_msg_close(&one);
    }
    zframe_destroy(&env);
    zframe_destroy(&delim);
    zframe_destroy(&body);
    zmsg_destroy(&reply);
}

static void pending_add(pending_t *p, zmsg_t **msg_p, int link)
{
    p->link[p->n] = link;
    p->req[p->n++] = *msg_p;
    *msg_p = NULL;
}

/* The client of a held request: its envelope past the 8-byte tag. */
static int client_of(pending_t *p, zmsg_t *req)
{
    zframe_t *env = zmsg_first(req);
    const uint8_t *id = zframe_data(env) + 8;
    size_t len = zframe_size(env) - 8;
    for (int i = 0; i < p->nclients; i++)
        if (p->clients[i].len == len && memcmp(p->clients[i].id, id, len) == 0)
            return i;
    int i = p->nclients++;
    p->clients[i].len = len < sizeof p->clients[i].copy ? len : sizeof p->clients[i].copy;
    memcpy(p->clients[i].copy, id, p->clients[i].len);
    p->clients[i].id = p->clients[i].copy;
    p->clients[i].served = 0;
    return i;
}

/* Takes the next request to serve off p; *link is the link it came on. */
static zmsg_t *fair_pick(pending_t *p, int *link)
{
    int best = 0, best_served = INT32_MAX, best_client = 0;
    for (int i = 0; i < p->n; i++) {
        int c = client_of(p, p->req[i]);
        if (p->clients[c].served < best_served) {
            best = i;
            best_served = p->clients[c].served;
            best_client = c;
        }
    }
    p->clients[best_client].served++;
    zmsg_t *req = p->req[best];
    *link = p->link[best];
    memmove(&p->req[best], &p->req[best + 1], (size_t)(p->n - best - 1) * sizeof p->req[0]);
    memmove(&p->link[best], &p->link[best + 1], (size_t)(p->n - best - 1) * sizeof p->link[0]);
    if (--p->n == 0)
        p->nclients = 0;
    return req;
}

/* Drops the requests that came on link (all when link < 0): its broker re-queues them. */
static void pending_drop(pending_t *p, int link)
{
    int kept = 0;
    for (int i = 0; i < p->n; i++) {
        if (link < 0 || (p->link[i] & ~LINK_PACKED) == link) {
            zmsg_destroy(&p->req[i]);
        } else {
            p->req[kept] = p->req[i];
            p->link[kept++] = p->link[i];
        }
    }
    p->n = kept;
    if (!kept)
        p->nclients = 0;
}

/* Replies held until the L3 writes behind them are committed (store_sync). */
#define UNSENT_MAX 64
static struct {
    zmsg_t *reply; /* [envelope][empty][body] */
    zsock_t *sock; /* the link it goes back on */
    bool packed;   /* answered packed */
} s_unsent[UNSENT_MAX];
static int s_nunsent;

/* Commits the L3 writes queued so far, then sends the replies that waited for them. */
static void send_unsent(worker_t *w)
{
    if (!s_nunsent)
        return;
    ac_store_flush(w->store);
    for (int i = 0; i < s_nunsent; i++)
        send_reply(s_unsent[i].sock, s_unsent[i].reply, s_unsent[i].packed);
    s_nunsent = 0;
}

/* Resolves one held request and replies (with store_sync, once its L3 write is
   committed: the replies of a run of requests share one commit). */
static void serve(worker_t *w, zsock_t *sock, zmsg_t *req, bool packed)
{
    zframe_t *envelope = zmsg_pop(req), *delim = zmsg_pop(req), *body = zmsg_pop(req);
    /* The broker's floors frame is the last one, after the body (and any extra body frame
       a client sent, which is not read). */
    zframe_t *floors = zmsg_size(req) ? zmsg_last(req) : NULL;
    worker_handle(w, (const char *)zframe_data(body), zframe_size(body),
                  floors ? zframe_data(floors) : NULL, floors ? zframe_size(floors) : 0);
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &envelope);
    zmsg_addmem(reply, NULL, 0);
    zmsg_addmem(reply, w->reply.data, w->reply.size);
    if (w->reloaded) { /* an admin reload's answer: the old generation's replies go first */
        w->reloaded = false;
        send_unsent(w);
    }
    if (w->cfg.store_sync && w->wrote_store) {
        s_unsent[s_nunsent].reply = reply;
        s_unsent[s_nunsent].packed = packed;
        s_unsent[s_nunsent++].sock = sock;
        if (s_nunsent == UNSENT_MAX)
            send_unsent(w);
    } else {
        send_reply(sock, reply, packed);
    }
    zframe_destroy(&delim);
    zframe_destroy(&body);
    zmsg_destroy(&req);
}

/* Handles one message from the broker. Returns 1 when the broker asked us to reconnect. */
/* A packed request (one frame: head, floors, body) becomes the held form
   [envelope][empty][body][floors] (false when it is not one). */
static bool unpack_request(zmsg_t **msg_p)
{
    zframe_t *head = zmsg_first(*msg_p);
    const uint8_t *h = zframe_data(head);
    size_t n = zframe_size(head);
    long got = zmsg_size(*msg_p) == 1 ? ac_packed_get(h, n, AC_MDPW_REQUEST) : -1;
    size_t env = got < 0 ? 0 : (size_t)got;
    if (env < 8 || AC_PACKED_HEAD + env + 2 > n)
        return false;
    const uint8_t *f = h + AC_PACKED_HEAD + env;
    size_t flen = (size_t)f[0] | (size_t)f[1] << 8;
    if (AC_PACKED_HEAD + env + 2 + flen > n)
        return false;
    const uint8_t *body = f + 2 + flen;
    zmsg_t *held = zmsg_new();
    zmsg_addmem(held, h + AC_PACKED_HEAD, env);
    zmsg_addmem(held, NULL, 0);
    zmsg_addmem(held, body, (size_t)(h + n - body));
    zmsg_addmem(held, f + 2, flen);
    zmsg_destroy(msg_p);
    *msg_p = held;
    return true;
}

static int on_broker_message(worker_t *w, pending_t *p, int link, zmsg_t **msg_p, uint64_t *bad)
{
    (void)w;
    if (unpack_request(msg_p)) {
        pending_add(p, msg_p, link | LINK_PACKED);
        return 0;
    }
    zmsg_t *msg = *msg_p;
    zframe_t *empty = zmsg_pop(msg), *proto = zmsg_pop(msg), *cmd = zmsg_pop(msg);
    int result = 0;
    if (!empty || zframe_size(empty) != 0 || !proto || !zframe_streq(proto, AC_MDPW) || !cmd ||
        zframe_size(cmd) != 1) {
        (*bad)++;
        goto done;
    }
    int command = zframe_data(cmd)[0];
    if (command == AC_MDPW_REQUEST) {
        /* [envelope][empty][body]: kept, and served in turn across clients (fair_pick). */
        zframe_t *envelope = zmsg_first(msg), *delim = zmsg_next(msg), *body = zmsg_next(msg);
        if (!envelope || zframe_size(envelope) < 8 || !delim || zframe_size(delim) != 0 || !body)
            (*bad)++;
        else
            pending_add(p, msg_p, link);
    } else if (command == AC_MDPW_DISCONNECT) {
        result = 1;
    } else if (command != AC_MDPW_HEARTBEAT) {
        (*bad)++;
    }
done:
    zframe_destroy(&empty);
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    return result;
}

static pending_t s_pending;
static bool s_registered; /* a broker answered our READY (systemd was told) */

/* Reads what is queued on link i without waiting (up to room in s_pending): commands are
   handled, requests held. Marks the link for reconnection when the broker asks. */
static void drain(worker_t *w, link_t *links, int i, uint64_t *bad)
{
    link_t *l = &links[i];
    for (int n = 0; n < 1024 && !l->reconnect && s_pending.n < PENDING_MAX; n++) {
        zmsg_t *msg = zmsg_recv_nowait(l->sock);
        if (!msg)
            break;
        l->last_heard = clock_ms();
        l->backoff = 100;
        l->registered = true; /* a broker heartbeats or serves only workers it has */
        l->reconnect = on_broker_message(w, &s_pending, i, &msg, bad) == 1;
        zmsg_destroy(&msg);
        if (!l->reconnect && !s_registered) {
            /* A broker that did not know us would have said DISCONNECT: registered. */
            s_registered = true;
            ac_notify("READY=1");
            ac_log(AC_LOG_INFO, "registered", "broker=%s", l->endpoint);
        }
    }
}

/* Waits *backoff ms before a reconnection, then doubles it up to reconnect_max_ms. */
static void back_off(const worker_t *w, int64_t *backoff)
{
    zclock_sleep((int)*backoff);
    *backoff = *backoff * 2 > w->cfg.reconnect_max_ms ? w->cfg.reconnect_max_ms : *backoff * 2;
}

/* Checks link l after a poll: its monitor (dropped, refused) and its broker's silence; a
   link to reopen is marked. */
static void watch(worker_t *w, link_t *l, bool monitor_readable)
{
    link_state_t st = !l->reconnect && monitor_readable ? link_state(l) : LINK_UP;
    if (st == LINK_DROPPED) {
        ac_log(AC_LOG_INFO, "broker_dropped", "broker=%s msg=%s", l->endpoint, "reconnecting");
        l->reconnect = true;
    } else if (st == LINK_REFUSED) {
        /* Not a transient drop: retrying at once would only be refused again. */
        ac_log(AC_LOG_WARN, "handshake_refused", "code=unavailable broker=%s retry_ms=%lld msg=%s",
               l->endpoint, (long long)l->backoff,
               "the broker refused this worker's handshake (security none on one side, or "
               "curve.cert's certificate not in its curve.workers folder?)");
        back_off(w, &l->backoff);
        l->reconnect = true;
    }
    if (!l->reconnect && clock_ms() - l->last_heard > w->cfg.heartbeat_ms * w->cfg.liveness) {
        ac_log(AC_LOG_INFO, "broker_silent", "broker=%s retry_ms=%lld", l->endpoint,
               (long long)l->backoff);
        back_off(w, &l->backoff);
        l->reconnect = true;
    }
}

/* A reload asked by SIGHUP: the replies computed so far (on the old generation) leave
   first, so none of them follows the reload's log line and `reloads` counter. */
static void reload_now(worker_t *w)
{
    s_reload_asked = 0;
    send_unsent(w);
    uint64_t before = ac_resolver_generation(w->resolver);
    ac_error_t err;
    ac_error_clear(&err);
    int rc = worker_reload(w, &err);
    worker_log_reload(w, before, rc ? &err : NULL);
}

/* The drain (SIGTERM): the requests held are answered, none read any more; then every
   broker is told DISCONNECT after the replies, which leave before the socket closes. */
static void drain_and_disconnect(worker_t *w, link_t *links, int opened)
{
    if (zsys_interrupted)
        ac_notify("STOPPING=1");
    int answered = 0, dropped = 0;
    while (s_pending.n) {
        int link;
        zmsg_t *req = fair_pick(&s_pending, &link);
        bool packed = link & LINK_PACKED;
        link &= ~LINK_PACKED;
        if (links[link].reconnect || !links[link].sock) {
            zmsg_destroy(&req); /* its broker dropped us: it re-queues it */
            dropped++;
            continue;
        }
        serve(w, links[link].sock, req, packed);
        answered++;
    }
    send_unsent(w);
    for (int i = 0; i < opened; i++) {
        if (links[i].sock) {
            zsock_set_linger(links[i].sock, 2000); /* the replies and DISCONNECT get out */
            send_command(links[i].sock, AC_MDPW_DISCONNECT, NULL);
        }
        link_close(&links[i]);
    }
    if (zsys_interrupted)
        ac_log(AC_LOG_INFO, "drained", "answered=%d left=%d msg=%s", answered, dropped,
               "held requests answered, the rest left to the broker, DISCONNECT sent");
}

/* The MDP loop, over one link per broker (a pair's two). A broker is presumed gone when
   its connection drops (the monitor says so at once: a fresh socket says READY, and
   reaches the broker as soon as one listens again) or when it has been silent for
   `liveness` heartbeats (a host that vanished without closing the connection: then with
   backoff). */
static int run(worker_t *w)
{
    char *eps[AC_ENDPOINTS_MAX];
    int nlinks = ac_endpoint_list_split(w->cfg.broker, eps, AC_ENDPOINTS_MAX);
    link_t links[AC_ENDPOINTS_MAX];
    memset(links, 0, sizeof links);
    int status = 0, opened = 0;
    int64_t interval = w->cfg.heartbeat_ms;
    for (; opened < nlinks; opened++) {
        link_t *l = &links[opened];
        l->endpoint = eps[opened];
        l->backoff = 100;
        l->last_heard = clock_ms();
        l->heartbeat_at = l->last_heard + interval;
        if (link_open(w, l) != 0) {
            /* At start this is a setting at fault (later, a reconnect that fails is exit 1). */
            ac_log_bad_setting("broker", "cannot connect to %s: %s", l->endpoint,
                               zmq_strerror(zmq_errno()));
            status = 2;
            break;
        }
    }
    uint64_t bad = 0, served = 0;
    w->links = nlinks;
    while (!status && !zsys_interrupted) {
        if (s_reload_asked)
            reload_now(w);
        zmq_pollitem_t items[2 * AC_ENDPOINTS_MAX + 1];
        int64_t wait = INT64_MAX, now = clock_ms();
        for (int i = 0; i < nlinks; i++) {
            items[2 * i] = (zmq_pollitem_t){zsock_resolve(links[i].sock), 0, ZMQ_POLLIN, 0};
            items[2 * i + 1] = (zmq_pollitem_t){zsock_resolve(links[i].mon), 0, ZMQ_POLLIN, 0};
            if (links[i].heartbeat_at - now < wait)
                wait = links[i].heartbeat_at - now;
        }
        /* The /metrics endpoint's descriptor last (service/http.h: served in this thread). */
        int nitems = 2 * nlinks;
        if (w->http) {
            items[nitems++] = (zmq_pollitem_t){NULL, ac_http_fd(w->http), ZMQ_POLLIN, 0};
            wait = ac_http_wait(w->http, wait > 0 ? (long)wait : 0);
        }
        int rc = zmq_poll(items, nitems, wait > 0 ? (long)wait : 0);
        if (rc < 0 && errno == EINTR && !zsys_interrupted)
            continue; /* e.g. SIGCONT after SIGSTOP: poll is never restarted */
        if (rc < 0)
            break; /* interrupted: stop */
        for (int i = 0; i < nlinks; i++)
            if (items[2 * i].revents & ZMQ_POLLIN)
                drain(w, links, i, &bad);
        if (w->http) {
            w->held = s_pending.n;
            w->links_registered = 0;
            for (int i = 0; i < nlinks; i++)
                w->links_registered += links[i].registered;
            ac_http_run(w->http, rc > 0 && (items[nitems - 1].revents & ZMQ_POLLIN));
        }
        /* Serve what is held one request at a time, reading what arrived in between, so a
           newcomer's request is weighed against the backlog at once; a signal is acted on
           between two requests. */
        while (s_pending.n && !zsys_interrupted) {
            if (s_reload_asked)
                reload_now(w);
            int link;
            zmsg_t *req = fair_pick(&s_pending, &link);
            bool packed = link & LINK_PACKED;
            link &= ~LINK_PACKED;
            if (links[link].reconnect) {
                zmsg_destroy(&req); /* its broker re-queues it */
                continue;
            }
            serve(w, links[link].sock, req, packed);
            for (int i = 0; i < nlinks; i++)
                drain(w, links, i, &bad);
            /* A backlog that never empties must not keep a scrape waiting: look every 64. */
            if (w->http && (++served & 63) == 0) {
                w->held = s_pending.n;
                ac_http_check(w->http);
            }
        }
        send_unsent(w);
        for (int i = 0; i < nlinks; i++) {
            link_t *l = &links[i];
            watch(w, l, items[2 * i + 1].revents & ZMQ_POLLIN);
            if (l->reconnect) {
                pending_drop(&s_pending, i); /* the broker re-queues what this link held */
                link_close(l);
                l->reconnect = false;
                if (link_open(w, l) != 0) {
                    status = 1;
                    break;
                }
                l->last_heard = clock_ms();
                l->heartbeat_at = l->last_heard + interval;
                continue;
            }
            if (clock_ms() >= l->heartbeat_at) {
                send_command(l->sock, AC_MDPW_HEARTBEAT, NULL);
                l->heartbeat_at = clock_ms() + interval;
            }
        }
    }
    drain_and_disconnect(w, links, opened);
    pending_drop(&s_pending, -1);
    for (int i = 0; i < nlinks; i++)
        free(eps[i]);
    ac_log(bad ? AC_LOG_WARN : AC_LOG_INFO, "stopped", "malformed=%llu", (unsigned long long)bad);
    return status;
}

int main(int argc, char **argv)
{
    worker_t w;
    memset(&w, 0, sizeof w);
    worker_config_defaults(&w.cfg);
    size_t n;
    ac_setting_t *table = worker_settings(&w.cfg, &n);
    ac_error_t err;
    int parsed =
        ac_settings_parse_args(argc, argv, "actorcore-worker", "worker", s_usage_head, table, n);
    if (parsed >= 0) {
        ac_settings_free(table, n);
        return parsed;
    }

    if (ac_log_start("worker", w.cfg.log_level, w.cfg.verbose) != 0) {
        ac_settings_free(table, n);
        return 2;
    }
    size_t hl = strlen(w.cfg.host);
    if (hl == 0 || hl > 64 ||
        strspn(w.cfg.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "0123456789._-") != hl) {
        ac_log_bad_setting(
            "host", "expected 1 to 64 letters, digits, '.', '_' or '-', found '%.64s'", w.cfg.host);
        ac_settings_free(table, n);
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    /* No SA_RESTART: the poll returns EINTR and the loop reloads at once. */
    struct sigaction hup;
    memset(&hup, 0, sizeof hup);
    hup.sa_handler = on_sighup;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    if (ac_curve_keys_load_client(&w.cfg.curve, &w.keys, &err)) {
        ac_log_bad_setting(err.path, "%s", err.message);
        ac_settings_free(table, n);
        return 2;
    }
    if (!w.keys.own)
        ac_log(AC_LOG_WARN, "security_none", "msg=%s",
               "the broker is not authenticated and requests travel in plain text (set "
               "security: curve)");
    if (worker_init(&w, &err)) {
        ac_log(AC_LOG_ERROR, "start_failed", "code=%s path=%s msg=%s", ac_code_name(err.code),
               err.path, err.message);
        worker_fini(&w);
        ac_settings_free(table, n);
        return 2;
    }
    if (w.cfg.events && *w.cfg.events) {
        w.pub = zsock_new(ZMQ_PUB);
        if (w.pub) {
            zsock_set_linger(w.pub, 100);
            zsock_set_sndhwm(w.pub, 100000);
            ac_curve_keys_apply(&w.keys, w.pub);
        }
        if (!w.pub || zsock_connect(w.pub, "%s", w.cfg.events) != 0) {
            ac_log_bad_setting("events", "cannot connect to %s: %s", w.cfg.events,
                               zmq_strerror(zmq_errno()));
            zsock_destroy(&w.pub);
            worker_fini(&w);
            ac_settings_free(table, n);
            return 2;
        }
    }
    if (worker_metrics_start(&w, &err)) {
        ac_log_bad_setting("metrics", "%s", err.message);
        zsock_destroy(&w.pub);
        worker_fini(&w);
        ac_settings_free(table, n);
        return 2;
    }
    int status = run(&w);
    ac_http_stop(&w.http);
    zsock_destroy(&w.pub);
    worker_fini(&w);
    ac_settings_free(table, n);
    return status;
}
