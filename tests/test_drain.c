/*  test_drain.c - the worker's drain (issue 11, item 4), real processes: a rolling restart
    of every worker under load (a client keeps 200 resolves of distinct actors in flight
    while each of two workers in turn is sent SIGTERM, exits 0 and is started again): every
    request is answered exactly once, ok, with its own snapshot, and the broker drops no
    reply as stale (none came after its worker's DISCONNECT, so nothing answered was ever
    re-queued). And sd_notify: READY=1 reaches a NOTIFY_SOCKET only once the worker is
    registered (the broker after binding), RELOADING=1 / READY=1 around a SIGHUP, STOPPING=1
    on SIGTERM.
*/
#include <czmq.h>
#include <poll.h>
#include <sys/un.h>

#include "core/yamldoc.h"
#include "reply.h"
#include "svc.h"

#define WINDOW 200
#define MAXREQ 400000 /* ids of one run (the stream runs on while workers restart) */

typedef struct {
    ac_client_t *c;
    parsed_t ps;
    unsigned char seen[MAXREQ + 1]; /* replies per request id (calloc'd: 400 KB) */
    uint64_t sent, got;
} roll_t;

/* A resolve of actor roll-<id> with strength id (every request its own snapshot). */
static void send_one(roll_t *rt)
{
    uint64_t id = ac_client_next_id(rt->c);
    assert_true(id <= MAXREQ);
    char actor[32];
    snprintf(actor, sizeof actor, "roll-%llu", (unsigned long long)id);
    msgpack_packer *pk;
    ac_client_begin(rt->c, &pk, "resolve", id, 2);
    ac_wire_pack_str(pk, "actor");
    msgpack_pack_map(pk, 2);
    ac_wire_pack_str(pk, "id");
    ac_wire_pack_str(pk, actor);
    ac_wire_pack_str(pk, "version");
    msgpack_pack_int(pk, 1);
    ac_wire_pack_str(pk, "outputs");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 2);
    ac_wire_pack_str(pk, "meta");
    msgpack_pack_map(pk, 1);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, "t");
    ac_wire_pack_str(pk, "primary");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    ac_wire_pack_str(pk, "dimension");
    ac_wire_pack_str(pk, "strength");
    ac_wire_pack_str(pk, "bucket");
    ac_wire_pack_str(pk, "FLAT");
    ac_wire_pack_str(pk, "value");
    msgpack_pack_double(pk, (double)id);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, "t");
    assert_int_equal(ac_client_send(rt->c, id), 0);
    rt->sent++;
}

static void check_one(roll_t *rt, const ac_reply_t *r)
{
    const msgpack_object *o = parse_reply(&rt->ps, r);
    if (!reply_ok(o))
        fail_msg("request %llu failed: %s", (unsigned long long)r->id, to_json(o));
    assert_true(r->id >= 1 && r->id <= MAXREQ);
    if (rt->seen[r->id]++)
        fail_msg("request %llu answered twice", (unsigned long long)r->id);
    const msgpack_object *snap = ac_wire_get(o, "snapshot");
    const msgpack_object *v = ac_wire_get(ac_wire_get(snap, "Primary"), "strength");
    const msgpack_object *who = ac_wire_get(snap, "ActorId");
    char actor[32];
    int n = snprintf(actor, sizeof actor, "roll-%llu", (unsigned long long)r->id);
    if (!v || v->via.f64 != (double)r->id || !who || who->via.str.size != (uint32_t)n ||
        memcmp(who->via.str.ptr, actor, (size_t)n) != 0)
        fail_msg("request %llu got another's snapshot: %s", (unsigned long long)r->id, to_json(o));
    rt->got++;
}

/* Keeps the window full and takes one reply. */
static void pump_one(roll_t *rt, bool sending)
{
    while (sending && ac_client_pending(rt->c) < WINDOW && rt->sent < MAXREQ - WINDOW)
        send_one(rt);
    if (sending && !ac_client_pending(rt->c))
        fail_msg("%d requests sent and the restarts are not done: too slow a machine", MAXREQ);
    ac_reply_t r;
    recv_one(rt->c, &r, 30000);
    check_one(rt, &r);
}

static pid_t start_worker(const svc_t *s, const char *store, int w, int round)
{
    char log[64];
    snprintf(log, sizeof log, "roll-worker-%d-%d.log", w, round);
    return svc_start_worker_with(s, NULL, store, "200", "10000", NULL, log);
}

/* The figures of a worker's drain line: held requests answered, left to the broker. */
static void drain_figures(int w, int round, int *answered, int *left)
{
    char path[400];
    snprintf(path, sizeof path, "%s/roll-worker-%d-%d.log", svc_tmpdir(), w, round);
    size_t len;
    ac_error_t err;
    char *text = ac_read_file(path, 1 << 24, &len, &err);
    assert_non_null(text);
    const char *at = strstr(text, "event=drained ");
    if (!at || sscanf(at, "event=drained answered=%d left=%d", answered, left) != 2)
        fail_msg("worker %d has no drain line:\n%s", w, text);
    free(text);
}

