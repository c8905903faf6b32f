/*  test_ingest.c - actor changes in over PUSH and PUB (broker/ingest.c), snapshots out on
    the events, with real processes: 10,000 changes from 4 producers end in every actor's
    last snapshot (equal to a direct resolve of its last change) with increasing versions per
    actor; a burst of 20 changes to one actor costs at most 2 resolves; malformed changes are
    counted and the stream goes on; a Python producer on plain pyzmq feeds it (PUSH and PUB).
*/
#include <czmq.h>

#include "reply.h"
#include "svc.h"

#define NPRODUCERS 4
#define NACTORS 200
#define NVERSIONS 50

typedef struct {
    svc_t s;
    char pull[64], sub[64];
    pid_t workers[2];
} ingest_setup_t;

static void setup_start(ingest_setup_t *t, bool with_sub)
{
    memset(t, 0, sizeof *t);
    svc_ports(&t->s);
    snprintf(t->pull, sizeof t->pull, "tcp://127.0.0.1:%d", svc_free_port());
    snprintf(t->sub, sizeof t->sub, "tcp://127.0.0.1:%d", svc_free_port());
    const char *extra[] = {
        "--events-hwm", "100000", "--ingest-pull", t->pull, with_sub ? "--ingest-sub" : NULL,
        t->sub,         NULL};
    svc_start_broker_with(&t->s, "500", extra, "ingest-broker.log");
    for (int w = 0; w < 2; w++)
        t->workers[w] =
            svc_start_worker_with(&t->s, NULL, "none", "500", "10000", NULL, "ingest-worker.log");
    svc_wait_stat(t->s.fe, "workers", 2, 20000);
}

static void setup_stop(ingest_setup_t *t)
{
    for (int w = 0; w < 2; w++)
        svc_stop(t->workers[w], SIGTERM, 3000);
    svc_stop(t->s.broker, SIGTERM, 3000);
}

static uint64_t bstat(const ingest_setup_t *t, const char *name)
{
    return svc_broker_stat_as(t->s.fe, name, NULL, NULL);
}

/* The change {actor: {id, version}, outputs: strength = version * 10 + salt} in sb. */
static void pack_change(msgpack_sbuffer *sb, const char *actor, int version, int salt)
{
    char outs[512];
    one_flat(outs, sizeof outs, "strength", version * 10 + salt);
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_json_parse(outs, strlen(outs), zone, &o, &err), 0);
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ac_wire_pack_str(&pk, "actor");
    msgpack_pack_map(&pk, 2);
    ac_wire_pack_str(&pk, "id");
    ac_wire_pack_str(&pk, actor);
    ac_wire_pack_str(&pk, "version");
    msgpack_pack_int(&pk, version);
    ac_wire_pack_str(&pk, "outputs");
    msgpack_pack_object(&pk, o);
    msgpack_zone_free(zone);
}

static zsock_t *subscriber(const ingest_setup_t *t, const char *prefix)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_rcvhwm(sub, 1000000);
    zsock_set_subscribe(sub, prefix);
    assert_int_equal(zsock_connect(sub, "%s", t->s.eout), 0);
    zclock_sleep(300); /* the subscription reaches the forwarder */
    return sub;
}

/* One event [topic][snapshot] within ms, parsed into o (which points into a copy of the
   bytes: valid until the next call); false when none came. */
static bool next_event(zsock_t *sub, int ms, char *topic, size_t tsize, msgpack_zone *zone,
                       msgpack_object *o)
{
    static char *s_body;
    free(s_body);
    s_body = NULL;
    zpoller_t *p = zpoller_new(sub, NULL);
    zmsg_t *m = zpoller_wait(p, ms) ? zmsg_recv(sub) : NULL;
    zpoller_destroy(&p);
    if (!m)
        return false;
    zframe_t *t = zmsg_first(m), *body = zmsg_next(m);
    assert_non_null(body);
    snprintf(topic, tsize, "%.*s", (int)zframe_size(t), (const char *)zframe_data(t));
    size_t n = zframe_size(body);
    s_body = malloc(n ? n : 1);
    memcpy(s_body, zframe_data(body), n);
    zmsg_destroy(&m);
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(s_body, n, zone, o, &err), 0);
    return true;
}

