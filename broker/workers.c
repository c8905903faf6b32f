/*  workers.c - the broker's workers: a pool of max_workers entries indexed by routing id
    (bytes); a READY registers a worker (with its credit) at its service, any message from
    it renews its expiry, heartbeats go out on the broker's beat, a worker that stops
    talking or disconnects is deleted and every request it held goes back to its queue;
    the backend's (workers') messages, replies included, arrive here.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* Frames of a worker's message: [worker][empty][MDPW01][command]..., a REPLY going on with
   [envelope = tag + client][empty][body...], a READY with [service][credit]. */
enum { W_ID, W_EMPTY, W_PROTO, W_CMD, W_ENV, W_DELIM, W_BODY };
enum { W_SERVICE = 4, W_CREDIT = 5, W_HOST = 6, W_OPTION = 7 };

int send_worker_command(broker_t *b, const ident_t *id, int command, bool more)
{
    uint8_t cmd = (uint8_t)command;
    if (frame_send(b->be, id->b, id->len, true) != 0) {
        b->n.unroutable++;
        return -1;
    }
    frame_send(b->be, NULL, 0, true);
    frame_send(b->be, AC_MDPW, 6, true);
    frame_send(b->be, &cmd, 1, more);
    return 0;
}

static bool worker_eq(const void *ctx, uint32_t index, const void *key)
{
    const worker_t *w = &((const broker_t *)ctx)->workers[index];
    const ident_t *id = key;
    return w->live && w->id.len == id->len && memcmp(w->id.b, id->b, id->len) == 0;
}

static worker_t *worker_find(broker_t *b, const ident_t *id)
{
    int64_t i = itab_find(&b->worker_ix, ident_hash(id, 0x3a7), worker_eq, b, id);
    return i < 0 ? NULL : &b->workers[i];
}

/* Removes a worker; every request it held goes back to the front of its queue. */
static void worker_delete(broker_t *b, worker_t *w, bool send_disconnect)
{
    if (send_disconnect)
        send_worker_command(b, &w->id, AC_MDPW_DISCONNECT, false);
    service_t *s = w->service;
    requeue_held(b, w);
    service_remove_worker(b, s, w);
    itab_remove(&b->worker_ix, ident_hash(&w->id, 0x3a7), w->index);
    w->live = false;
    b->free_workers[(uint32_t)b->cfg.max_workers - b->nworkers] = w->index;
    b->nworkers--;
    dispatch(b, s);
    service_reclaim(b, s);
}

/* ---- backend ---- */

/* The credit a READY offers: its frame in ASCII decimal, 1 without one, 0 when bad. */
static long ready_credit(const mpart_t *m)
{
    if (m->n <= W_CREDIT)
        return 1;
    char text[16];
    size_t n = zmq_msg_size((zmq_msg_t *)&m->f[W_CREDIT]);
    if (n == 0 || n >= sizeof text)
        return 0;
    memcpy(text, zmq_msg_data((zmq_msg_t *)&m->f[W_CREDIT]), n);
    text[n] = '\0';
    return strtol(text, NULL, 10);
}

/* A READY: a new worker joins its service with its credit; a bad READY, or one from a
   worker already known, is counted malformed and the worker told to disconnect. */
static void on_ready(broker_t *b, const ident_t *id, worker_t *w)
{
    const mpart_t *m = &b->in;
    size_t nlen = m->n > W_SERVICE ? zmq_msg_size((zmq_msg_t *)&m->f[W_SERVICE]) : 0;
    const char *name = nlen ? zmq_msg_data((zmq_msg_t *)&m->f[W_SERVICE]) : "";
    long c = ready_credit(m);
    if (w || nlen == 0 || nlen > 255 || memchr(name, '\0', nlen) ||
        (nlen >= 4 && memcmp(name, "mmi.", 4) == 0) || c < 1 || c > 100000) {
        b->n.malformed++;
        if (w)
            worker_delete(b, w, true);
        else
            send_worker_command(b, id, AC_MDPW_DISCONNECT, false);
        return;
    }
    service_t *s = service_require(b, name, nlen);
    if (!s || (s->nmembers == 0 && b->served >= (uint32_t)b->cfg.max_services)) {
        b->n.malformed++;
        b->n.services_refused++;
        send_worker_command(b, id, AC_MDPW_DISCONNECT, false);
        if (s)
            service_reclaim(b, s);
        return;
    }
    uint32_t nfree = (uint32_t)b->cfg.max_workers - b->nworkers; /* free_workers' depth */
    if (nfree == 0 ||
        itab_insert(&b->worker_ix, ident_hash(id, 0x3a7), b->free_workers[nfree - 1]) != 0) {
        b->n.workers_refused++;
        send_worker_command(b, id, AC_MDPW_DISCONNECT, false);
        service_reclaim(b, s);
        return;
    }
    w = &b->workers[b->free_workers[nfree - 1]];
    b->nworkers++;
    w->live = true;
    w->id = *id;
    w->seed = ((uint64_t)ident_hash(id, 0x51) << 32) | ident_hash(id, 0x77);
    w->packed = frame_is(m, W_OPTION, AC_PACKED_OPTION);
    w->host = w->seed; /* without a label, a host of its own */
    if (m->n > W_HOST && zmq_msg_size((zmq_msg_t *)&m->f[W_HOST]) > 0 &&
        zmq_msg_size((zmq_msg_t *)&m->f[W_HOST]) <= IDENT_MAX) {
        ident_t label;
        ident_from(&label, &m->f[W_HOST]);
        w->host = ((uint64_t)ident_hash(&label, 0x105) << 32) | ident_hash(&label, 0x3f1);
    }
    w->service = s;
    w->credit = (int)c;
    w->inflight = 0;
    w->held.head = w->held.tail = NULL;
    w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
    service_add_worker(b, s, w);
    b->n.workers_joined++;
    ac_log(AC_LOG_INFO, "worker_joined", "service=%s credit=%ld workers=%u", s->name, c,
           s->nmembers);
    dispatch(b, s);
}

