/*  test_service.c - integration: a real broker and real worker processes on loopback tcp.

    Every process is stopped at the end (svc.h kills leftovers at exit, even on failure).
*/
#include <czmq.h>

#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "reply.h"
#include "svc.h"

static svc_t s_main; /* broker + 2 workers shared by the simpler tests */

/* The CLI's answer for a golden case, as JSON text. */
static char *cli_answer(const char *name)
{
    char cmd[2048], c[512], l[512];
    tu_golden_path(c, sizeof c, "combiner.yaml");
    tu_case_layers(l, sizeof l, name);
    snprintf(cmd, sizeof cmd, "%s resolve --combiner %s --layers %s %s/%s/subsystems.json",
             AC_CLI_PATH, c, l, AC_GOLDEN_DIR, name);
    FILE *f = popen(cmd, "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    pclose(f);
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return strdup(buf);
}

/* The four contract keys of a service snapshot, as the CLI prints them. */
static char *contract_json(const msgpack_object *snap)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const char *keys[] = {"Primary", "Derived", "CapsUsed", "Version"};
    msgpack_sbuffer_write(&sb, "{", 1);
    for (int i = 0; i < 4; i++) {
        char head[32];
        snprintf(head, sizeof head, "%s\"%s\":", i ? "," : "", keys[i]);
        msgpack_sbuffer_write(&sb, head, strlen(head));
        const msgpack_object *v = ac_wire_get(snap, keys[i]);
        assert_non_null(v);
        ac_msgpack_to_json(v, &sb);
    }
    msgpack_sbuffer_write(&sb, "}", 1);
    char *s = strndup(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

static void start_pair(svc_t *s, const char *layers, const char *hb)
{
    char store[400];
    svc_ports(s);
    svc_start_broker(s, hb);
    snprintf(store, sizeof store, "%s/l3-%d.db", svc_tmpdir(), s->port[0]);
    const char *limits[] = {"--limits-max-batch", "100", NULL}; /* checked below */
    for (int w = 0; w < 2; w++)
        svc_start_worker_with(s, layers, store, hb, "100000", limits, "worker.log");
    wait_ready(s);
    svc_wait_stat(s->fe, "workers", 2, 20000); /* both joined, not only the first */
}

static int group_setup(void **state)
{
    (void)state;
    zsys_init();
    zsys_set_logstream(NULL);
    start_pair(&s_main, NULL, "500");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    svc_cleanup();
    return 0;
}

static void golden_cases_through_broker_and_two_workers_equal_the_cli(void **state)
{
    (void)state;
    svc_t po;
    char l[512];
    tu_case_layers(l, sizeof l, "case09_prioritized_override");
    start_pair(&po, l, "500");
    ac_client_t *c = ac_client_new(s_main.fe, NULL), *c9 = ac_client_new(po.fe, NULL);
    parsed_t p = {0};
    for (int i = 0; i < TU_GOLDEN_NCASES; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s/subsystems.json", AC_GOLDEN_DIR, tu_golden_cases[i]);
        char *outs = tu_slurp(path);
        ac_client_t *cl = i == 8 ? c9 : c;
        send_resolve(cl, outs, NULL, false, NULL);
        ac_reply_t r;
        recv_one(cl, &r, 10000);
        const msgpack_object *o = parse_reply(&p, &r);
        if (!reply_ok(o))
            fail_msg("%s: %s", tu_golden_cases[i], to_json(o));
        char *got = contract_json(ac_wire_get(o, "snapshot")),
             *want = cli_answer(tu_golden_cases[i]);
        assert_string_equal(got, want);
        free(got);
        free(want);
        free(outs);
    }
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    ac_client_destroy(&c9);
    svc_stop(po.broker, SIGTERM, 3000);
}

/* One worker, so that its L1 is the only one: every tier is exact. */
static void cache_tiers_get_invalidate_and_modes(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "500");
    char store[400];
    snprintf(store, sizeof store, "%s/cache.db", svc_tmpdir());
    svc_start_worker(&s, NULL, store, "500", "1000");
    wait_ready(&s);
    ac_client_t *c = ac_client_new(s.fe, NULL);
    parsed_t p = {0};
    char outs[512], code[64], t[16];
    ac_reply_t r;
    one_flat(outs, sizeof outs, "strength", 42);
    const char *modes[] = {NULL, NULL, "bypass", "refresh", NULL};
    const char *want[] = {"miss", "l1", "miss", "miss", "l1"};
    for (int i = 0; i < 5; i++) {
        send_resolve(c, outs, "cache-1", false, modes[i]);
        recv_one(c, &r, 10000);
        const msgpack_object *o = parse_reply(&p, &r);
        assert_true(reply_ok(o));
        assert_string_equal(tier_of(o, t, sizeof t), want[i]);
    }
    /* Same actor id and version but other content (what subsystems read): a miss, never
       a stale hit. */
    for (int k = 0; k < 3; k++) {
        uint64_t rid = ac_client_next_id(c);
        msgpack_packer *pk;
        ac_client_begin(c, &pk, "resolve", rid, 1);
        ac_wire_pack_str(pk, "actor");
        msgpack_pack_map(pk, 3);
        ac_wire_pack_str(pk, "id");
        ac_wire_pack_str(pk, "cache-2");
        ac_wire_pack_str(pk, "version");
        msgpack_pack_int(pk, 1);
        ac_wire_pack_str(pk, "data");
        msgpack_pack_map(pk, 1);
        ac_wire_pack_str(pk, "items");
        ac_wire_pack_str(pk, k == 2 ? "bow" : "sword");
        ac_client_send(c, rid);
        recv_one(c, &r, 10000);
        assert_string_equal(tier_of(parse_reply(&p, &r), t, sizeof t), k == 1 ? "l1" : "miss");
    }
    /* New outputs for the same actor and version: another key, a miss. */
    one_flat(outs, sizeof outs, "strength", 43);
    send_resolve(c, outs, "cache-1", false, NULL);
    recv_one(c, &r, 10000);
    assert_string_equal(tier_of(parse_reply(&p, &r), t, sizeof t), "miss");
    send_simple(c, "get", "cache-1");
    recv_one(c, &r, 10000);
    const msgpack_object *o = parse_reply(&p, &r);
    assert_true(reply_ok(o));
    assert_string_equal(tier_of(o, t, sizeof t), "l1");
    const msgpack_object *snap = ac_wire_get(o, "snapshot");
    assert_true(ac_wire_get(ac_wire_get(snap, "Primary"), "strength")->via.f64 == 43);
    send_simple(c, "invalidate", "cache-1");
    recv_one(c, &r, 10000);
    o = parse_reply(&p, &r);
    assert_true(reply_ok(o));
    assert_true(ac_wire_get(o, "removed")->via.boolean);
    send_simple(c, "get", "cache-1");
    recv_one(c, &r, 10000);
    o = parse_reply(&p, &r);
    assert_false(reply_ok(o));
    assert_string_equal(error_code(o, code, sizeof code), "not_found");
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

/* Sends n requests (inflight at most `window`), each FLAT strength = i; collects replies
   per worker pid. Checks every value. Returns the number of distinct pids seen. */
static int load(ac_client_t *c, int n, int window, int *pids, int max_pids, int start)
{
    parsed_t p = {0};
    int seen = 0, sent = 0, got = 0;
    char outs[512];
    uint64_t first = 0;
    while (got < n) {
        while (sent < n && sent - got < window) {
            uint64_t id = send_resolve(c, one_flat(outs, sizeof outs, "strength", start + sent),
                                       NULL, false, NULL);
            if (!first)
                first = id;
            sent++;
        }
        ac_reply_t r;
        recv_one(c, &r, 20000);
        const msgpack_object *o = parse_reply(&p, &r);
        if (!reply_ok(o))
            fail_msg("reply %s", to_json(o));
        double v =
            ac_wire_get(ac_wire_get(ac_wire_get(o, "snapshot"), "Primary"), "strength")->via.f64;
        assert_true(v == (double)(start + (int)(r.id - first)));
        int pid = (int)ac_wire_get(o, "worker")->via.i64;
        int k;
        for (k = 0; k < seen && pids[k] != pid; k++)
            ;
        if (k == seen && seen < max_pids)
            pids[seen++] = pid;
        got++;
    }
    msgpack_zone_free(p.zone);
    return seen;
}

/* The worker's counters from its `stats` op (one worker behind s). */
static uint64_t stat_counter(const msgpack_object *o, const char *name)
{
    const msgpack_object *v = ac_wire_get(ac_wire_get(o, "stats"), name);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        fail_msg("stats has no counter %s", name);
    return v->via.u64;
}

/* `stats` counts exactly what the worker did: requests, errors, resolves, gets,
   invalidates, the L1 and L3 tiers, with its generation and latency quantiles. */
static void the_stats_op_counts_exactly_what_the_worker_did(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "500");
    char store[400];
    snprintf(store, sizeof store, "%s/stats.db", svc_tmpdir());
    svc_start_worker(&s, NULL, store, "500", "1000");
    wait_ready(&s);
    ac_client_config_t cfg = {.timeout_ms = 10000, .retries = 0};
    ac_client_t *c = ac_client_new(s.fe, &cfg);
    parsed_t p = {0}, q = {0};
    ac_reply_t r;
    send_simple(c, "stats", NULL);
    recv_one(c, &r, 10000);
    /* A copy: the tree points into the reply's bytes, which the next receive frees. */
    ac_reply_t kept = r;
    char *first = malloc(r.len);
    memcpy(first, r.body, r.len);
    kept.body = first;
    const msgpack_object *before = parse_reply(&q, &kept);
    assert_true(reply_ok(before));
    char outs[512];
    one_flat(outs, sizeof outs, "strength", 42);
    const char *modes[] = {NULL, NULL, NULL}; /* a miss, then two L1 hits */
    for (int i = 0; i < 3; i++) {
        send_resolve(c, outs, "stats-1", false, modes[i]);
        recv_one(c, &r, 10000);
        assert_true(reply_ok(parse_reply(&p, &r)));
    }
    send_resolve(c, one_flat(outs, sizeof outs, "no_such_dimension", 1), NULL, false, NULL);
    recv_one(c, &r, 10000);
    assert_false(reply_ok(parse_reply(&p, &r)));
    send_simple(c, "get", "stats-1"); /* from L1 */
    recv_one(c, &r, 10000);
    assert_true(reply_ok(parse_reply(&p, &r)));
    send_simple(c, "get", "stats-none"); /* nowhere */
    recv_one(c, &r, 10000);
    assert_false(reply_ok(parse_reply(&p, &r)));
    send_simple(c, "invalidate", "stats-1");
    recv_one(c, &r, 10000);
    assert_true(reply_ok(parse_reply(&p, &r)));
    send_simple(c, "stats", NULL);
    recv_one(c, &r, 10000);
    const msgpack_object *after = parse_reply(&p, &r);
    assert_true(reply_ok(after));
    const struct {
        const char *name;
        uint64_t grew;
    } want[] = {
        {"requests", 8}, /* the first stats, 4 resolves, 2 gets, 1 invalidate */
        {"errors", 1},   /* the unknown dimension (a get not found is an answer) */
        {"resolves", 1}, /* snapshots computed: the first resolve */
        {"gets", 2},     /* found or not */
        {"invalidates", 1},
        {"l1_hits", 2},   /* the second and third resolve (a get is not counted here) */
        {"l1_misses", 1}, /* the first resolve, */
        {"l3_misses", 1}, /* which looked in L3 too */
        {"l3_hits", 0},
        {"stale", 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t a = stat_counter(before, want[i].name), b = stat_counter(after, want[i].name);
        if (b - a != want[i].grew)
            fail_msg("%s grew by %" PRIu64 ", not %" PRIu64, want[i].name, b - a, want[i].grew);
    }
    assert_int_equal(stat_counter(after, "l3_enabled"), 1);
    assert_true(stat_counter(after, "generation") != 0);
    assert_int_equal(stat_counter(after, "l1_entries"), 0); /* invalidated */
    const msgpack_object *lat = ac_wire_get(after, "latency_us");
    const msgpack_object *p50 = ac_wire_get(lat, "p50"), *p99 = ac_wire_get(lat, "p99");
    assert_non_null(p50);
    assert_non_null(p99);
    assert_int_equal(p50->type, MSGPACK_OBJECT_FLOAT64);
    assert_true(p50->via.f64 > 0 && p50->via.f64 <= p99->via.f64);
    msgpack_zone_free(p.zone);
    msgpack_zone_free(q.zone);
    free(first);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 5000);
}

static void two_workers_share_the_load_and_a_third_joining_gets_work(void **state)
{
    (void)state;
    svc_t s;
    start_pair(&s, NULL, "500");
    /* start_pair returns when one worker answers: wait for the second to register. */
    svc_wait_stat(s.fe, "workers", 2, 20000);
    ac_client_t *c = ac_client_new(s.fe, NULL);
    int pids[8];
    assert_int_equal(load(c, 3000, 256, pids, 8, 0), 2);
    char store[400];
    snprintf(store, sizeof store, "%s/third.db", svc_tmpdir());
    pid_t third = svc_start_worker(&s, NULL, store, "500", "100000");
    svc_wait_stat(s.fe, "workers", 3, 20000); /* the third has joined */
    int n = load(c, 6000, 256, pids, 8, 0);
    bool found = false;
    for (int i = 0; i < n; i++)
        found = found || pids[i] == (int)third;
    if (!found)
        fail_msg("the third worker (pid %d) received no work", (int)third);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

/* Keeps `window` of n resolves in flight; after `at` replies, signals victim with sig (and
   with SIGCONT `resume_ms` later, when sig is SIGSTOP). Every reply must be ok, carry its
   own value and come once. Returns the ms from the signal to the last reply. */
static int64_t load_with_signal(const svc_t *s, int n, int window, int at, pid_t victim, int sig,
                                int resume_ms)
{
    ac_client_config_t cfg = {.timeout_ms = 120000,
                              .retries = 0}; /* no client retries: the broker must do it */
    ac_client_t *c = ac_client_new(s->fe, &cfg);
    parsed_t p = {0};
    unsigned char *seen = calloc((size_t)n, 1);
    char outs[512];
    uint64_t first = 0;
    int sent = 0, got = 0;
    int64_t signalled = 0, resumed = 0, last_reply = zclock_mono();
    while (got < n) {
        while (sent < n && sent - got < window) {
            uint64_t id =
                send_resolve(c, one_flat(outs, sizeof outs, "strength", sent), NULL, false, NULL);
            if (!first)
                first = id;
            sent++;
        }
        if (got == at && !signalled) {
            kill(victim, sig);
            signalled = zclock_mono();
        }
        if (sig == SIGSTOP && signalled && !resumed && zclock_mono() - signalled >= resume_ms) {
            kill(victim, SIGCONT);
            resumed = zclock_mono();
        }
        ac_reply_t r;
        if (ac_client_recv(c, &r, 50) != 1) {
            if (zclock_mono() - last_reply > 60000)
                fail_msg("no reply for 60 s, %d of %d answered", got, n);
            continue;
        }
        last_reply = zclock_mono();
        const msgpack_object *o = parse_reply(&p, &r);
        if (!reply_ok(o))
            fail_msg("reply %s", to_json(o));
        size_t k = (size_t)(r.id - first);
        assert_true(k < (size_t)n);
        assert_int_equal(seen[k], 0);
        seen[k] = 1;
        double v =
            ac_wire_get(ac_wire_get(ac_wire_get(o, "snapshot"), "Primary"), "strength")->via.f64;
        assert_true(v == (double)k);
        got++;
    }
    int64_t took = zclock_mono() - signalled;
    if (sig == SIGSTOP && !resumed)
        kill(victim, SIGCONT);
    /* Nothing more arrives: no duplicate reached the client. */
    ac_reply_t extra;
    assert_int_equal(ac_client_recv(c, &extra, 500), 0);
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    assert_int_equal(st.duplicates, 0);
    assert_int_equal(st.received, (uint64_t)n);
    free(seen);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    return took;
}

static void kill_9_of_a_worker_loses_no_request_and_duplicates_none(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "100");
    char store[400];
    snprintf(store, sizeof store, "%s/kill.db", svc_tmpdir());
    pid_t victim = svc_start_worker(&s, NULL, store, "100", "0");
    svc_start_worker(&s, NULL, store, "100", "0");
    wait_ready(&s);
    /* All 10,000 sent at once; the kill after 1,000 replies. */
    load_with_signal(&s, 10000, 10000, 1000, victim, SIGKILL, 0);
    svc_forget(victim);
    waitpid(victim, NULL, 0);
    svc_stop(s.broker, SIGTERM, 3000);
}

static void a_killed_worker_costs_its_requests_milliseconds_not_the_heartbeat_expiry(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    /* Heartbeats a minute apart (expiry 4 minutes): only the dropped connection can tell. */
    svc_start_broker(&s, "60000");
    char store[400];
    snprintf(store, sizeof store, "%s/kill-fast-%d.db", svc_tmpdir(), s.port[0]);
    pid_t victim = svc_start_worker(&s, NULL, store, "60000", "0");
    svc_start_worker(&s, NULL, store, "60000", "0");
    svc_start_worker(&s, NULL, store, "60000", "0");
    wait_ready(&s);
    svc_wait_stat(s.fe, "workers", 3, 20000); /* the three have joined */
    int64_t took = load_with_signal(&s, 5000, 256, 1500, victim, SIGKILL, 0);
    svc_forget(victim);
    waitpid(victim, NULL, 0);
    if (took > 10000)
        fail_msg("the last request took %" PRId64 " ms after the kill", took);
    assert_true(svc_broker_stat(s.fe, "workers_disconnected") >= 1);
    svc_stop(s.broker, SIGTERM, 3000);
}

static void
a_stopped_worker_is_dropped_at_its_expiry_and_its_late_replies_never_arrive(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "200"); /* expiry 200 ms x liveness 4 = 800 ms */
    char store[400];
    snprintf(store, sizeof store, "%s/stop-%d.db", svc_tmpdir(), s.port[0]);
    pid_t victim = svc_start_worker(&s, NULL, store, "200", "0");
    svc_start_worker(&s, NULL, store, "200", "0");
    wait_ready(&s);
    svc_wait_stat(s.fe, "workers", 2, 20000); /* both have joined */
    /* SIGSTOP for 3 s: the broker re-queues what it held at its expiry; on SIGCONT the
       worker finds its broker silent, drops what it still had and says READY again (a
       late reply it sends is dropped by the broker as stale: test_broker shows that). No
       request is lost and none reaches the client twice (load_with_signal checks both). */
    load_with_signal(&s, 5000, 256, 1500, victim, SIGSTOP, 3000);
    assert_true(svc_broker_stat(s.fe, "workers_expired") >= 1);
    assert_true(svc_broker_stat(s.fe, "requeued") >= 1);
    assert_int_equal(svc_wait_stat(s.fe, "workers", 2, 10000), 2); /* it came back */
    svc_stop(s.broker, SIGTERM, 3000);
}

