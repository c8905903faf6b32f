/*  test_security.c - `security: curve` with real processes: keys written by
    `actorcore keygen`, a broker that admits only the public keys installed in its two
    folders (clients, workers), workers and clients that present their own.

    Every wait is for a condition with a deadline (a reply, a counter, a log line), never a
    fixed sleep.
*/
#include <sys/stat.h>

#include "actorcore/actorcore.h"
#include "actorcore/client.h"
#include "service/curve.h"
#include "svc.h"

/* The key folder of the suite: broker, worker, client and intruder pairs; the broker's
   folders hold only the worker's and the client's public certificates. */
static char s_keys[300], s_clients[340], s_workers[340];
static char s_broker_cert[340], s_worker_cert[340], s_client_cert[340], s_intruder_cert[340];
static zcert_t *s_client;     /* the client's pair, for mmi.stats */
static char s_server_key[41]; /* the broker's public key */
static svc_t s_sec;           /* the curve broker and one worker, shared */

static int64_t now_ms(void)
{
    return zclock_mono();
}

/* `actorcore keygen path`: exit status. */
static int keygen(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s keygen '%s' >/dev/null 2>&1", AC_CLI_PATH, path);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void copy_file(const char *from, const char *to)
{
    char *text = tu_slurp(from);
    assert_non_null(text);
    FILE *f = fopen(to, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
}

/* True once the file at <tmp>/log contains needle, waiting up to ms. */
static bool log_has(const char *log, const char *needle, int ms)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", svc_tmpdir(), log);
    for (int64_t until = now_ms() + ms;;) {
        char *text = tu_slurp(path);
        bool found = text && strstr(text, needle);
        free(text);
        if (found || now_ms() >= until)
            return found;
        zclock_sleep(20);
    }
}

/* True once a line of <tmp>/log contains both a and b, waiting up to ms. */
static bool log_line_has(const char *log, const char *a, const char *b, int ms)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", svc_tmpdir(), log);
    for (int64_t until = now_ms() + ms;;) {
        char *text = tu_slurp(path);
        bool found = false;
        for (char *line = text, *end; line && *line && !found; line = end ? end + 1 : NULL) {
            end = strchr(line, '\n');
            if (end)
                *end = '\0';
            found = strstr(line, a) && strstr(line, b);
            if (!end)
                break;
        }
        free(text);
        if (found || now_ms() >= until)
            return found;
        zclock_sleep(20);
    }
}

static pid_t start_curve_broker(svc_t *s, const char *log)
{
    svc_ports(s);
    const char *extra[] = {"--security",      "curve",           "--curve-cert",
                           s_broker_cert,     "--curve-clients", s_clients,
                           "--curve-workers", s_workers,         NULL};
    return svc_start_broker_with(s, "200", extra, log);
}

static pid_t start_curve_worker(const svc_t *s, const char *cert, const char *layers,
                                const char *log)
{
    const char *extra[] = {
        "--reconnect-max-ms", "400",         "--security", "curve", "--curve-cert", cert,
        "--curve-server",     s_broker_cert, NULL};
    return svc_start_worker_with(s, layers, "none", "200", "100000", extra, log);
}

static uint64_t stat_of(const svc_t *s, const char *name)
{
    return svc_broker_stat_as(s->fe, name, s_client, s_server_key);
}

/* Waits until the broker's counter reaches at least want (fails the test past ms). */
static uint64_t wait_stat(const svc_t *s, const char *name, uint64_t want, int ms)
{
    return svc_wait_stat_as(s->fe, name, want, ms, s_client, s_server_key);
}

static ac_client_t *client_as(const svc_t *s, const char *cert, int timeout_ms, int retries)
{
    ac_client_config_t cfg = {.timeout_ms = timeout_ms,
                              .retries = retries,
                              .curve_cert = cert,
                              .curve_server = cert ? s_broker_cert : NULL};
    ac_client_t *c = ac_client_new(s->fe, &cfg);
    assert_non_null(c);
    return c;
}

