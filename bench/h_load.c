/*  h_load.c - the load generator of actorcore-bench: MDP/0.1 client sockets (DEALER,
    RFC 7 client frames), many requests in flight on each, in one thread.

    Closed loop: each socket keeps `depth` requests in flight; latency is from the send.
    Open loop (as wrk2 does, so without coordinated omission): request i has the intended
    send time start + i / rate, whatever happened before; it goes out as soon as that time
    has come and a socket has room, and its latency is measured from the intended time, so
    a stall shows in the latency of every request it delayed. The thread sleeps in epoll on
    the sockets' ZMQ_FDs and a timerfd set to the next intended time (nanosecond timer, not
    zmq_poll's milliseconds).

    A request id carries its socket, its slot and a sequence number; a reply to no request
    in flight, a reply that is not ok, a snapshot whose Primary, Derived or CapsUsed bytes
    differ from the reference computed in process, the snapshot of another actor, or an
    echo of the wrong size ends the program (hb_fail), and so does a request still without
    a reply 10 s after the run.
*/
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "actorcore/actorcore.h"
#include "actorcore/wire.h"
#include "bench.h"
#include "harness.h"
#include "keys.h"
#include "mpspan.h"
#include "service/curve.h"
#include "core/yamldoc.h"
#include "w1.h"

#define DRAIN_NS 10000000000ull /* a reply later than this after the run is missing */
#define KEY_DIGITS 7            /* actor ids bench-0000000 .. bench-9999999 */

typedef struct {
    uint32_t seq;     /* of the request in the slot; its id's low 24 bits */
    bool busy;        /* a request is in flight */
    uint64_t from_ns; /* latency origin: send time (closed) or intended time (open) */
} slot_t;

typedef struct {
    zsock_t *sock; /* DEALER */
    void *raw;     /* its libzmq socket */
    slot_t *slots; /* depth of them */
    int *free;     /* free slot indexes, a stack */
    int n_free;    /* how many */
    int sent;      /* requests sent this run */
    uint32_t seq;  /* next sequence number */
} conn_t;

struct hb_load {
    const hb_opts_t *o;            /* settings */
    const hb_cluster_t *c;         /* the processes, for their CPU (may have none) */
    hb_check_t check;              /* what a right reply is */
    hb_check_t shape;              /* the request's workload: HB_CHECK_W1 or HB_CHECK_W2 */
    int n;                         /* sockets */
    int depth;                     /* slots per socket */
    int batch;                     /* actors per request */
    conn_t *conns;                 /* n of them */
    uint32_t *keys;                /* per slot, batch keys asked */
    keys_t gen;                    /* key draws */
    bool keyed;                    /* actor ids vary (W2) */
    msgpack_sbuffer body;          /* request template */
    size_t *key_off;               /* where each item's KEY_DIGITS digits are */
    size_t echo_bytes;             /* HB_CHECK_ECHO: the reply's exact size */
    unsigned char *ref;            /* reference snapshot (msgpack) */
    size_t ref_len;                /* bytes */
    mp_span_t ref_p, ref_d, ref_c; /* its Primary, Derived, CapsUsed */
    int epfd, tfd;                 /* epoll set, the pacing timer */
    bh_hist_t hist;                /* this run's latencies */
    uint64_t done;                 /* replies this run */
    int inflight;                  /* requests in flight */
    char label[96];                /* what the progress line says is running */
    uint64_t tick_ns;              /* open loop: pacing granularity (0: each request) */
};

/* ---- request bodies ---- */

/* Packs the actor of the demo (the map o) with its id replaced by bench-0000000. */
static void pack_actor(msgpack_packer *pk, const msgpack_object *actor)
{
    msgpack_pack_map(pk, actor->via.map.size);
    for (uint32_t i = 0; i < actor->via.map.size; i++) {
        const msgpack_object_kv *kv = &actor->via.map.ptr[i];
        msgpack_pack_object(pk, kv->key);
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
            memcmp(kv->key.via.str.ptr, "id", 2) == 0)
            ac_wire_pack_str(pk, "bench-0000000");
        else
            msgpack_pack_object(pk, kv->val);
    }
}

