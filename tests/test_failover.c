/*  test_failover.c - two brokers as a primary / backup pair (broker/pair.c), real
    processes: workers registered with both, a client given both, kill -9 of the active
    broker with 5,000 requests in flight: every request answered exactly once and right;
    the killed broker restarted comes back as the backup, and the fail-over works again the
    other way. The gap between the last reply through the old broker and the first through
    the new one is printed (the closing note's figure; speed is never asserted).
*/
#include <czmq.h>

#include "reply.h"
#include "svc.h"

#define PAIR_HB "100" /* the pair's heartbeat: a peer silent for 200 ms is gone */
#define NREQ 5000

typedef struct {
    svc_t s[2];       /* 0: primary, 1: backup */
    char pair[2][64]; /* their pair.bind endpoints */
    char backends[200], frontends[200];
    pid_t workers[2];
} pair_t;

static void broker_start(pair_t *p, int i)
{
    const char *extra[] = {
        "--pair-role",  i == 0 ? "primary" : "backup", "--pair-bind", p->pair[i], "--pair-peer",
        p->pair[1 - i], "--pair-heartbeat-ms",         PAIR_HB,       NULL};
    svc_start_broker_with(&p->s[i], "200", extra, i == 0 ? "primary.log" : "backup.log");
}

static uint64_t stat_of(const pair_t *p, int i, const char *name)
{
    return svc_broker_stat_as(p->s[i].fe, name, NULL, NULL);
}

/* Polls broker i's counter until it equals want (fails after 10 s). */
static void wait_for(const pair_t *p, int i, const char *name, uint64_t want)
{
    uint64_t x = 0;
    for (int64_t end = zclock_mono() + 10000; (x = stat_of(p, i, name)) != want;) {
        if (zclock_mono() > end)
            fail_msg("broker %d: %s is %llu, not %llu", i, name, (unsigned long long)x,
                     (unsigned long long)want);
        zclock_sleep(10);
    }
}

static void pair_start(pair_t *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 2; i++) {
        svc_ports(&p->s[i]);
        snprintf(p->pair[i], sizeof p->pair[i], "tcp://127.0.0.1:%d", svc_free_port());
    }
    snprintf(p->backends, sizeof p->backends, "%s,%s", p->s[0].be, p->s[1].be);
    snprintf(p->frontends, sizeof p->frontends, "%s,%s", p->s[0].fe, p->s[1].fe);
    broker_start(p, 0);
    broker_start(p, 1);
    wait_for(p, 0, "pair_state", 3); /* active */
    wait_for(p, 1, "pair_state", 4); /* passive */
    svc_t both = p->s[0];
    snprintf(both.be, sizeof both.be, "%s", p->backends);
    for (int w = 0; w < 2; w++) {
        char log[32];
        snprintf(log, sizeof log, "pair-worker-%d.log", w);
        p->workers[w] = svc_start_worker_with(&both, NULL, "none", "200", "10000", NULL, log);
    }
    wait_for(p, 0, "workers", 2);
    wait_for(p, 1, "workers", 2);
}

static void send_strength(ac_client_t *c, uint64_t id)
{
    char outs[512];
    one_flat(outs, sizeof outs, "strength", (double)id);
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_json_parse(outs, strlen(outs), zone, &o, &err), 0);
    msgpack_packer *pk;
    ac_client_begin(c, &pk, "resolve", id, 1);
    ac_wire_pack_str(pk, "outputs");
    msgpack_pack_object(pk, o);
    assert_int_equal(ac_client_send(c, id), 0);
    msgpack_zone_free(zone);
}

/* 5,000 resolves in flight; after the first `after` replies, kill -9 of broker `victim`.
   Every reply must come once and carry its own strength. Prints the fail-over gap. */