/* Sends a ping; the reply's `ok` and error code (into code). Fails after ms. */
static bool ping(ac_client_t *c, char *code, size_t size, int ms)
{
    uint64_t id = ac_client_next_id(c);
    msgpack_packer *pk;
    ac_client_begin(c, &pk, "ping", id, 0);
    assert_int_equal(ac_client_send(c, id), 0);
    ac_reply_t r;
    if (ac_client_recv(c, &r, ms) != 1)
        fail_msg("no reply to ping within %d ms", ms);
    assert_int_equal(r.id, id);
    msgpack_zone *z = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(r.body, r.len, z, &o, &err), 0);
    const msgpack_object *ok = ac_wire_get(&o, "ok");
    const msgpack_object *cd = ac_wire_get(ac_wire_get(&o, "error"), "code");
    snprintf(code, size, "%.*s", cd ? (int)cd->via.str.size : 0, cd ? cd->via.str.ptr : "");
    bool yes = ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
    msgpack_zone_free(z);
    return yes;
}

static int group_setup(void **state)
{
    (void)state;
    zsys_init();
    zsys_set_logstream(NULL);
    snprintf(s_keys, sizeof s_keys, "%s/keys", svc_tmpdir());
    snprintf(s_clients, sizeof s_clients, "%s/clients", s_keys);
    snprintf(s_workers, sizeof s_workers, "%s/workers", s_keys);
    snprintf(s_broker_cert, sizeof s_broker_cert, "%s/broker", s_keys);
    snprintf(s_worker_cert, sizeof s_worker_cert, "%s/worker", s_keys);
    snprintf(s_client_cert, sizeof s_client_cert, "%s/client", s_keys);
    snprintf(s_intruder_cert, sizeof s_intruder_cert, "%s/intruder", s_keys);
    if (mkdir(s_keys, 0700) || mkdir(s_clients, 0700) || mkdir(s_workers, 0700))
        return -1;
    if (keygen(s_broker_cert) || keygen(s_worker_cert) || keygen(s_client_cert) ||
        keygen(s_intruder_cert))
        return -1;
    char to[400];
    snprintf(to, sizeof to, "%s/worker", s_workers);
    copy_file(s_worker_cert, to);
    snprintf(to, sizeof to, "%s/client", s_clients);
    copy_file(s_client_cert, to);
    ac_error_t err;
    s_client = ac_curve_load_pair("test", s_client_cert, &err);
    if (!s_client || ac_curve_load_public("test", s_broker_cert, s_server_key, &err))
        return -1;
    start_curve_broker(&s_sec, "curve-broker.log");
    start_curve_worker(&s_sec, s_worker_cert, NULL, "curve-worker.log");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    zcert_destroy(&s_client);
    svc_cleanup();
    return 0;
}