static void broker_restart_workers_reconnect_and_retries_succeed(void **state)
{
    (void)state;
    svc_t s;
    start_pair(&s, NULL, "100");
    ac_client_config_t cfg = {.timeout_ms = 500, .retries = 40};
    ac_client_t *c = ac_client_new(s.fe, &cfg);
    parsed_t p = {0};
    ac_reply_t r;
    char outs[512];
    send_resolve(c, one_flat(outs, sizeof outs, "strength", 7), NULL, false, NULL);
    recv_one(c, &r, 10000);
    assert_true(reply_ok(parse_reply(&p, &r)));
    svc_stop(s.broker, SIGKILL, 1000);
    /* Sent while the broker is down: retried until the new broker answers. */
    send_resolve(c, one_flat(outs, sizeof outs, "strength", 8), NULL, false, NULL);
    /* The broker is gone: no reply, and the client retries (attempts of 500 ms). */
    ac_client_stats_t st;
    for (int64_t end = zclock_mono() + 20000;;) {
        assert_int_equal(ac_client_recv(c, &r, 20), 0);
        ac_client_stats(c, &st);
        if (st.retried >= 1)
            break;
        if (zclock_mono() > end)
            fail_msg("the client never retried while its broker was down");
    }
    svc_start_broker(&s, "100");
    recv_one(c, &r, 20000);
    const msgpack_object *o = parse_reply(&p, &r);
    if (!reply_ok(o))
        fail_msg("after restart: %s", to_json(o));
    assert_true(
        ac_wire_get(ac_wire_get(ac_wire_get(o, "snapshot"), "Primary"), "strength")->via.f64 == 8);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

/* A broker and one worker (L1 off) with heartbeats of hb ms, the worker's store named
   after tag; returns the worker's pid once the service answers. */
static pid_t start_one(svc_t *s, const char *hb, const char *tag)
{
    char store[400];
    svc_ports(s);
    svc_start_broker(s, hb);
    snprintf(store, sizeof store, "%s/%s-%d.db", svc_tmpdir(), tag, s->port[0]);
    pid_t w = svc_start_worker(s, NULL, store, hb, "0");
    wait_ready(s);
    return w;
}

static void a_client_resends_at_once_when_its_broker_connection_returns(void **state)
{
    (void)state;
    svc_t s;
    pid_t w = start_one(&s, "100", "resend");
    /* One attempt of a minute: only the reconnection can bring the answer sooner. */
    ac_client_config_t cfg = {.timeout_ms = 60000, .retries = 0};
    ac_client_t *c = ac_client_new(s.fe, &cfg);
    parsed_t p = {0};
    ac_reply_t r;
    char outs[512];
    send_resolve(c, one_flat(outs, sizeof outs, "strength", 3), NULL, false, NULL);
    recv_one(c, &r, 10000);
    assert_true(reply_ok(parse_reply(&p, &r)));
    /* The next request is held by the broker (its worker is stopped) when the broker dies:
       it is lost with the broker, and only a re-send can save it. */
    kill(w, SIGSTOP);
    uint64_t held0 = svc_broker_stat(s.fe, "requests_held");
    send_resolve(c, one_flat(outs, sizeof outs, "strength", 4), NULL, false, NULL);
    /* Until the broker holds it (in flight to the stopped worker); nothing can come back. */
    for (int64_t end = zclock_mono() + 20000; svc_broker_stat(s.fe, "requests_held") < held0 + 1;) {
        assert_int_equal(ac_client_recv(c, &r, 10), 0);
        if (zclock_mono() > end)
            fail_msg("the broker never held the request");
    }
    svc_stop(s.broker, SIGKILL, 1000);
    kill(w, SIGCONT);
    svc_start_broker(&s, "100");
    int64_t t0 = zclock_mono();
    recv_one(c, &r, 30000);
    const msgpack_object *o = parse_reply(&p, &r);
    if (!reply_ok(o))
        fail_msg("after restart: %s", to_json(o));
    if (zclock_mono() - t0 > 20000)
        fail_msg("the request waited for its timeout instead of being re-sent");
    assert_true(
        ac_wire_get(ac_wire_get(ac_wire_get(o, "snapshot"), "Primary"), "strength")->via.f64 == 4);
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    assert_true(st.resent >= 1);
    assert_int_equal(st.retried, 0);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

static void a_worker_rejoins_a_restarted_broker_at_once(void **state)
{
    (void)state;
    svc_t s;
    /* Heartbeats a minute apart: only the dropped connection can tell the worker. */
    start_one(&s, "60000", "rejoin");
    svc_stop(s.broker, SIGKILL, 1000);
    svc_start_broker(&s, "60000");
    ac_client_config_t cfg = {.timeout_ms = 20000, .retries = 0};
    ac_client_t *c = ac_client_new(s.fe, &cfg);
    parsed_t p = {0};
    ac_reply_t r;
    char outs[512];
    send_resolve(c, one_flat(outs, sizeof outs, "strength", 5), NULL, false, NULL);
    recv_one(c, &r, 30000);
    const msgpack_object *o = parse_reply(&p, &r);
    if (!reply_ok(o))
        fail_msg("the worker did not rejoin the new broker: %s", to_json(o));
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

static void l3_survives_every_worker_stopping(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "200");
    char store[400];
    snprintf(store, sizeof store, "%s/durable.db", svc_tmpdir());
    pid_t w1 = svc_start_worker(&s, NULL, store, "200", "1000");
    wait_ready(&s);
    ac_client_t *c = ac_client_new(s.fe, NULL);
    parsed_t p = {0};
    ac_reply_t r;
    char outs[512];
    send_resolve(c, one_flat(outs, sizeof outs, "defense", 321), "durable-1", false, NULL);
    recv_one(c, &r, 10000);
    assert_true(reply_ok(parse_reply(&p, &r)));
    assert_int_equal(WEXITSTATUS(svc_stop(w1, SIGTERM, 5000)), 0);
    svc_start_worker(&s, NULL, store, "200", "1000");
    wait_ready(&s);
    send_simple(c, "get", "durable-1");
    recv_one(c, &r, 10000);
    const msgpack_object *o = parse_reply(&p, &r);
    if (!reply_ok(o))
        fail_msg("get after restart: %s", to_json(o));
    const msgpack_object *tier = ac_wire_get(o, "cache");
    assert_int_equal(tier->via.str.size, 2);
    assert_memory_equal(tier->via.str.ptr, "l3", 2);
    assert_true(
        ac_wire_get(ac_wire_get(ac_wire_get(o, "snapshot"), "Primary"), "defense")->via.f64 == 321);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

static void subscriber_receives_only_its_actors_events(void **state)
{
    (void)state;
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert_int_equal(zsock_connect(sub, "%s", s_main.eout), 0);
    zsock_set_subscribe(sub, "snap/sub-a");
    zsock_set_rcvtimeo(sub, 200);
    ac_client_t *c = ac_client_new(s_main.fe, NULL);
    parsed_t p = {0};
    char outs[512];
    int got_a = 0, got_b = 0;
    for (int round = 0; round < 50 && got_a < 3; round++) {
        ac_reply_t r;
        send_resolve(c, one_flat(outs, sizeof outs, "strength", 1), "sub-b", true, "bypass");
        send_resolve(c, one_flat(outs, sizeof outs, "strength", 2), "sub-a", true, "bypass");
        recv_one(c, &r, 10000);
        recv_one(c, &r, 10000);
        zmsg_t *msg;
        while ((msg = zmsg_recv(sub))) {
            char *topic = zmsg_popstr(msg);
            got_a += strcmp(topic, "snap/sub-a") == 0;
            got_b += strcmp(topic, "snap/sub-b") == 0;
            zframe_t *body = zmsg_pop(msg);
            msgpack_object o;
            ac_error_t err;
            msgpack_zone *zone = msgpack_zone_new(1024);
            assert_int_equal(ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body),
                                              zone, &o, &err),
                             0);
            assert_non_null(ac_wire_get(&o, "CapsUsed"));
            msgpack_zone_free(zone);
            zframe_destroy(&body);
            zstr_free(&topic);
            zmsg_destroy(&msg);
        }
    }
    assert_true(got_a >= 3);
    assert_int_equal(got_b, 0);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    zsock_destroy(&sub);
}

/* `actorcore subscribe ACTOR --count 1` prints the actor's event and exits. */
static void cli_subscribe_prints_the_actors_event(void **state)
{
    (void)state;
    const char *argv[] = {AC_CLI_PATH, "subscribe", "sub-cli", "--events",
                          s_main.eout, "--count",   "1",       NULL};
    pid_t sub = svc_spawn(argv, "subscribe.out");
    ac_client_t *c = ac_client_new(s_main.fe, NULL);
    char outs[512];
    int st = -1;
    for (int round = 0; round < 100; round++) {
        ac_reply_t r;
        send_resolve(c, one_flat(outs, sizeof outs, "strength", 9), "sub-other", true, "bypass");
        send_resolve(c, one_flat(outs, sizeof outs, "strength", 9), "sub-cli", true, "bypass");
        recv_one(c, &r, 10000);
        recv_one(c, &r, 10000);
        if (waitpid(sub, &st, WNOHANG) == sub) {
            svc_forget(sub);
            break;
        }
        usleep(50000);
    }
    ac_client_destroy(&c);
    if (!WIFEXITED(st))
        fail_msg("actorcore subscribe did not exit after one event");
    char path[400];
    snprintf(path, sizeof path, "%s/subscribe.out", svc_tmpdir());
    char *out = tu_slurp(path);
    assert_non_null(out);
    assert_non_null(strstr(out, "\"topic\":\"snap/sub-cli\""));
    assert_non_null(strstr(out, "\"strength\":9"));
    assert_null(strstr(out, "sub-other"));
    free(out);
}

static void python_mdp_client_with_a_req_socket_interoperates(void **state)
{
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tests/interop_client.py %s "
             "%s/case02_realm_world_total/subsystems.json",
             AC_SOURCE_DIR, s_main.fe, AC_GOLDEN_DIR);
    FILE *f = popen(cmd, "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    int st = pclose(f);
    if (st != 0)
        fail_msg("python client exited %d: %s", st, buf);
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    char *want = cli_answer("case02_realm_world_total");
    /* Python prints doubles as 550.0 where the CLI prints 550: compare as numbers. */
    tu_assert_snapshot(want, buf);
    assert_non_null(strstr(buf, "\"strength\": 550.0"));
    free(want);
}

/* Sends raw frames on a DEALER and returns the reply body, or NULL within timeout. */
static zmsg_t *raw_roundtrip(zsock_t *d, zmsg_t *msg, int timeout_ms)
{
    zmsg_send(&msg, d);
    zsock_set_rcvtimeo(d, timeout_ms);
    return zmsg_recv(d);
}

static zmsg_t *mdp_request(const void *body, size_t len)
{
    zmsg_t *m = zmsg_new();
    zmsg_addmem(m, NULL, 0);
    zmsg_addstr(m, AC_MDPC);
    zmsg_addstr(m, AC_SERVICE);
    zmsg_addmem(m, body, len);
    return m;
}

/* The request's reply is the error `code`, at `path` when path is not NULL. */
static void expect_error_at(zsock_t *d, zmsg_t *req, const char *code, const char *path)
{
    zmsg_t *rep = raw_roundtrip(d, req, 10000);
    if (!rep)
        fail_msg("no reply, expected %s", code);
    zframe_t *body = zmsg_last(rep);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(
        ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &o, &err), 0);
    char got[64];
    if (strcmp(error_code(&o, got, sizeof got), code) != 0)
        fail_msg("got %s, expected %s: %s", got, code, to_json(&o));
    const msgpack_object *at = path ? ac_wire_get(ac_wire_get(&o, "error"), "path") : NULL;
    if (path && (!at || at->type != MSGPACK_OBJECT_STR || at->via.str.size != strlen(path) ||
                 memcmp(at->via.str.ptr, path, at->via.str.size) != 0))
        fail_msg("expected %s at path '%s': %s", code, path, to_json(&o));
    msgpack_zone_free(zone);
    zmsg_destroy(&rep);
}

