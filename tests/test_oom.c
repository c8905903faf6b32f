/*  test_oom.c - what the library does when memory runs out (README "When memory runs out").

    Each path below runs once unarmed to count its allocations, then once per allocation
    with exactly that one failing (failalloc.h). Every run must end in the path's error
    code for an exhausted allocation, AC_ENOMEM (a store write that cannot get memory is
    dropped and counted, which the store path turns into AC_ENOMEM): never a crash, never a
    success that silently lost something, and under the ASan build never a leak (each run
    frees everything it made). */
#include "testutil.h"

#include <stdint.h>
#include <unistd.h>

#include "actorcore/client.h"
#include "actorcore/store.h"
#include "failalloc.h"

/* Project files read before arming (reading them is not the path under test). */
typedef struct {
    char *actor;   /* config/demo/actor.json */
    char *outputs; /* config/demo/outputs.json */
    ac_registry_t *reg;
    ac_subsystems_t *subs;
} oom_fx_t;

static oom_fx_t s_fx;

static int setup(void **state)
{
    (void)state;
    s_fx.actor = tu_slurp(AC_SOURCE_DIR "/config/demo/actor.json");
    s_fx.outputs = tu_slurp(AC_SOURCE_DIR "/config/demo/outputs.json");
    ac_error_t err;
    s_fx.reg = ac_registry_load(AC_SOURCE_DIR "/config/combiner.yaml",
                                AC_SOURCE_DIR "/config/cap_layers.yaml", &err);
    s_fx.subs =
        s_fx.reg ? ac_subsystems_load(s_fx.reg, AC_SOURCE_DIR "/config/subsystems", &err) : NULL;
    return s_fx.actor && s_fx.outputs && s_fx.subs ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ac_subsystems_destroy(&s_fx.subs);
    ac_registry_destroy(&s_fx.reg);
    free(s_fx.actor);
    free(s_fx.outputs);
    return 0;
}

/* A path: 0 on success, else the code it failed with; frees all it made either way. */
typedef int path_fn(void);

/* Runs fn unarmed, then with each of its allocations failing in turn. Returns the count. */
static size_t sweep(const char *name, path_fn *fn)
{
    fa_arm(0);
    int rc = fn();
    size_t n = fa_disarm();
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    for (size_t i = 1; i <= n; i++) {
        fa_arm(i);
        rc = fn();
        fa_disarm();
        if (!fa_failed())
            fail_msg("%s: allocation %zu of %zu was not reached", name, i, n);
        if (rc != AC_ENOMEM)
            fail_msg("%s: allocation %zu of %zu failed: code %d (%s), expected AC_ENOMEM", name, i,
                     n, rc, rc ? ac_code_name(rc) : "success");
    }
    print_message("%s: %zu allocations, each failed once: AC_ENOMEM every time\n", name, n);
    return n;
}

/* The code a failed constructor left in err (AC_ENOMEM), checked to be an error. */
static int err_code(const ac_error_t *err)
{
    return err->code ? err->code : AC_EINTERNAL;
}

/* ---- the paths ---- */

static int path_registry(void)
{
    ac_error_t err = {0};
    ac_registry_t *reg = ac_registry_load(AC_SOURCE_DIR "/config/combiner.yaml",
                                          AC_SOURCE_DIR "/config/cap_layers.yaml", &err);
    if (!reg)
        return err_code(&err);
    ac_registry_destroy(&reg);
    return 0;
}

static int path_subsystems(void)
{
    ac_error_t err = {0};
    ac_subsystems_t *subs = ac_subsystems_load(s_fx.reg, AC_SOURCE_DIR "/config/subsystems", &err);
    if (!subs)
        return err_code(&err);
    ac_subsystems_destroy(&subs);
    return 0;
}

/* The library API: a request built by hand (begin_output, add_contribution, add_cap,
   add_context) and resolved. */