/* One item: {actor, cache} (W2) or {outputs} (W1). */
static void pack_item(hb_load_t *l, msgpack_packer *pk, const msgpack_object *actor)
{
    if (l->shape == HB_CHECK_W1) {
        ac_wire_pack_str(pk, "outputs");
        w1_pack_outputs(pk);
        return;
    }
    ac_wire_pack_str(pk, "actor");
    pack_actor(pk, actor);
    ac_wire_pack_str(pk, "cache");
    ac_wire_pack_str(pk, l->o->cache ? "use" : "bypass");
}

/* The demo actor of config_dir/demo/actor.json, parsed into zone. */
static void demo_actor(const hb_opts_t *o, msgpack_zone *zone, msgpack_object *actor, char **json)
{
    char path[1100];
    size_t len;
    ac_error_t err;
    snprintf(path, sizeof path, "%s/demo/actor.json", o->config_dir);
    *json = ac_read_file(path, 1 << 20, &len, &err);
    if (!*json || ac_json_parse(*json, len, zone, actor, &err) || actor->type != MSGPACK_OBJECT_MAP)
        hb_fail("W2: %s: %s", path, err.message);
}

/* The request template: {op, <item fields> | items: [...], id: <uint64 patched last>}, of
   the workload's shape (an echo carries the workload's request too). */
static void build_body(hb_load_t *l)
{
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object actor = {0};
    char *json = NULL;
    if (l->shape == HB_CHECK_W2)
        demo_actor(l->o, zone, &actor, &json);
    msgpack_sbuffer_init(&l->body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &l->body, msgpack_sbuffer_write);
    if (l->batch == 1) {
        msgpack_pack_map(&pk, l->shape == HB_CHECK_W1 ? 3 : 4);
        ac_wire_pack_str(&pk, "op");
        ac_wire_pack_str(&pk, "resolve");
        pack_item(l, &pk, &actor);
    } else {
        msgpack_pack_map(&pk, 3);
        ac_wire_pack_str(&pk, "op");
        ac_wire_pack_str(&pk, "resolve_batch");
        ac_wire_pack_str(&pk, "items");
        msgpack_pack_array(&pk, (uint32_t)l->batch);
        for (int i = 0; i < l->batch; i++) {
            msgpack_pack_map(&pk, l->shape == HB_CHECK_W1 ? 1 : 2);
            pack_item(l, &pk, &actor);
        }
    }
    ac_wire_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    l->key_off = calloc((size_t)l->batch, sizeof *l->key_off);
    int found = 0;
    for (size_t i = 0; i + 13 <= l->body.size && found < l->batch; i++)
        if (memcmp(l->body.data + i, "bench-0000000", 13) == 0)
            l->key_off[found++] = i + 6;
    if (l->keyed && found != l->batch)
        hb_fail("the request template lost its actor ids");
    msgpack_zone_free(zone);
    free(json);
}

/* The snapshot a worker must answer, computed here: W1 from w1.h, W2 by resolving the demo
   actor with the registries and subsystems of config_dir. */