static void expect_error_reply(zsock_t *d, zmsg_t *req, const char *code)
{
    expect_error_at(d, req, code, NULL);
}

static uint64_t broker_stat(const char *name)
{
    return svc_broker_stat(s_main.fe, name);
}

static void bad_traffic_is_answered_or_dropped_and_counted(void **state)
{
    (void)state;
    uint64_t malformed0 = broker_stat("malformed");
    zsock_t *d = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(d, "%s", s_main.fe), 0);
    /* Garbage frames and wrong headers: dropped (no reply), counted. */
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "hello");
    zmsg_send(&m, d);
    m = zmsg_new();
    zmsg_addmem(m, NULL, 0);
    zmsg_addstr(m, "MDPC99");
    zmsg_addstr(m, AC_SERVICE);
    zmsg_addstr(m, "x");
    zmsg_send(&m, d);
    /* Worker-protocol garbage on the backend, from a stranger. */
    zsock_t *w = zsock_new(ZMQ_DEALER);
    zsock_connect(w, "%s", s_main.be);
    m = zmsg_new();
    zmsg_addmem(m, NULL, 0);
    zmsg_addstr(m, AC_MDPW);
    zmsg_addmem(m, "\x09", 1);
    zmsg_send(&m, w);
    m = zmsg_new();
    zmsg_addstr(m, "junk");
    zmsg_send(&m, w);
    /* Truncated msgpack: an error reply with a nil id. */
    expect_error_reply(d, mdp_request("\x85\xa2op", 4), "invalid_msgpack");
    /* Unknown op. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ac_wire_pack_str(&pk, "op");
    ac_wire_pack_str(&pk, "self_destruct");
    ac_wire_pack_str(&pk, "id");
    msgpack_pack_int(&pk, 5);
    expect_error_reply(d, mdp_request(sb.data, sb.size), "unknown_op");
    /* Envelopes that are not a request, each named where it goes wrong: a list, an op that
       is not a string, a key that is not a string, a key the op does not take. */
    static const struct {
        const char *body;
        size_t len;
        const char *path;
    } envelopes[] = {
#define BYTES(s) s, sizeof s - 1
        {BYTES("\x91\x01"), ""},
        {BYTES("\x82\xa2op\x05\xa2id\x01"), "op"},
        {BYTES("\x84\xa2op\xadresolve_batch\xa2id\x01\xa5items\x90\x07\x01"), ""},
        {BYTES("\x84\xa2op\xadresolve_batch\xa2id\x01\xa5items\x90\xa5"
               "extra\x01"),
         "extra"},
#undef BYTES
    };
    for (size_t i = 0; i < sizeof envelopes / sizeof envelopes[0]; i++)
        expect_error_at(d, mdp_request(envelopes[i].body, envelopes[i].len), "schema_violation",
                        envelopes[i].path);
    /* A 10 MB message. */
    size_t big = 10u << 20;
    char *huge = calloc(1, big);
    expect_error_reply(d, mdp_request(huge, big), "too_large");
    free(huge);
    /* A batch one past the workers' limits.max_batch (100): too large; at the limit, each
       item answered. */
    for (int items = 101; items >= 100; items--) {
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_map(&pk, 3);
        ac_wire_pack_str(&pk, "op");
        ac_wire_pack_str(&pk, "resolve_batch");
        ac_wire_pack_str(&pk, "id");
        msgpack_pack_int(&pk, 6);
        ac_wire_pack_str(&pk, "items");
        msgpack_pack_array(&pk, (uint32_t)items);
        for (int i = 0; i < items; i++)
            msgpack_pack_map(&pk, 0);
        if (items > 100) {
            expect_error_reply(d, mdp_request(sb.data, sb.size), "too_large");
            continue;
        }
        zmsg_t *rep = raw_roundtrip(d, mdp_request(sb.data, sb.size), 10000);
        assert_non_null(rep);
        msgpack_zone *zone = msgpack_zone_new(1024);
        msgpack_object o;
        ac_error_t err;
        zframe_t *body = zmsg_last(rep);
        assert_int_equal(
            ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &o, &err),
            0);
        const msgpack_object *results = ac_wire_get(&o, "results");
        assert_non_null(results);
        assert_int_equal(results->via.array.size, 100);
        msgpack_zone_free(zone);
        zmsg_destroy(&rep);
    }
    /* A batch with one bad item fails only that item. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    ac_wire_pack_str(&pk, "op");
    ac_wire_pack_str(&pk, "resolve_batch");
    ac_wire_pack_str(&pk, "id");
    msgpack_pack_int(&pk, 7);
    ac_wire_pack_str(&pk, "items");
    msgpack_pack_array(&pk, 3);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_map(&pk, 1);
    ac_wire_pack_str(&pk, "outputs");
    ac_wire_pack_str(&pk, "not a list");
    msgpack_pack_map(&pk, 0);
    zmsg_t *rep = raw_roundtrip(d, mdp_request(sb.data, sb.size), 10000);
    assert_non_null(rep);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    zframe_t *body = zmsg_last(rep);
    assert_int_equal(
        ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &o, &err), 0);
    const msgpack_object *results = ac_wire_get(&o, "results");
    assert_int_equal(results->via.array.size, 3);
    assert_true(reply_ok(&results->via.array.ptr[0]));
    assert_false(reply_ok(&results->via.array.ptr[1]));
    assert_true(reply_ok(&results->via.array.ptr[2]));
    const msgpack_object *path =
        ac_wire_get(ac_wire_get(&results->via.array.ptr[1], "error"), "path");
    assert_int_equal(path->type, MSGPACK_OBJECT_STR);
    if (path->via.str.size != strlen("items[1].outputs") ||
        memcmp(path->via.str.ptr, "items[1].outputs", path->via.str.size) != 0)
        fail_msg("the bad item's error path is '%.*s', expected 'items[1].outputs'",
                 (int)path->via.str.size, path->via.str.ptr);
    msgpack_zone_free(zone);
    zmsg_destroy(&rep);
    msgpack_sbuffer_destroy(&sb);
    wait_ready(&s_main); /* a good request right after still succeeds */
    /* Exactly four dropped: "hello", the MDPC99 header, the stranger's command 0x09 and its
       one-frame "junk" (the backend's messages may be read after the frontend's: wait for
       them, then check that nothing else was counted). */
    svc_wait_stat(s_main.fe, "malformed", malformed0 + 4, 10000);
    assert_int_equal(broker_stat("malformed"), malformed0 + 4);
    zsock_destroy(&d);
    zsock_destroy(&w);
}

