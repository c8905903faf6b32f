/*  test_reload.c - live reload under load (issue 11, item 3), real processes: a client
    keeps a window of resolves (and gets) in flight over 64 actors that the caches hold
    while the worker reloads changed tables, by SIGHUP and by `admin reload` through the
    broker (two workers sharing one L3 file: the broker sends the op to both). Every request
    is answered, ok; the new tables give a visibly different snapshot (another strength, its
    Generation), and no reply that comes after the reload's acknowledgment (the admin op's
    answer; for SIGHUP the first `stats` that counts the reload) carries the old one, though
    L3 holds the old generation's rows for every actor. A bad file is refused with its
    file:line (answer and log), and the old generation goes on serving.
*/
#include <czmq.h>

#include "core/yamldoc.h"
#include "reply.h"
#include "svc.h"

#define NACTORS 64
#define WINDOW 200
#define MAXREQ 100000

/* A registry file: strength capped at `max`. */
static void write_combiner(const char *path, const char *strength_max, bool bad)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "dimensions:\n"
            "  strength: { use_pipeline: true, clamp_default: { min: 0, max: %s } }\n",
            strength_max);
    if (bad) /* line 3: min > max */
        fprintf(f, "  agility: { use_pipeline: true, clamp_default: { min: 10, max: 1 } }\n");
    fprintf(f, "default: { use_pipeline: true, clamp_default: { min: -1.0e15, max: 1.0e15 } }\n");
    fclose(f);
}

/* The subsystem folder's one table: an actor of tier gold gets `value` strength. */
static void write_table(const char *dir, const char *value, bool bad)
{
    char path[400];
    snprintf(path, sizeof path, "%s/tier.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "id: tier\nkind: table\npriority: 10\nkey: data.tier\nrows:\n  gold:\n"
            "    primary:\n      - { dimension: strength, bucket: FLAT, value: %s }\n",
            value);
    if (bad) /* line 9: an unknown bucket */
        fprintf(f, "      - { dimension: strength, bucket: SIDEWAYS, value: 1 }\n");
    fclose(f);
}

/* What the client saw. */
typedef struct {
    ac_client_t *c;
    parsed_t ps;
    char kind[MAXREQ + 1]; /* per request id: 'r' resolve, 'g' get, 's' stats, 'a' admin */
    uint64_t sent, got, failed, not_found;
    uint64_t old_gen, new_gen;   /* Generation of the old tables' snapshots, the new ones' */
    double old_value, new_value; /* their strength */
    bool trigger_sent, acked;    /* reload asked; its acknowledgment received */
    uint64_t old_before, new_before, old_after, new_after; /* snapshots around the ack */
    bool want_stats;   /* SIGHUP: a stats goes out every few requests until the ack */
    uint64_t admin_id; /* the admin request, when one was sent */
    msgpack_object admin_reply;
    char admin_json[1024];
} stream_t;

static void send_request(stream_t *st)
{
    uint64_t k = st->sent++;
    uint64_t id = ac_client_next_id(st->c);
    assert_true(id <= MAXREQ);
    msgpack_packer *pk;
    char actor[32];
    snprintf(actor, sizeof actor, "rl-%llu", (unsigned long long)(k % NACTORS));
    if (st->want_stats && k % 16 == 0) {
        st->kind[id] = 's';
        ac_client_begin(st->c, &pk, "stats", id, 0);
    } else if (k % 10 == 9) {
        st->kind[id] = 'g';
        ac_client_begin(st->c, &pk, "get", id, 1);
        ac_wire_pack_str(pk, "actor_id");
        ac_wire_pack_str(pk, actor);
    } else {
        st->kind[id] = 'r';
        ac_client_begin(st->c, &pk, "resolve", id, 1);
        ac_wire_pack_str(pk, "actor");
        msgpack_pack_map(pk, 4);
        ac_wire_pack_str(pk, "id");
        ac_wire_pack_str(pk, actor);
        ac_wire_pack_str(pk, "version");
        msgpack_pack_int(pk, 1);
        ac_wire_pack_str(pk, "data");
        msgpack_pack_map(pk, 1);
        ac_wire_pack_str(pk, "tier");
        ac_wire_pack_str(pk, "gold");
        ac_wire_pack_str(pk, "subsystems");
        msgpack_pack_array(pk, 1);
        ac_wire_pack_str(pk, "tier");
    }
    assert_int_equal(ac_client_send(st->c, id), 0);
}