static void load_through_a_kill(pair_t *p, ac_client_t *c, int victim, int after, uint64_t first_id)
{
    for (uint64_t i = 0; i < NREQ; i++)
        send_strength(c, first_id + i);
    unsigned char *seen = calloc(NREQ, 1);
    parsed_t ps = {0};
    int64_t last = zclock_usecs(), gap = 0, killed_at = 0;
    for (int got = 0; got < NREQ; got++) {
        if (got == after) {
            killed_at = zclock_usecs();
            svc_stop(p->s[victim].broker, SIGKILL, 0);
        }
        ac_reply_t r;
        recv_one(c, &r, 30000);
        int64_t now = zclock_usecs();
        if (killed_at && now - last > gap)
            gap = now - last;
        last = now;
        const msgpack_object *o = parse_reply(&ps, &r);
        if (!reply_ok(o))
            fail_msg("request %llu: %s", (unsigned long long)r.id, to_json(o));
        uint64_t k = r.id - first_id;
        assert_true(k < NREQ);
        if (seen[k]++)
            fail_msg("request %llu answered twice", (unsigned long long)r.id);
        const msgpack_object *v =
            ac_wire_get(ac_wire_get(ac_wire_get(o, "snapshot"), "Primary"), "strength");
        if (!v || v->via.f64 != (double)r.id)
            fail_msg("request %llu got another's answer: %s", (unsigned long long)r.id, to_json(o));
    }
    for (int k = 0; k < NREQ; k++)
        assert_int_equal(seen[k], 1);
    ac_reply_t extra;
    assert_int_equal(ac_client_recv(c, &extra, 300), 0); /* nothing more comes */
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    fprintf(stderr,
            "fail-over (kill -9 of %s after %d replies): %d answered once and right, gap "
            "%.1f ms, client failovers %llu, resent %llu, duplicates dropped %llu\n",
            victim == 0 ? "the primary" : "the backup", after, NREQ, (double)gap / 1000.0,
            (unsigned long long)st.failovers, (unsigned long long)st.resent,
            (unsigned long long)st.duplicates);
    msgpack_zone_free(ps.zone);
    free(seen);
}

static void the_pair_fails_over_twice_under_load_answering_every_request_once(void **state)
{
    (void)state;
    pair_t p;
    pair_start(&p);
    ac_client_config_t cfg = {.timeout_ms = 3000, .retries = 5};
    ac_client_t *c = ac_client_new(p.frontends, &cfg);
    assert_non_null(c);
    load_through_a_kill(&p, c, 0, 1000, 1);
    assert_int_equal(stat_of(&p, 1, "pair_state"), 3); /* the backup is active */
    /* The primary comes back, as the backup: it sees its peer active. */
    broker_start(&p, 0);
    wait_for(&p, 0, "pair_state", 4);
    wait_for(&p, 0, "workers", 2);
    wait_for(&p, 0, "pair_synced", 1);
    load_through_a_kill(&p, c, 1, 2000, 1 + NREQ);
    assert_int_equal(stat_of(&p, 0, "pair_state"), 3);
    ac_client_destroy(&c);
    for (int w = 0; w < 2; w++)
        svc_stop(p.workers[w], SIGTERM, 3000);
    svc_stop(p.s[0].broker, SIGTERM, 3000);
}

/* A client of the passive broker alone is refused at once (path broker.passive), and the
   passive does not take over while its peer beats. */
static void a_passive_broker_refuses_clients_while_its_peer_lives(void **state)
{
    (void)state;
    pair_t p;
    pair_start(&p);
    ac_client_t *c = ac_client_new(p.s[1].fe, NULL);
    parsed_t ps = {0};
    for (int i = 0; i < 3; i++) {
        send_simple(c, "ping", NULL);
        ac_reply_t r;
        recv_one(c, &r, 5000);
        const msgpack_object *o = parse_reply(&ps, &r);
        assert_false(reply_ok(o));
        const msgpack_object *path = ac_wire_get(ac_wire_get(o, "error"), "path");
        assert_non_null(path);
        assert_int_equal(path->via.str.size, 14);
        assert_memory_equal(path->via.str.ptr, "broker.passive", 14);
        zclock_sleep(150);
    }
    assert_int_equal(stat_of(&p, 1, "pair_state"), 4);
    assert_int_equal(stat_of(&p, 0, "pair_state"), 3);
    /* `actorcore call` given the passive first goes on to the active. */
    char cmd[600], out[4096];
    snprintf(cmd, sizeof cmd, "%s call ping --broker %s,%s --timeout 2000", AC_CLI_PATH, p.s[1].fe,
             p.s[0].fe);
    FILE *f = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    assert_non_null(strstr(out, "\"pong\""));
    /* An invalidate through the active reaches the passive's floors too. */
    ac_client_t *a = ac_client_new(p.s[0].fe, NULL);
    send_simple(a, "invalidate", "pair-x");
    ac_reply_t r;
    recv_one(a, &r, 5000);
    assert_true(reply_ok(parse_reply(&ps, &r)));
    assert_true(stat_of(&p, 0, "invalidations") == 1);
    wait_for(&p, 1, "floors_applied", 1); /* the passive holds the new floor */
    msgpack_zone_free(ps.zone);
    ac_client_destroy(&a);
    ac_client_destroy(&c);
    for (int w = 0; w < 2; w++)
        svc_stop(p.workers[w], SIGTERM, 3000);
    svc_stop(p.s[0].broker, SIGTERM, 3000);
    svc_stop(p.s[1].broker, SIGTERM, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_passive_broker_refuses_clients_while_its_peer_lives),
        cmocka_unit_test(the_pair_fails_over_twice_under_load_answering_every_request_once),
    };
    return cmocka_run_group_tests_name("failover", tests, NULL, NULL);
}