static void build_reference(hb_load_t *l)
{
    ac_error_t err;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (l->check == HB_CHECK_W1) {
        ac_registry_t *reg = w1_registry();
        ac_request_t *req = ac_request_new(reg);
        ac_resolver_t *r = ac_resolver_new(reg);
        w1_fill(req, NULL, 0);
        const ac_snapshot_t *snap;
        if (ac_resolve(r, req, &snap, &err) || ac_snapshot_pack_buffer(&sb, snap, reg, NULL, 0))
            hb_fail("W1 reference: %s", err.message);
        w1_verify(snap, reg, 0);
        ac_resolver_destroy(&r);
        ac_request_destroy(&req);
        ac_registry_destroy(&reg);
    } else {
        char comb[1100], lay[1100], subs_dir[1100], actor[1100];
        snprintf(comb, sizeof comb, "%s/combiner.yaml", l->o->config_dir);
        snprintf(lay, sizeof lay, "%s/cap_layers.yaml", l->o->config_dir);
        snprintf(subs_dir, sizeof subs_dir, "%s/subsystems", l->o->config_dir);
        snprintf(actor, sizeof actor, "%s/demo/actor.json", l->o->config_dir);
        ac_registry_t *reg = ac_registry_load(comb, lay, &err);
        ac_subsystems_t *subs = reg ? ac_subsystems_load(reg, subs_dir, &err) : NULL;
        if (!subs)
            hb_fail("W2 reference: %s", err.message);
        ac_resolver_t *r = ac_resolver_new(reg);
        ac_request_t *req = ac_request_new(reg);
        size_t len;
        char *json = ac_read_file(actor, 1 << 20, &len, &err);
        const ac_snapshot_t *snap;
        if (!json || ac_subsystems_install(subs, r, &err) ||
            ac_decode_actor_json(req, json, len, &err) || ac_resolve(r, req, &snap, &err) ||
            ac_snapshot_pack_buffer(&sb, snap, reg, NULL, 0))
            hb_fail("W2 reference: %s", err.message);
        free(json);
        ac_request_destroy(&req);
        ac_resolver_destroy(&r);
        ac_subsystems_destroy(&subs);
        ac_registry_destroy(&reg);
    }
    l->ref = malloc(sb.size);
    memcpy(l->ref, sb.data, sb.size);
    l->ref_len = sb.size;
    msgpack_sbuffer_destroy(&sb);
    mp_span_t s = {l->ref, l->ref_len};
    l->ref_p = mp_get(s, "Primary");
    l->ref_d = mp_get(s, "Derived");
    l->ref_c = mp_get(s, "CapsUsed");
    if (!l->ref_p.p || !l->ref_d.p || !l->ref_c.p)
        hb_fail("the reference snapshot has no Primary, Derived or CapsUsed");
}

/* ---- sockets ---- */

hb_load_t *hb_load_new(const hb_opts_t *o, const hb_cluster_t *c, hb_check_t check, int n_sockets,
                       size_t echo_bytes)
{
    hb_load_t *l = calloc(1, sizeof *l);
    l->o = o;
    l->c = c;
    l->check = check;
    l->n = n_sockets > 0 ? n_sockets : o->connections;
    l->depth = n_sockets > 0 ? 1 : o->depth;
    l->batch = check == HB_CHECK_ECHO ? 1 : o->batch;
    l->echo_bytes = echo_bytes;
    l->shape = strcmp(o->workload, "w1") == 0 ? HB_CHECK_W1 : HB_CHECK_W2;
    l->keyed = l->shape == HB_CHECK_W2;
    l->tick_ns = (uint64_t)o->tick_us * 1000;
    if (keys_init(&l->gen, (uint32_t)o->keys, o->zipf, 0x5eed0010u))
        hb_fail("out of memory");
    build_body(l);
    if (check != HB_CHECK_ECHO)
        build_reference(l);
    l->conns = calloc((size_t)l->n, sizeof *l->conns);
    l->keys = calloc((size_t)l->n * (size_t)l->depth * (size_t)l->batch, sizeof *l->keys);
    l->epfd = epoll_create1(0);
    l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (!l->conns || !l->keys || l->epfd < 0 || l->tfd < 0)
        hb_fail("cannot set up %d sockets: %s", l->n, strerror(errno));
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->tfd, &tev);
    ac_curve_keys_t keys;
    bool curve = o->curve_cert || o->curve_server;
    if (curve) {
        ac_curve_settings_t set = {"curve", (char *)o->curve_cert, (char *)o->curve_server};
        ac_error_t err;
        if (ac_curve_keys_load_client(&set, &keys, &err) != 0)
            hb_fail("%s", err.message);
    }
    for (int i = 0; i < l->n; i++) {
        conn_t *k = &l->conns[i];
        k->sock = zsock_new(ZMQ_DEALER);
        if (!k->sock)
            hb_fail("cannot make socket %d of %d (ulimit -n?)", i + 1, l->n);
        zsock_set_linger(k->sock, 0);
        zsock_set_sndhwm(k->sock, 100000);
        zsock_set_rcvhwm(k->sock, 100000);
        if (curve)
            ac_curve_keys_apply(&keys, k->sock);
        if (zsock_connect(k->sock, "%s", c->frontend) != 0)
            hb_fail("cannot connect to %s", c->frontend);
        k->raw = zsock_resolve(k->sock);
        k->slots = calloc((size_t)l->depth, sizeof *k->slots);
        k->free = calloc((size_t)l->depth, sizeof *k->free);
        for (int s = 0; s < l->depth; s++)
            k->free[k->n_free++] = l->depth - 1 - s;
        int fd = zsock_fd(k->sock);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            hb_fail("epoll: %s", strerror(errno));
    }
    if (curve)
        ac_curve_keys_fini(&keys);
    return l;
}