static int64_t version_of(const msgpack_object *snap)
{
    const msgpack_object *v = ac_wire_get(snap, "Version");
    return v ? (int64_t)v->via.u64 : -1;
}

static void ten_thousand_changes_from_four_producers_end_in_each_actors_last_snapshot(void **s)
{
    (void)s;
    ingest_setup_t t;
    setup_start(&t, false);
    zsock_t *sub = subscriber(&t, "snap/ing-");
    zsock_t *push[NPRODUCERS];
    for (int i = 0; i < NPRODUCERS; i++) {
        push[i] = zsock_new(ZMQ_PUSH);
        zsock_set_sndhwm(push[i], 100000);
        assert_int_equal(zsock_connect(push[i], "%s", t.pull), 0);
    }
    /* Producer i owns actors i, i + 4, ...: each sends its actors' versions 1..50, the
       actors interleaved, so every actor's changes come in order from one producer. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char actor[32];
    for (int v = 1; v <= NVERSIONS; v++)
        for (int a = 0; a < NACTORS; a++) {
            snprintf(actor, sizeof actor, "ing-%03d", a);
            pack_change(&sb, actor, v, a);
            zmsg_t *m = zmsg_new();
            zmsg_addstr(m, "zone/change");
            zmsg_addmem(m, sb.data, sb.size);
            assert_int_equal(zmsg_send(&m, push[a % NPRODUCERS]), 0);
        }
    int64_t seen[NACTORS];
    char *last[NACTORS] = {0};
    for (int a = 0; a < NACTORS; a++)
        seen[a] = 0;
    int complete = 0;
    msgpack_zone *zone = msgpack_zone_new(65536);
    char topic[64];
    msgpack_object o;
    while (complete < NACTORS) {
        msgpack_zone_clear(zone);
        if (!next_event(sub, 30000, topic, sizeof topic, zone, &o))
            fail_msg("%d of %d actors reached version %d (in %llu, queued %llu, resolved %llu, "
                     "failed %llu, actors %llu)",
                     complete, NACTORS, NVERSIONS, (unsigned long long)bstat(&t, "ingest_received"),
                     (unsigned long long)bstat(&t, "ingest_queued"),
                     (unsigned long long)bstat(&t, "ingest_resolved"),
                     (unsigned long long)bstat(&t, "ingest_failed"),
                     (unsigned long long)bstat(&t, "ingest_actors"));
        int a = atoi(topic + strlen("snap/ing-"));
        assert_true(a >= 0 && a < NACTORS);
        int64_t v = version_of(&o);
        if (v < seen[a])
            fail_msg("actor %d: version %lld after %lld", a, (long long)v, (long long)seen[a]);
        if (v == NVERSIONS && seen[a] < NVERSIONS)
            complete++;
        seen[a] = v;
        free(last[a]);
        last[a] = to_json(&o);
    }
    /* Each last snapshot equals a direct resolve of the last change. */
    ac_client_t *c = ac_client_new(t.s.fe, NULL);
    parsed_t p = {0};
    for (int a = 0; a < NACTORS; a++) {
        snprintf(actor, sizeof actor, "ing-%03d", a);
        pack_change(&sb, actor, NVERSIONS, a);
        msgpack_zone_clear(zone);
        msgpack_object item;
        ac_error_t err;
        assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &item, &err), 0);
        uint64_t id = ac_client_next_id(c);
        msgpack_packer *pk;
        ac_client_begin(c, &pk, "resolve", id, 3);
        ac_wire_pack_str(pk, "actor");
        msgpack_pack_object(pk, *ac_wire_get(&item, "actor"));
        ac_wire_pack_str(pk, "outputs");
        msgpack_pack_object(pk, *ac_wire_get(&item, "outputs"));
        ac_wire_pack_str(pk, "cache");
        ac_wire_pack_str(pk, "bypass");
        assert_int_equal(ac_client_send(c, id), 0);
        ac_reply_t r;
        recv_one(c, &r, 10000);
        const msgpack_object *ro = parse_reply(&p, &r);
        assert_true(reply_ok(ro));
        char *want = to_json(ac_wire_get(ro, "snapshot"));

        assert_string_equal(last[a], want);
        free(want);
        free(last[a]);
    }
    uint64_t received = bstat(&t, "ingest_received"), queued = bstat(&t, "ingest_queued");
    fprintf(stderr, "ingest: %llu changes in, %llu resolves, %llu coalesced\n",
            (unsigned long long)received, (unsigned long long)queued,
            (unsigned long long)bstat(&t, "ingest_coalesced"));
    assert_int_equal(received, NACTORS * NVERSIONS);
    assert_true(queued <= received);
    assert_int_equal(bstat(&t, "ingest_malformed"), 0);
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
    for (int i = 0; i < NPRODUCERS; i++)
        zsock_destroy(&push[i]);
    zsock_destroy(&sub);
    setup_stop(&t);
}