static void send_admin(stream_t *st)
{
    uint64_t id = ac_client_next_id(st->c);
    assert_true(id <= MAXREQ);
    st->kind[id] = 'a';
    st->admin_id = id;
    msgpack_packer *pk;
    ac_client_begin(st->c, &pk, "admin", id, 1);
    ac_wire_pack_str(pk, "action");
    ac_wire_pack_str(pk, "reload");
    assert_int_equal(ac_client_send(st->c, id), 0);
}

static uint64_t u64_of(const msgpack_object *o)
{
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        fail_msg("not a counter");
    return o->via.u64;
}

/* Checks one reply against what the client knows so far. */
static void check_reply(stream_t *st, const ac_reply_t *r)
{
    const msgpack_object *o = parse_reply(&st->ps, r);
    char code[64];
    char k = r->id <= MAXREQ ? st->kind[r->id] : 0;
    st->got++;
    if (k == 'a') {
        char *j = to_json(o);
        snprintf(st->admin_json, sizeof st->admin_json, "%s", j);
        free(j);
        if (reply_ok(o)) {
            st->new_gen = u64_of(ac_wire_get(o, "generation"));
            assert_int_equal(u64_of(ac_wire_get(o, "previous")), st->old_gen);
            st->acked = true;
        }
        st->admin_id = 0;
        return;
    }
    if (!reply_ok(o)) {
        if (k == 'g' && strcmp(error_code(o, code, sizeof code), "not_found") == 0) {
            st->not_found++; /* a get of an actor not computed since the reload */
            return;
        }
        st->failed++;
        fail_msg("request %llu failed: %s", (unsigned long long)r->id, to_json(o));
    }
    if (k == 's') {
        const msgpack_object *s = ac_wire_get(o, "stats");
        if (!st->acked && st->trigger_sent && u64_of(ac_wire_get(s, "reloads")) >= 1) {
            st->new_gen = u64_of(ac_wire_get(s, "generation"));
            st->acked = true;
            st->want_stats = false;
        }
        return;
    }
    const msgpack_object *snap = ac_wire_get(o, "snapshot");
    uint64_t gen = u64_of(ac_wire_get(snap, "Generation"));
    const msgpack_object *v = ac_wire_get(ac_wire_get(snap, "Primary"), "strength");
    assert_non_null(v);
    if (!st->old_gen)
        st->old_gen = gen; /* the first reply comes before any reload */
    bool old = gen == st->old_gen;
    if (!old && st->new_gen && gen != st->new_gen)
        fail_msg("a snapshot of a third generation: %s", to_json(o));
    if (v->via.f64 != (old ? st->old_value : st->new_value))
        fail_msg("generation %s but strength %g: %s", old ? "old" : "new", v->via.f64, to_json(o));
    if (st->acked && old)
        fail_msg("request %llu: a snapshot of the old generation after the reload's "
                 "acknowledgment: %s",
                 (unsigned long long)r->id, to_json(o));
    if (st->acked)
        st->new_after++;
    else if (old)
        st->old_before++;
    else
        st->new_before++;
}

/* Keeps WINDOW requests in flight until `until` returns true, then returns (the window
   stays full). Fails after 60 s. */
