/*  bench_fair - the broker's fair queuing between clients (issue 16), measured against its
    two targets in one run, through real processes over loopback tcp.

    1. Fairness latency. A broker and two actorcore-worker processes (the shipped
       registries and config/subsystems, no store). Client A keeps BACKLOG W2 requests
       (the demo actor, a fresh actor id per request, cache "bypass") queued at the broker,
       sending as fast as the broker takes them and topping up as replies come back; it
       keeps BACKLOG plus the workers' credits outstanding, so that BACKLOG wait in the
       broker's queue while the workers hold their credit. Client B sends one ping at a time
       and times each round trip: p50 / p99 / max with A idle and with A's backlog. Three
       setups, up at once and interleaved run by run: --fair-queuing true with the shipped
       worker credit (the target's), --fair-queuing false (what fairness buys), and true
       with a small credit (how much of B's wait is the workers' own queue, which the
       broker cannot reorder). Medians of RUNS runs. Target: fair, B's p99 under the
       backlog <= 5 ms and <= 3 x its p99 with A idle. The broker's requests_held
       (mmi.stats) is sampled while B measures, to show the backlog was there.
    2. Fair queuing's cost. A broker with fair queuing on and one with it off, each with two
       bench/echo_worker processes (credit 64), 300 B bodies: req/s from one client with 256
       in flight and from 8 clients with 32 in flight each (every client's queue is fairness
       state). A run alternates blocks of ECHO_BLOCK requests between the two brokers
       (on off off on ...), so that drift on a shared machine touches both alike; medians
       of RUNS runs. Target: on >= 0.97 x off.

    The clients are plain MDP/0.1 DEALER sockets (no retries, no id table), so what is timed
    is the broker and the workers. Every reply is checked: pings and W2 replies are parsed
    (ok, the request's id, a W2 snapshot's ActorId), echoes must be as long as the request
    and carry an id that was sent. Every process started is killed and reaped at exit, also
    after a failed check; its output is in a temporary directory kept only on failure.

    usage: bench_fair [--help]
*/
#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "procs.h"
#include "actorcore/codec.h"
#include "actorcore/wire.h"

#define RUNS 3
/* Part 1: requests A keeps queued; the workers' credit (the default); pings per
   measurement, and the time after which a measurement stops early (fair queuing off: each
   ping waits for the whole backlog) once it has MIN_PINGS. */
#define BACKLOG 10000
#define WORKERS 2
#define SHIPPED_CREDIT 64
#define SMALL_CREDIT 8
#define IDLE_PINGS 2000
#define BACKLOG_PINGS 2000
#define PING_BUDGET_S 6.0
#define MIN_PINGS 5
#define WARMUP_PINGS 200
/* Part 2: echo body; per run ECHO_PAIRS blocks of ECHO_BLOCK requests on each broker, after
   ECHO_WARMUP once per client set. */
#define ECHO_BYTES 300
#define ECHO_PAIRS 40
#define ECHO_BLOCK 5000
#define ECHO_WARMUP 4000
#define MAX_CLIENTS 8
/* Any reply later than this means something is broken, not slow. */
#define REPLY_TIMEOUT_MS 30000

/* ---- processes: every child is remembered, killed and reaped at exit ---- */

static char s_dir[] = "/tmp/ac_bfair_XXXXXX";
static bool s_failed;    /* keep the children's logs for a look */
static void *s_ctx;      /* the libzmq context of every client socket */
static double s_start_s; /* the program's start, for the wall time */

static void cleanup(void)
{
    procs_kill_all();
    if (s_failed) {
        fprintf(stderr, "bench_fair: the processes' output is in %s\n", s_dir);
        return;
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_fair: could not remove %s\n", s_dir);
}

/* Ctrl-C: the children are killed and reaped here (kill, waitpid and write are
   async-signal-safe); their logs stay, as after a failure. */
static void on_signal(int sig)
{
    procs_kill_all();
    static const char msg[] = "bench_fair: interrupted; the processes' output is in ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, s_dir, strlen(s_dir)) < 0 ||
        write(2, "\n", 1) < 0)
        _exit(128 + sig);
    _exit(128 + sig);
}

/* A failed check or setup ends the benchmark: a wrong answer measures nothing. exit runs
   cleanup, from whichever thread fails. */
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_fair: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s_failed = true;
    exit(1);
}

/* Starts argv with stdout and stderr appended to <dir>/<log>. */
static pid_t spawn(const char *const *argv, const char *log)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", s_dir, log);
    pid_t pid = procs_spawn(argv, NULL, path);
    if (pid < 0)
        fail("cannot start %s", argv[0]);
    return pid;
}

static void stop(pid_t pid)
{
    procs_stop(pid);
}

static void check_alive(pid_t pid, const char *what)
{
    if (procs_exited(pid))
        fail("%s exited early", what);
}

