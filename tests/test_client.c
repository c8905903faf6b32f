/*  test_client.c - the C client's own rules, against a ROUTER socket in this process that
    plays the broker: how many times a request is tried, the timeout reply, exactly one
    reply per request. No broker, no worker: fast, so the mutation tool's fast suites see
    the client too. */
#include "testutil.h"

#include <czmq.h>

#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "service/mdp.h"

/* A bound ROUTER on a free loopback port; its endpoint in ep. */
static zsock_t *fake_broker(char *ep, size_t size)
{
    zsock_t *r = zsock_new(ZMQ_ROUTER);
    assert_non_null(r);
    int port = zsock_bind(r, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    snprintf(ep, size, "tcp://127.0.0.1:%d", port);
    return r;
}

/* Messages the fake broker holds now, read without waiting (after the client's sends had
   time to arrive: the caller has waited past them). */
static int drain_count(zsock_t *r)
{
    int n = 0;
    zmsg_t *m;
    while ((m = zmsg_recv_nowait(r))) {
        n++;
        zmsg_destroy(&m);
    }
    return n;
}

/* The timeout reply of request id: {id, ok: false, error: {code: timeout, ...}}. */
static void assert_timeout_reply(const ac_reply_t *r, uint64_t id)
{
    assert_true(r->id == id);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(r->body, r->len, zone, &o, &err), 0);
    const msgpack_object *ok = ac_wire_get(&o, "ok"), *e = ac_wire_get(&o, "error");
    assert_true(ok && ok->type == MSGPACK_OBJECT_BOOLEAN && !ok->via.boolean);
    const msgpack_object *code = ac_wire_get(e, "code");
    assert_non_null(code);
    assert_true(code->type == MSGPACK_OBJECT_STR && code->via.str.size == 7 &&
                memcmp(code->via.str.ptr, "timeout", 7) == 0);
    msgpack_zone_free(zone);
}

/* A client of ep with this timeout and retry count. */
static ac_client_t *client_of(const char *ep, int timeout_ms, int retries)
{
    ac_client_config_t cfg = {.timeout_ms = timeout_ms, .retries = retries};
    ac_client_t *c = ac_client_new(ep, &cfg);
    assert_non_null(c);
    return c;
}

/* Sends a ping through c; its id. */
static uint64_t send_ping(ac_client_t *c)
{
    uint64_t id = ac_client_next_id(c);
    msgpack_packer *pk;
    ac_client_begin(c, &pk, "ping", id, 0);
    assert_int_equal(ac_client_send(c, id), 0);
    return id;
}

/* Unset (negative) retries mean the documented default, 2: a request nobody answers is
   sent 3 times, then answered `timeout` once; an explicit 0 sends it once. */
static void an_unanswered_request_is_tried_one_plus_retries_times(void **state)
{
    (void)state;
    const struct {
        int retries, attempts;
    } cases[] = {{-1, 3}, {0, 1}, {1, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ep[64];
        zsock_t *broker = fake_broker(ep, sizeof ep);
        ac_client_t *c = client_of(ep, 60, cases[i].retries);
        uint64_t id = send_ping(c);
        ac_reply_t r;
        int64_t t0 = zclock_mono();
        assert_int_equal(ac_client_recv(c, &r, 5000), 1);
        assert_timeout_reply(&r, id);
        assert_true(zclock_mono() - t0 >= 60 * cases[i].attempts - 20);
        zclock_sleep(50); /* the last attempt's bytes have arrived */
        if (drain_count(broker) != cases[i].attempts)
            fail_msg("retries %d: the broker got a different number of attempts than %d",
                     cases[i].retries, cases[i].attempts);
        ac_client_stats_t st;
        ac_client_stats(c, &st);
        assert_int_equal(st.sent, 1);
        assert_int_equal(st.retried, (uint64_t)(cases[i].attempts - 1));
        assert_int_equal(st.timed_out, 1);
        assert_int_equal(ac_client_pending(c), 0);
        assert_int_equal(ac_client_recv(c, &r, 100), 0); /* one reply, no second */
        ac_client_destroy(&c);
        zsock_destroy(&broker);
    }
}

/* The fake broker's next request: the client's routing id and the request's id (from its
   packed frame's body); false when none comes within ms. */
static bool next_request(zsock_t *broker, int ms, zframe_t **who, uint64_t *id)
{
    zsock_set_rcvtimeo(broker, ms);
    zmsg_t *m = zmsg_recv(broker);
    if (!m)
        return false;
    *who = zmsg_pop(m);
    zframe_t *f = zmsg_first(m);
    long n = f ? ac_packed_get(zframe_data(f), zframe_size(f), AC_PACKED_CLIENT) : -1;
    assert_true(n >= 0);
    const char *body = (const char *)zframe_data(f) + AC_PACKED_HEAD + n;
    size_t len = zframe_size(f) - AC_PACKED_HEAD - (size_t)n;
    assert_int_equal(ac_wire_peek_uint(body, len, "id", id), 1);
    zmsg_destroy(&m);
    return true;
}

/* A reply body in sb: {id, ok: true, n} (n < 0: no n). */
static void ok_reply(msgpack_sbuffer *sb, uint64_t id, int n)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n < 0 ? 2 : 3);
    ac_wire_pack_str(&pk, "id");
    msgpack_pack_uint64(&pk, id);
    ac_wire_pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    if (n >= 0) {
        ac_wire_pack_str(&pk, "n");
        msgpack_pack_int(&pk, n);
    }
}