/* Valid requests with random bytes flipped: every one is answered, none kills a worker. */
static void mutated_requests_are_all_answered_and_workers_survive(void **state)
{
    (void)state;
    char outs[512];
    msgpack_zone *zone = msgpack_zone_new(4096);
    ac_error_t err;
    one_flat(outs, sizeof outs, "strength", 5);
    const char *actor = "{\"id\":\"fuzz\",\"version\":1,\"data\":{\"a\":[1,{\"b\":\"c\"}]}}";
    msgpack_object outs_obj, actor_obj;
    assert_int_equal(ac_json_parse(outs, strlen(outs), zone, &outs_obj, &err), 0);
    assert_int_equal(ac_json_parse(actor, strlen(actor), zone, &actor_obj, &err), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    ac_wire_pack_str(&pk, "op");
    ac_wire_pack_str(&pk, "resolve");
    ac_wire_pack_str(&pk, "id");
    msgpack_pack_int(&pk, 1);
    ac_wire_pack_str(&pk, "actor");
    msgpack_pack_object(&pk, actor_obj);
    ac_wire_pack_str(&pk, "outputs");
    msgpack_pack_object(&pk, outs_obj);
    zsock_t *d = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(d, "%s", s_main.fe), 0);
    uint64_t x = 0x853c49e6748fea9bULL;
    char *buf = malloc(sb.size);
    for (int round = 0; round < 400; round++) {
        memcpy(buf, sb.data, sb.size);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[(x >> 8) % sb.size] = (char)(x >> 32);
        }
        zmsg_t *rep = raw_roundtrip(d, mdp_request(buf, sb.size), 10000);
        if (!rep)
            fail_msg("round %d: no reply", round);
        zmsg_destroy(&rep);
    }
    free(buf);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_free(zone);
    zsock_destroy(&d);
    /* Both workers are still the ones that started: nobody crashed and rejoined. */
    assert_true(broker_stat("workers") >= 2);
    assert_int_equal(broker_stat("workers_expired"), 0);
}