/* A reply from w, its envelope in env and its body from frame `from` of b->in: forwarded
   to its client when w holds its tag, else dropped and counted. */
static void on_reply(broker_t *b, worker_t *w, const uint8_t *env, size_t env_len, int from)
{
    mpart_t *m = &b->in;
    if (m->n <= from || env_len < 8) {
        b->n.malformed++;
        b->n.stale_replies++;
        return;
    }
    uint64_t tag;
    memcpy(&tag, env, 8);
    request_t *r = request_by_tag(b, tag);
    if (!r || r->worker != w) {
        b->n.stale_replies++;
        return;
    }
    if (r->parent) {
        service_t *s = w->service;
        fanout_reply(b, w, r, from);
        dispatch(b, s);
        return;
    }
    service_t *s = w->service;
    rlist_remove(&w->held, r);
    w->inflight--;
    s->inflight--;
    worker_released(s, w);
    b->n.replies++;
    send_answer(b, r, m, from);
    request_free(b, r);
    dispatch(b, s);
}

/* A plain MDP reply: [worker][empty][MDPW01][REPLY][envelope][empty][body...]. */
static void on_plain_reply(broker_t *b, worker_t *w)
{
    mpart_t *m = &b->in;
    if (m->n <= W_BODY || zmq_msg_size(&m->f[W_DELIM]) != 0) {
        b->n.malformed++;
        if (m->n > W_DELIM)
            b->n.stale_replies++;
        return;
    }
    on_reply(b, w, zmq_msg_data(&m->f[W_ENV]), zmq_msg_size(&m->f[W_ENV]), W_BODY);
}

/* A packed message (service/mdp.h): [worker][head + body]; only replies come packed. The
   body is copied into a frame of its own (b->in's third), as a plain reply has it. */
static void on_packed(broker_t *b, worker_t *w)
{
    mpart_t *m = &b->in;
    const uint8_t *h = zmq_msg_data(&m->f[1]);
    size_t n = zmq_msg_size(&m->f[1]);
    long got = ac_packed_get(h, n, AC_MDPW_REPLY);
    if (!w || got < 0) {
        b->n.malformed++;
        if (!w && h[4] == AC_MDPW_REPLY)
            b->n.stale_replies++;
        return;
    }
    size_t env_len = (size_t)got, at = AC_PACKED_HEAD + env_len;
    zmq_msg_close(&m->f[2]);
    if (zmq_msg_init_size(&m->f[2], n - at) != 0) {
        zmq_msg_init(&m->f[2]);
        return;
    }
    memcpy(zmq_msg_data(&m->f[2]), h + at, n - at);
    m->n = 3;
    on_reply(b, w, h + AC_PACKED_HEAD, env_len, 2);
}

void on_worker_message(broker_t *b)
{
    mpart_t *m = &b->in;
    ident_t id;
    if (!m->overflow && m->n == 2 && zmq_msg_size(&m->f[1]) >= AC_PACKED_HEAD &&
        memcmp(zmq_msg_data(&m->f[1]), AC_PACKED_MAGIC, 4) == 0 && ident_from(&id, &m->f[W_ID])) {
        worker_t *w = worker_find(b, &id);
        if (w)
            w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
        else
            send_worker_command(b, &id, AC_MDPW_DISCONNECT, false);
        on_packed(b, w);
        return;
    }
    if (m->overflow || m->n <= W_CMD || !ident_from(&id, &m->f[W_ID]) ||
        zmq_msg_size(&m->f[W_EMPTY]) != 0 || !frame_is(m, W_PROTO, AC_MDPW) ||
        zmq_msg_size(&m->f[W_CMD]) != 1) {
        b->n.malformed++;
        return;
    }
    worker_t *w = worker_find(b, &id);
    int command = ((const uint8_t *)zmq_msg_data(&m->f[W_CMD]))[0];
    if (w)
        w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
    if (command == AC_MDPW_READY) {
        on_ready(b, &id, w);
    } else if (!w) {
        /* Not a worker we know (we restarted, or it was dropped as silent): tell it to
           reconnect. A reply from it is late: whatever it answers was re-queued. */
        if (command == AC_MDPW_REPLY)
            b->n.stale_replies++;
        else
            b->n.malformed += command != AC_MDPW_HEARTBEAT && command != AC_MDPW_DISCONNECT;
        if (command != AC_MDPW_DISCONNECT)
            send_worker_command(b, &id, AC_MDPW_DISCONNECT, false);
    } else if (command == AC_MDPW_REPLY) {
        on_plain_reply(b, w);
    } else if (command == AC_MDPW_DISCONNECT) {
        worker_delete(b, w, false);
    } else if (command != AC_MDPW_HEARTBEAT) {
        b->n.malformed++;
    }
}