static int path_resolve_api(void)
{
    ac_error_t err = {0};
    ac_request_t *req = ac_request_new(s_fx.reg);
    ac_resolver_t *r = req ? ac_resolver_new(s_fx.reg) : NULL;
    int rc = r ? 0 : AC_ENOMEM;
    const double mult[] = {1.5, 1.2};
    rc = rc ? rc : ac_request_set_actor(req, "hero", 3, &err);
    rc = rc ? rc : ac_request_begin_output(req, "items", &err);
    for (int i = 0; i < 40 && !rc; i++)
        rc = ac_request_add_contribution(req, i % 2 ? AC_DERIVED : AC_PRIMARY,
                                         i % 3 ? "strength" : "hp_max", (ac_bucket_t)(i % 3),
                                         i * 0.5, i % 4 ? "items" : "buffs", i % 5, &err);
    rc = rc ? rc
            : ac_request_add_cap(req, "strength", AC_CAP_HARD_MAX, AC_KIND_MAX, 500, "world", 0,
                                 "WORLD", NULL, &err);
    rc = rc ? rc : ac_request_add_context(req, "pvp", 0.2, mult, 2, 50, &err);
    const ac_snapshot_t *snap;
    rc = rc ? rc : ac_resolve(r, req, &snap, &err);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    return rc;
}

/* The worker's path: the demo actor through its six subsystems (W2). */
static int path_resolve_subsystems(void)
{
    ac_error_t err = {0};
    ac_request_t *req = ac_request_new(s_fx.reg);
    ac_resolver_t *r = req ? ac_resolver_new(s_fx.reg) : NULL;
    int rc = r ? 0 : AC_ENOMEM;
    rc = rc ? rc : ac_subsystems_install(s_fx.subs, r, &err);
    rc = rc ? rc : ac_decode_actor_json(req, s_fx.actor, strlen(s_fx.actor), &err);
    const ac_snapshot_t *snap;
    rc = rc ? rc : ac_resolve(r, req, &snap, &err);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    return rc;
}

/* JSON in and out: outputs decoded, resolved, the snapshot written as JSON. */
static int path_codec_json(void)
{
    ac_error_t err = {0};
    ac_request_t *req = ac_request_new(s_fx.reg);
    ac_resolver_t *r = req ? ac_resolver_new(s_fx.reg) : NULL;
    int rc = r ? 0 : AC_ENOMEM;
    rc = rc ? rc : ac_decode_outputs_json(req, s_fx.outputs, strlen(s_fx.outputs), &err);
    const ac_snapshot_t *snap;
    rc = rc ? rc : ac_resolve(r, req, &snap, &err);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    rc = rc ? rc : ac_snapshot_to_json(snap, s_fx.reg, &out);
    msgpack_sbuffer_destroy(&out);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    return rc;
}

/* msgpack in and out: the outputs packed (unarmed, from JSON), parsed, decoded, resolved,
   the snapshot packed both ways (the packer and the fast buffer writer). */
static int path_codec_msgpack(void)
{
    static msgpack_sbuffer packed; /* the request's outputs as msgpack, made once */
    if (!packed.size) {
        msgpack_zone z;
        msgpack_zone_init(&z, 4096);
        msgpack_object o;
        ac_error_t e;
        assert_int_equal(ac_json_parse(s_fx.outputs, strlen(s_fx.outputs), &z, &o, &e), 0);
        msgpack_sbuffer_init(&packed);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &packed, msgpack_sbuffer_write);
        assert_int_equal(msgpack_pack_object(&pk, o), 0);
        msgpack_zone_destroy(&z);
        return -1; /* the caller re-runs it armed */
    }
    ac_error_t err = {0};
    ac_request_t *req = ac_request_new(s_fx.reg);
    ac_resolver_t *r = req ? ac_resolver_new(s_fx.reg) : NULL;
    int rc = r ? 0 : AC_ENOMEM;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object o;
    rc = rc ? rc : ac_msgpack_parse(packed.data, packed.size, &zone, &o, &err);
    rc = rc ? rc : ac_decode_outputs(req, &o, "outputs", &err);
    const ac_snapshot_t *snap;
    rc = rc ? rc : ac_resolve(r, req, &snap, &err);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    rc = rc ? rc : ac_snapshot_pack(&pk, snap, s_fx.reg, "hero", 4);
    rc = rc ? rc : ac_snapshot_pack_buffer(&out, snap, s_fx.reg, "hero", 4);
    msgpack_sbuffer_destroy(&out);
    msgpack_zone_destroy(&zone);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    return rc;
}