static void a_burst_of_twenty_changes_costs_at_most_two_resolves(void **s)
{
    (void)s;
    ingest_setup_t t;
    setup_start(&t, false);
    zsock_t *sub = subscriber(&t, "snap/burst");
    zsock_t *push = zsock_new(ZMQ_PUSH);
    assert_int_equal(zsock_connect(push, "%s", t.pull), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_zone *zone = msgpack_zone_new(65536);
    char topic[64];
    msgpack_object o;
    /* A first change, to have the connection up. */
    pack_change(&sb, "burst-0", 1, 0);
    zsock_send(push, "sb", "t", sb.data, sb.size);
    assert_true(next_event(sub, 10000, topic, sizeof topic, zone, &o));
    uint64_t before = bstat(&t, "ingest_queued"), received = bstat(&t, "ingest_received");
    /* 20 changes to one actor in one burst: the first goes in, the other 19 wait and
       replace one another, the last of them goes in when the first is done. The workers
       are stopped until the broker has read all 20, so that "in one burst" holds whatever
       the machine's load (else a worker may finish the first before the rest arrive). */
    for (int w = 0; w < 2; w++)
        kill(t.workers[w], SIGSTOP);
    zmsg_t *burst[20];
    for (int v = 1; v <= 20; v++) {
        pack_change(&sb, "burst-1", v, 1);
        burst[v - 1] = zmsg_new();
        zmsg_addstr(burst[v - 1], "t");
        zmsg_addmem(burst[v - 1], sb.data, sb.size);
    }
    for (int v = 0; v < 20; v++)
        zmsg_send(&burst[v], push);
    svc_wait_stat(t.s.fe, "ingest_received", received + 20, 10000);
    for (int w = 0; w < 2; w++)
        kill(t.workers[w], SIGCONT);
    int64_t got = 0;
    while (got < 20) {
        msgpack_zone_clear(zone);
        if (!next_event(sub, 10000, topic, sizeof topic, zone, &o))
            fail_msg("the burst's last version never came (last seen %lld)", (long long)got);
        int64_t v = version_of(&o);
        assert_true(v >= got);
        got = v;
    }
    uint64_t resolves = bstat(&t, "ingest_queued") - before;
    fprintf(stderr, "burst: 20 changes, %llu resolves, %llu coalesced\n",
            (unsigned long long)resolves, (unsigned long long)bstat(&t, "ingest_coalesced"));
    assert_true(resolves >= 1 && resolves <= 2);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
    zsock_destroy(&push);
    zsock_destroy(&sub);
    setup_stop(&t);
}

static void malformed_changes_are_counted_and_the_stream_goes_on(void **s)
{
    (void)s;
    ingest_setup_t t;
    setup_start(&t, false);
    zsock_t *sub = subscriber(&t, "snap/after-bad");
    zsock_t *push = zsock_new(ZMQ_PUSH);
    assert_int_equal(zsock_connect(push, "%s", t.pull), 0);
    /* garbage, one frame, three frames, a list, no actor, an unknown field, a bad id, a
       negative version, a string version, a negative int8 version, a byte after the map,
       an id past 128 bytes (str8), a map cut short, no version (another field in its
       place) */
    const char *bodies[][2] = {
        {"\xc1\xc1\xc1", NULL},
        {"\x81\xa5"
         "actor"
         "\x81\xa2id\xa1x",
         "one frame"},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\x01",
         "three frames"},
        {"\x92\x01\x02", NULL},
        {"\x81\xa7outputs\x90", NULL},
        {"\x82\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\x01\xa5"
         "extra\x01",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\x01\xa7version\x01",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\xff",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\xa1"
         "1",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\xd0\xff",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\x01\x01",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xd9\x81"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "x\xa7version\x01",
         NULL},
        {"\x82\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa7version\x01",
         NULL},
        {"\x81\xa5"
         "actor"
         "\x82\xa2id\xa1x\xa5level\x07",
         NULL},
    };
    int n = (int)(sizeof bodies / sizeof bodies[0]);
    for (int i = 0; i < n; i++) {
        zmsg_t *m = zmsg_new();
        if (!bodies[i][1] || strcmp(bodies[i][1], "three frames") == 0)
            zmsg_addstr(m, "t");
        zmsg_addmem(m, bodies[i][0], strlen(bodies[i][0]));
        if (bodies[i][1] && strcmp(bodies[i][1], "three frames") == 0)
            zmsg_addstr(m, "more");
        zmsg_send(&m, push);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_change(&sb, "after-bad", 3, 0);
    ac_client_config_t cfg = {.ingest = t.pull}; /* the library's way in */
    ac_client_t *c = ac_client_new(t.s.fe, &cfg);
    assert_int_equal(ac_client_publish(c, "zone/change", sb.data, sb.size), 0);
    msgpack_zone *zone = msgpack_zone_new(65536);
    char topic[64];
    msgpack_object o;
    assert_true(next_event(sub, 10000, topic, sizeof topic, zone, &o));
    assert_string_equal(topic, "snap/after-bad");
    assert_int_equal(version_of(&o), 3);
    assert_int_equal(bstat(&t, "ingest_malformed"), (uint64_t)n);
    assert_int_equal(bstat(&t, "ingest_received"), 1);
    /* Forms a packer may choose are taken as they come: a str8 key, the version before the
       id and as an int8; the snapshot's topic is the id's. */
    static const char odd[] = "\x81\xd9\x05"
                              "actor"
                              "\x82\xa7version\xd0\x04\xa2id\xa9"
                              "after-bad";
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "t");
    zmsg_addmem(m, odd, sizeof odd - 1);
    zmsg_send(&m, push);
    assert_true(next_event(sub, 10000, topic, sizeof topic, zone, &o));
    assert_string_equal(topic, "snap/after-bad");
    assert_int_equal(version_of(&o), 4);
    assert_int_equal(bstat(&t, "ingest_malformed"), (uint64_t)n);
    assert_int_equal(bstat(&t, "ingest_received"), 2);
    ac_client_destroy(&c);
    ac_client_config_t none = {0};
    c = ac_client_new(t.s.fe, &none);
    assert_int_equal(ac_client_publish(c, "t", sb.data, sb.size), -1); /* no ingest endpoint */
    ac_client_destroy(&c);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
    zsock_destroy(&push);
    zsock_destroy(&sub);
    setup_stop(&t);
}