/* The W2 demo actor: the CLI with --subsystems and the service (workers with the same
   subsystems) give the same snapshot. */
static void w2_actor_through_the_cli_and_the_service_is_equal(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "500");
    char store[400];
    snprintf(store, sizeof store, "%s/w2.db", svc_tmpdir());
    const char *argv[] = {AC_WORKER_PATH,
                          "--broker",
                          s.be,
                          "--events",
                          s.ein,
                          "--combiner",
                          AC_SOURCE_DIR "/config/combiner.yaml",
                          "--layers",
                          AC_SOURCE_DIR "/config/cap_layers.yaml",
                          "--subsystems",
                          AC_SOURCE_DIR "/config/subsystems",
                          "--store",
                          store,
                          "--heartbeat-ms",
                          "500",
                          NULL};
    svc_spawn(argv, "w2-worker.log");
    svc_spawn(argv, "w2-worker.log");
    wait_ready(&s);
    char *actor = tu_slurp(AC_SOURCE_DIR "/config/demo/actor.json");
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object obj;
    ac_error_t err;
    assert_int_equal(ac_json_parse(actor, strlen(actor), zone, &obj, &err), 0);
    ac_client_t *c = ac_client_new(s.fe, NULL);
    uint64_t id = ac_client_next_id(c);
    msgpack_packer *pk;
    ac_client_begin(c, &pk, "resolve", id, 1);
    ac_wire_pack_str(pk, "actor");
    msgpack_pack_object(pk, obj);
    ac_client_send(c, id);
    ac_reply_t r;
    recv_one(c, &r, 10000);
    parsed_t p = {0};
    const msgpack_object *o = parse_reply(&p, &r);
    if (!reply_ok(o))
        fail_msg("%s", to_json(o));
    char *got = contract_json(ac_wire_get(o, "snapshot"));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s resolve --combiner %s/config/combiner.yaml --layers %s/config/cap_layers.yaml "
             "--subsystems %s/config/subsystems --actor %s/config/demo/actor.json",
             AC_CLI_PATH, AC_SOURCE_DIR, AC_SOURCE_DIR, AC_SOURCE_DIR, AC_SOURCE_DIR);
    FILE *f = popen(cmd, "r");
    static char want[65536];
    size_t n = fread(want, 1, sizeof want - 1, f);
    want[n] = '\0';
    assert_int_equal(pclose(f), 0);
    if (n && want[n - 1] == '\n')
        want[n - 1] = '\0';
    assert_string_equal(got, want);
    free(got);
    free(actor);
    msgpack_zone_free(zone);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    svc_stop(s.broker, SIGTERM, 3000);
}