/* ---- a bare MDP/0.1 client ---- */

static void *client_new(const char *endpoint)
{
    void *s = zmq_socket(s_ctx, ZMQ_DEALER);
    int zero = 0;
    /* No high-water mark: A's backlog sits in the broker (or in TCP), never refused here. */
    if (!s || zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 || zmq_connect(s, endpoint) != 0)
        fail("a client socket to %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

/* [empty][MDPC01][service][body] */
static void client_send(void *s, const char *service, const void *body, size_t len)
{
    if (zmq_send(s, NULL, 0, ZMQ_SNDMORE) < 0 || zmq_send(s, AC_MDPC, 6, ZMQ_SNDMORE) < 0 ||
        zmq_send(s, service, strlen(service), ZMQ_SNDMORE) < 0 || zmq_send(s, body, len, 0) < 0)
        fail("send: %s", zmq_strerror(zmq_errno()));
}

/* One reply [empty][MDPC01][service][body] into *body (initialised by the caller, last
   frame kept). Returns false when nothing is there (flags ZMQ_DONTWAIT). */
static bool client_recv(void *s, zmq_msg_t *body, int flags)
{
    int frames = 0;
    bool proto_ok = false;
    for (;;) {
        if (zmq_msg_recv(body, s, frames == 0 ? flags : 0) < 0) {
            if (frames == 0 && zmq_errno() == EAGAIN)
                return false;
            fail("recv: %s", zmq_strerror(zmq_errno()));
        }
        if (frames == 1)
            proto_ok = zmq_msg_size(body) == 6 && memcmp(zmq_msg_data(body), AC_MDPC, 6) == 0;
        frames++;
        if (!zmq_msg_more(body))
            break;
    }
    if (frames != 4 || !proto_ok)
        fail("a reply of %d frames, not [empty][MDPC01][service][body]", frames);
    return true;
}

/* Waits up to REPLY_TIMEOUT_MS for a reply on s. */
static void client_recv_wait(void *s, zmq_msg_t *body)
{
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, REPLY_TIMEOUT_MS) < 1 || !client_recv(s, body, ZMQ_DONTWAIT))
        fail("no reply within %d ms", REPLY_TIMEOUT_MS);
}

/* One counter or table size of a broker's mmi.stats, through the caller's socket. */
static uint64_t broker_stat(void *s, const char *name)
{
    client_send(s, "mmi.stats", "", 0);
    zmq_msg_t body;
    zmq_msg_init(&body);
    client_recv_wait(s, &body);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object o;
    ac_error_t err;
    if (ac_msgpack_parse(zmq_msg_data(&body), zmq_msg_size(&body), &zone, &o, &err) != 0)
        fail("mmi.stats: %s", err.message);
    const msgpack_object *v = ac_wire_get(&o, name);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        fail("mmi.stats has no %s", name);
    uint64_t x = v->via.u64;
    msgpack_zone_destroy(&zone);
    zmq_msg_close(&body);
    return x;
}

/* ---- request bodies, patched in place per request ---- */

typedef struct {
    msgpack_sbuffer sb; /* the body */
    size_t actor_at;    /* offset of the actor id's ACTOR_DIGITS digits, 0: no actor */
} body_t;

#define ACTOR_DIGITS 6
#define ACTOR_PREFIX "fair-"

/* Bodies end in "id": uint64 (0xcf + 8 bytes big-endian), so the id is the last 8 bytes. */
static void pack_id_last(msgpack_packer *pk)
{
    ac_wire_pack_str(pk, "id");
    msgpack_pack_uint64(pk, UINT64_MAX);
}

static void patch_id(body_t *b, uint64_t id)
{
    unsigned char *p = (unsigned char *)b->sb.data + b->sb.size - 8;
    for (int i = 7; i >= 0; i--, id >>= 8)
        p[i] = (unsigned char)id;
}

static uint64_t body_id(const char *data, size_t len)
{
    uint64_t id = 0;
    for (size_t i = len - 8; i < len; i++)
        id = id << 8 | (unsigned char)data[i];
    return id;
}

/* The actor of request id: ACTOR_PREFIX and the id's last ACTOR_DIGITS decimal digits. */
static void actor_digits(uint64_t id, char *out)
{
    for (int i = ACTOR_DIGITS - 1; i >= 0; i--, id /= 10)
        out[i] = (char)('0' + id % 10);
}

static void patch_request(body_t *b, uint64_t id)
{
    patch_id(b, id);
    if (b->actor_at)
        actor_digits(id, b->sb.data + b->actor_at);
}

static void body_copy(body_t *dst, const body_t *src)
{
    msgpack_sbuffer_init(&dst->sb);
    msgpack_sbuffer_write(&dst->sb, src->sb.data, src->sb.size);
    dst->actor_at = src->actor_at;
}