void hb_load_destroy(hb_load_t **self_p)
{
    hb_load_t *l = *self_p;
    if (!l)
        return;
    for (int i = 0; i < l->n; i++) {
        zsock_destroy(&l->conns[i].sock);
        free(l->conns[i].slots);
        free(l->conns[i].free);
    }
    free(l->conns);
    free(l->keys);
    free(l->key_off);
    free(l->ref);
    msgpack_sbuffer_destroy(&l->body);
    keys_fini(&l->gen);
    close(l->epfd);
    close(l->tfd);
    free(l);
    *self_p = NULL;
}

void hb_load_label(hb_load_t *self, const char *label)
{
    snprintf(self->label, sizeof self->label, "%s", label);
}

size_t hb_load_request_bytes(const hb_load_t *self)
{
    return self->body.size;
}

/* ---- one request, one reply ---- */

static void send_request(hb_load_t *l, int ci, uint64_t from_ns)
{
    conn_t *k = &l->conns[ci];
    int s = k->free[--k->n_free];
    slot_t *slot = &k->slots[s];
    slot->busy = true;
    slot->seq = k->seq++ & 0xffffff;
    uint32_t *keys = &l->keys[((size_t)ci * (size_t)l->depth + (size_t)s) * (size_t)l->batch];
    for (int b = 0; l->keyed && b < l->batch; b++) {
        uint32_t key = keys[b] = keys_next(&l->gen);
        char *p = l->body.data + l->key_off[b];
        for (int i = KEY_DIGITS - 1; i >= 0; i--, key /= 10)
            p[i] = (char)('0' + key % 10);
    }
    uint64_t id = (uint64_t)ci << 40 | (uint64_t)s << 24 | slot->seq;
    unsigned char *p = (unsigned char *)l->body.data + l->body.size - 8;
    for (int i = 7; i >= 0; i--, id >>= 8)
        p[i] = (unsigned char)id;
    slot->from_ns = from_ns ? from_ns : now_ns();
    if (zmq_send(k->raw, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(k->raw, AC_MDPC, strlen(AC_MDPC), ZMQ_SNDMORE) < 0 ||
        zmq_send(k->raw, AC_SERVICE, strlen(AC_SERVICE), ZMQ_SNDMORE) < 0 ||
        zmq_send(k->raw, l->body.data, l->body.size, 0) < 0)
        hb_fail("cannot send: %s", zmq_strerror(zmq_errno()));
    k->sent++;
    l->inflight++;
}

static void wrong(const char *what, mp_span_t body)
{
    mp_span_t e = mp_get(body, "error");
    mp_span_t m = mp_get(e, "message"), code = mp_get(e, "code");
    char msg[256] = "";
    if (m.p && (m.p[0] & 0xe0) == 0xa0)
        snprintf(msg, sizeof msg, " (%.*s: %.*s)", code.p ? (int)(code.len - 1) : 0,
                 code.p ? (const char *)code.p + 1 : "", (int)(m.len - 1), (const char *)m.p + 1);
    else if (m.p && m.p[0] == 0xd9)
        snprintf(msg, sizeof msg, " (%.*s)", (int)(m.len - 2), (const char *)m.p + 2);
    hb_fail("a wrong answer: %s%s", what, msg);
}

/* Checks one snapshot against the reference, and its ActorId when keyed. */
static void check_snapshot(hb_load_t *l, mp_span_t snap, uint32_t key, mp_span_t body)
{
    static const char *const keys[] = {"Primary", "Derived", "CapsUsed", "ActorId"};
    mp_span_t v[4];
    if (mp_get_many(snap, keys, 4, v) != 0 || !mp_span_eq(v[0], l->ref_p) ||
        !mp_span_eq(v[1], l->ref_d) || !mp_span_eq(v[2], l->ref_c))
        wrong("a snapshot whose Primary, Derived or CapsUsed differ from the reference computed "
              "in process",
              body);
    if (l->keyed) {
        char want[16];
        snprintf(want, sizeof want, "bench-%0*u", KEY_DIGITS, key);
        if (!mp_str_eq(v[3], want, 6 + KEY_DIGITS))
            wrong("the snapshot of another actor", body);
    }
}

static uint64_t span_uint(mp_span_t v)
{
    if (!v.p)
        return UINT64_MAX;
    if (v.p[0] <= 0x7f)
        return v.p[0];
    int w = v.p[0] == 0xcc ? 1 : v.p[0] == 0xcd ? 2 : v.p[0] == 0xce ? 4 : v.p[0] == 0xcf ? 8 : 0;
    return w && v.len == (size_t)w + 1 ? mp_be(v.p + 1, w) : UINT64_MAX;
}

static void on_reply(hb_load_t *l, const unsigned char *data, size_t len, uint64_t now)
{
    mp_span_t body = {data, len};
    uint64_t id = span_uint(mp_get(body, "id"));
    uint64_t ci = id >> 40, s = (id >> 24) & 0xffff, seq = id & 0xffffff;
    if (id == UINT64_MAX || ci >= (uint64_t)l->n || s >= (uint64_t)l->depth)
        wrong("a reply without the id of a request sent", body);
    conn_t *k = &l->conns[ci];
    slot_t *slot = &k->slots[s];
    if (!slot->busy || slot->seq != seq)
        wrong("a reply to no request in flight (a duplicate?)", body);
    if (!mp_is_true(mp_get(body, "ok")))
        wrong("a reply that is not ok", body);
    uint32_t *keys = &l->keys[((size_t)ci * (size_t)l->depth + s) * (size_t)l->batch];
    if (l->check == HB_CHECK_ECHO) {
        if (len != l->echo_bytes)
            wrong("an echo reply of the wrong size", body);
    } else if (l->batch == 1) {
        check_snapshot(l, mp_get(body, "snapshot"), keys[0], body);
    } else {
        const unsigned char *q;
        int64_t n = mp_array(mp_get(body, "results"), &q);
        if (n != l->batch)
            wrong("a batch reply without one result per item", body);
        const unsigned char *end = data + len;
        for (int64_t i = 0; i < n; i++) {
            size_t m = mp_skip(q, end, true);
            mp_span_t item = {q, m};
            if (!m || !mp_is_true(mp_get(item, "ok")))
                wrong("a batch item that is not ok", item);
            check_snapshot(l, mp_get(item, "snapshot"), keys[i], body);
            q += m;
        }
    }
    bh_record(&l->hist, now - slot->from_ns);
    slot->busy = false;
    k->free[k->n_free++] = (int)s;
    l->inflight--;
    l->done++;
}

/* Reads every message waiting on socket ci. Returns how many. */
static int drain(hb_load_t *l, int ci)
{
    conn_t *k = &l->conns[ci];
    int got = 0;
    for (;;) {
        zmq_msg_t f[4];
        int n = 0;
        for (int i = 0; i < 4; i++)
            zmq_msg_init(&f[i]);
        for (;;) {
            zmq_msg_t extra;
            zmq_msg_t *m = n < 4 ? &f[n] : &extra;
            if (n >= 4)
                zmq_msg_init(&extra);
            /* The parts of a message arrive together: none of them need wait. */
            if (zmq_msg_recv(m, k->raw, ZMQ_DONTWAIT) < 0)
                break;
            n++;
            bool more = zmq_msg_more(m);
            if (m == &extra)
                zmq_msg_close(&extra);
            if (!more)
                break;
        }
        if (n == 0) {
            for (int i = 0; i < 4; i++)
                zmq_msg_close(&f[i]);
            /* A non-blocking recv may leave the socket's commands unprocessed (libzmq
               throttles that), so ZMQ_FD would stay readable and epoll spin: ZMQ_EVENTS
               processes them, and tells whether a message came meanwhile. */
            int events = 0;
            size_t len = sizeof events;
            if (zmq_getsockopt(k->raw, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN))
                continue;
            return got;
        }
        uint64_t now = now_ns();
        if (n != 4 || zmq_msg_size(&f[0]) != 0 || zmq_msg_size(&f[1]) != strlen(AC_MDPC) ||
            memcmp(zmq_msg_data(&f[1]), AC_MDPC, strlen(AC_MDPC)) != 0)
            hb_fail("a reply that is not an MDP/0.1 reply (%d frames)", n);
        on_reply(l, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]), now);
        for (int i = 0; i < 4; i++)
            zmq_msg_close(&f[i]);
        got++;
    }
}