/* The C client speaks the broker's packed framing by default and plain MDP/0.1 when asked
   (service/mdp.h): the same request gets the same snapshot either way. */
/* The worker under a broker that knows only plain MDP (no packed option: the zguide's
   mdbroker framing), played by a ROUTER of the test: a request [envelope][empty][body] is
   answered in the same framing, and requests framed wrong (an envelope shorter than the
   broker's 8-byte tag, a delimiter that is not empty) are dropped and counted in the
   worker's closing line, which names them exactly. */
static void a_plain_mdp_broker_is_served_and_its_bad_frames_counted(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert_int_equal(zsock_bind(router, "%s", s.be), s.port[1]);
    pid_t w = svc_start_worker_with(&s, NULL, "none", "500", "1000", NULL, "plain-worker.log");
    zsock_set_rcvtimeo(router, 20000);
    zmsg_t *ready = zmsg_recv(router);
    assert_non_null(ready);
    zframe_t *id = zmsg_pop(ready), *empty = zmsg_pop(ready), *proto = zmsg_pop(ready),
             *cmd = zmsg_pop(ready);
    assert_true(zframe_streq(proto, AC_MDPW));
    assert_int_equal(zframe_data(cmd)[0], AC_MDPW_READY);
    zframe_destroy(&empty);
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    zmsg_destroy(&ready);
    static const struct {
        const char *env, *delim;
    } framings[] = {{"tag-0001", ""}, {"tag-007", ""}, {"tag-0002", "x"}, {"tag-0003", ""}};
    for (size_t i = 0; i < sizeof framings / sizeof framings[0]; i++) {
        zmsg_t *m = zmsg_new();
        zmsg_addmem(m, zframe_data(id), zframe_size(id));
        zmsg_addmem(m, NULL, 0);
        zmsg_addstr(m, AC_MDPW);
        unsigned char c = AC_MDPW_REQUEST;
        zmsg_addmem(m, &c, 1);
        zmsg_addstr(m, framings[i].env);
        zmsg_addstr(m, framings[i].delim);
        static const char ping[] = "\x82\xa2op\xa4ping\xa2id\x07";
        zmsg_addmem(m, ping, sizeof ping - 1);
        assert_int_equal(zmsg_send(&m, router), 0);
    }
    /* Two replies, to the two well-framed requests, in order; heartbeats in between. */
    const char *want[] = {"tag-0001", "tag-0003"};
    for (int got = 0; got < 2;) {
        zmsg_t *m = zmsg_recv(router);
        if (!m)
            fail_msg("the worker answered %d of the 2 well-framed requests", got);
        zframe_t *f = zmsg_first(m);
        f = zmsg_next(m); /* empty */
        f = zmsg_next(m); /* MDPW01 */
        zframe_t *c = zmsg_next(m);
        if (c && zframe_size(c) == 1 && zframe_data(c)[0] == AC_MDPW_REPLY) {
            zframe_t *env = zmsg_next(m), *delim = zmsg_next(m), *body = zmsg_next(m);
            assert_non_null(body);
            assert_true(zframe_streq(env, want[got]));
            assert_int_equal(zframe_size(delim), 0);
            msgpack_zone *zone = msgpack_zone_new(1024);
            msgpack_object o;
            ac_error_t err;
            assert_int_equal(ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body),
                                              zone, &o, &err),
                             0);
            if (!reply_ok(&o))
                fail_msg("a plain request answered %s", to_json(&o));
            msgpack_zone_free(zone);
            got++;
        }
        (void)f;
        zmsg_destroy(&m);
    }
    assert_int_equal(svc_stop(w, SIGTERM, 10000), 0);
    char log[400];
    snprintf(log, sizeof log, "%s/plain-worker.log", svc_tmpdir());
    char *text = tu_slurp(log);
    assert_non_null(text);
    if (!strstr(text, "event=stopped malformed=2"))
        fail_msg("the worker's closing line does not count 2 malformed requests: %s", text);
    free(text);
    zframe_destroy(&id);
    zsock_destroy(&router);
}