static void a_rolling_restart_under_load_loses_and_duplicates_nothing(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "200");
    char store[400];
    snprintf(store, sizeof store, "%s/roll.db", svc_tmpdir());
    pid_t workers[2];
    for (int w = 0; w < 2; w++)
        workers[w] = start_worker(&s, store, w, 0);
    svc_wait_stat(s.fe, "workers", 2, 20000);
    roll_t *rt = calloc(1, sizeof *rt);
    ac_client_config_t cfg = {.timeout_ms = 30000, .retries = 0};
    rt->c = ac_client_new(s.fe, &cfg);
    assert_non_null(rt->c);
    int answered[2], left[2], held_answered = 0;
    for (int round = 0; round < 2; round++) { /* the whole pool twice */
        for (int w = 0; w < 2; w++) {
            for (uint64_t until = rt->got + 1000; rt->got < until;)
                pump_one(rt, true);
            /* SIGTERM under load; the stream goes on while the worker drains and exits. */
            kill(workers[w], SIGTERM);
            int64_t killed_at = zclock_usecs();
            int st = 0;
            for (int64_t end = zclock_mono() + 20000; waitpid(workers[w], &st, WNOHANG) == 0;) {
                if (zclock_mono() > end)
                    fail_msg("worker %d did not exit within 20 s of SIGTERM", w);
                pump_one(rt, true);
            }
            double exit_ms = (double)(zclock_usecs() - killed_at) / 1000.0;
            svc_forget(workers[w]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
            drain_figures(w, round, &answered[w], &left[w]);
            held_answered += answered[w];
            fprintf(stderr,
                    "worker %d drained after %llu replies: %d held answered, %d left, exit "
                    "%.1f ms after SIGTERM\n",
                    w, (unsigned long long)rt->got, answered[w], left[w], exit_ms);
            workers[w] = start_worker(&s, store, w, round + 1);
            for (int64_t end = zclock_mono() + 20000;;) {
                for (int i = 0; i < 50; i++)
                    pump_one(rt, true);
                if (svc_broker_stat(s.fe, "workers") == 2)
                    break;
                if (zclock_mono() > end)
                    fail_msg("worker %d did not come back within 20 s", w);
            }
        }
    }
    for (uint64_t until = rt->got + 1000; rt->got < until;)
        pump_one(rt, true);
    while (ac_client_pending(rt->c))
        pump_one(rt, false);
    /* Every request once; nothing more comes. */
    for (uint64_t id = 1; id <= rt->sent; id++)
        if (rt->seen[id] != 1)
            fail_msg("request %llu answered %d times", (unsigned long long)id, rt->seen[id]);
    ac_reply_t extra;
    assert_int_equal(ac_client_recv(rt->c, &extra, 200), 0);
    ac_client_stats_t cs;
    ac_client_stats(rt->c, &cs);
    assert_int_equal(cs.retried + cs.duplicates + cs.timed_out + cs.resent, 0);
    uint64_t stale = svc_broker_stat(s.fe, "stale_replies");
    uint64_t requeued = svc_broker_stat(s.fe, "requeued");
    fprintf(stderr,
            "rolling restart (2 workers, each restarted twice under load): %llu requests sent, "
            "%llu answered once and right, 0 failed, 0 duplicated; the broker re-queued %llu "
            "(never started), stale replies %llu\n",
            (unsigned long long)rt->sent, (unsigned long long)rt->got, (unsigned long long)requeued,
            (unsigned long long)stale);
    assert_int_equal(stale, 0);
    /* With 200 in flight over two credits of 64, the drains held requests: answered. */
    assert_true(held_answered > 0);
    msgpack_zone_free(rt->ps.zone);
    ac_client_destroy(&rt->c);
    free(rt);
    for (int w = 0; w < 2; w++)
        assert_int_equal(svc_stop(workers[w], SIGTERM, 5000), 0);
    svc_stop(s.broker, SIGTERM, 5000);
}

/* ---- sd_notify ---- */

/* A datagram socket bound at <tmp>/name, as systemd's NOTIFY_SOCKET is. */
static int notify_socket(const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", svc_tmpdir(), name);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof a.sun_path);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Waits up to deadline_ms for a datagram that contains want; every datagram read is
   appended to seen (a ';' after each). */
static bool wait_notify(int fd, const char *want, int deadline_ms, char *seen, size_t size)
{
    for (int64_t end = zclock_mono() + deadline_ms; zclock_mono() < end;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(end - zclock_mono())) <= 0)
            continue;
        char msg[512];
        ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        size_t at = strlen(seen);
        snprintf(seen + at, size - at, "%s;", msg);
        if (strstr(msg, want))
            return true;
    }
    return false;
}

