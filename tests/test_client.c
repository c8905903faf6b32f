/*  test_client.c - the C client's own rules, against a ROUTER socket in this process that
    plays the broker: how many times a request is tried, the timeout reply, exactly one
    reply per request. No broker, no worker: fast, so the mutation tool's fast suites see
    the client too. */
#include "testutil.h"

#include <czmq.h>

#include "actorcore/client.h"
#include "actorcore/wire.h"

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
        ac_client_config_t cfg = {.timeout_ms = 60, .retries = cases[i].retries};
        ac_client_t *c = ac_client_new(ep, &cfg);
        assert_non_null(c);
        uint64_t id = ac_client_next_id(c);
        msgpack_packer *pk;
        ac_client_begin(c, &pk, "ping", id, 0);
        assert_int_equal(ac_client_send(c, id), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_unanswered_request_is_tried_one_plus_retries_times),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