static void pump(stream_t *st, bool (*until)(const stream_t *), int64_t deadline_ms)
{
    int64_t end = zclock_mono() + deadline_ms;
    while (!until(st)) {
        while (ac_client_pending(st->c) < WINDOW && st->sent < MAXREQ - 1000)
            send_request(st);
        ac_reply_t r;
        recv_one(st->c, &r, 20000);
        check_reply(st, &r);
        if (zclock_mono() > end)
            fail_msg("the stream's condition did not hold after %lld ms", (long long)deadline_ms);
    }
}

static void settle(stream_t *st);

/* Receives what is still pending; the client saw one reply per request, never retried. */
static void finish(stream_t *st)
{
    settle(st);
    ac_client_stats_t cs;
    ac_client_stats(st->c, &cs);
    assert_int_equal(cs.sent, st->got);
    assert_int_equal(cs.retried + cs.duplicates + cs.timed_out, 0);
}

static bool warm(const stream_t *st)
{
    return st->got >= 1000;
}

static bool acked_and_1000_after(const stream_t *st)
{
    return st->acked && st->new_after >= 1000;
}

static bool admin_answered(const stream_t *st)
{
    return st->admin_id == 0;
}

/* Receives what is still pending, checking it. */
static void settle(stream_t *st)
{
    while (ac_client_pending(st->c)) {
        ac_reply_t r;
        recv_one(st->c, &r, 20000);
        check_reply(st, &r);
    }
}

/* A worker's stats counter, through the broker (one worker: its own); nothing else is in
   flight when it asks. */
static uint64_t worker_stat(stream_t *st, const char *name)
{
    settle(st);
    st->got++;
    uint64_t id = ac_client_next_id(st->c);
    assert_true(id <= MAXREQ);
    st->kind[id] = 'x';
    msgpack_packer *pk;
    ac_client_begin(st->c, &pk, "stats", id, 0);
    assert_int_equal(ac_client_send(st->c, id), 0);
    ac_reply_t r;
    recv_one(st->c, &r, 20000);
    assert_int_equal(r.id, id);
    return u64_of(ac_wire_get(ac_wire_get(parse_reply(&st->ps, &r), "stats"), name));
}

static char *read_log(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", svc_tmpdir(), name);
    size_t len;
    ac_error_t err;
    char *text = ac_read_file(path, 1 << 24, &len, &err);
    assert_non_null(text);
    return text;
}

typedef struct {
    svc_t s;
    char comb[400], subs[400], store[400];
    pid_t workers[2];
    int nworkers;
} rig_t;

static void rig_start(rig_t *g, const char *tag, int nworkers)
{
    memset(g, 0, sizeof *g);
    svc_ports(&g->s);
    snprintf(g->comb, sizeof g->comb, "%s/%s-combiner.yaml", svc_tmpdir(), tag);
    snprintf(g->subs, sizeof g->subs, "%s/%s-subsystems", svc_tmpdir(), tag);
    snprintf(g->store, sizeof g->store, "%s/%s.db", svc_tmpdir(), tag);
    mkdir(g->subs, 0755);
    write_combiner(g->comb, "999999", false);
    write_table(g->subs, "1000", false);
    svc_start_broker(&g->s, "200");
    g->nworkers = nworkers;
    for (int i = 0; i < nworkers; i++) {
        char log[64];
        snprintf(log, sizeof log, "%s-worker-%d.log", tag, i);
        const char *extra[] = {"--combiner", g->comb, "--subsystems", g->subs, NULL};
        g->workers[i] = svc_start_worker_with(&g->s, NULL, g->store, "200", "10000", extra, log);
    }
    svc_wait_stat(g->s.fe, "workers", (uint64_t)nworkers, 20000);
}

static void rig_stop(rig_t *g)
{
    for (int i = 0; i < g->nworkers; i++)
        assert_int_equal(svc_stop(g->workers[i], SIGTERM, 5000), 0);
    svc_stop(g->s.broker, SIGTERM, 5000);
}

