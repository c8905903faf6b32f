/*  test_metrics.c - the /metrics, /healthz and /readyz endpoints (service/http.h) of a real
    broker and a real worker on free ports: after a known set of requests (a resolve that
    computes, one that fails, a get that misses, one that finds, a resolve from L1) both
    texts pass tests/check_metrics.py (every line against the 0.0.4 grammar, the whole text
    through prometheus_client's parser) with counters and histogram counts equal to the
    requests sent; readiness follows registration; bad HTTP never stalls either loop.
*/
#include <czmq.h>
#include <errno.h>

#include "reply.h"
#include "service/metrics.h"
#include "svc.h"

#define PYTHON "/usr/bin/python3" /* the interpreter with prometheus_client */

/* Sends len bytes of req to 127.0.0.1:port and reads the answer: its HTTP status, 0 when
   the connection closed without one, -1 when nothing listens. */
static int http_raw(int port, const char *req, size_t len, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    for (size_t sent = 0; sent < len;) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        sent += (size_t)n;
    }
    char buf[64] = "";
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

static int http_status(int port, const char *method, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    return http_raw(port, req, (size_t)n, 5000);
}

/* Polls GET path every 10 ms until it answers want; fails after deadline_ms. */
static void wait_status(int port, const char *path, int want, int deadline_ms)
{
    int64_t end = zclock_mono() + deadline_ms;
    int got;
    while ((got = http_status(port, "GET", path)) != want) {
        if (zclock_mono() > end)
            fail_msg("GET %s on port %d is %d, not %d after %d ms", path, port, got, want,
                     deadline_ms);
        zclock_sleep(10);
    }
}

/* Runs tests/check_metrics.py on the /metrics of port with the expectations (NULL-ended). */
static void check_metrics(int port, const char *const *expect)
{
    char cmd[8192];
    size_t n = (size_t)snprintf(cmd, sizeof cmd,
                                PYTHON " " AC_SOURCE_DIR "/tests/check_metrics.py "
                                       "http://127.0.0.1:%d/metrics",
                                port);
    for (; *expect && n < sizeof cmd - 200; expect++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " '%s'", *expect);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("check_metrics.py on port %d failed (status %d): see above", port, rc);
}

typedef struct {
    svc_t s;
    int bport, wport; /* the /metrics ports of the broker and the worker */
    pid_t worker;
} metrics_setup_t;

/* A broker with its endpoint on (healthy, and not ready: no worker yet), then a worker. */
static void start(metrics_setup_t *m)
{
    svc_ports(&m->s);
    m->bport = svc_free_port();
    m->wport = svc_free_port();
    char blisten[32], wlisten[32], store[400];
    snprintf(blisten, sizeof blisten, "127.0.0.1:%d", m->bport);
    snprintf(wlisten, sizeof wlisten, "127.0.0.1:%d", m->wport);
    const char *bextra[] = {"--metrics", blisten, NULL};
    svc_start_broker_with(&m->s, "100", bextra, "metrics-broker.log");
    wait_status(m->bport, "/healthz", 200, 10000);
    assert_int_equal(http_status(m->bport, "GET", "/readyz"), 503); /* a broker without worker */
    snprintf(store, sizeof store, "%s/metrics-%d.db", svc_tmpdir(), m->wport);
    const char *wextra[] = {"--metrics", wlisten, NULL};
    m->worker =
        svc_start_worker_with(&m->s, NULL, store, "100", "1000", wextra, "metrics-worker.log");
    svc_wait_stat(m->s.fe, "workers", 1, 20000);
    wait_status(m->wport, "/readyz", 200, 20000); /* registered with its broker */
    wait_status(m->bport, "/readyz", 200, 20000); /* has a worker */
}

static void stop(metrics_setup_t *m)
{
    svc_stop(m->worker, SIGTERM, 5000);
    svc_stop(m->s.broker, SIGTERM, 5000);
}

/* One request, its reply's ok and (failing) code checked. */
static void expect_reply(ac_client_t *c, uint64_t id, bool ok, const char *code, const char *tier)
{
    (void)id;
    ac_reply_t r;
    recv_one(c, &r, 20000);
    parsed_t p = {0};
    const msgpack_object *o = parse_reply(&p, &r);
    char buf[64];
    assert_int_equal(reply_ok(o), ok);
    if (code)
        assert_string_equal(error_code(o, buf, sizeof buf), code);
    if (tier)
        assert_string_equal(tier_of(o, buf, sizeof buf), tier);
    msgpack_zone_free(p.zone);
}