void expire_workers(broker_t *b, int64_t now, bool heartbeat)
{
    for (uint32_t i = 0; i < (uint32_t)b->cfg.max_workers; i++) {
        worker_t *w = &b->workers[i];
        if (!w->live)
            continue;
        if (w->expiry < now) {
            b->n.workers_expired++;
            ac_log(AC_LOG_INFO, "worker_expired", "service=%s", w->service->name);
            worker_delete(b, w, false);
        } else if (heartbeat) {
            send_worker_command(b, &w->id, AC_MDPW_HEARTBEAT, false);
        }
    }
}

/* ---- dropped connections ----
   libzmq tells a ROUTER's monitor that a connection dropped, but not whose routing id it
   carried. The mapping is made exact by asking the ROUTER itself: with ROUTER_MANDATORY, a
   send to a routing id that has no connection fails at once (EHOSTUNREACH), so after a
   disconnection each worker is sent a heartbeat, and only those whose send fails are
   deleted. The pipe of a dropped connection is removed asynchronously, so the probe is
   repeated every 5 ms for PROBE_MS after the event. */
#define PROBE_MS 100

int monitor_start(broker_t *b)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://actorcore-broker-monitor-%p", (void *)b);
    if (zmq_socket_monitor(b->be, ep, ZMQ_EVENT_DISCONNECTED) != 0)
        return -1;
    b->monitor = zsock_new(ZMQ_PAIR);
    if (!b->monitor || zsock_connect(b->monitor, "%s", ep) != 0)
        return -1;
    return 0;
}

void monitor_stop(broker_t *b)
{
    if (b->be)
        zmq_socket_monitor(b->be, NULL, 0);
    zsock_destroy(&b->monitor);
}

void worker_unreachable(broker_t *b)
{
    if (!b->probe_until)
        b->probe_at = zclock_mono();
    b->probe_until = zclock_mono() + PROBE_MS;
}

static void probe_workers(broker_t *b)
{
    for (uint32_t i = 0; i < (uint32_t)b->cfg.max_workers; i++) {
        worker_t *w = &b->workers[i];
        if (w->live && send_worker_command(b, &w->id, AC_MDPW_HEARTBEAT, false) != 0) {
            b->n.workers_disconnected++;
            ac_log(AC_LOG_INFO, "worker_disconnected", "service=%s", w->service->name);
            worker_delete(b, w, false);
        }
    }
}

void on_monitor_events(broker_t *b, bool readable)
{
    if (readable) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        void *mon = zsock_resolve(b->monitor);
        /* Each event is two frames (event id + value, then the endpoint): only their
           arrival matters. */
        while (zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) >= 0)
            if (!zmq_msg_more(&f))
                worker_unreachable(b);
        zmq_msg_close(&f);
    }
    int64_t now = zclock_mono();
    if (b->probe_until && now >= b->probe_at) {
        probe_workers(b);
        b->probe_at = now + 5;
        if (now >= b->probe_until)
            b->probe_until = 0;
    }
}

void disconnect_workers(broker_t *b)
{
    for (uint32_t i = 0; i < (uint32_t)b->cfg.max_workers; i++)
        if (b->workers[i].live)
            send_worker_command(b, &b->workers[i].id, AC_MDPW_DISCONNECT, false);
}

int workers_init(broker_t *b)
{
    uint32_t n = (uint32_t)b->cfg.max_workers;
    b->workers = calloc(n, sizeof *b->workers);
    b->free_workers = calloc(n, sizeof *b->free_workers);
    if (!b->workers || !b->free_workers || itab_init(&b->worker_ix, n) != 0)
        return -1;
    /* free_workers[0 .. n - nworkers) are free, popped from the end: lowest index first. */
    for (uint32_t i = 0; i < n; i++) {
        b->workers[i].index = i;
        b->free_workers[i] = n - 1 - i;
    }
    return 0;
}

void workers_fini(broker_t *b)
{
    free(b->workers);
    free(b->free_workers);
    itab_fini(&b->worker_ix);
}