/* A change's actor.version is read in every integer form a packer may choose, the id as a
   fixstr up to its 31-byte limit, and the version found past other fields of the actor:
   each case's version V, then V - 1 (stale: dropped and counted) and V + 1 (waits behind V,
   no worker being there to answer) tell a misread version apart from the right one. */
static void every_integer_form_of_a_version_orders_the_changes(void **s)
{
    (void)s;
    svc_t e;
    svc_ports(&e);
    char pull[64];
    snprintf(pull, sizeof pull, "tcp://127.0.0.1:%d", svc_free_port());
    const char *extra[] = {"--ingest-pull", pull, NULL};
    svc_start_broker_with(&e, "500", extra, "ingest-forms-broker.log"); /* no worker */
    static const struct {
        const char *id, *before; /* before: the actor's fields ahead of version */
        const char *form;        /* the version's bytes */
        size_t form_len;
        int64_t v;
    } cases[] = {
        {"u8", "", "\xcc\xc8", 2, 200},
        {"u16", "", "\xcd\x01\x2c", 3, 300},
        {"u32", "", "\xce\x00\x01\x11\x70", 5, 70000},
        {"u64", "", "\xcf\x00\x00\x00\x01\x2a\x05\xf2\x00", 9, 5000000000},
        {"i8", "", "\xd0\x64", 2, 100},
        {"i16", "", "\xd1\x01\x2c", 3, 300},
        {"i32", "", "\xd2\x00\x01\x11\x70", 5, 70000},
        {"i64", "", "\xd3\x00\x00\x00\x01\x65\xa0\xbc\x00", 9, 6000000000},
        {"thirty-one-bytes-of-an-actor-id", "", "\x05", 1, 5},
        {"after-level", "\xa5level\x07", "\xcd\x01\x2c", 3, 300},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    zsock_t *push = zsock_new(ZMQ_PUSH);
    assert_int_equal(zsock_connect(push, "%s", pull), 0);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            msgpack_pack_map(&pk, 1);
            ac_wire_pack_str(&pk, "actor");
            msgpack_pack_map(&pk, *cases[i].before ? 3 : 2);
            ac_wire_pack_str(&pk, "id");
            ac_wire_pack_str(&pk, cases[i].id);
            msgpack_sbuffer_write(&sb, cases[i].before, strlen(cases[i].before));
            ac_wire_pack_str(&pk, "version");
            if (k == 0)
                msgpack_sbuffer_write(&sb, cases[i].form, cases[i].form_len);
            else
                msgpack_pack_int64(&pk, cases[i].v + (k == 1 ? -1 : 1));
            zmsg_t *m = zmsg_new();
            zmsg_addstr(m, "t");
            zmsg_addmem(m, sb.data, sb.size);
            zmsg_send(&m, push);
            msgpack_sbuffer_destroy(&sb);
        }
    svc_wait_stat(e.fe, "ingest_received", (uint64_t)(3 * n), 10000);
    assert_int_equal(svc_broker_stat(e.fe, "ingest_malformed"), 0);
    assert_int_equal(svc_broker_stat(e.fe, "ingest_stale"), (uint64_t)n);
    assert_int_equal(svc_broker_stat(e.fe, "ingest_queued"), (uint64_t)n);
    assert_int_equal(svc_broker_stat(e.fe, "ingest_coalesced"), 0);
    zsock_destroy(&push);
    svc_stop(e.broker, SIGTERM, 3000);
}