static void both_processes_count_exactly_the_requests_sent_in_the_text_format(void **state)
{
    (void)state;
    metrics_setup_t m;
    start(&m);
    /* No retries: a resend would count twice. */
    ac_client_config_t cfg = {.timeout_ms = 20000, .retries = 0};
    ac_client_t *c = ac_client_new(m.s.fe, &cfg);
    char outs[512];
    one_flat(outs, sizeof outs, "strength", 42);
    expect_reply(c, send_resolve(c, outs, "hero", false, NULL), true, NULL, "miss");
    one_flat(outs, sizeof outs, "Not-A-Dimension", 1);
    expect_reply(c, send_resolve(c, outs, "hero", false, NULL), false, "schema_violation", NULL);
    expect_reply(c, send_simple(c, "get", "nobody"), false, "not_found", NULL);
    expect_reply(c, send_simple(c, "get", "hero"), true, NULL, NULL);
    one_flat(outs, sizeof outs, "strength", 42);
    expect_reply(c, send_resolve(c, outs, "hero", false, NULL), true, NULL, "l1");
    ac_client_destroy(&c);

    const char *worker[] = {
        "actorcore_worker_requests_total{op=\"resolve\"}=3",
        "actorcore_worker_requests_total{op=\"get\"}=2",
        "actorcore_worker_requests_total{op=\"resolve_batch\"}=0",
        "actorcore_worker_requests_total{op=\"invalidate\"}=0",
        "actorcore_worker_requests_total{op=\"stats\"}=0",
        "actorcore_worker_requests_total{op=\"ping\"}=0",
        "actorcore_worker_requests_total{op=\"other\"}=0",
        "actorcore_worker_errors_total{op=\"resolve\",code=\"schema_violation\"}=1",
        "actorcore_worker_errors_total{code=\"not_found\",op=\"get\"}=1",
        "actorcore_worker_errors_total{op=\"get\",code=\"schema_violation\"}=absent",
        "actorcore_worker_request_duration_seconds_count{op=\"resolve\"}=3",
        "actorcore_worker_request_duration_seconds_count{op=\"get\"}=2",
        "actorcore_worker_request_duration_seconds_count{op=\"ping\"}=0",
        "actorcore_worker_request_duration_seconds_bucket{op=\"resolve\",le=\"+Inf\"}=3",
        "actorcore_worker_cache_hits_total{tier=\"l1\"}=1",
        "actorcore_worker_cache_misses_total{tier=\"l1\"}=1",
        "actorcore_worker_cache_hits_total{tier=\"l3\"}=0",
        "actorcore_worker_cache_misses_total{tier=\"l3\"}=1",
        "actorcore_worker_resolves_total=1",
        "actorcore_worker_l1_entries=1",
        "actorcore_worker_l3_write_errors_total=0",
        "actorcore_worker_credit=64",
        "actorcore_worker_requests_held=0",
        "actorcore_worker_brokers=1",
        "actorcore_worker_brokers_registered=1",
        NULL};
    check_metrics(m.wport, worker);
    const char *broker[] = {"actorcore_broker_requests_received_total=5",
                            "actorcore_broker_requests_total{op=\"resolve\"}=3",
                            "actorcore_broker_requests_total{op=\"get\"}=2",
                            "actorcore_broker_requests_total{op=\"other\"}=0",
                            "actorcore_broker_request_duration_seconds_count{op=\"resolve\"}=3",
                            "actorcore_broker_request_duration_seconds_count{op=\"get\"}=2",
                            "actorcore_broker_request_duration_seconds_count{op=\"invalidate\"}=0",
                            "actorcore_broker_replies_total=5",
                            "actorcore_broker_errors_total{code=\"unavailable\"}=absent",
                            "actorcore_broker_workers=1",
                            "actorcore_broker_services=1",
                            "actorcore_broker_workers_joined_total=1",
                            "actorcore_broker_requests_queued=0",
                            "actorcore_broker_requests_in_flight=0",
                            "actorcore_broker_requests_held=0",
                            "actorcore_broker_requeued_total=0",
                            "actorcore_broker_credit=64",
                            "actorcore_broker_credit_free=64",
                            "actorcore_broker_dispatch_total{how=\"affine_hit\"}=3",
                            "actorcore_broker_dispatch_total{how=\"affine_spill\"}=0",
                            "actorcore_broker_fanouts_total=2",
                            "actorcore_broker_malformed_total=0",
                            NULL};
    check_metrics(m.bport, broker);
    assert_int_equal(http_status(m.bport, "GET", "/nope"), 404);
    assert_int_equal(http_status(m.wport, "GET", "/metrics/x"), 404);
    assert_int_equal(http_status(m.wport, "GET", "/healthz"), 200);
    stop(&m);
}