static void a_plain_mdp_client_and_a_packed_one_get_the_same_answer(void **state)
{
    (void)state;
    char outs[512], t[16];
    one_flat(outs, sizeof outs, "strength", 7);
    char *got[2];
    for (int plain = 0; plain < 2; plain++) {
        ac_client_config_t cfg = {.plain_mdp = plain};
        ac_client_t *c = ac_client_new(s_main.fe, &cfg);
        send_resolve(c, outs, NULL, false, NULL);
        ac_reply_t r;
        recv_one(c, &r, 10000);
        parsed_t p = {0};
        const msgpack_object *o = parse_reply(&p, &r);
        assert_true(reply_ok(o));
        assert_string_equal(tier_of(o, t, sizeof t), "miss");
        got[plain] = to_json(ac_wire_get(o, "snapshot"));
        msgpack_zone_free(p.zone);
        ac_client_destroy(&c);
    }
    assert_string_equal(got[0], got[1]);
    free(got[0]);
    free(got[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_plain_mdp_broker_is_served_and_its_bad_frames_counted),
        cmocka_unit_test(a_plain_mdp_client_and_a_packed_one_get_the_same_answer),
        cmocka_unit_test(golden_cases_through_broker_and_two_workers_equal_the_cli),
        cmocka_unit_test(cache_tiers_get_invalidate_and_modes),
        cmocka_unit_test(subscriber_receives_only_its_actors_events),
        cmocka_unit_test(cli_subscribe_prints_the_actors_event),
        cmocka_unit_test(python_mdp_client_with_a_req_socket_interoperates),
        cmocka_unit_test(bad_traffic_is_answered_or_dropped_and_counted),
        cmocka_unit_test(mutated_requests_are_all_answered_and_workers_survive),
        cmocka_unit_test(the_stats_op_counts_exactly_what_the_worker_did),
        cmocka_unit_test(two_workers_share_the_load_and_a_third_joining_gets_work),
        cmocka_unit_test(kill_9_of_a_worker_loses_no_request_and_duplicates_none),
        cmocka_unit_test(a_killed_worker_costs_its_requests_milliseconds_not_the_heartbeat_expiry),
        cmocka_unit_test(
            a_stopped_worker_is_dropped_at_its_expiry_and_its_late_replies_never_arrive),
        cmocka_unit_test(broker_restart_workers_reconnect_and_retries_succeed),
        cmocka_unit_test(a_client_resends_at_once_when_its_broker_connection_returns),
        cmocka_unit_test(a_worker_rejoins_a_restarted_broker_at_once),
        cmocka_unit_test(l3_survives_every_worker_stopping),
        cmocka_unit_test(w2_actor_through_the_cli_and_the_service_is_equal),
    };
    return cmocka_run_group_tests_name("service", tests, group_setup, group_teardown);
}