/* B's request: {op: ping, id}. */
static void build_ping(body_t *b)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&pk, &b->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ac_wire_pack_str(&pk, "op");
    ac_wire_pack_str(&pk, "ping");
    pack_id_last(&pk);
    b->actor_at = 0;
}

/* A's request, W2: {op: resolve, actor: <config/demo/actor.json, id ACTOR_PREFIX + digits>,
   cache: bypass, id}. The actor goes before everything long, so the broker's skim finds
   its id (affine dispatch spreads the actors over both workers). */
static void build_w2(body_t *b)
{
    const char *path = AC_SOURCE_DIR "/config/demo/actor.json";
    FILE *f = fopen(path, "rb");
    char text[65536];
    size_t len = f ? fread(text, 1, sizeof text, f) : 0;
    if (f)
        fclose(f);
    if (len == 0 || len == sizeof text)
        fail("cannot read %s", path);
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object actor;
    ac_error_t err;
    if (ac_json_parse(text, len, zone, &actor, &err) != 0 || actor.type != MSGPACK_OBJECT_MAP)
        fail("%s: %s", path, err.message);
    char placeholder[] = ACTOR_PREFIX "000000";
    msgpack_packer pk;
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&pk, &b->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    ac_wire_pack_str(&pk, "op");
    ac_wire_pack_str(&pk, "resolve");
    ac_wire_pack_str(&pk, "actor");
    msgpack_pack_map(&pk, actor.via.map.size);
    bool has_id = false;
    for (uint32_t i = 0; i < actor.via.map.size; i++) {
        const msgpack_object_kv *kv = &actor.via.map.ptr[i];
        msgpack_pack_object(&pk, kv->key);
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
            memcmp(kv->key.via.str.ptr, "id", 2) == 0) {
            b->actor_at = b->sb.size + 1 + strlen(ACTOR_PREFIX); /* after the fixstr header */
            ac_wire_pack_str(&pk, placeholder);
            has_id = true;
        } else {
            msgpack_pack_object(&pk, kv->val);
        }
    }
    ac_wire_pack_str(&pk, "cache");
    ac_wire_pack_str(&pk, "bypass");
    pack_id_last(&pk);
    msgpack_zone_free(zone);
    if (!has_id || memcmp(b->sb.data + b->actor_at - strlen(ACTOR_PREFIX), placeholder,
                          sizeof placeholder - 1) != 0)
        fail("%s: no actor id to vary", path);
}

/* An echo body of exactly `total` bytes: {op: ping, pad: <bin>, id}. */
static void build_echo(body_t *b, size_t total)
{
    for (size_t pad = total > 40 ? total - 40 : 0; pad < total; pad++) {
        msgpack_packer pk;
        msgpack_sbuffer_init(&b->sb);
        msgpack_packer_init(&pk, &b->sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        ac_wire_pack_str(&pk, "op");
        ac_wire_pack_str(&pk, "ping");
        ac_wire_pack_str(&pk, "pad");
        msgpack_pack_bin(&pk, pad);
        for (size_t i = 0; i < pad; i++)
            msgpack_sbuffer_write(&b->sb, "x", 1);
        pack_id_last(&pk);
        b->actor_at = 0;
        if (b->sb.size == total)
            return;
        msgpack_sbuffer_destroy(&b->sb);
    }
    fail("no echo body of %zu bytes", total);
}

/* ---- reply checks ---- */

/* Parses a reply and checks ok: true and id == want; returns the map in *o. */
static void check_ok(const zmq_msg_t *body, uint64_t want, msgpack_zone *zone, msgpack_object *o,
                     const char *what)
{
    ac_error_t err;
    msgpack_zone_clear(zone);
    if (ac_msgpack_parse(zmq_msg_data((zmq_msg_t *)body), zmq_msg_size((zmq_msg_t *)body), zone, o,
                         &err) != 0)
        fail("a %s reply that does not parse: %s", what, err.message);
    const msgpack_object *ok = ac_wire_get(o, "ok");
    const msgpack_object *id = ac_wire_get(o, "id");
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean) {
        const msgpack_object *e = ac_wire_get(o, "error");
        const msgpack_object *m = e ? ac_wire_get(e, "message") : NULL;
        fail("a %s request failed: %.*s", what, m ? (int)m->via.str.size : 7,
             m ? m->via.str.ptr : "(no ok)");
    }
    if (!id || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER || (want && id->via.u64 != want))
        fail("a %s reply with the wrong id", what);
}

static void check_ping(const zmq_msg_t *body, uint64_t want, msgpack_zone *zone)
{
    msgpack_object o;
    check_ok(body, want, zone, &o, "ping");
    if (!ac_wire_get(&o, "pong"))
        fail("a ping reply without pong");
}