static stream_t *stream_new(const rig_t *g, double old_value, double new_value)
{
    stream_t *st = calloc(1, sizeof *st);
    ac_client_config_t cfg = {.timeout_ms = 30000, .retries = 0};
    st->c = ac_client_new(g->s.fe, &cfg);
    assert_non_null(st->c);
    st->old_value = old_value;
    st->new_value = new_value;
    return st;
}

static void stream_destroy(stream_t **st_p)
{
    msgpack_zone_free((*st_p)->ps.zone);
    ac_client_destroy(&(*st_p)->c);
    free(*st_p);
    *st_p = NULL;
}

/* refused_rows < 0: not read (two workers: stats answers for one). */
static void report(const char *what, const stream_t *st, long long refused_rows)
{
    char rows[32] = "not read";
    if (refused_rows >= 0)
        snprintf(rows, sizeof rows, "%lld", refused_rows);
    fprintf(stderr,
            "reload under load (%s): %llu requests, %llu failed, %llu old / %llu new before the "
            "ack, %llu new and 0 old after it; gets not found after the reload %llu; L3 rows of "
            "the old generation refused %s\n",
            what, (unsigned long long)st->got, (unsigned long long)st->failed,
            (unsigned long long)st->old_before, (unsigned long long)st->new_before,
            (unsigned long long)st->new_after, (unsigned long long)st->not_found, rows);
}

/* SIGHUP with a changed subsystem table: strength 1000 -> 700. */
static void sighup_under_load_serves_no_old_snapshot_after_the_reload(void **state)
{
    (void)state;
    rig_t g;
    rig_start(&g, "hup", 1);
    stream_t *st = stream_new(&g, 1000, 700);
    pump(st, warm, 60000);
    write_table(g.subs, "700", false);
    st->trigger_sent = true;
    st->want_stats = true;
    kill(g.workers[0], SIGHUP);
    pump(st, acked_and_1000_after, 60000);
    finish(st);
    assert_int_equal(st->failed, 0);
    assert_true(st->new_gen != st->old_gen);
    uint64_t refused = worker_stat(st, "old_generation");
    assert_true(refused > 0); /* L3 held old rows, and they were not served */
    assert_int_equal(worker_stat(st, "reloads"), 1);
    char *log = read_log("hup-worker-0.log");
    assert_non_null(strstr(log, "event=reloaded generation="));
    free(log);
    /* `actorcore call admin reload`: nothing changed since, so the same generation again. */
    char cmd[600], out[4096];
    snprintf(cmd, sizeof cmd, "%s call admin reload --broker %s --timeout 10000", AC_CLI_PATH,
             g.s.fe);
    FILE *f = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    char want[64];
    snprintf(want, sizeof want, "\"generation\":%llu,", (unsigned long long)st->new_gen);
    if (!strstr(out, "\"reloads\":2") || !strstr(out, want))
        fail_msg("actorcore call admin reload: %s", out);
    snprintf(cmd, sizeof cmd, "%s call admin --broker %s 2>/dev/null", AC_CLI_PATH, g.s.fe);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2); /* no ACTION: a usage error */
    report("SIGHUP, a table changed", st, (long long)refused);
    stream_destroy(&st);
    rig_stop(&g);
}

/* admin reload through the broker, two workers sharing an L3 file, a changed cap:
   strength 1000 capped at 500. */
static void admin_reload_under_load_reaches_every_worker_before_its_answer(void **state)
{
    (void)state;
    rig_t g;
    rig_start(&g, "admin", 2);
    stream_t *st = stream_new(&g, 1000, 500);
    pump(st, warm, 60000);
    write_combiner(g.comb, "500", false);
    st->trigger_sent = true;
    send_admin(st);
    pump(st, acked_and_1000_after, 60000);
    finish(st);
    assert_int_equal(st->failed, 0);
    assert_true(st->new_gen != st->old_gen);
    /* Both workers reloaded (the broker sent the op to each): each says so in its log. */
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "admin-worker-%d.log", i);
        char *log = read_log(name);
        assert_non_null(strstr(log, "event=reloaded generation="));
        free(log);
    }
    report("admin reload, 2 workers, a cap changed", st, -1);
    stream_destroy(&st);
    rig_stop(&g);
}