/* The L3 store: open (create + migrate), a write queued and committed, read back, closed.
   A write that cannot get memory is dropped (ac_store_put -1, counted). */
static int path_store(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/ac_test_oom_%d.db", (int)getpid());
    unlink(path);
    ac_error_t err = {0};
    ac_store_t *s = ac_store_open(path, 16, &err);
    int rc = s ? 0 : err_code(&err);
    ac_cache_key_t key = {"hero", 4, 3, 42, 7, 0};
    if (!rc && ac_store_put(s, &key, "snapshot-bytes", 14) != 0) {
        ac_store_stats_t st;
        ac_store_stats(s, &st);
        assert_int_equal(st.dropped, 1);
        rc = AC_ENOMEM;
    }
    if (!rc) {
        ac_store_flush(s);
        ac_stored_t got = {0};
        int found = ac_store_get(s, "hero", 4, &got, &err);
        if (found == 1) {
            assert_int_equal(got.value_len, 14);
            assert_memory_equal(got.value, "snapshot-bytes", 14);
        } else
            rc = found < 0 ? found : AC_EINTERNAL;
        free(got.value);
    }
    ac_store_close(&s);
    unlink(path);
    char side[80];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return rc;
}

/* ---- the tests ---- */

static void loading_a_registry_survives_every_failed_allocation(void **state)
{
    (void)state;
    sweep("registry load", path_registry);
}

static void loading_subsystem_tables_survives_every_failed_allocation(void **state)
{
    (void)state;
    sweep("subsystems load", path_subsystems);
}

static void resolving_through_the_api_survives_every_failed_allocation(void **state)
{
    (void)state;
    sweep("resolve (API)", path_resolve_api);
}

static void resolving_with_subsystems_survives_every_failed_allocation(void **state)
{
    (void)state;
    sweep("resolve (subsystems, W2)", path_resolve_subsystems);
}

static void json_decode_and_encode_survive_every_failed_allocation(void **state)
{
    (void)state;
    sweep("codec JSON", path_codec_json);
}

static void msgpack_decode_and_encode_survive_every_failed_allocation(void **state)
{
    (void)state;
    assert_int_equal(path_codec_msgpack(), -1); /* packs the input */
    sweep("codec msgpack", path_codec_msgpack);
}

static void the_store_survives_every_failed_allocation(void **state)
{
    (void)state;
    sweep("store", path_store);
}

/* One request and one resolver reused for 300 actors, each with its own long id, its own
   system names and dimensions under the default rule (a new name each time), allocate
   nothing after the first few: a reset gives back the arena and every interned name. */
static void a_reused_request_allocates_nothing_after_warm_up(void **state)
{
    (void)state;
    const char *combiner =
        "dimensions:\n"
        "  strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }\n"
        "default: { use_pipeline: true, clamp_default: { min: -1e9, max: 1e9 } }\n";
    const char *layers = "order: [TOTAL]\n";
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load_buffers("c", combiner, strlen(combiner), "l", layers,
                                                  strlen(layers), &err);
    assert_non_null(reg);
    ac_request_t *req = ac_request_new(reg);
    ac_resolver_t *r = ac_resolver_new(reg);
    assert_non_null(req);
    assert_non_null(r);
    size_t allocs = 0;
    for (int i = 0; i < 300; i++) {
        if (i == 5)
            fa_arm(0); /* warmed up: count from here */
        char id[160], sys[32], dim[32];
        snprintf(id, sizeof id, "actor-%04d-%0100d", i, i);
        snprintf(sys, sizeof sys, "system_%d", i);
        snprintf(dim, sizeof dim, "extra_%d", i);
        ac_request_reset(req);
        assert_int_equal(ac_request_set_actor(req, id, i + 1, &err), 0);
        assert_true(ac_request_begin_output(req, sys, &err) >= 0);
        assert_int_equal(
            ac_request_add_contribution(req, AC_PRIMARY, "strength", AC_FLAT, i, sys, 1, &err), 0);
        assert_int_equal(
            ac_request_add_contribution(req, AC_PRIMARY, dim, AC_FLAT, 2.0 * i, sys, 1, &err), 0);
        const ac_snapshot_t *snap;
        assert_int_equal(ac_resolve(r, req, &snap, &err), 0);
        assert_int_equal(ac_snapshot_dimension_count(snap), 2);
    }
    allocs = fa_disarm();
    assert_int_equal(allocs, 0);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
}