/* Nothing has been sent to fd yet (read without waiting). */
static void assert_nothing_sent(int fd)
{
    char msg[64];
    assert_true(recv(fd, msg, sizeof msg, MSG_DONTWAIT) < 0);
}

static void the_worker_notifies_ready_once_registered_then_reloading_and_stopping(void **state)
{
    (void)state;
#ifndef AC_HAVE_SYSTEMD
    skip(); /* built with -DAC_SYSTEMD=OFF: nothing is sent */
#endif
    char path[400], seen[4096] = "";
    int fd = notify_socket("worker.notify", path, sizeof path);
    svc_t s;
    svc_ports(&s);
    /* The worker first, its backend port held by a plain TCP listener of the test (so no
       other suite's broker can take it): the worker connects and sends its ZMTP greeting,
       nobody answers, it is not registered, so not READY=1. */
    int lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port[1])};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(lis, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lis, 4), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    pid_t w = svc_start_worker_with(&s, NULL, "none", "100", "1000", NULL, "notify-worker.log");
    unsetenv("NOTIFY_SOCKET");
    struct pollfd pl = {lis, POLLIN, 0};
    assert_int_equal(poll(&pl, 1, 20000), 1); /* the worker connects */
    int conn = accept(lis, NULL, NULL);
    assert_true(conn >= 0);
    struct pollfd pc = {conn, POLLIN, 0};
    assert_int_equal(poll(&pc, 1, 20000), 1); /* and speaks: its greeting */
    char greeting[64];
    assert_true(recv(conn, greeting, sizeof greeting, 0) > 0);
    assert_nothing_sent(fd);
    close(conn); /* the worker reconnects, now to the broker */
    close(lis);
    svc_start_broker(&s, "100");
    if (!wait_notify(fd, "READY=1", 20000, seen, sizeof seen))
        fail_msg("no READY=1 from the worker (got '%s')", seen);
    /* Only a registered worker says it: the broker counts it already. */
    assert_int_equal(svc_broker_stat(s.fe, "workers"), 1);
    assert_null(strstr(seen, "STOPPING"));
    kill(w, SIGHUP);
    seen[0] = '\0';
    if (!wait_notify(fd, "RELOADING=1", 20000, seen, sizeof seen) ||
        !wait_notify(fd, "READY=1", 20000, seen, sizeof seen))
        fail_msg("no RELOADING=1 then READY=1 around a SIGHUP (got '%s')", seen);
    kill(w, SIGTERM);
    seen[0] = '\0';
    if (!wait_notify(fd, "STOPPING=1", 20000, seen, sizeof seen))
        fail_msg("no STOPPING=1 on SIGTERM (got '%s')", seen);
    assert_int_equal(svc_stop(w, 0, 10000), 0); /* signal 0: only waits for the exit */
    svc_stop(s.broker, SIGTERM, 5000);
    close(fd);
}

static void the_broker_notifies_ready_once_bound_and_stopping_on_sigterm(void **state)
{
    (void)state;
#ifndef AC_HAVE_SYSTEMD
    skip(); /* built with -DAC_SYSTEMD=OFF: nothing is sent */
#endif
    char path[400], seen[4096] = "";
    int fd = notify_socket("broker.notify", path, sizeof path);
    svc_t s;
    svc_ports(&s);
    setenv("NOTIFY_SOCKET", path, 1);
    /* A grace far past the wait below: with nothing in flight the broker must not use it. */
    const char *grace[] = {"--grace-ms", "60000", NULL};
    svc_start_broker_with(&s, "100", grace, "notify-broker.log");
    unsetenv("NOTIFY_SOCKET");
    if (!wait_notify(fd, "READY=1", 20000, seen, sizeof seen))
        fail_msg("no READY=1 from the broker (got '%s')", seen);
    assert_int_equal(svc_broker_stat(s.fe, "workers"), 0); /* bound: it answers at once */
    kill(s.broker, SIGTERM);
    if (!wait_notify(fd, "STOPPING=1", 20000, seen, sizeof seen))
        fail_msg("no STOPPING=1 from the broker (got '%s')", seen);
    assert_int_equal(svc_stop(s.broker, 0, 10000), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_broker_notifies_ready_once_bound_and_stopping_on_sigterm),
        cmocka_unit_test(the_worker_notifies_ready_once_registered_then_reloading_and_stopping),
        cmocka_unit_test(a_rolling_restart_under_load_loses_and_duplicates_nothing),
    };
    return cmocka_run_group_tests_name("drain", tests, NULL, NULL);
}