/* ok, and the snapshot is of the actor that request's id named. */
static void check_w2(const zmq_msg_t *body, msgpack_zone *zone)
{
    msgpack_object o;
    check_ok(body, 0, zone, &o, "W2");
    uint64_t id = ac_wire_get(&o, "id")->via.u64;
    const msgpack_object *snap = ac_wire_get(&o, "snapshot");
    const msgpack_object *actor = snap ? ac_wire_get(snap, "ActorId") : NULL;
    char want[] = ACTOR_PREFIX "000000";
    actor_digits(id, want + strlen(ACTOR_PREFIX));
    if (!actor || actor->type != MSGPACK_OBJECT_STR || actor->via.str.size != strlen(want) ||
        memcmp(actor->via.str.ptr, want, strlen(want)) != 0 || !ac_wire_get(snap, "Derived"))
        fail("a W2 reply without the snapshot of %s", want);
}

/* ---- one broker and its workers ---- */

typedef struct {
    bool fair;              /* --fair-queuing */
    int credit;             /* each worker's --credit */
    char ep[4][64];         /* frontend, backend, events in, events out */
    pid_t pid;              /* the broker */
    pid_t workers[WORKERS]; /* its workers */
    void *mmi;              /* a client socket for mmi.stats */
} broker_t;

/* A broker and WORKERS echo_worker or actorcore-worker processes (the shipped registries
   and subsystems, no store); logs <dir>/broker-<n>.log and worker-<n>-<i>.log. */
static void broker_start(broker_t *b, bool fair, bool echo, int credit)
{
    static int started;
    int n = started++;
    memset(b, 0, sizeof *b);
    b->fair = fair;
    b->credit = credit;
    bench_free_endpoints(b->ep, 4);
    const char *argv[] = {
        AC_BROKER_PATH,          "--frontend", b->ep[0],       "--backend", b->ep[1],
        "--events-in",           b->ep[2],     "--events-out", b->ep[3],    "--fair-queuing",
        fair ? "true" : "false", NULL};
    char log[64], cr[16];
    snprintf(log, sizeof log, "broker-%d.log", n);
    b->pid = spawn(argv, log);
    snprintf(cr, sizeof cr, "%d", credit);
    for (int i = 0; i < WORKERS; i++) {
        snprintf(log, sizeof log, "worker-%d-%d.log", n, i);
        if (echo) {
            const char *wargv[] = {AC_ECHO_PATH, b->ep[1], cr, NULL};
            b->workers[i] = spawn(wargv, log);
        } else {
            const char *wargv[] = {AC_WORKER_PATH, "--broker", b->ep[1],
                                   "--events",     b->ep[2],   BENCH_W2_WORKER_FLAGS,
                                   "--credit",     cr,         NULL};
            b->workers[i] = spawn(wargv, log);
        }
    }
    b->mmi = client_new(b->ep[0]);
}

/* Waits until every worker of every broker has registered. */
static void brokers_ready(broker_t *bs, int n)
{
    for (int k = 0; k < n; k++) {
        check_alive(bs[k].pid, "actorcore-broker");
        for (int waited = 0; broker_stat(bs[k].mmi, "workers") < WORKERS; waited += 50) {
            for (int i = 0; i < WORKERS; i++)
                check_alive(bs[k].workers[i], "a worker");
            if (waited > 15000)
                fail("the workers did not register with the broker in 15 s");
            usleep(50000);
        }
    }
}

static void broker_stop(broker_t *b)
{
    zmq_close(b->mmi);
    for (int i = 0; i < WORKERS; i++)
        stop(b->workers[i]);
    stop(b->pid);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* ---- part 1: B's latency beside A's backlog ---- */

/* Client A, on its own thread: keeps `outstanding` W2 requests sent and unanswered until
   told to stop, then collects what is still out. */
typedef struct {
    const char *fe;        /* the broker's frontend */
    const body_t *w2;      /* the request to copy */
    int outstanding;       /* requests kept out */
    atomic_bool stop;      /* stop topping up, drain */
    atomic_ullong replies; /* W2 replies checked */
    uint64_t next_id;      /* last id sent; ids go on from run to run */
    pthread_t thread;      /* where backlog_main runs */
} backlog_t;

static void *backlog_main(void *arg)
{
    backlog_t *a = arg;
    void *s = client_new(a->fe);
    body_t w2;
    body_copy(&w2, a->w2);
    msgpack_zone *zone = msgpack_zone_new(65536);
    zmq_msg_t body;
    zmq_msg_init(&body);
    int out = 0;
    double last_reply = now_s();
    for (;;) {
        bool stopping = atomic_load(&a->stop);
        while (!stopping && out < a->outstanding) {
            patch_request(&w2, ++a->next_id);
            client_send(s, AC_SERVICE, w2.sb.data, w2.sb.size);
            out++;
        }
        if (stopping && out == 0)
            break;
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 100);
        int got = 0;
        while (client_recv(s, &body, ZMQ_DONTWAIT)) {
            check_w2(&body, zone);
            out--;
            got++;
        }
        if (got) {
            atomic_fetch_add(&a->replies, (unsigned long long)got);
            last_reply = now_s();
        } else if (now_s() - last_reply > REPLY_TIMEOUT_MS / 1000.0) {
            fail("client A: no W2 reply in %d ms", REPLY_TIMEOUT_MS);
        }
    }
    zmq_msg_close(&body);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&w2.sb);
    zmq_close(s);
    return NULL;
}