/* The request's arena hands out its small copies from shared chunks: decoding an actor
   whose data holds 200 strings costs a handful of allocations (the JSON parser's zone,
   the arena's chunks), not one per string. */
static void a_decode_takes_its_copies_from_shared_chunks(void **state)
{
    (void)state;
    ac_error_t err;
    ac_registry_t *reg = tu_registry(TU_COMBINER, TU_LAYERS);
    char text[16384];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"id\":\"a\",\"version\":1,\"data\":{");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\"k%03d\":\"value %03d\"", i ? "," : "",
                              i, i);
    snprintf(text + n, sizeof text - n, "}}");
    ac_request_t *req = ac_request_new(reg);
    assert_non_null(req);
    fa_arm(0);
    assert_int_equal(ac_decode_actor_json(req, text, strlen(text), &err), 0);
    size_t allocs = fa_disarm();
    if (allocs > 16)
        fail_msg("%zu allocations to decode 400 strings", allocs);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
}

/* The client, when a request cannot get memory: ac_client_send_raw fails (-1), nothing
   is left pending, nothing leaks, and the next request goes as usual. */
static void a_client_send_without_memory_fails_and_holds_nothing(void **state)
{
    (void)state;
    ac_client_config_t cfg = {.timeout_ms = 50, .retries = 0};
    ac_client_t *c = ac_client_new("tcp://127.0.0.1:9", &cfg); /* nothing listens */
    assert_non_null(c);
    static const char body[] = "\x82\xa2op\xa4ping\xa2id\x01";
    fa_arm(0);
    assert_int_equal(ac_client_send_raw(c, 1, body, sizeof body - 1), 0);
    size_t n = fa_disarm();
    assert_true(n >= 2); /* the pending entry and its copy of the body, at least */
    ac_reply_t r;
    assert_int_equal(ac_client_recv(c, &r, 2000), 1); /* its timeout */
    for (size_t k = 1; k <= 2; k++) {
        fa_arm(k);
        int rc = ac_client_send_raw(c, 2, body, sizeof body - 1);
        fa_disarm();
        assert_int_equal(rc, -1);
        assert_int_equal(ac_client_pending(c), 0);
    }
    assert_int_equal(ac_client_send_raw(c, 2, body, sizeof body - 1), 0);
    assert_int_equal(ac_client_pending(c), 1);
    ac_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loading_a_registry_survives_every_failed_allocation),
        cmocka_unit_test(loading_subsystem_tables_survives_every_failed_allocation),
        cmocka_unit_test(resolving_through_the_api_survives_every_failed_allocation),
        cmocka_unit_test(resolving_with_subsystems_survives_every_failed_allocation),
        cmocka_unit_test(json_decode_and_encode_survive_every_failed_allocation),
        cmocka_unit_test(msgpack_decode_and_encode_survive_every_failed_allocation),
        cmocka_unit_test(the_store_survives_every_failed_allocation),
        cmocka_unit_test(a_reused_request_allocates_nothing_after_warm_up),
        cmocka_unit_test(a_decode_takes_its_copies_from_shared_chunks),
        cmocka_unit_test(a_client_send_without_memory_fails_and_holds_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