/* Answers request id to who as the broker does, one packed frame: {id, ok: true, n}. */
static void answer(zsock_t *broker, zframe_t *who, uint64_t id, int n)
{
    msgpack_sbuffer sb;
    ok_reply(&sb, id, n);
    size_t slen = strlen(AC_SERVICE);
    zframe_t *f = zframe_new(NULL, AC_PACKED_HEAD + slen + sb.size);
    size_t at = ac_packed_put(zframe_data(f), AC_PACKED_ANSWER, AC_SERVICE, slen);
    memcpy(zframe_data(f) + at, sb.data, sb.size);
    zmsg_t *m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(who)});
    zmsg_append(m, &f);
    assert_int_equal(zmsg_send(&m, broker), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* The `n` of a reply body. */
static int64_t n_of(const ac_reply_t *r)
{
    uint64_t n = 0;
    assert_int_equal(ac_wire_peek_uint(r->body, r->len, "n", &n), 1);
    return (int64_t)n;
}

/* Replies are matched to requests by id whatever their order; a second reply to a request
   already answered, and one that comes after the request timed out, are dropped and
   counted; the caller sees exactly one reply per request. */
static void each_request_gets_exactly_one_reply_matched_by_id(void **state)
{
    (void)state;
    char ep[64];
    zsock_t *broker = fake_broker(ep, sizeof ep);
    ac_client_t *c = client_of(ep, 2000, 0);
    uint64_t ids[2];
    for (int i = 0; i < 2; i++)
        ids[i] = send_ping(c);
    assert_int_equal(ac_client_pending(c), 2);
    /* An id already pending is refused, and nothing more is pending. */
    static const char body[] = "\x82\xa2op\xa4ping\xa2id\x01";
    assert_int_equal(ac_client_send_raw(c, ids[0], body, sizeof body - 1), -1);
    assert_int_equal(ac_client_pending(c), 2);
    zframe_t *who[2];
    uint64_t got[2];
    for (int i = 0; i < 2; i++)
        assert_true(next_request(broker, 2000, &who[i], &got[i]));
    assert_true(got[0] == ids[0] && got[1] == ids[1]);
    answer(broker, who[1], ids[1], 11); /* the second first */
    answer(broker, who[1], ids[1], 12); /* and twice */
    answer(broker, who[0], ids[0], 10);
    ac_reply_t r;
    assert_int_equal(ac_client_recv(c, &r, 2000), 1);
    assert_true(r.id == ids[1]);
    assert_int_equal(n_of(&r), 11);
    assert_int_equal(ac_client_recv(c, &r, 2000), 1);
    assert_true(r.id == ids[0]);
    assert_int_equal(n_of(&r), 10);
    assert_int_equal(ac_client_pending(c), 0);
    assert_int_equal(ac_client_recv(c, &r, 100), 0);
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    assert_int_equal(st.received, 2);
    assert_int_equal(st.duplicates, 1);
    zframe_destroy(&who[0]);
    zframe_destroy(&who[1]);
    ac_client_destroy(&c);
    /* A reply after the timeout: the caller already has the timeout, the reply is dropped. */
    c = client_of(ep, 60, 0);
    uint64_t id = send_ping(c);
    zframe_t *w;
    uint64_t seen;
    assert_true(next_request(broker, 2000, &w, &seen));
    assert_int_equal(ac_client_recv(c, &r, 2000), 1);
    assert_timeout_reply(&r, id);
    answer(broker, w, id, 1);
    assert_int_equal(ac_client_recv(c, &r, 200), 0);
    ac_client_stats(c, &st);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.received, 0); /* the timeout is synthesized, not received */
    assert_int_equal(st.duplicates, 1);
    zframe_destroy(&w);
    ac_client_destroy(&c);
    zsock_destroy(&broker);
}

/* With no broker there (nothing listens), a send cannot leave: the request stays pending
   (ac_client_send still succeeds), is tried again, and is answered `timeout` in the end. */