/* One measurement of B: round trips in microseconds, the broker's requests_held seen
   between pings (min, max; 0 when not sampled), A's replies per second meanwhile. */
enum { P50, P99, MAX, A_RATE, FIGURES };
typedef struct {
    double f[FIGURES];           /* P50, P99, MAX in us; A_RATE: A's replies/s, 0 when idle */
    int pings;                   /* round trips timed */
    uint64_t held_min, held_max; /* requests_held seen */
} lat_t;

static void ping_run(broker_t *b, void *s, body_t *ping, uint64_t *next_id, int max_pings,
                     backlog_t *a, lat_t *out)
{
    msgpack_zone *zone = msgpack_zone_new(4096);
    zmq_msg_t body;
    zmq_msg_init(&body);
    double *lat = malloc((size_t)max_pings * sizeof *lat);
    out->held_min = a ? UINT64_MAX : 0;
    out->held_max = 0;
    unsigned long long a0 = a ? atomic_load(&a->replies) : 0;
    double t_start = now_s();
    int n = 0;
    while (n < max_pings && (n < MIN_PINGS || now_s() - t_start < PING_BUDGET_S)) {
        if (a && n % 20 == 0) {
            uint64_t held = broker_stat(b->mmi, "requests_held");
            out->held_min = held < out->held_min ? held : out->held_min;
            out->held_max = held > out->held_max ? held : out->held_max;
        }
        patch_request(ping, ++*next_id);
        uint64_t t0 = now_ns();
        client_send(s, AC_SERVICE, ping->sb.data, ping->sb.size);
        client_recv_wait(s, &body);
        uint64_t t1 = now_ns();
        check_ping(&body, *next_id, zone);
        lat[n++] = (double)(t1 - t0) / 1e3;
    }
    out->f[A_RATE] = a ? (double)(atomic_load(&a->replies) - a0) / (now_s() - t_start) : 0;
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    out->pings = n;
    out->f[P50] = lat[n / 2];
    out->f[P99] = lat[n * 99 / 100];
    out->f[MAX] = lat[n - 1];
    free(lat);
    zmq_msg_close(&body);
    msgpack_zone_free(zone);
}

/* B measured with A idle, then with A's backlog built up at the broker; A drains after. */
static void fairness_round(broker_t *b, const body_t *w2, uint64_t *a_ids, lat_t *idle, lat_t *busy)
{
    void *s = client_new(b->ep[0]);
    body_t ping;
    build_ping(&ping);
    uint64_t id = 0;
    ping_run(b, s, &ping, &id, WARMUP_PINGS, NULL, idle);
    ping_run(b, s, &ping, &id, IDLE_PINGS, NULL, idle);

    backlog_t a = {
        .fe = b->ep[0], .w2 = w2, .outstanding = BACKLOG + WORKERS * b->credit, .next_id = *a_ids};
    atomic_init(&a.stop, false);
    atomic_init(&a.replies, 0);
    if (pthread_create(&a.thread, NULL, backlog_main, &a) != 0)
        fail("cannot start client A's thread");
    /* The backlog is there when the broker holds (nearly) all of it. */
    for (int waited = 0; broker_stat(b->mmi, "requests_held") < (uint64_t)BACKLOG; waited += 10) {
        if (waited > 20000)
            fail("client A's backlog did not reach the broker in 20 s");
        usleep(10000);
    }
    ping_run(b, s, &ping, &id, BACKLOG_PINGS, &a, busy);
    atomic_store(&a.stop, true);
    pthread_join(a.thread, NULL);
    *a_ids = a.next_id;
    msgpack_sbuffer_destroy(&ping.sb);
    zmq_close(s);
}

/* The median over the runs of one figure (P50...) of lat_t. */
static double med(const lat_t *runs, int figure)
{
    double v[RUNS];
    for (int r = 0; r < RUNS; r++)
        v[r] = runs[r].f[figure];
    return median(v, RUNS);
}

static void print_lat_row(const char *label, const lat_t *r)
{
    int pings = 0;
    uint64_t held_min = UINT64_MAX, held_max = 0;
    printf("  %-34s %8.0f %8.0f %9.0f  [", label, med(r, P50), med(r, P99), med(r, MAX));
    for (int i = 0; i < RUNS; i++) {
        printf(" %7.0f", r[i].f[P99]);
        pings += r[i].pings;
        held_min = r[i].held_min < held_min ? r[i].held_min : held_min;
        held_max = r[i].held_max > held_max ? r[i].held_max : held_max;
    }
    printf("] %6d", pings);
    if (held_max > 0)
        printf("  %5" PRIu64 "-%5" PRIu64 " %7.0f", held_min, held_max, med(r, A_RATE));
    printf("\n");
}