/* A resolve through the service, answered within 5 s. */
static void round_trip(const svc_t *s)
{
    ac_client_config_t cfg = {.timeout_ms = 5000, .retries = 0};
    ac_client_t *c = ac_client_new(s->fe, &cfg);
    char outs[512];
    one_flat(outs, sizeof outs, "strength", 7);
    expect_reply(c, send_resolve(c, outs, "bad-http", false, "bypass"), true, NULL, "miss");
    ac_client_destroy(&c);
}

static void bad_http_is_refused_and_never_stalls_either_loop(void **state)
{
    (void)state;
    metrics_setup_t m;
    start(&m);
    int ports[2] = {m.bport, m.wport};
    for (int i = 0; i < 2; i++) {
        int p = ports[i];
        /* A client that connects and says nothing holds a connection, not the loop. */
        int idle = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(idle, (struct sockaddr *)&a, sizeof a), 0);
        /* A header line too long half-sent: the same. */
        int half = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(half, (struct sockaddr *)&a, sizeof a), 0);
        assert_true(send(half, "GET /metrics HTTP/1.1\r\nX-A: aaaa", 32, MSG_NOSIGNAL) == 32);
        round_trip(&m.s);
        assert_int_equal(http_status(p, "POST", "/metrics"), 405);
        assert_int_equal(http_status(p, "DELETE", "/healthz"), 405);
        assert_int_equal(http_status(p, "GET", "/"), 404);
        /* A body is never read: a 1 MiB POST is answered 405 at once. */
        size_t big = 1 << 20;
        char *req = malloc(big + 200);
        int h = snprintf(req, 200,
                         "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", big);
        memset(req + h, 'x', big);
        assert_int_equal(http_raw(p, req, (size_t)h + big, 5000), 405);
        /* A head past the connection's memory: refused (431 or 414), never served. */
        h = snprintf(req, 200, "GET /metrics HTTP/1.1\r\nX-Big: ");
        memset(req + h, 'a', 65536);
        memcpy(req + h + 65536, "\r\n\r\n", 4);
        int st = http_raw(p, req, (size_t)h + 65540, 5000);
        assert_true(st == 431 || st == 414 || st == 413 || st == 400 || st == 0);
        /* Garbage: 400 or closed. */
        memset(req, 0xff, 4096);
        memcpy(req + 4096, "\r\n\r\n", 4);
        st = http_raw(p, req, 4100, 5000);
        assert_true(st == 400 || st == 0);
        free(req);
        /* More connections than the limit at once: the extra ones are refused or wait;
           the loop goes on. */
        int many[40];
        for (int k = 0; k < 40; k++) {
            many[k] = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(many[k], (struct sockaddr *)&a, sizeof a) != 0) {
                close(many[k]);
                many[k] = -1;
            }
        }
        round_trip(&m.s);
        for (int k = 0; k < 40; k++)
            if (many[k] >= 0)
                close(many[k]);
        wait_status(p, "/healthz", 200, 10000);
        wait_status(p, "/readyz", 200, 10000);
        close(idle);
        close(half);
    }
    round_trip(&m.s);
    /* Both still exit cleanly (the sanitizers check what they freed). */
    int st = svc_stop(m.worker, SIGTERM, 10000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = svc_stop(m.s.broker, SIGTERM, 10000);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void a_taken_or_bad_metrics_address_is_exit_2_naming_the_flag(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    /* Taken: a listening socket of ours holds the port. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char taken[32];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", ntohs(a.sin_port));
    const char *values[] = {taken, "127.0.0.1", "127.0.0.1:0", "host/x:80",
                            "no.such.host.invalid:80"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        const char *extra[] = {"--metrics", values[i], NULL};
        pid_t pid = svc_start_broker_with(&s, "100", extra, "metrics-bad.log");
        int st = svc_stop(pid, 0, 10000); /* signal 0: waits for it to exit */
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
            fail_msg("--metrics %s: status %#x, not exit 2", values[i], st);
    }
    close(fd);
    char log[400];
    snprintf(log, sizeof log, "%s/metrics-bad.log", svc_tmpdir());
    char *text = tu_slurp(log);
    assert_non_null(strstr(text, "code=bad_setting path=--metrics msg=\"cannot listen on"));
    free(text);
}