/* A bad registry (admin), a bad table (SIGHUP) and a missing file (admin) are refused
   naming the file (and line); the old generation serves on, the stream fails nothing; then
   a good reload applies. */
static void a_bad_file_is_refused_with_its_line_and_the_old_generation_serves_on(void **state)
{
    (void)state;
    rig_t g;
    rig_start(&g, "bad", 1);
    stream_t *st = stream_new(&g, 1000, 500);
    pump(st, warm, 60000);
    write_combiner(g.comb, "500", true);
    send_admin(st);
    pump(st, admin_answered, 60000);
    if (!strstr(st->admin_json, "\"ok\":false") || !strstr(st->admin_json, "combiner.yaml:3:") ||
        !strstr(st->admin_json, "schema_violation"))
        fail_msg("expected a refusal naming bad-combiner.yaml:3: %s", st->admin_json);
    assert_false(st->acked);
    write_combiner(g.comb, "999999", false);
    write_table(g.subs, "1000", true);
    kill(g.workers[0], SIGHUP);
    /* The refusal is counted; the stream goes on, all of it on the old generation. */
    for (int64_t end = zclock_mono() + 20000; worker_stat(st, "reload_errors") < 2;) {
        if (zclock_mono() > end)
            fail_msg("the SIGHUP's refusal was never counted");
        uint64_t at = st->got;
        st->want_stats = false;
        while (st->got < at + 100) {
            while (ac_client_pending(st->c) < WINDOW)
                send_request(st);
            ac_reply_t r;
            recv_one(st->c, &r, 20000);
            check_reply(st, &r);
        }
    }
    assert_int_equal(st->new_before, 0);
    char *log = read_log("bad-worker-0.log");
    if (!strstr(log, "event=reload_refused code=schema_violation path=dimensions.agility.") ||
        !strstr(log, "msg=\"--combiner: ") || !strstr(log, "combiner.yaml:3:") ||
        !strstr(log, "msg=\"--subsystems: ") || !strstr(log, "tier.yaml:9:"))
        fail_msg("the log does not name both files and lines:\n%s", log);
    free(log);
    /* A registry file that is gone: refused naming it. */
    write_table(g.subs, "1000", false);
    char moved[420];
    snprintf(moved, sizeof moved, "%s.moved", g.comb);
    assert_int_equal(rename(g.comb, moved), 0);
    send_admin(st);
    pump(st, admin_answered, 60000);
    if (!strstr(st->admin_json, "\"ok\":false") || !strstr(st->admin_json, "--combiner: ") ||
        !strstr(st->admin_json, "bad-combiner.yaml"))
        fail_msg("expected a refusal naming the missing combiner: %s", st->admin_json);
    assert_int_equal(rename(moved, g.comb), 0);
    assert_int_equal(st->new_before, 0);
    /* A good file now: applied. */
    write_combiner(g.comb, "500", false);
    st->trigger_sent = true;
    send_admin(st);
    pump(st, acked_and_1000_after, 60000);
    finish(st);
    assert_int_equal(st->failed, 0);
    assert_int_equal(worker_stat(st, "reloads"), 1);
    report("three bad reloads refused, then a good one", st,
           (long long)worker_stat(st, "old_generation"));
    stream_destroy(&st);
    rig_stop(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sighup_under_load_serves_no_old_snapshot_after_the_reload),
        cmocka_unit_test(admin_reload_under_load_reaches_every_worker_before_its_answer),
        cmocka_unit_test(a_bad_file_is_refused_with_its_line_and_the_old_generation_serves_on),
    };
    return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