/* ---- a run ---- */

static double cpu_of(pid_t pid)
{
    return pid > 0 ? bench_cpu_seconds(pid) : 0;
}

static void progress(hb_load_t *l, uint64_t t0, uint64_t now, double seconds)
{
    double el = (double)(now - t0) * 1e-9;
    fprintf(stderr, "\r  %9.0f replies/s  p99 %8.0f us  elapsed %5.1f s  remaining %5.1f s  ",
            (double)l->done / (el > 0 ? el : 1), (double)bh_quantile(&l->hist, 0.99) / 1000.0, el,
            seconds > el ? seconds - el : 0);
}

void hb_load_run(hb_load_t *l, double seconds, double rate, int per_socket, hb_run_t *out)
{
    bh_reset(&l->hist);
    l->done = 0;
    for (int i = 0; i < l->n; i++)
        l->conns[i].sent = 0;
    double cpu0[2 + HB_MAX_PROCS];
    cpu0[0] = bench_cpu_seconds(getpid());
    cpu0[1] = cpu_of(l->c->broker);
    for (int i = 0; i < l->c->n_workers; i++)
        cpu0[2 + i] = cpu_of(l->c->workers[i]);
    bool tty = l->o->progress && isatty(2);
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), next_progress = t0 + 500000000;
    double interval = rate > 0 ? 1e9 / rate : 0;
    uint64_t opened = 0; /* open loop: requests whose intended time has been served */
    int rr = 0;
    bool issuing = true;
    bool blocked = false; /* open loop: a request is due and every slot is busy */
    uint64_t armed = 0;   /* the time the pacing timer is set to */
    struct epoll_event ev[64];
    for (;;) {
        uint64_t now = now_ns();
        int progress_made = 0;
        if (issuing) {
            if (per_socket > 0) {
                issuing = false;
                for (int i = 0; i < l->n; i++) {
                    conn_t *k = &l->conns[i];
                    while (k->n_free && k->sent < per_socket)
                        send_request(l, i, 0);
                    progress_made += drain(l, i);
                    if (k->sent < per_socket)
                        issuing = true;
                }
            } else if (rate <= 0 ? now >= end : t0 + (uint64_t)((double)opened * interval) >= end) {
                /* Open loop: every request intended before the end is sent, however late
                   (a backlog of a saturated service is measured, not dropped). */
                issuing = false;
            } else if (rate <= 0) {
                for (int i = 0; i < l->n; i++) {
                    while (l->conns[i].n_free)
                        send_request(l, i, 0);
                    progress_made += drain(l, i);
                }
            } else {
                blocked = false;
                for (;;) {
                    uint64_t due = t0 + (uint64_t)((double)opened * interval);
                    if (due > now || due >= end)
                        break;
                    int tries = 0;
                    while (!l->conns[rr].n_free && tries++ < l->n)
                        rr = (rr + 1) % l->n;
                    if (!l->conns[rr].n_free) {
                        blocked = true; /* sent when a reply frees a slot, timed from `due` */
                        break;
                    }
                    send_request(l, rr, due);
                    progress_made += drain(l, rr);
                    rr = (rr + 1) % l->n;
                    opened++;
                }
            }
        }
        if (!issuing && l->inflight == 0)
            break;
        if (now > end + DRAIN_NS && issuing)
            hb_fail("requests still waiting to be sent %.0f s after the run's end (%d without a "
                    "reply): the service stalled",
                    DRAIN_NS / 1e9, l->inflight);
        if (now > end + DRAIN_NS)
            hb_fail("%d requests without a reply %.0f s after the run (a lost answer)", l->inflight,
                    DRAIN_NS / 1e9);
        if (tty && now >= next_progress) {
            progress(l, t0, now, seconds);
            next_progress = now + 500000000;
        }
        int timeout = progress_made ? 0 : 100;
        if (!progress_made && issuing && rate > 0 && !blocked &&
            t0 + (uint64_t)((double)opened * interval) > armed) {
            /* With --tick-us, wake at the next tick after the intended time: requests due
               within a tick leave together (fewer wake-ups; each still timed from its own
               intended time, so the wait shows in its latency). */
            uint64_t due = t0 + (uint64_t)((double)opened * interval), tick = l->tick_ns;
            if (tick)
                due = (due + tick - 1) / tick * tick;
            armed = due;
            struct itimerspec its = {{0, 0},
                                     {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)}};
            timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
        }
        int n = epoll_wait(l->epfd, ev, 64, timeout);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u32 == UINT32_MAX) {
                uint64_t x;
                if (read(l->tfd, &x, sizeof x) < 0)
                    x = 0;
                continue;
            }
            int ci = (int)ev[i].data.u32;
            drain(l, ci);
            /* Closed loop: refill at once (and read what the sends let in). */
            bool sent = false;
            while (issuing && rate <= 0 && per_socket <= 0 && l->conns[ci].n_free) {
                send_request(l, ci, 0);
                sent = true;
            }
            while (per_socket > 0 && l->conns[ci].n_free && l->conns[ci].sent < per_socket) {
                send_request(l, ci, 0);
                sent = true;
            }
            if (sent)
                drain(l, ci);
        }
    }
    uint64_t t1 = now_ns();
    if (tty)
        fprintf(stderr, "\r%140s\r", "");
    out->done = l->done;
    out->seconds = (double)(t1 - t0) * 1e-9;
    out->rate = (double)l->done / out->seconds;
    out->hist = &l->hist;
    out->cpu_client = bench_cpu_seconds(getpid()) - cpu0[0];
    out->cpu_broker = cpu_of(l->c->broker) - cpu0[1];
    out->cpu_workers = 0;
    for (int i = 0; i < l->c->n_workers; i++) {
        out->cpu_worker[i] = cpu_of(l->c->workers[i]) - cpu0[2 + i];
        out->cpu_workers += out->cpu_worker[i];
    }
}

void hb_load_probe(hb_load_t *l, int timeout_ms)
{
    bh_reset(&l->hist);
    l->done = 0;
    send_request(l, 0, 0);
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (!drain(l, 0) && now_ns() < end) {
        struct epoll_event ev[8];
        epoll_wait(l->epfd, ev, 8, 50);
    }
    if (!l->done)
        hb_fail("no reply from %s within %d ms: is a broker there with workers of the "
                "actorcore service, and does it run CURVE (then give --curve-cert and "
                "--curve-server)?",
                l->c->frontend, timeout_ms);
}