/* The setups of part 1: the target's (fair, the shipped credit), FIFO (what fairness buys)
   and fair with a small worker credit (how much of B's wait is the workers' own queue). */
#define SETUPS 3
static const struct {
    bool fair;
    int credit;
    const char *name;
} s_setups[SETUPS] = {{true, SHIPPED_CREDIT, "fair, credit 64"},
                      {false, SHIPPED_CREDIT, "FIFO, credit 64"},
                      {true, SMALL_CREDIT, "fair, credit 8"}};

static void fairness_latency(void)
{
    double t0 = now_s();
    body_t w2;
    build_w2(&w2);
    broker_t bs[SETUPS];
    for (int k = 0; k < SETUPS; k++)
        broker_start(&bs[k], s_setups[k].fair, false, s_setups[k].credit);
    brokers_ready(bs, SETUPS);
    lat_t idle[SETUPS][RUNS], busy[SETUPS][RUNS];
    uint64_t a_ids = 0;
    for (int run = 0; run < RUNS; run++)
        for (int j = 0; j < SETUPS; j++) {
            int k = (run + j) % SETUPS; /* each run starts with the next setup */
            fairness_round(&bs[k], &w2, &a_ids, &idle[k][run], &busy[k][run]);
        }
    for (int k = 0; k < SETUPS; k++)
        broker_stop(&bs[k]);
    printf("1. Fairness latency: client B's ping round trip, one at a time, with client A idle,\n"
           "   then with A keeping %d W2 requests queued at the broker (%zu B each, a new actor\n"
           "   per request, cache bypass; A keeps %d + %d workers x credit outstanding, topped up\n"
           "   as replies come). Broker (--fair-queuing true = fair, false = FIFO) + %d\n"
           "   actorcore-worker, loopback tcp. Per run: %d pings idle (after %d of warm-up), up\n"
           "   to %d beside the backlog (fewer when they take over %.0f s: at least %d). %d runs,\n"
           "   setups interleaved; medians of the runs' figures, microseconds. 'held':\n"
           "   requests_held of mmi.stats while B measured (queued + at the workers).\n",
           BACKLOG, w2.sb.size, BACKLOG, WORKERS, WORKERS, IDLE_PINGS, WARMUP_PINGS, BACKLOG_PINGS,
           PING_BUDGET_S, MIN_PINGS, RUNS);
    printf("  %-34s %8s %8s %9s  %-*s %6s  %-11s %7s\n", "", "p50", "p99", "max", RUNS * 8 + 2,
           "[p99 of each run]", "pings", "held", "A req/s");
    for (int k = 0; k < SETUPS; k++) {
        char label[64];
        snprintf(label, sizeof label, "%s, A idle", s_setups[k].name);
        print_lat_row(label, idle[k]);
        snprintf(label, sizeof label, "%s, A backlog", s_setups[k].name);
        print_lat_row(label, busy[k]);
    }
    double p99_idle = med(idle[0], P99), p99 = med(busy[0], P99);
    printf("  target (fair, shipped credit 64): backlog p99 %.2f ms (<= 5 ms: %s), backlog p99 "
           "/ idle p99 %.2f (<= 3: %s)\n",
           p99 / 1e3, p99 <= 5000 ? "met" : "NOT met", p99 / p99_idle,
           p99 <= 3 * p99_idle ? "met" : "NOT met");
    double fifo_p50 = med(busy[1], P50), fifo_rate = med(busy[1], A_RATE);
    printf("  fairness buys: FIFO backlog p50 / fair backlog p50 = %.0f, p99 %.0f; FIFO p50 %.0f "
           "ms ~ the backlog's own drain time (%d / A's %.0f req/s = %.0f ms)\n",
           fifo_p50 / med(busy[0], P50), med(busy[1], P99) / p99, fifo_p50 / 1e3, BACKLOG,
           fifo_rate, BACKLOG / fifo_rate * 1e3);
    for (int k = 0; k < SETUPS; k += 2) {
        double rate = med(busy[k], A_RATE);
        printf("  %s: ahead of a ping a worker holds up to %d of A's requests, ~%.2f ms at A's "
               "%.0f req/s over %d workers; measured backlog p50 %.2f ms, p99 %.2f ms, p99 / idle "
               "%.2f\n",
               s_setups[k].name, s_setups[k].credit - 1,
               (s_setups[k].credit - 1) * WORKERS / rate * 1e3, rate, WORKERS,
               med(busy[k], P50) / 1e3, med(busy[k], P99) / 1e3,
               med(busy[k], P99) / med(idle[k], P99));
    }
    int pings = RUNS * SETUPS * (WARMUP_PINGS + IDLE_PINGS);
    for (int k = 0; k < SETUPS; k++)
        for (int r = 0; r < RUNS; r++)
            pings += busy[k][r].pings;
    printf("  (%" PRIu64 " W2 requests and %d pings answered and checked)\n", a_ids, pings);
    printf("  fairness latency section: %.0f s\n", now_s() - t0);
    msgpack_sbuffer_destroy(&w2.sb);
}