static void keygen_writes_a_pair_that_loads_and_never_overwrites(void **state)
{
    (void)state;
    char name[400], secret[420];
    snprintf(name, sizeof name, "%s/fresh", s_keys);
    snprintf(secret, sizeof secret, "%s_secret", name);
    assert_int_equal(keygen(name), 0);
    struct stat st;
    assert_int_equal(stat(secret, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* the secret stays with its owner */
    char *pub = tu_slurp(name), *sec = tu_slurp(secret);
    assert_non_null(strstr(pub, "public-key"));
    assert_null(strstr(pub, "secret-key")); /* the public file can be handed out */
    assert_non_null(strstr(sec, "secret-key"));
    /* Never overwritten: the same bytes after a second keygen, which fails. */
    assert_int_equal(keygen(name), 2);
    char *again = tu_slurp(secret);
    assert_string_equal(sec, again);
    free(again);

    ac_error_t err;
    zcert_t *pair = ac_curve_load_pair("curve-cert", name, &err);
    assert_non_null(pair);
    char key[41];
    assert_int_equal(ac_curve_load_public("curve-server", name, key, &err), 0);
    assert_string_equal(key, zcert_public_txt(pair));
    zcert_destroy(&pair);

    /* A public certificate alone is no key pair. */
    char lone[400];
    snprintf(lone, sizeof lone, "%s/lone", s_keys);
    copy_file(name, lone);
    assert_null(ac_curve_load_pair("curve-cert", lone, &err));
    assert_string_equal(err.path, "curve-cert");
    assert_non_null(strstr(err.message, "no valid secret key"));
    /* A file that is no certificate, and one that does not exist. */
    char junk[400];
    snprintf(junk, sizeof junk, "%s/junk", s_keys);
    FILE *f = fopen(junk, "w");
    fputs("curve\n    public-key = \"not a z85 key of forty characters!!!!!\"\n", f);
    fclose(f);
    assert_int_not_equal(ac_curve_load_public("curve-server", junk, key, &err), 0);
    assert_non_null(strstr(err.message, "is not a CURVE certificate"));
    assert_int_not_equal(ac_curve_load_public("curve-server", "/nonexistent/x", key, &err), 0);
    assert_non_null(strstr(err.message, "cannot read '/nonexistent/x'"));
    free(pub);
    free(sec);
}

/* Runs argv to its end (at most 10 s); its exit status, stderr in <tmp>/log. */
static int run_to_end(const char *const *argv, const char *log)
{
    pid_t pid = svc_spawn(argv, log);
    int st = svc_stop(pid, 0, 10000); /* signal 0: only waits */
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void bad_key_settings_end_start_up_with_exit_2(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    char lone[400];
    snprintf(lone, sizeof lone, "%s/lone", s_keys);
    copy_file(s_worker_cert, lone);
    const char *no_secret[] = {
        AC_BROKER_PATH, "--frontend",      s.fe,      "--backend",       s.be,      "--events-in",
        s.ein,          "--events-out",    s.eout,    "--security",      "curve",   "--curve-cert",
        lone,           "--curve-clients", s_clients, "--curve-workers", s_workers, NULL};
    assert_int_equal(run_to_end(no_secret, "bad1.log"), 2);
    assert_true(log_has("bad1.log", "code=bad_setting path=--curve-cert msg=\"'", 0));
    assert_true(log_has("bad1.log", "holds no valid secret key", 0));

    const char *no_folder[] = {AC_BROKER_PATH,
                               "--frontend",
                               s.fe,
                               "--backend",
                               s.be,
                               "--events-in",
                               s.ein,
                               "--events-out",
                               s.eout,
                               "--security",
                               "curve",
                               "--curve-cert",
                               s_broker_cert,
                               "--curve-clients",
                               "/nonexistent/clients",
                               "--curve-workers",
                               s_workers,
                               NULL};
    assert_int_equal(run_to_end(no_folder, "bad2.log"), 2);
    assert_true(log_has("bad2.log",
                        "path=--curve-clients msg=\"'/nonexistent/clients' is not a folder", 0));

    const char *none_with_key[] = {AC_BROKER_PATH, "--frontend",   s.fe,          "--backend",
                                   s.be,           "--events-in",  s.ein,         "--events-out",
                                   s.eout,         "--curve-cert", s_broker_cert, NULL};
    assert_int_equal(run_to_end(none_with_key, "bad3.log"), 2);
    assert_true(log_has("bad3.log", "path=--curve-cert msg=\"given with security none", 0));

    const char *worker_junk_server[] = {AC_WORKER_PATH,
                                        "--broker",
                                        s.be,
                                        "--events",
                                        "",
                                        "--store",
                                        "none",
                                        "--security",
                                        "curve",
                                        "--curve-cert",
                                        s_worker_cert,
                                        "--curve-server",
                                        "/nonexistent/broker",
                                        NULL};
    assert_int_equal(run_to_end(worker_junk_server, "bad4.log"), 2);
    assert_true(
        log_has("bad4.log", "path=--curve-server msg=\"cannot read '/nonexistent/broker'", 0));

    const char *call_half[] = {AC_CLI_PATH, "call",         "ping",        "--broker",
                               s.fe,        "--curve-cert", s_client_cert, NULL};
    assert_int_equal(run_to_end(call_half, "bad5.log"), 2);
    assert_true(log_has("bad5.log", "--curve-cert and --curve-server go together", 0));

    /* The library: a key pair that does not load is no client. */
    ac_client_config_t cfg = {.curve_cert = lone, .curve_server = s_broker_cert};
    assert_null(ac_client_new(s.fe, &cfg));
}

static void only_installed_keys_are_admitted_each_in_its_own_domain(void **state)
{
    (void)state;
    char code[64];
    ac_client_t *good = client_as(&s_sec, s_client_cert, 500, 40);
    assert_true(ping(good, code, sizeof code, 30000));
    uint64_t refused0 = stat_of(&s_sec, "auth_refused");

    /* An unknown key, a worker's key on the clients' side, and plain text: each answered
       `unavailable` at once by the client library, nothing reaching a worker. */
    const char *certs[] = {s_intruder_cert, s_worker_cert, NULL};
    for (int i = 0; i < 3; i++) {
        ac_client_t *c = client_as(&s_sec, certs[i], 20000, 0);
        int64_t t0 = now_ms();
        assert_false(ping(c, code, sizeof code, 15000));
        assert_string_equal(code, "unavailable");
        assert_true(now_ms() - t0 < 15000); /* not the 20 s timeout */
        ac_client_stats_t st;
        ac_client_stats(c, &st);
        assert_int_equal(st.refused, 1);
        assert_int_equal(st.timed_out, 0);
        /* Asked again after the refusal: the refused handshake ended the connection for
           good (libzmq does not reconnect after a protocol error), so the socket has no
           peer; the send must not block (it did, forever: a CI run hung here) and the
           answer is `unavailable` again. alarm: a hang kills the suite instead of waiting
           for ctest's timeout. */
        alarm(60);
        assert_false(ping(c, code, sizeof code, 15000));
        alarm(0);
        assert_string_equal(code, "unavailable");
        ac_client_stats(c, &st);
        assert_int_equal(st.refused, 2);
        assert_int_equal(st.timed_out, 0);
        ac_client_destroy(&c);
    }
    /* The two keyed handshakes were refused by the broker's ZAP handler (plain text never
       reaches it: the mechanisms differ). */
    assert_true(wait_stat(&s_sec, "auth_refused", refused0 + 2, 5000) >= refused0 + 2);
    uint64_t requests = stat_of(&s_sec, "requests");

    /* A client's key cannot register as a worker. */
    assert_int_equal(stat_of(&s_sec, "workers"), 1);
    uint64_t before = stat_of(&s_sec, "auth_refused");
    pid_t impostor = start_curve_worker(&s_sec, s_client_cert, NULL, "impostor.log");
    assert_true(wait_stat(&s_sec, "auth_refused", before + 2, 10000) >= before + 2);
    assert_true(log_has("impostor.log", "the broker refused this worker's handshake", 5000));
    assert_int_equal(stat_of(&s_sec, "workers"), 1);
    svc_stop(impostor, SIGKILL, 1000);

    /* A key installed while the broker runs is admitted: no restart. */
    char to[400];
    snprintf(to, sizeof to, "%s/intruder", s_workers);
    copy_file(s_intruder_cert, to);
    pid_t late = start_curve_worker(&s_sec, s_intruder_cert, NULL, "late.log");
    assert_true(wait_stat(&s_sec, "workers", 2, 10000) == 2);
    svc_stop(late, SIGTERM, 3000);
    unlink(to);

    /* The well-behaved client was served throughout, and no refused request counted. */
    assert_true(ping(good, code, sizeof code, 30000));
    assert_int_equal(stat_of(&s_sec, "requests"), requests + 1);
    ac_client_destroy(&good);
}

/* Every golden case through a secured broker and worker equals its expected snapshot. */
static void golden_set_passes_with_curve_on(void **state)
{
    (void)state;
    svc_t po; /* case09 has its own layer registry: a broker and worker of its own */
    char l9[512];
    tu_case_layers(l9, sizeof l9, "case09_prioritized_override");
    start_curve_broker(&po, "broker9.log");
    start_curve_worker(&po, s_worker_cert, l9, "worker9.log");
    ac_client_t *c = client_as(&s_sec, s_client_cert, 2000, 10);
    ac_client_t *c9 = client_as(&po, s_client_cert, 2000, 10);
    msgpack_zone *zone = msgpack_zone_new(65536);
    for (int i = 0; i < TU_GOLDEN_NCASES; i++) {
        char path[512], want[512];
        snprintf(path, sizeof path, "%s/%s/subsystems.json", AC_GOLDEN_DIR, tu_golden_cases[i]);
        snprintf(want, sizeof want, "%s/%s/expected.json", AC_GOLDEN_DIR, tu_golden_cases[i]);
        char *outs = tu_slurp(path), *expected = tu_slurp(want);
        msgpack_object o;
        ac_error_t err;
        msgpack_zone_clear(zone);
        assert_int_equal(ac_json_parse(outs, strlen(outs), zone, &o, &err), 0);
        ac_client_t *cl = i == 8 ? c9 : c;
        uint64_t id = ac_client_next_id(cl);
        msgpack_packer *pk;
        ac_client_begin(cl, &pk, "resolve", id, 1);
        ac_wire_pack_str(pk, "outputs");
        msgpack_pack_object(pk, o);
        assert_int_equal(ac_client_send(cl, id), 0);
        ac_reply_t r;
        if (ac_client_recv(cl, &r, 30000) != 1)
            fail_msg("%s: no reply", tu_golden_cases[i]);
        msgpack_object rep;
        assert_int_equal(ac_msgpack_parse(r.body, r.len, zone, &rep, &err), 0);
        const msgpack_object *snap = ac_wire_get(&rep, "snapshot");
        if (!snap)
            fail_msg("%s: no snapshot in the reply", tu_golden_cases[i]);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ac_msgpack_to_json(snap, &sb);
        msgpack_sbuffer_write(&sb, "", 1);
        tu_assert_snapshot(expected, sb.data);
        msgpack_sbuffer_destroy(&sb);
        free(outs);
        free(expected);
    }
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
    ac_client_destroy(&c9);
    svc_stop(po.broker, SIGTERM, 3000);
}

static zsock_t *subscriber(const char *cert_name)
{
    zsock_t *s = zsock_new(ZMQ_SUB);
    ac_error_t err;
    zcert_t *cert = ac_curve_load_pair("test", cert_name, &err);
    assert_non_null(cert);
    ac_curve_client(s, cert, s_server_key);
    zcert_destroy(&cert);
    zsock_set_subscribe(s, "snap/");
    assert_int_equal(zsock_connect(s, "%s", s_sec.eout), 0);
    return s;
}

static int drain_events(zsock_t *s)
{
    int n = 0;
    zmsg_t *m;
    while ((zsock_events(s) & ZMQ_POLLIN) && (m = zmsg_recv(s))) {
        zmsg_destroy(&m);
        n++;
    }
    return n;
}

/* Snapshot events go only to subscribers whose key is in the clients' folder. */
static void snapshot_events_reach_only_admitted_subscribers(void **state)
{
    (void)state;
    zsock_t *ok = subscriber(s_client_cert), *stranger = subscriber(s_intruder_cert),
            *worker_key = subscriber(s_worker_cert);
    ac_client_t *c = client_as(&s_sec, s_client_cert, 2000, 10);
    const char *outs = "[{\"meta\":{\"system\":\"t\"},\"primary\":[{\"dimension\":\"strength\","
                       "\"bucket\":\"FLAT\",\"value\":3,\"system\":\"t\"}]}]";
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_json_parse(outs, strlen(outs), zone, &o, &err), 0);
    int got = 0;
    /* A subscription reaches the publisher some time after connecting: publish until the
       admitted subscriber sees an event. */
    for (int64_t until = now_ms() + 20000; !got && now_ms() < until;) {
        uint64_t id = ac_client_next_id(c);
        msgpack_packer *pk;
        ac_client_begin(c, &pk, "resolve", id, 3);
        ac_wire_pack_str(pk, "outputs");
        msgpack_pack_object(pk, o);
        ac_wire_pack_str(pk, "actor");
        msgpack_pack_map(pk, 2);
        ac_wire_pack_str(pk, "id");
        ac_wire_pack_str(pk, "sec-hero");
        ac_wire_pack_str(pk, "version");
        msgpack_pack_int(pk, 1);
        ac_wire_pack_str(pk, "publish");
        msgpack_pack_true(pk);
        assert_int_equal(ac_client_send(c, id), 0);
        ac_reply_t r;
        assert_int_equal(ac_client_recv(c, &r, 30000), 1);
        zpoller_t *p = zpoller_new(ok, NULL);
        if (zpoller_wait(p, 200))
            got = drain_events(ok);
        zpoller_destroy(&p);
    }
    assert_true(got >= 1);
    /* By now the refused subscribers have had every chance: nothing reached them. */
    assert_int_equal(drain_events(stranger), 0);
    assert_int_equal(drain_events(worker_key), 0);
    msgpack_zone_free(zone);
    ac_client_destroy(&c);
    zsock_destroy(&ok);
    zsock_destroy(&stranger);
    zsock_destroy(&worker_key);
}

static void security_none_says_so_in_a_warning(void **state)
{
    (void)state;
    svc_t s;
    svc_ports(&s);
    svc_start_broker(&s, "500");
    pid_t w = svc_start_worker(&s, NULL, "none", "500", "10");
    assert_true(
        log_line_has("broker.log", "level=warn component=broker ", "event=security_none ", 10000));
    assert_true(
        log_line_has("worker.log", "level=warn component=worker ", "event=security_none ", 10000));
    svc_stop(w, SIGTERM, 3000);
    svc_stop(s.broker, SIGTERM, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keygen_writes_a_pair_that_loads_and_never_overwrites),
        cmocka_unit_test(bad_key_settings_end_start_up_with_exit_2),
        cmocka_unit_test(only_installed_keys_are_admitted_each_in_its_own_domain),
        cmocka_unit_test(golden_set_passes_with_curve_on),
        cmocka_unit_test(snapshot_events_reach_only_admitted_subscribers),
        cmocka_unit_test(security_none_says_so_in_a_warning),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