/* tests/ingest_producer.py on plain pyzmq, over PUSH and over PUB. */
static void a_python_producer_feeds_it_over_push_and_pub(void **s)
{
    (void)s;
    ingest_setup_t t;
    setup_start(&t, true);
    zsock_t *sub = subscriber(&t, "snap/py-");
    const char *push[] = {"/usr/bin/python3",
                          AC_SOURCE_DIR "/tests/ingest_producer.py",
                          "push",
                          t.pull,
                          "py-push",
                          "4",
                          "41",
                          NULL};
    pid_t p1 = svc_spawn(push, "py-push.log");
    const char *pub[] = {"/usr/bin/python3",
                         AC_SOURCE_DIR "/tests/ingest_producer.py",
                         "pub",
                         t.sub,
                         "py-pub",
                         "7",
                         "72",
                         "3",
                         NULL};
    pid_t p2 = svc_spawn(pub, "py-pub.log");
    msgpack_zone *zone = msgpack_zone_new(65536);
    char topic[64];
    msgpack_object o;
    bool got_push = false, got_pub = false;
    for (int64_t end = zclock_mono() + 15000; (!got_push || !got_pub) && zclock_mono() < end;) {
        msgpack_zone_clear(zone);
        if (!next_event(sub, 1000, topic, sizeof topic, zone, &o))
            continue;
        const msgpack_object *str = ac_wire_get(ac_wire_get(&o, "Primary"), "strength");
        if (strcmp(topic, "snap/py-push") == 0) {
            assert_int_equal(version_of(&o), 4);
            assert_true(str && str->via.f64 == 41);
            got_push = true;
        } else if (strcmp(topic, "snap/py-pub") == 0) {
            assert_int_equal(version_of(&o), 7);
            assert_true(str && str->via.f64 == 72);
            got_pub = true;
        }
    }
    assert_true(got_push);
    assert_true(got_pub);
    svc_stop(p1, SIGTERM, 5000);
    svc_stop(p2, SIGTERM, 5000);
    msgpack_zone_free(zone);
    zsock_destroy(&sub);
    setup_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_changes_are_counted_and_the_stream_goes_on),
        cmocka_unit_test(every_integer_form_of_a_version_orders_the_changes),
        cmocka_unit_test(a_burst_of_twenty_changes_costs_at_most_two_resolves),
        cmocka_unit_test(a_python_producer_feeds_it_over_push_and_pub),
        cmocka_unit_test(ten_thousand_changes_from_four_producers_end_in_each_actors_last_snapshot),
    };
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