/* ---- part 2: echo throughput, fair queuing on and off ---- */

/* nclients bare clients of one broker, each with its echo body and the ids it sent. */
typedef struct {
    int n;                             /* clients */
    void *s[MAX_CLIENTS];              /* their sockets */
    zmq_pollitem_t items[MAX_CLIENTS]; /* their sockets, to poll */
    body_t body[MAX_CLIENTS];          /* ECHO_BYTES each, the id patched per request */
    uint64_t sent[MAX_CLIENTS];        /* last id sent */
} clients_t;

static void clients_open(clients_t *c, const char *fe, int n)
{
    c->n = n;
    for (int i = 0; i < n; i++) {
        c->s[i] = client_new(fe);
        c->items[i] = (zmq_pollitem_t){c->s[i], 0, ZMQ_POLLIN, 0};
        build_echo(&c->body[i], ECHO_BYTES);
        c->sent[i] = 0;
    }
}

static void clients_close(clients_t *c)
{
    for (int i = 0; i < c->n; i++) {
        zmq_close(c->s[i]);
        msgpack_sbuffer_destroy(&c->body[i].sb);
    }
}

static void echo_send(clients_t *c, int i)
{
    patch_id(&c->body[i], ++c->sent[i]);
    client_send(c->s[i], AC_SERVICE, c->body[i].sb.data, c->body[i].sb.size);
}

/* Seconds for `requests` echoes split over the clients, `window` in flight on each, from
   the first send to the last reply. Every echo must be as long as the request and carry
   an id this block sent on that client. */
static double echo_block(clients_t *c, int window, int requests)
{
    int per = requests / c->n, got[MAX_CLIENTS], sent[MAX_CLIENTS], done = 0;
    uint64_t base[MAX_CLIENTS];
    zmq_msg_t reply;
    zmq_msg_init(&reply);
    double t0 = now_s();
    for (int i = 0; i < c->n; i++) {
        base[i] = c->sent[i];
        got[i] = sent[i] = 0;
        for (; sent[i] < window && sent[i] < per; sent[i]++)
            echo_send(c, i);
    }
    while (done < c->n) {
        if (zmq_poll(c->items, c->n, REPLY_TIMEOUT_MS) < 1)
            fail("no echo within %d ms", REPLY_TIMEOUT_MS);
        for (int i = 0; i < c->n; i++) {
            if (!(c->items[i].revents & ZMQ_POLLIN))
                continue;
            while (got[i] < per && client_recv(c->s[i], &reply, ZMQ_DONTWAIT)) {
                size_t len = zmq_msg_size(&reply);
                uint64_t id = len == ECHO_BYTES ? body_id(zmq_msg_data(&reply), len) : 0;
                if (len != ECHO_BYTES || id <= base[i] || id > c->sent[i])
                    fail("an echo of %zu bytes (id %" PRIu64 ") for a request of %d", len, id,
                         ECHO_BYTES);
                if (++got[i] == per)
                    done++;
                if (sent[i] < per) {
                    echo_send(c, i);
                    sent[i]++;
                }
            }
        }
    }
    double t = now_s() - t0;
    zmq_msg_close(&reply);
    return t;
}

/* Prints "  <label> median [each run]" of v (RUNS values, with `decimals`) and returns the
   median. */
static double print_runs(const char *label, const double *v, int decimals)
{
    double w[RUNS];
    memcpy(w, v, sizeof w);
    double m = median(w, RUNS);
    printf("  %-50s ", label);
    printf("%7.*f  [", decimals, m);
    for (int r = 0; r < RUNS; r++)
        printf(" %7.*f", decimals, v[r]);
    printf("]\n");
    return m;
}