static void histogram_buckets_are_powers_of_two_of_microseconds_and_cumulative(void **state)
{
    (void)state;
    ac_hist_t h;
    memset(&h, 0, sizeof h);
    const uint64_t us[] = {0, 1, 4, 5, 8, 9, 1000000, 33554432, 33554433, UINT64_MAX / 2};
    const int bucket[] = {0, 0, 0, 1, 1, 2, 18, 23, 24, 24};
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        ac_hist_t one;
        memset(&one, 0, sizeof one);
        ac_hist_add(&one, us[i]);
        if (one.bucket[bucket[i]] != 1)
            fail_msg("%" PRIu64 " us is not in bucket %d", us[i], bucket[i]);
    }
    ac_hist_add(&h, 3);
    ac_hist_add(&h, 6);
    ac_hist_add(&h, 1500000);
    ac_hist_add(&h, 40000000);
    assert_int_equal(ac_hist_count(&h), 4);
    ac_mtext_t t;
    ac_mtext_init(&t);
    ac_mtext_hist(&t, "x_seconds", "op=\"a\"", &h);
    assert_false(t.oom);
    assert_non_null(strstr(t.data, "x_seconds_bucket{op=\"a\",le=\"0.000004\"} 1\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{op=\"a\",le=\"0.000008\"} 2\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{op=\"a\",le=\"1.048576\"} 2\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{op=\"a\",le=\"2.097152\"} 3\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{op=\"a\",le=\"33.554432\"} 3\n"));
    assert_non_null(strstr(t.data, "x_seconds_bucket{op=\"a\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t.data, "x_seconds_sum{op=\"a\"} 41.500009\n"));
    assert_non_null(strstr(t.data, "x_seconds_count{op=\"a\"} 4\n"));
    ac_mtext_fini(&t);
}

static void codes_that_share_a_wire_name_are_one_series(void **state)
{
    (void)state;
    uint64_t by_code[16] = {0};
    by_code[-AC_EINTERNAL] = 2;
    by_code[-AC_ENOMEM] = 3; /* wire name `internal` too */
    by_code[-AC_ENOT_FOUND] = 1;
    ac_mtext_t t;
    ac_mtext_init(&t);
    ac_mtext_codes(&t, "e_total", "op=\"get\"", by_code, 16);
    assert_string_equal(t.data, "e_total{op=\"get\",code=\"internal\"} 5\n"
                                "e_total{op=\"get\",code=\"not_found\"} 1\n");
    ac_mtext_reset(&t);
    ac_mtext_codes(&t, "e_total", NULL, by_code, 16);
    assert_non_null(strstr(t.data, "e_total{code=\"internal\"} 5\n"));
    /* Index 0 is no error code: whatever it holds, no series for it. */
    ac_mtext_reset(&t);
    uint64_t only_zero[16] = {7};
    ac_mtext_codes(&t, "e_total", NULL, only_zero, 16);
    assert_int_equal(t.len, 0);
    /* Samples with labels in braces, without labels bare: integers and doubles. */
    ac_mtext_reset(&t);
    ac_mtext_u64(&t, "n", "a=\"1\"", 3);
    ac_mtext_u64(&t, "n", "", 4);
    ac_mtext_double(&t, "g", "a=\"1\"", 0.5);
    ac_mtext_double(&t, "g", NULL, 2);
    assert_string_equal(t.data, "n{a=\"1\"} 3\nn 4\ng{a=\"1\"} 0.5\ng 2\n");
    ac_mtext_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_buckets_are_powers_of_two_of_microseconds_and_cumulative),
        cmocka_unit_test(codes_that_share_a_wire_name_are_one_series),
        cmocka_unit_test(both_processes_count_exactly_the_requests_sent_in_the_text_format),
        cmocka_unit_test(bad_http_is_refused_and_never_stalls_either_loop),
        cmocka_unit_test(a_taken_or_bad_metrics_address_is_exit_2_naming_the_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