static void a_request_with_no_broker_there_times_out(void **state)
{
    (void)state;
    ac_client_t *c = client_of("tcp://127.0.0.1:9", 40, 1);
    uint64_t id = send_ping(c);
    assert_int_equal(ac_client_pending(c), 1);
    ac_reply_t r;
    assert_int_equal(ac_client_recv(c, &r, 2000), 1);
    assert_timeout_reply(&r, id);
    assert_int_equal(ac_client_pending(c), 0);
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    assert_int_equal(st.timed_out, 1);
    /* Past the socket's high-water mark (1,000) a send fails in libzmq: the requests stay
       pending all the same, to be tried again. */
    for (int i = 0; i < 1100; i++)
        send_ping(c);
    assert_int_equal(ac_client_pending(c), 1100);
    ac_client_destroy(&c);
}

/* A fake broker on a free port (its endpoint in ep), a client of it (timeout_ms, no retries) and one ping that
   the broker has received from who; the ping's id. */
static uint64_t pinged(char ep[64], zsock_t **broker, ac_client_t **c, int timeout_ms,
                       zframe_t **who)
{
    *broker = fake_broker(ep, 64);
    *c = client_of(ep, timeout_ms, 0);
    uint64_t id = send_ping(*c), seen;
    assert_true(next_request(*broker, 5000, who, &seen));
    assert_true(seen == id);
    return id;
}

/* A dropped broker connection: when it comes back, the client re-sends what was pending
   at once (counted `resent`), without waiting for the request's timeout. */
static void a_dropped_connection_resends_the_pending_at_once(void **state)
{
    (void)state;
    char ep[64];
    zsock_t *broker;
    ac_client_t *c;
    zframe_t *who;
    pinged(ep, &broker, &c, 20000, &who);
    zframe_destroy(&who);
    /* The broker goes away (its connection drops) and comes back on the same port. */
    zsock_set_linger(broker, 0);
    zsock_destroy(&broker);
    ac_reply_t r;
    int64_t t0 = zclock_mono();
    while (zclock_mono() - t0 < 300)
        assert_int_equal(ac_client_recv(c, &r, 20), 0); /* the client sees the drop */
    broker = zsock_new(ZMQ_ROUTER);
    assert_true(zsock_bind(broker, "%s", ep) > 0);
    zframe_t *again = NULL;
    int64_t t1 = zclock_mono();
    while (!again && zclock_mono() - t1 < 5000) {
        assert_int_equal(ac_client_recv(c, &r, 20), 0); /* drives the monitor */
        zsock_set_rcvtimeo(broker, 0);
        zmsg_t *m = zmsg_recv(broker);
        if (m) {
            again = zmsg_pop(m);
            zmsg_destroy(&m);
        }
    }
    assert_non_null(again); /* long before the 20 s timeout */
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    assert_int_equal(st.resent, 1);
    assert_int_equal(st.retried, 0);
    zframe_destroy(&again);
    ac_client_destroy(&c);
    zsock_destroy(&broker);
}

/* Sends [who] + frames (n of them, the last the reply body of id) from the fake broker. */
static void send_plain(zsock_t *broker, zframe_t *who, const char *const *frames, int n,
                       uint64_t id)
{
    msgpack_sbuffer sb;
    ok_reply(&sb, id, -1);
    zmsg_t *m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(who)});
    for (int i = 0; i < n; i++)
        zmsg_addstr(m, frames[i]);
    zmsg_addmem(m, sb.data, sb.size);
    assert_int_equal(zmsg_send(&m, broker), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* A plain MDP reply must be [empty][MDPC01][service][body]: one with a frame missing, or
   whose first frame is not empty, is dropped (counted) and the request stays pending;
   the well-formed one is delivered. */
static void a_malformed_plain_reply_is_dropped(void **state)
{
    (void)state;
    char ep[64];
    zsock_t *broker;
    ac_client_t *c;
    zframe_t *who;
    uint64_t id = pinged(ep, &broker, &c, 5000, &who);
    const char *short_reply[] = {"", AC_MDPC};
    const char *not_empty[] = {"x", AC_MDPC, AC_SERVICE};
    const char *good[] = {"", AC_MDPC, AC_SERVICE};
    send_plain(broker, who, short_reply, 2, id);
    send_plain(broker, who, not_empty, 3, id);
    ac_reply_t r;
    assert_int_equal(ac_client_recv(c, &r, 300), 0);
    assert_int_equal(ac_client_pending(c), 1);
    send_plain(broker, who, good, 3, id);
    assert_int_equal(ac_client_recv(c, &r, 2000), 1);
    assert_true(r.id == id);
    ac_client_stats_t st;
    ac_client_stats(c, &st);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(st.received, 1);
    zframe_destroy(&who);
    ac_client_destroy(&c);
    zsock_destroy(&broker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_unanswered_request_is_tried_one_plus_retries_times),
        cmocka_unit_test(each_request_gets_exactly_one_reply_matched_by_id),
        cmocka_unit_test(a_request_with_no_broker_there_times_out),
        cmocka_unit_test(a_dropped_connection_resends_the_pending_at_once),
        cmocka_unit_test(a_malformed_plain_reply_is_dropped),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