static void echo_throughput(void)
{
    double t0 = now_s();
    broker_t bs[2]; /* fair queuing on, off */
    broker_start(&bs[0], true, true, SHIPPED_CREDIT);
    broker_start(&bs[1], false, true, SHIPPED_CREDIT);
    brokers_ready(bs, 2);
    const struct {
        int clients, window;
    } shapes[2] = {{1, 256}, {8, 32}};
    /* [shape][on, off][run]: req/s, and the broker's CPU microseconds per request */
    double tp[2][2][RUNS], cpu[2][2][RUNS];
    for (int sh = 0; sh < 2; sh++) {
        clients_t cl[2];
        for (int k = 0; k < 2; k++) {
            clients_open(&cl[k], bs[k].ep[0], shapes[sh].clients);
            echo_block(&cl[k], shapes[sh].window, ECHO_WARMUP);
        }
        for (int run = 0; run < RUNS; run++) {
            double secs[2] = {0, 0}, cpu_s[2] = {0, 0};
            for (int p = 0; p < ECHO_PAIRS; p++)
                for (int j = 0; j < 2; j++) {
                    int k = p % 2 ? 1 - j : j; /* on, off, off, on, on, off... */
                    double c0 = bench_cpu_seconds(bs[k].pid);
                    secs[k] += echo_block(&cl[k], shapes[sh].window, ECHO_BLOCK);
                    cpu_s[k] += bench_cpu_seconds(bs[k].pid) - c0;
                }
            for (int k = 0; k < 2; k++) {
                tp[sh][k][run] = ECHO_PAIRS * ECHO_BLOCK / secs[k];
                cpu[sh][k][run] = cpu_s[k] * 1e6 / (ECHO_PAIRS * ECHO_BLOCK);
            }
        }
        for (int k = 0; k < 2; k++)
            clients_close(&cl[k]);
    }
    broker_stop(&bs[0]);
    broker_stop(&bs[1]);
    printf("2. Echo throughput, fair queuing on vs off, same run: 2 brokers (--fair-queuing true,\n"
           "   false), each + %d echo_worker (credit %d), %d B bodies, loopback tcp. A run: %d\n"
           "   blocks of %d requests per broker, the two alternating (on off off on ...), after\n"
           "   %d of warm-up; req/s = requests / time in that broker's blocks, and the broker's\n"
           "   CPU (/proc/<pid>/stat, %ld ticks/s) per request; %d runs; median [each run]\n",
           WORKERS, SHIPPED_CREDIT, ECHO_BYTES, ECHO_PAIRS, ECHO_BLOCK, ECHO_WARMUP,
           sysconf(_SC_CLK_TCK), RUNS);
    for (int sh = 0; sh < 2; sh++) {
        double m[2], mc[2], ratio[RUNS];
        char label[96];
        for (int k = 0; k < 2; k++) {
            snprintf(label, sizeof label, "%d client%s x %d in flight, fair queuing %s, req/s",
                     shapes[sh].clients, shapes[sh].clients > 1 ? "s" : "", shapes[sh].window,
                     k ? "off" : "on");
            m[k] = print_runs(label, tp[sh][k], 0);
        }
        for (int k = 0; k < 2; k++) {
            snprintf(label, sizeof label, "  broker CPU us/request, fair queuing %s",
                     k ? "off" : "on");
            mc[k] = print_runs(label, cpu[sh][k], 2);
        }
        for (int r = 0; r < RUNS; r++)
            ratio[r] = tp[sh][0][r] / tp[sh][1][r];
        snprintf(label, sizeof label, "  on / off req/s, each run's (paired)");
        double mr = print_runs(label, ratio, 3);
        printf("  => %d client%s: on / off = %.3f as medians, %.3f as the median paired run "
               "(target >= 0.97: %s); CPU per request on / off %.3f\n",
               shapes[sh].clients, shapes[sh].clients > 1 ? "s" : "", m[0] / m[1], mr,
               m[0] / m[1] >= 0.97 && mr >= 0.97   ? "met"
               : m[0] / m[1] >= 0.97 || mr >= 0.97 ? "met by one of the two"
                                                   : "NOT met",
               mc[0] / mc[1]);
    }
    printf("  (%d echoes checked)\n", 2 * 2 * (ECHO_WARMUP + RUNS * ECHO_PAIRS * ECHO_BLOCK));
    printf("  echo throughput section: %.0f s\n", now_s() - t0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_fair\n"
                   "Measures actorcore-broker's fair queuing against issue 16's targets, with\n"
                   "real broker and worker processes on loopback tcp: a ping's latency beside\n"
                   "another client's backlog of %d W2 requests (fair queuing on and off), and\n"
                   "echo throughput with fair queuing on vs off. Takes about 1.5 minutes.\n",
                   BACKLOG);
            return 0;
        }
        fprintf(stderr, "bench_fair: unknown argument %s\nusage: bench_fair [--help]\n", argv[i]);
        return 2;
    }
    s_start_s = now_s();
    if (!mkdtemp(s_dir)) {
        perror("bench_fair: mkdtemp");
        return 1;
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    s_ctx = zmq_ctx_new();
    if (!s_ctx)
        fail("zmq_ctx_new");
    fairness_latency();
    fflush(stdout);
    echo_throughput();
    zmq_ctx_term(s_ctx);
    printf("wall time: %.0f s\n", now_s() - s_start_s);
    return 0;
}
