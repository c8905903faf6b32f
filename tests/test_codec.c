/*  test_codec.c - the schema walk through JSON and msgpack: every error code with its
    path, hostile framing, number handling, and snapshot encodings. */
#include "testutil.h"
#include "actorcore/wire.h"
#include "codec/numfmt.h"

static ac_registry_t *s_reg;

static int setup(void **state)
{
    (void)state;
    s_reg = tu_registry(TU_COMBINER, TU_LAYERS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ac_registry_destroy(&s_reg);
    return 0;
}

/* Decodes JSON outputs and expects the given code and path. */
static void expect_json_error(const char *text, int code, const char *path)
{
    ac_request_t *req = ac_request_new(s_reg);
    ac_error_t err;
    ac_error_clear(&err);
    int rc = ac_decode_outputs_json(req, text, strlen(text), &err);
    if (rc != code || (path && strcmp(err.path, path) != 0))
        fail_msg("input %.120s\n  got %s at '%s' (%s), expected %s at '%s'", text, ac_code_name(rc),
                 err.path, err.message, ac_code_name(code), path ? path : "*");
    assert_int_equal(err.code, code);
    ac_request_destroy(&req);
}

#define OUT(items) "[{\"meta\":{\"system\":\"s\"}," items "}]"
#define C(dim, bucket, value) \
    "{\"dimension\":" dim ",\"bucket\":" bucket ",\"value\":" value ",\"system\":\"a\"}"
#define K(extra) "{\"dimension\":\"hp\",\"system\":\"a\",\"value\":1," extra "}"

static void bad_json_gives_invalid_json(void **state)
{
    (void)state;
    expect_json_error("[{\"primary\": [", AC_EINVALID_JSON, "");
    expect_json_error("[1,]", AC_EINVALID_JSON, "");
    expect_json_error("", AC_EINVALID_JSON, "");
    expect_json_error("\xff\xfe", AC_EINVALID_JSON, "");
    expect_json_error("[\"\xc3\x28\"]", AC_EINVALID_JSON, ""); /* invalid UTF-8 */
    expect_json_error("[{\"meta\":{\"system\":\"a\"},\"meta\":{}}]", AC_EINVALID_JSON, "");
}

static void deep_nesting_is_rejected_without_crashing(void **state)
{
    (void)state;
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    ac_request_t *req = ac_request_new(s_reg);
    ac_limits_t lim;
    ac_limits_default(&lim);
    lim.max_message_bytes = 4 * n;
    ac_request_set_limits(req, &lim);
    ac_error_t err;
    assert_int_equal(ac_decode_outputs_json(req, deep, 2 * n, &err), AC_EINVALID_JSON);
    ac_request_destroy(&req);
    free(deep);
}

static void non_finite_numbers_are_rejected_at_their_path(void **state)
{
    (void)state;
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "1e999") "]"), AC_ENON_FINITE,
                      "outputs[0].primary[0].value");
    expect_json_error(
        OUT("\"derived\":[" C("\"hp\"", "\"FLAT\"", "1") "," C("\"hp\"", "\"FLAT\"", "-1e400") "]"),
        AC_ENON_FINITE, "outputs[0].derived[1].value");
    expect_json_error(OUT("\"caps\":[{\"dimension\":\"hp\",\"system\":\"a\",\"mode\":\"BASELINE\","
                          "\"kind\":\"max\",\"value\":1e999}]"),
                      AC_ENON_FINITE, "outputs[0].caps[0].value");
    expect_json_error(OUT("\"context\":{\"combat\":{\"multipliers\":[1,1e999]}}"), AC_ENON_FINITE,
                      "outputs[0].context.combat.multipliers[1]");
}

static void huge_integers_are_read_as_doubles(void **state)
{
    (void)state;
    char *json = NULL;
    ac_error_t err;
    const char *in =
        OUT("\"primary\":[" C("\"sum_dim\"", "\"FLAT\"", "123456789012345678901234567890") "]");
    assert_int_equal(tu_resolve_json(s_reg, in, &json, &err), 0);
    assert_non_null(strstr(json, "\"sum_dim\":1.2345678901234568e+29"));
    free(json);
}

static void wrong_types_are_schema_violations(void **state)
{
    (void)state;
    expect_json_error("{}", AC_ESCHEMA, "outputs");
    expect_json_error("[1]", AC_ESCHEMA, "outputs[0]");
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "\"12\"") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].value");
    expect_json_error(OUT("\"primary\":{}"), AC_ESCHEMA, "outputs[0].primary");
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "true") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].value");
    expect_json_error(OUT("\"primary\":[" C("7", "\"FLAT\"", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].dimension");
    expect_json_error(OUT("\"primary\":[{\"dimension\":\"hp\",\"bucket\":\"FLAT\",\"value\":1,"
                          "\"system\":\"a\",\"priority\":1.5}]"),
                      AC_ESCHEMA, "outputs[0].primary[0].priority");
    expect_json_error(OUT("\"primary\":[{\"dimension\":\"hp\",\"bucket\":\"FLAT\",\"value\":1,"
                          "\"system\":\"a\",\"priority\":3000000000}]"),
                      AC_ESCHEMA, "outputs[0].primary[0].priority");
    expect_json_error(OUT("\"primary\":[{\"dimension\":\"hp\",\"bucket\":\"FLAT\",\"value\":1,"
                          "\"system\":\"a\",\"priorty\":1}]"),
                      AC_ESCHEMA, "outputs[0].primary[0].priorty");
    expect_json_error(OUT("\"primary\":[{\"dimension\":\"hp\",\"bucket\":\"FLAT\",\"value\":1}]"),
                      AC_ESCHEMA, "outputs[0].primary[0].system");
    expect_json_error("[{\"primary\":[]}]", AC_ESCHEMA, "outputs[0].meta");
    expect_json_error("[{\"meta\":{}}]", AC_ESCHEMA, "outputs[0].meta.system");
    expect_json_error("[{\"meta\":{\"system\":\"\"}}]", AC_ESCHEMA, "outputs[0].meta.system");
    expect_json_error("[{\"meta\":{\"system\":\"a\"},\"extra\":1}]", AC_ESCHEMA,
                      "outputs[0].extra");
}

static void unknown_enums_are_schema_violations(void **state)
{
    (void)state;
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "\"SQUARE\"", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].bucket");
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "\"flat\"", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].bucket");
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"SOFT\",\"kind\":\"max\"") "]"), AC_ESCHEMA,
                      "outputs[0].caps[0].mode");
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"BASELINE\",\"kind\":\"both\"") "]"),
                      AC_ESCHEMA, "outputs[0].caps[0].kind");
}

static void dimension_names_are_checked(void **state)
{
    (void)state;
    expect_json_error(OUT("\"primary\":[" C("\"Strength\"", "\"FLAT\"", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].dimension");
    expect_json_error(OUT("\"primary\":[" C("\"1abc\"", "\"FLAT\"", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].dimension");
    expect_json_error(OUT("\"primary\":[" C("\"\"", "\"FLAT\"", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].dimension");
    expect_json_error(
        OUT("\"primary\":[" C(
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
            "\"FLAT\"", "1") "]"),
        AC_ETOO_LARGE, "outputs[0].primary[0].dimension");
    expect_json_error(OUT("\"primary\":[" C("\"mana\"", "\"FLAT\"", "1") "]"),
                      AC_EUNKNOWN_DIMENSION, "outputs[0].primary[0].dimension");
    expect_json_error(OUT("\"caps\":[{\"dimension\":\"mana\",\"system\":\"a\",\"value\":1,"
                          "\"mode\":\"BASELINE\",\"kind\":\"max\"}]"),
                      AC_EUNKNOWN_DIMENSION, "outputs[0].caps[0].dimension");
}

static void cap_rules_are_checked(void **state)
{
    (void)state;
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"HARD_MAX\",\"kind\":\"min\"") "]"),
                      AC_EKIND_MODE, "outputs[0].caps[0].kind");
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"HARD_MIN\",\"kind\":\"max\"") "]"),
                      AC_EKIND_MODE, "outputs[0].caps[0].kind");
    expect_json_error(
        OUT("\"caps\":[" K("\"mode\":\"BASELINE\",\"kind\":\"max\",\"scope\":\"GALAXY\"") "]"),
        AC_EUNKNOWN_LAYER, "outputs[0].caps[0].scope");
    expect_json_error(
        OUT("\"caps\":[" K("\"mode\":\"BASELINE\",\"kind\":\"max\",\"scope\":\"REALM\"") "]"),
        AC_ESCHEMA, "outputs[0].caps[0].realm");
    expect_json_error(
        OUT("\"caps\":[" K("\"mode\":\"BASELINE\",\"kind\":\"max\",\"tags\":[1]") "]"), AC_ESCHEMA,
        "outputs[0].caps[0].tags[0]");
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"BASELINE\"") "]"), AC_ESCHEMA,
                      "outputs[0].caps[0].kind");
}

static void scope_defaults_to_total_which_must_exist(void **state)
{
    (void)state;
    ac_registry_t *reg = tu_registry(TU_COMBINER, "order: [WORLD]\n");
    ac_request_t *req = ac_request_new(reg);
    ac_error_t err;
    const char *in = OUT("\"caps\":[" K("\"mode\":\"BASELINE\",\"kind\":\"max\"") "]");
    assert_int_equal(ac_decode_outputs_json(req, in, strlen(in), &err), AC_EUNKNOWN_LAYER);
    assert_string_equal(err.path, "outputs[0].caps[0].scope");
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
}

static void limits_give_too_large(void **state)
{
    (void)state;
    ac_request_t *req = ac_request_new(s_reg);
    ac_limits_t lim;
    ac_limits_default(&lim);
    lim.max_contributions = 3;
    ac_request_set_limits(req, &lim);
    ac_error_t err;
    const char *in =
        OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "1") "," C("\"hp\"", "\"FLAT\"", "1") "," C(
            "\"hp\"", "\"FLAT\"", "1") "," C("\"hp\"", "\"FLAT\"", "1") "]");
    assert_int_equal(ac_decode_outputs_json(req, in, strlen(in), &err), AC_ETOO_LARGE);
    assert_string_equal(err.path, "outputs[0].primary[3]");
    ac_request_reset(req);
    lim.max_message_bytes = 10;
    ac_request_set_limits(req, &lim);
    assert_int_equal(ac_decode_outputs_json(req, in, strlen(in), &err), AC_ETOO_LARGE);
    ac_request_destroy(&req);
}

static void actor_fields_are_checked(void **state)
{
    (void)state;
    struct {
        const char *text;
        int code;
        const char *path;
    } cases[] = {
        {"{\"version\":1}", AC_ESCHEMA, "actor.id"},
        {"{\"id\":\"a\"}", AC_ESCHEMA, "actor.version"},
        {"{\"id\":\"\",\"version\":1}", AC_ESCHEMA, "actor.id"},
        {"{\"id\":\"a\",\"version\":-1}", AC_ESCHEMA, "actor.version"},
        {"{\"id\":\"a\",\"version\":1,\"data\":[]}", AC_ESCHEMA, "actor.data"},
        {"{\"id\":\"a\",\"version\":1,\"data\":{\"x\":[1,1e999]}}", AC_ENON_FINITE,
         "actor.data.x[1]"},
        {"{\"id\":\"a\",\"version\":1,\"subsystems\":[\"race\",3]}", AC_ESCHEMA,
         "actor.subsystems[1]"},
        {"{\"id\":\"a\",\"version\":1,\"level\":3}", AC_ESCHEMA, "actor.level"},
        {"{\"id\":\"a\",\"version\":1,\"age\":\"old\"}", AC_ESCHEMA, "actor.age"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_request_t *req = ac_request_new(s_reg);
        ac_error_t err;
        int rc = ac_decode_actor_json(req, cases[i].text, strlen(cases[i].text), &err);
        if (rc != cases[i].code || strcmp(err.path, cases[i].path) != 0)
            fail_msg("%s: got %s at %s", cases[i].text, ac_code_name(rc), err.path);
        ac_request_destroy(&req);
    }
    char id[200];
    memset(id, 'x', 129);
    id[129] = '\0';
    char text[400];
    snprintf(text, sizeof text, "{\"id\":\"%s\",\"version\":1}", id);
    ac_request_t *req = ac_request_new(s_reg);
    ac_error_t err;
    assert_int_equal(ac_decode_actor_json(req, text, strlen(text), &err), AC_ESCHEMA);
    ac_request_reset(req);
    const char *good =
        "{\"id\":\"hero\",\"version\":3,\"name\":\"Lan\",\"race\":\"elf\",\"age\":30,"
        "\"lifespan\":900,\"created_at\":\"2026-01-01T00:00:00Z\",\"updated_at\":17,"
        "\"data\":{\"items\":[\"sword\",{\"n\":2}],\"level\":5},\"subsystems\":[]}";
    assert_int_equal(ac_decode_actor_json(req, good, strlen(good), &err), 0);
    const ac_actor_t *a = ac_request_actor(req);
    assert_string_equal(a->id, "hero");
    assert_int_equal(a->version, 3);
    assert_string_equal(a->race, "elf");
    assert_true(a->has_age && a->age == 30);
    assert_int_equal(a->data->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(a->data->via.map.size, 2);
    ac_request_destroy(&req);
}

static void content_hash_covers_the_actor_but_not_input_order(void **state)
{
    (void)state;
    const char *a1 =
        "{\"id\":\"h\",\"version\":1,\"race\":\"elf\",\"data\":{\"items\":[\"sword\"]}}";
    const char *a2 = "{\"id\":\"h\",\"version\":1,\"race\":\"elf\",\"data\":{\"items\":[\"bow\"]}}";
    const char *a3 =
        "{\"race\":\"elf\",\"data\":{\"items\":[\"sword\"]},\"version\":1,\"id\":\"h\"}";
    ac_request_t *r1 = ac_request_new(s_reg), *r2 = ac_request_new(s_reg),
                 *r3 = ac_request_new(s_reg);
    ac_error_t err;
    assert_int_equal(ac_decode_actor_json(r1, a1, strlen(a1), &err), 0);
    assert_int_equal(ac_decode_actor_json(r2, a2, strlen(a2), &err), 0);
    assert_int_equal(ac_decode_actor_json(r3, a3, strlen(a3), &err), 0);
    assert_true(ac_request_content_hash(r1) != ac_request_content_hash(r2));
    assert_true(ac_request_content_hash(r1) == ac_request_content_hash(r3));
    assert_true(ac_request_outputs_hash(r1) == ac_request_outputs_hash(r2));
    /* Outputs that differ in one value only hash apart. */
    const char *o1 = OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "1") "]");
    const char *o2 = OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "2") "]");
    assert_int_equal(ac_decode_outputs_json(r1, o1, strlen(o1), &err), 0);
    assert_int_equal(ac_decode_outputs_json(r2, o2, strlen(o2), &err), 0);
    assert_true(ac_request_outputs_hash(r1) != ac_request_outputs_hash(r2));
    ac_request_destroy(&r1);
    ac_request_destroy(&r2);
    ac_request_destroy(&r3);
}

static void random_bytes_never_crash(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    char buf[512];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(round % 500) + 1;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (char)(x & 0xff);
        }
        /* Half the rounds look like JSON, to get past the first byte. */
        if (round % 2)
            buf[0] = '[';
        ac_request_t *req = ac_request_new(s_reg);
        ac_error_t err;
        msgpack_zone *zone = msgpack_zone_new(1024);
        msgpack_object obj;
        int rc = ac_decode_outputs_json(req, buf, n, &err);
        assert_true(rc <= 0);
        if (ac_msgpack_parse(buf, n, zone, &obj, &err) == 0) {
            ac_request_reset(req);
            ac_decode_outputs(req, &obj, "outputs", &err);
            ac_request_reset(req);
            ac_decode_actor(req, &obj, "actor", &err);
        }
        msgpack_zone_free(zone);
        ac_request_destroy(&req);
    }
}

static void msgpack_framing_attacks_are_rejected(void **state)
{
    (void)state;
    struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\xdd\xff\xff\xff\xff", 5},     /* array of 2^32-1 elements, no bytes */
        {"\xdf\x7f\xff\xff\xff\x01", 6}, /* map of 2^31 pairs */
        {"\xdb\xff\xff\xff\xff", 5},     /* str32 longer than the message */
        {"\x91", 1},                     /* truncated array */
        {"\xc1", 1},                     /* never-used type byte */
        {"\x90\x90", 2},                 /* trailing bytes */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_zone *zone = msgpack_zone_new(1024);
        msgpack_object obj;
        ac_error_t err;
        assert_int_equal(ac_msgpack_parse(cases[i].bytes, cases[i].len, zone, &obj, &err),
                         AC_EINVALID_MSGPACK);
        msgpack_zone_free(zone);
    }
    char deep[64];
    memset(deep, 0x91, 40);
    deep[40] = (char)0xc0;
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object obj;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(deep, 41, zone, &obj, &err), AC_EINVALID_MSGPACK);
    assert_int_equal(ac_msgpack_parse(deep + 20, 21, zone, &obj, &err), 0);
    msgpack_zone_free(zone);
}

/* The same input as JSON and as msgpack gives the same snapshot bytes. */
static void msgpack_and_json_agree(void **state)
{
    (void)state;
    /* One line per list of the JSON document. */
    /* clang-format off */
    const char *in = OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "100") ","
                                          C("\"hp\"", "\"MULT\"", "0.25") "],"
                         "\"caps\":[" K("\"mode\":\"HARD_MAX\",\"kind\":\"max\",\"scope\":\"WORLD\"") "],"
                         "\"context\":{\"pvp\":{\"additive_percent\":0.5}}");
    /* clang-format on */
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object obj;
    ac_error_t err;
    assert_int_equal(ac_json_parse(in, strlen(in), zone, &obj, &err), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_object(&pk, obj), 0);
    ac_request_t *a = ac_request_new(s_reg), *b = ac_request_new(s_reg);
    msgpack_object obj2;
    assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &obj2, &err), 0);
    assert_int_equal(ac_decode_outputs(a, &obj2, "outputs", &err), 0);
    assert_int_equal(ac_decode_outputs_json(b, in, strlen(in), &err), 0);
    ac_resolver_t *r = ac_resolver_new(s_reg);
    const ac_snapshot_t *s;
    assert_int_equal(ac_resolve(r, a, &s, &err), 0);
    ac_snapshot_t *sa = ac_snapshot_dup(s);
    assert_int_equal(ac_resolve(r, b, &s, &err), 0);
    assert_true(ac_snapshot_equal(sa, s));
    assert_true(ac_request_outputs_hash(a) == ac_request_outputs_hash(b));
    /* The snapshot's msgpack form parses back with every key. */
    msgpack_sbuffer_clear(&sb);
    assert_int_equal(ac_snapshot_pack(&pk, s, s_reg, "hero", 4), 0);
    assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &obj2, &err), 0);
    assert_int_equal(obj2.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(obj2.via.map.size, 7);
    ac_snapshot_destroy(&sa);
    ac_resolver_destroy(&r);
    ac_request_destroy(&a);
    ac_request_destroy(&b);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_free(zone);
}

/* The service's fast snapshot writer and msgpack-c's packer give the same content. */
static void fast_snapshot_writer_matches_the_packer(void **state)
{
    (void)state;
    char combiner[4096];
    size_t n = (size_t)snprintf(combiner, sizeof combiner, "dimensions:\n");
    for (int d = 0; d < 40; d++)
        n += (size_t)snprintf(
            combiner + n, sizeof combiner - n,
            "  d%02d_with_a_rather_long_dimension_name: { clamp_default: { min: -5, max: 1e9 } }\n",
            d);
    ac_registry_t *reg = tu_registry(combiner, TU_LAYERS);
    ac_request_t *req = ac_request_new(reg);
    ac_resolver_t *r = ac_resolver_new(reg);
    ac_error_t err;
    assert_int_equal(ac_request_set_actor(req, "an-actor", 7, &err), 0);
    assert_true(ac_request_begin_output(req, "s", &err) >= 0);
    for (int d = 0; d < 40; d++) {
        char dim[64];
        snprintf(dim, sizeof dim, "d%02d_with_a_rather_long_dimension_name", d);
        assert_int_equal(ac_request_add_contribution(req, d % 3 ? AC_PRIMARY : AC_DERIVED, dim,
                                                     AC_FLAT, d * 1.25 - 3, "s", 0, &err),
                         0);
    }
    const ac_snapshot_t *snap;
    assert_int_equal(ac_resolve(r, req, &snap, &err), 0);
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &a, msgpack_sbuffer_write);
    assert_int_equal(ac_snapshot_pack(&pk, snap, reg, "an-actor", 8), 0);
    msgpack_sbuffer_write(&b, "x", 1); /* appends after existing content */
    assert_int_equal(ac_snapshot_pack_buffer(&b, snap, reg, "an-actor", 8), 0);
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object oa, ob;
    assert_int_equal(ac_msgpack_parse(a.data, a.size, zone, &oa, &err), 0);
    assert_int_equal(ac_msgpack_parse(b.data + 1, b.size - 1, zone, &ob, &err), 0);
    msgpack_sbuffer ja, jb;
    msgpack_sbuffer_init(&ja);
    msgpack_sbuffer_init(&jb);
    ac_msgpack_to_json(&oa, &ja);
    ac_msgpack_to_json(&ob, &jb);
    assert_int_equal(ja.size, jb.size);
    assert_memory_equal(ja.data, jb.data, ja.size);
    msgpack_sbuffer_destroy(&ja);
    msgpack_sbuffer_destroy(&jb);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    msgpack_zone_free(zone);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
}

static void numbers_print_in_shortest_round_trip_form(void **state)
{
    (void)state;
    double values[] = {0.7,
                       132.00000000000003,
                       500,
                       0.1 + 0.2,
                       1e300,
                       -2.5e-300,
                       5e-324,
                       1.7976931348623157e308,
                       123456789012345.0,
                       0.5,
                       2.2250738585072014e-308,
                       1e-310};
    const char *want[] = {"0.7",
                          "132.00000000000003",
                          "500",
                          "0.30000000000000004",
                          "1e+300",
                          "-2.5e-300",
                          "5e-324",
                          "1.7976931348623157e+308",
                          "123456789012345",
                          "0.5",
                          "2.2250738585072014e-308",
                          "1e-310"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[AC_NUMFMT_MAX];
        ac_numfmt(values[i], buf);
        assert_string_equal(buf, want[i]);
        assert_true(strtod(buf, NULL) == values[i]);
    }
    char buf[AC_NUMFMT_MAX];
    ac_numfmt(-0.0, buf);
    assert_string_equal(buf, "-0");
}

static void error_json_is_valid_json_whatever_the_message(void **state)
{
    (void)state;
    ac_error_t err;
    ac_error_set(&err, AC_ESCHEMA, "a.\"b\"", "bad \x01 \xff \"quote\" \\ %s", "x");
    char buf[1024];
    ac_error_to_json(&err, buf, sizeof buf);
    json_error_t je;
    json_t *j = json_loads(buf, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "schema_violation");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "a.\"b\"");
    json_decref(j);
    for (int code = 0; code >= AC_ENOT_FOUND; code--)
        assert_int_equal(ac_code_from_name(ac_code_name(code)), code == 0 ? AC_EINTERNAL : code);
}

/* ac_error_to_json always ends what it writes with a NUL, truncating to the buffer, and
   returns the length it wanted; with no room it writes nothing. */
static void error_json_is_terminated_and_truncated_to_its_buffer(void **state)
{
    (void)state;
    ac_error_t err;
    ac_error_set(&err, AC_EUNKNOWN_LAYER, "outputs[0].caps[1].scope", "unknown layer 'X'");
    const char *whole = "{\"code\":\"unknown_layer\",\"message\":\"unknown layer 'X'\","
                        "\"path\":\"outputs[0].caps[1].scope\"}";
    char buf[256];
    memset(buf, 'X', sizeof buf);
    assert_int_equal(ac_error_to_json(&err, buf, sizeof buf), strlen(whole));
    assert_string_equal(buf, whole);
    memset(buf, 'X', sizeof buf);
    assert_int_equal(ac_error_to_json(&err, buf, 10), strlen(whole));
    assert_int_equal(buf[9], '\0');
    assert_memory_equal(buf, whole, 9);
    assert_int_equal(buf[10], 'X');
    memset(buf, 'X', sizeof buf);
    assert_int_equal(ac_error_to_json(&err, buf, 0), strlen(whole));
    assert_int_equal(buf[0], 'X');
}

/* jansson refuses integers past 64 bits; tokens of up to 400 characters are spliced (a
   finite one re-read as a real, an infinite one as a marker the walk rejects), a longer one
   is invalid JSON and never copied into the splice buffer. */
static void a_number_token_is_spliced_up_to_400_characters_and_refused_beyond(void **state)
{
    (void)state;
    char text[1200];
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object o;
    ac_error_t err;
    const size_t lens[] = {300, 400, 401, 1000};
    for (size_t t = 0; t < 4; t++) {
        size_t n = lens[t];
        text[0] = '[';
        text[1] = '1';
        memset(text + 2, '0', n - 1);
        text[n + 1] = ']';
        int rc = ac_json_parse(text, n + 2, &zone, &o, &err);
        if (n > 400) {
            assert_int_equal(rc, AC_EINVALID_JSON);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(o.via.array.size, 1);
        const msgpack_object *v = &o.via.array.ptr[0];
        assert_true(v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT);
        if (n == 300)
            assert_true(v->via.f64 == 1e299);
        else
            assert_true(isinf(v->via.f64) && v->via.f64 > 0);
    }
    msgpack_zone_destroy(&zone);
}

/* The broker's skim reads one top-level field without decoding: every value before it must
   be skipped by its exact size, including uint32 (0xce) and the one-byte-header str8 (0xd9)
   and bin8 (0xc4), and a uint32 value is read with its four bytes. */
static void peek_skips_every_value_by_its_exact_size(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char str40[40], bin[20];
    memset(str40, 'x', sizeof str40);
    memset(bin, 7, sizeof bin);
    msgpack_pack_map(&pk, 9);
    ac_wire_pack_str(&pk, "u32");
    msgpack_pack_uint32(&pk, 70000); /* 0xce */
    ac_wire_pack_str(&pk, "s8");
    msgpack_pack_str(&pk, sizeof str40); /* 0xd9 */
    msgpack_pack_str_body(&pk, str40, sizeof str40);
    ac_wire_pack_str(&pk, "b8");
    msgpack_pack_bin(&pk, sizeof bin); /* 0xc4 */
    msgpack_pack_bin_body(&pk, bin, sizeof bin);
    ac_wire_pack_str(&pk, "u16");
    msgpack_pack_uint16(&pk, 300); /* 0xcd */
    ac_wire_pack_str(&pk, "i32");
    msgpack_pack_int32(&pk, -70000); /* 0xd2 */
    ac_wire_pack_str(&pk, "f64");
    msgpack_pack_double(&pk, 0.5); /* 0xcb */
    ac_wire_pack_str(&pk, "arr");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, 4000000000u);
    msgpack_pack_str(&pk, sizeof str40);
    msgpack_pack_str_body(&pk, str40, sizeof str40);
    ac_wire_pack_str(&pk, "big");
    msgpack_pack_uint32(&pk, 4000000000u);
    ac_wire_pack_str(&pk, "want");
    msgpack_pack_uint8(&pk, 200); /* 0xcc */
    const char *keys[] = {"u32", "u16", "big", "want"};
    const uint64_t vals[] = {70000, 300, 4000000000u, 200};
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        assert_int_equal(ac_wire_peek_uint(sb.data, sb.size, keys[i], &v), 1);
        assert_int_equal(v, vals[i]);
    }
    uint64_t v = 0;
    assert_int_equal(ac_wire_peek_uint(sb.data, sb.size, "absent", &v), 0);
    assert_int_equal(ac_wire_peek_uint(sb.data, sb.size - 1, "want", &v), -1); /* truncated */
    msgpack_sbuffer_destroy(&sb);
}

/* A bad object anywhere (top level, in an array, as a map key or value, truncated in any
   header) fails the whole message with invalid_msgpack. */
static void a_bad_object_anywhere_fails_the_whole_message(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\xc1", 1},                  /* reserved type */
        {"\x92\x01\xc1", 3},          /* in an array */
        {"\x81\xc1\x01", 3},          /* a map key */
        {"\x81\xa1k\xc1", 4},         /* a map value */
        {"\x81\xa1k\x91\x91\xc1", 6}, /* nested */
        {"\xd9", 1},                  /* str8 without its length */
        {"\xd9\x05"
         "ab",
         4},                      /* str8 body cut */
        {"\xce\x00\x01", 3},      /* uint32 cut */
        {"\xcb\x00\x00\x00", 4},  /* float64 cut */
        {"\xc4\x03\x01", 3},      /* bin8 body cut */
        {"\xd4\x01", 2},          /* fixext1 cut */
        {"\xdc\x00", 2},          /* array16 header cut */
        {"\xde\x00\x01\xa1k", 5}, /* map16 value missing */
        {"\x91\x01\x02", 3},      /* trailing bytes */
    };
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_object o;
        ac_error_t err;
        int rc = ac_msgpack_parse(bad[i].bytes, bad[i].len, &zone, &o, &err);
        if (rc != AC_EINVALID_MSGPACK)
            fail_msg("case %zu: code %d, expected invalid_msgpack", i, rc);
        assert_int_equal(err.code, AC_EINVALID_MSGPACK);
    }
    msgpack_zone_destroy(&zone);
}

enum { BIG_FORM = 70000 };

/* A map of 26 values, one of each wide form of every msgpack type (str 16/32, bin 16/32,
   ext 8/16/32, fixext 1-16, the largest fixarray / fixmap / fixstr, array and map 16/32,
   every int width, float 32), then the id 42; filler bytes from big (BIG_FORM of them, distinct so that a misplaced read shows). */
static void pack_every_form(msgpack_packer *pk, const char *big)
{
    int n = 0;
    msgpack_pack_map(pk, 27);
    char key[16];
#define KEY() ac_wire_pack_str(pk, (snprintf(key, sizeof key, "k%d", n++), key))
    KEY(), msgpack_pack_str(pk, 300), msgpack_pack_str_body(pk, big, 300);
    KEY(), msgpack_pack_str(pk, BIG_FORM), msgpack_pack_str_body(pk, big, BIG_FORM);
    KEY(), msgpack_pack_bin(pk, 300), msgpack_pack_bin_body(pk, big + 1, 300);
    KEY(), msgpack_pack_bin(pk, BIG_FORM), msgpack_pack_bin_body(pk, big, BIG_FORM);
    const size_t ext_sizes[] = {1, 2, 4, 8, 16, 3, 300, BIG_FORM}; /* fixext 1-16, ext 8/16/32 */
    for (size_t i = 0; i < sizeof ext_sizes / sizeof ext_sizes[0]; i++)
        KEY(), msgpack_pack_ext(pk, ext_sizes[i], (int8_t)(5 + i)),
            msgpack_pack_ext_body(pk, big + i, ext_sizes[i]);
    KEY(), msgpack_pack_array(pk, 15); /* the largest fixarray, 0x9f */
    for (int i = 0; i < 15; i++)
        msgpack_pack_str(pk, 31), msgpack_pack_str_body(pk, big + i, 31); /* fixstr 0xbf */
    KEY(), msgpack_pack_map(pk, 15); /* the largest fixmap, 0x8f */
    for (int i = 0; i < 15; i++)
        msgpack_pack_int(pk, -32 + i), msgpack_pack_int(pk, 127 - i); /* fixint edges */
    KEY(), msgpack_pack_array(pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_nil(pk);
    KEY(), msgpack_pack_array(pk, BIG_FORM);
    for (int i = 0; i < BIG_FORM; i++)
        msgpack_pack_true(pk);
    KEY(), msgpack_pack_map(pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_int(pk, i), msgpack_pack_false(pk);
    KEY(), msgpack_pack_map(pk, BIG_FORM);
    for (int i = 0; i < BIG_FORM; i++)
        msgpack_pack_fix_uint8(pk, 1), msgpack_pack_nil(pk);
    KEY(), msgpack_pack_fix_uint8(pk, 200);
    KEY(), msgpack_pack_fix_uint16(pk, 60000);
    KEY(), msgpack_pack_fix_uint64(pk, 1ull << 40);
    KEY(), msgpack_pack_fix_int8(pk, -100);
    KEY(), msgpack_pack_fix_int16(pk, -30000);
    KEY(), msgpack_pack_fix_int64(pk, -(1ll << 40));
    KEY(), msgpack_pack_float(pk, 1.5f);
    KEY(), msgpack_pack_nil(pk);
    ac_wire_pack_str(pk, "id");
    msgpack_pack_uint64(pk, 42);
#undef KEY
    assert_int_equal(n, 26);
}

/* The prefixes a truncation test cuts at: every one of the first 2,000 bytes and of the
   last 16, one in 997 between. */
static size_t next_cut(size_t cut, size_t size)
{
    if (cut < 2000 || cut + 16 >= size)
        return cut + 1;
    return cut + 997 < size - 16 ? cut + 997 : size - 16;
}

/* The every-form message into sb (initialised here; the caller destroys it). */
static void every_form_message(msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    char *big = malloc(BIG_FORM + 16);
    for (size_t i = 0; i < BIG_FORM + 16; i++)
        big[i] = (char)(i * 7 + 3); /* distinct bytes: a misplaced read shows */
    pack_every_form(&pk, big);
    free(big);
}

/* The peek walks over every msgpack type at its exact size, the wide forms too, and finds
   the id after them; no prefix of the body is read past its end. */
static void peek_skips_the_wide_forms_of_every_type(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    every_form_message(&sb);
    uint64_t id = 0;
    assert_int_equal(ac_wire_peek_uint(sb.data, sb.size, "id", &id), 1);
    assert_true(id == 42);
    /* Truncations across the wide headers, and a cut in the id's value or right after its
       key: malformed (-1), never found, never read past. */
    for (size_t cut = 0; cut < sb.size; cut = next_cut(cut, sb.size)) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, sb.data, cut);
        if (ac_wire_peek_uint(copy, cut, "id", &id) != -1)
            fail_msg("a prefix of %zu of %zu bytes is not malformed", cut, sb.size);
        free(copy);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* Our decoder reads every form to the object msgpack-c's own unpacker makes (type, value,
   bytes, ext type), and every prefix of the message is invalid_msgpack, never a success. */
static void the_decoder_agrees_with_msgpack_c_on_every_form(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    every_form_message(&sb);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1 << 16);
    msgpack_object ours;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(sb.data, sb.size, &zone, &ours, &err), 0);
    msgpack_unpacked theirs;
    msgpack_unpacked_init(&theirs);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&theirs, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_int_equal(ours.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(ours.via.map.size, 27);
    for (uint32_t i = 0; i < 27; i++) {
        const msgpack_object *a = &ours.via.map.ptr[i].val, *b = &theirs.data.via.map.ptr[i].val;
        if (a->type != b->type || !msgpack_object_equal(*a, *b))
            fail_msg("value %u: type %d, msgpack-c's %d, or another value", i, a->type, b->type);
        if (a->type == MSGPACK_OBJECT_EXT && a->via.ext.type != b->via.ext.type)
            fail_msg("value %u: ext type %d, msgpack-c's %d", i, a->via.ext.type, b->via.ext.type);
    }
    assert_true(msgpack_object_equal(ours, theirs.data));
    const msgpack_object *f = &ours.via.map.ptr[24].val;
    assert_int_equal(f->type, MSGPACK_OBJECT_FLOAT32);
    assert_true(f->via.f64 == 1.5);
    msgpack_unpacked_destroy(&theirs);
    for (size_t cut = 0; cut < sb.size; cut = next_cut(cut, sb.size)) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, sb.data, cut);
        msgpack_zone_clear(&zone);
        if (ac_msgpack_parse(copy, cut, &zone, &ours, &err) != AC_EINVALID_MSGPACK)
            fail_msg("a prefix of %zu bytes is not invalid_msgpack", cut);
        free(copy);
    }
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
}

/* Starts sb as an actor map of three entries, {id: "a", version: 1, <third key>: ...},
   the third key packed, its value left to the caller. */
static void begin_actor_map(msgpack_sbuffer *sb, msgpack_packer *pk, const char *third_key)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(pk, 3);
    ac_wire_pack_str(pk, "id");
    ac_wire_pack_str(pk, "a");
    ac_wire_pack_str(pk, "version");
    msgpack_pack_uint64(pk, 1);
    ac_wire_pack_str(pk, third_key);
}

/* Found by fuzz_msgpack and fuzz_worker: an error deeper in actor.data than the path keeps
   segments (16) read past them when the path was written; it names the first 16. */
static void an_error_deep_in_actor_data_names_the_first_sixteen_segments(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    begin_actor_map(&sb, &pk, "data");
    for (int i = 0; i < 20; i++) {
        msgpack_pack_map(&pk, 1);
        ac_wire_pack_str(&pk, "k");
    }
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 1); /* a key that is no string, 21 maps down */
    msgpack_pack_int(&pk, 1);
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &o, &err), 0);
    ac_request_t *req = ac_request_new(s_reg);
    assert_int_equal(ac_decode_actor(req, &o, "actor", &err), AC_ESCHEMA);
    char want[AC_ERROR_PATH_MAX] = "actor.data";
    for (int i = 0; i < 15; i++)
        strcat(want, ".k");
    assert_string_equal(err.path, want);
    ac_request_destroy(&req);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

/* Found by fuzz_msgpack: an ext object was written as if it were a bin (msgpack_object_ext
   keeps its type before its size), reading past the message. */
static void an_ext_object_is_written_as_its_own_bytes(void **state)
{
    (void)state;
    const char body[] = "\x81\xa1x\xd6\x05\x01\x02\x03\x04"; /* {x: fixext4 type 5} */
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(body, sizeof body - 1, zone, &o, &err), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(ac_msgpack_to_json(&o, &sb), 0);
    assert_int_equal(sb.size, strlen("{\"x\":\"01020304\"}"));
    assert_memory_equal(sb.data, "{\"x\":\"01020304\"}", sb.size);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_free(zone);
}

/* msgpack to JSON writes each type as JSON says: numbers in shortest round-trip form
   (float32 and float64), a non-finite float as null (JSON has no NaN), strings escaped,
   bin as hex, nested containers. */
static void msgpack_to_json_writes_each_type_and_non_finite_as_null(void **state)
{
    (void)state;
    msgpack_sbuffer in;
    msgpack_sbuffer_init(&in);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &in, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 12);
    msgpack_pack_double(&pk, 0.1);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, NAN);
    msgpack_pack_double(&pk, INFINITY);
    msgpack_pack_float(&pk, -INFINITY);
    msgpack_pack_int64(&pk, -9000000000ll);
    msgpack_pack_uint64(&pk, 18446744073709551615ull);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    ac_wire_pack_str(&pk, "q\"\n");
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "\xab\x01", 2);
    msgpack_pack_map(&pk, 1);
    ac_wire_pack_str(&pk, "k");
    msgpack_pack_array(&pk, 0);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(in.data, in.size, zone, &o, &err), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(ac_msgpack_to_json(&o, &sb), 0);
    const char *want = "[0.1,1.5,null,null,null,-9000000000,18446744073709551615,null,true,"
                       "\"q\\u0022\\u000a\",\"ab01\",{\"k\":[]}]"; /* \\u escapes */
    if (sb.size != strlen(want) || memcmp(sb.data, want, sb.size) != 0)
        fail_msg("JSON '%.*s', expected '%s'", (int)sb.size, sb.data, want);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&in);
    msgpack_zone_free(zone);
}

/* Every context pack of a snapshot is in its JSON form, the first one too, in name order. */
static void every_context_is_written_to_json(void **state)
{
    (void)state;
    const char *in = OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"",
                                           "100") "],"
                                                  "\"context\":{\"pvp\":{\"additive_percent\":0.5},"
                                                  "\"pve\":{\"post_add\":2}}");
    char *json = NULL;
    ac_error_t err;
    assert_int_equal(tu_resolve_json(s_reg, in, &json, &err), 0);
    const char *ctx = strstr(json, "\"Context\":{");
    assert_non_null(ctx);
    const char *pve = strstr(ctx, "\"pve\":"), *pvp = strstr(ctx, "\"pvp\":");
    if (!pve || !pvp || pve > pvp)
        fail_msg("contexts pve then pvp expected in %s", json);
    free(json);
}

/* The service's snapshot writer gives Version >= 0 as a uint 64 and a negative one as an
   int 64 (its fixed-width form), and Generation as a uint 64. */
static void the_fast_writer_gives_version_its_unsigned_form(void **state)
{
    (void)state;
    const int64_t versions[] = {0, 7, -3};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        ac_request_t *req = ac_request_new(s_reg);
        ac_resolver_t *r = ac_resolver_new(s_reg);
        ac_error_t err;
        const char *in = OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "1") "]");
        assert_int_equal(ac_decode_outputs_json(req, in, strlen(in), &err), 0);
        ac_request_set_version(req, versions[i]);
        const ac_snapshot_t *snap;
        assert_int_equal(ac_resolve(r, req, &snap, &err), 0);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(ac_snapshot_pack_buffer(&sb, snap, s_reg, "a", 1), 0);
        unsigned char want[9] = {versions[i] >= 0 ? 0xcf : 0xd3};
        for (int b = 0; b < 8; b++)
            want[1 + b] = (unsigned char)((uint64_t)versions[i] >> (56 - 8 * b));
        const char *at = memmem(sb.data, sb.size, "\xa7Version", 8);
        assert_non_null(at);
        assert_memory_equal(at + 8, want, sizeof want);
        at = memmem(sb.data, sb.size, "\xaaGeneration", 11);
        assert_non_null(at);
        assert_int_equal((unsigned char)at[11], 0xcf);
        msgpack_sbuffer_destroy(&sb);
        ac_resolver_destroy(&r);
        ac_request_destroy(&req);
    }
}

/* Decodes msgpack outputs (packed by pack) and expects code at path (0: success). */
static void expect_msgpack_outputs(void (*pack)(msgpack_packer *), int code, const char *path)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack(&pk);
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    ac_error_clear(&err);
    assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &o, &err), 0);
    ac_request_t *req = ac_request_new(s_reg);
    int rc = ac_decode_outputs(req, &o, "outputs", &err);
    if (rc != code || (code && strcmp(err.path, path) != 0))
        fail_msg("got %s at '%s' (%s), expected %s at '%s'", ac_code_name(rc), err.path,
                 err.message, ac_code_name(code), path);
    ac_request_destroy(&req);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

/* [{meta: {system: s}, primary: [{dimension: hp, bucket: FLAT, value: 1, system: a,
   priority: <pack_priority>}]}] */
static void (*s_pack_priority)(msgpack_packer *);
static void pack_one_contribution(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 2);
    ac_wire_pack_str(pk, "meta");
    msgpack_pack_map(pk, 1);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, "s");
    ac_wire_pack_str(pk, "primary");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 5);
    ac_wire_pack_str(pk, "dimension");
    ac_wire_pack_str(pk, "hp");
    ac_wire_pack_str(pk, "bucket");
    ac_wire_pack_str(pk, "FLAT");
    ac_wire_pack_str(pk, "value");
    msgpack_pack_double(pk, 1);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, "a");
    ac_wire_pack_str(pk, "priority");
    s_pack_priority(pk);
}
static void priority_inf(msgpack_packer *pk)
{
    msgpack_pack_double(pk, INFINITY);
}
static void priority_float_int(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 4.0);
}
static void priority_half(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 4.5);
}

/* An integer field may come as a float with an integral value; a non-finite one is
   non_finite, a fractional one a schema error, each at its path. */
static void integer_fields_given_as_floats(void **state)
{
    (void)state;
    s_pack_priority = priority_float_int;
    expect_msgpack_outputs(pack_one_contribution, 0, NULL);
    s_pack_priority = priority_inf;
    expect_msgpack_outputs(pack_one_contribution, AC_ENON_FINITE, "outputs[0].primary[0].priority");
    s_pack_priority = priority_half;
    expect_msgpack_outputs(pack_one_contribution, AC_ESCHEMA, "outputs[0].primary[0].priority");
}

/* The path of an error after a list of tags names the field, not the tags; a context pack
   that is not a map is refused at its name; meta.stage takes 0 to 1000. */
static void paths_and_bounds_around_tags_contexts_and_stage(void **state)
{
    (void)state;
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"HARD_MAX\",\"kind\":\"max\",\"tags\":[\"x\","
                                         "\"y\"],\"scope\":\"NOPE\"") "]"),
                      AC_EUNKNOWN_LAYER, "outputs[0].caps[0].scope");
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "\"FLAT\"", "1") "],"
                                                                       "\"context\":{\"pvp\":5}"),
                      AC_ESCHEMA, "outputs[0].context.pvp");
    const char *stage1000 = "[{\"meta\":{\"system\":\"s\",\"stage\":1000},\"primary\":[]}]";
    const char *stage1001 = "[{\"meta\":{\"system\":\"s\",\"stage\":1001},\"primary\":[]}]";
    ac_request_t *req = ac_request_new(s_reg);
    ac_error_t err;
    assert_int_equal(ac_decode_outputs_json(req, stage1000, strlen(stage1000), &err), 0);
    ac_request_destroy(&req);
    expect_json_error(stage1001, AC_ESCHEMA, "outputs[0].meta.stage");
}

/* An enum given as another type is refused at its own field; the keys of meta leave the
   path as they found it (an error after stage or version names meta's own key); an actor
   map with a key that is not a string is refused, not half read. */
static void enums_of_another_type_and_meta_keys_keep_their_paths(void **state)
{
    (void)state;
    expect_json_error(OUT("\"primary\":[" C("\"hp\"", "1", "1") "]"), AC_ESCHEMA,
                      "outputs[0].primary[0].bucket");
    expect_json_error(OUT("\"caps\":[" K("\"mode\":2,\"kind\":\"max\"") "]"), AC_ESCHEMA,
                      "outputs[0].caps[0].mode");
    expect_json_error(OUT("\"caps\":[" K("\"mode\":\"BASELINE\",\"kind\":[]") "]"), AC_ESCHEMA,
                      "outputs[0].caps[0].kind");
    expect_json_error("[{\"meta\":{\"system\":\"s\",\"stage\":1,\"bogus\":1},\"primary\":[]}]",
                      AC_ESCHEMA, "outputs[0].meta.bogus");
    expect_json_error("[{\"meta\":{\"version\":\"v2\",\"system\":\"s\",\"bogus\":1}}]", AC_ESCHEMA,
                      "outputs[0].meta.bogus");
    expect_json_error("[{\"meta\":{\"system\":\"s\",\"bogus\":1}}]", AC_ESCHEMA,
                      "outputs[0].meta.bogus");
    /* {"id": "a", "version": 1, 7: "x"} in msgpack: JSON cannot say it. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_str_with_body(&pk, "version", 7);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &o, &err), 0);
    ac_request_t *req = ac_request_new(s_reg);
    assert_int_equal(ac_decode_actor(req, &o, "actor", &err), AC_ESCHEMA);
    assert_string_equal(err.path, "actor");
    assert_non_null(strstr(err.message, "keys must be strings"));
    ac_request_destroy(&req);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

/* actor.data nests up to 64 containers below itself, not 65; an ext object in it is a
   schema error at its path; actor.subsystems lists at most 1024 ids. */
static void actor_data_depth_ext_and_subsystem_count_bounds(void **state)
{
    (void)state;
    for (int depth = 63; depth <= 65; depth++) {
        char text[600];
        size_t n =
            (size_t)snprintf(text, sizeof text, "{\"id\":\"a\",\"version\":1,\"data\":{\"k\":");
        for (int i = 0; i < depth; i++)
            text[n++] = '[';
        for (int i = 0; i < depth; i++)
            text[n++] = ']';
        n += (size_t)snprintf(text + n, sizeof text - n, "}}");
        ac_request_t *req = ac_request_new(s_reg);
        ac_error_t err;
        int rc = ac_decode_actor_json(req, text, n, &err);
        if (rc != (depth <= 64 ? 0 : AC_ETOO_LARGE))
            fail_msg("data nested %d deep: %s (%s)", depth, ac_code_name(rc), err.message);
        ac_request_destroy(&req);
    }
    /* {id: a, version: 1, data: {x: fixext4}} */
    const char ext[] = "\x83\xa2id\xa1"
                       "a\xa7version\x01\xa4"
                       "data\x81\xa1x\xd6\x05\x01\x02\x03\x04";
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(ext, sizeof ext - 1, zone, &o, &err), 0);
    ac_request_t *req = ac_request_new(s_reg);
    assert_int_equal(ac_decode_actor(req, &o, "actor", &err), AC_ESCHEMA);
    assert_string_equal(err.path, "actor.data.x");
    ac_request_destroy(&req);
    for (int count = 1024; count <= 1025; count++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        begin_actor_map(&sb, &pk, "subsystems");
        msgpack_pack_array(&pk, (size_t)count);
        for (int i = 0; i < count; i++)
            ac_wire_pack_str(&pk, "race");
        assert_int_equal(ac_msgpack_parse(sb.data, sb.size, zone, &o, &err), 0);
        req = ac_request_new(s_reg);
        int rc = ac_decode_actor(req, &o, "actor", &err);
        if (rc != (count <= 1024 ? 0 : AC_ETOO_LARGE))
            fail_msg("%d subsystems: %s (%s)", count, ac_code_name(rc), err.message);
        ac_request_destroy(&req);
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_zone_free(zone);
}

/* The peek reads a map32 header (a wide form a packer may choose for a small map), skips
   an array32 of two-byte items by its items, and refuses a top-level array whatever
   follows it. */
static void peek_reads_wide_headers_by_their_form(void **state)
{
    (void)state;
    uint64_t id = 0;
    /* {a: array32 [x, y], id: 7} as a map32 */
    const char wide[] = "\xdf\x00\x00\x00\x02\xa1"
                        "a\xdd\x00\x00\x00\x02\xa1x\xa1y\xa2id\x07";
    assert_int_equal(ac_wire_peek_uint(wide, sizeof wide - 1, "id", &id), 1);
    assert_true(id == 7);
    /* [x] followed by bytes that would read as a count and {id: 5} */
    const char array[] = "\x91\x00\x00\x00\x01\xa2id\x05";
    assert_int_equal(ac_wire_peek_uint(array, sizeof array - 1, "id", &id), -1);
}

/* The default limits are the ones the README gives: 1 MiB a message, 10,000 contributions,
   1,000 batch items, dimension names of AC_DIMENSION_NAME_MAX bytes. */
static void the_default_limits_are_the_documented_ones(void **state)
{
    (void)state;
    ac_limits_t lim;
    ac_limits_default(&lim);
    assert_int_equal(lim.max_message_bytes, 1048576);
    assert_int_equal(lim.max_contributions, 10000);
    assert_int_equal(lim.max_batch, 1000);
    assert_int_equal(lim.max_dimension_len, AC_DIMENSION_NAME_MAX);
}

/* A reset request is a new one: the outputs decoded after it count from 0 (an error path
   names outputs[0]), and a builder call that needs an output refuses before the first. */
static void a_reset_request_counts_its_outputs_from_zero(void **state)
{
    (void)state;
    ac_request_t *req = ac_request_new(s_reg);
    ac_error_t err;
    const char *two = "["
                      "{\"meta\":{\"system\":\"s\"},\"primary\":[]},"
                      "{\"meta\":{\"system\":\"t\"},\"primary\":[]}"
                      "]";
    assert_int_equal(ac_decode_outputs_json(req, two, strlen(two), &err), 0);
    ac_request_reset(req);
    const char *bad = OUT("\"primary\":[" C("\"mana\"", "\"FLAT\"", "1") "]");
    assert_int_equal(ac_decode_outputs_json(req, bad, strlen(bad), &err), AC_EUNKNOWN_DIMENSION);
    assert_string_equal(err.path, "outputs[0].primary[0].dimension");
    ac_request_reset(req);
    const double mult = 0.5;
    assert_int_equal(ac_request_add_context(req, "pvp", 0.1, &mult, 1, 0, &err), AC_ESCHEMA);
    assert_string_equal(err.path, "outputs");
    assert_int_equal(ac_request_add_contribution(req, AC_PRIMARY, "hp", AC_FLAT, 1, "s", 0, &err),
                     AC_ESCHEMA);
    ac_request_destroy(&req);
}

/* Decodes the msgpack outputs in bytes and expects code at path, with needle in the
   message. */
static void expect_outputs_bytes(const char *bytes, size_t len, int code, const char *path,
                                 const char *needle)
{
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    assert_int_equal(ac_msgpack_parse(bytes, len, zone, &o, &err), 0);
    ac_request_t *req = ac_request_new(s_reg);
    assert_int_equal(ac_decode_outputs(req, &o, "outputs", &err), code);
    assert_string_equal(err.path, path);
    assert_non_null(strstr(err.message, needle));
    ac_request_destroy(&req);
    msgpack_zone_free(zone);
}

/* A system id or a string with a NUL byte in it is a schema error; the request's extra
   dimensions (under the default rule) stop short of 65535 ids in all. */
static void nul_bytes_and_the_dimension_id_space(void **state)
{
    (void)state;
    ac_error_t err;
    /* [{meta: {system: "s\0t"}, primary: []}]; a contribution's system "a\0"; a cap's
       realm "r\0" (a string) */
    static const char nul_system[] = "\x91\x82\xa4meta\x81\xa6system\xa3s\x00t\xa7primary\x90",
                      nul_item[] = "\x91\x82\xa4meta\x81\xa6system\xa1s\xa7primary\x91\x84\xa9"
                                   "dimension\xa2hp\xa6"
                                   "bucket\xa4"
                                   "FLAT\xa5value\x01\xa6system\xa2"
                                   "a\x00",
                      nul_realm[] = "\x91\x82\xa4meta\x81\xa6system\xa1s\xa4"
                                    "caps\x91\x86\xa9"
                                    "dimension\xa2hp\xa4mode\xa8HARD_MAX\xa4kind\xa3max\xa5value"
                                    "\x01\xa6system\xa1"
                                    "a\xa5realm\xa2r\x00";
    const struct {
        const char *bytes;
        size_t len;
        const char *path;
    } cases[] = {{nul_system, sizeof nul_system - 1, "outputs[0].meta.system"},
                 {nul_item, sizeof nul_item - 1, "outputs[0].primary[0].system"},
                 {nul_realm, sizeof nul_realm - 1, "outputs[0].caps[0].realm"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_outputs_bytes(cases[i].bytes, cases[i].len, AC_ESCHEMA, cases[i].path, "NUL");
    /* Extra dimensions: a registry with a default rule takes any name until the ids run
       out. */
    ac_registry_t *reg = tu_registry("dimensions:\n  hp: { clamp_default: { min: 0, max: 1e9 } }\n"
                                     "default: { clamp_default: { min: 0, max: 1e9 } }\n",
                                     TU_LAYERS);
    ac_request_t *req = ac_request_new(reg);
    ac_limits_t lim;
    ac_limits_default(&lim);
    lim.max_contributions = 70000;
    ac_request_set_limits(req, &lim);
    assert_true(ac_request_begin_output(req, "s", &err) >= 0);
    int rc = 0, added = 0;
    for (int i = 0; i < 66000 && rc == 0; i++) {
        char dim[16];
        snprintf(dim, sizeof dim, "x%d", i);
        rc = ac_request_add_contribution(req, AC_PRIMARY, dim, AC_FLAT, 1, "s", 0, &err);
        added += rc == 0;
    }
    assert_int_equal(rc, AC_ETOO_LARGE);
    assert_int_equal(added, 65534); /* hp is id 0; the extras take 1 .. 65534 */
    /* With hp too, the request names 65535 dimensions: the most a snapshot holds. */
    assert_int_equal(ac_request_add_contribution(req, AC_PRIMARY, "hp", AC_FLAT, 1, "s", 0, &err),
                     0);
    ac_resolver_t *r = ac_resolver_new(reg);
    const ac_snapshot_t *snap;
    assert_int_equal(ac_resolve(r, req, &snap, &err), 0);
    assert_int_equal(ac_snapshot_dimension_count(snap), 65535);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
    ac_registry_destroy(&reg);
}

/* More than 32 dimensions under the default rule (the sort by name takes qsort then):
   each is in the snapshot under its own name with its own value. */
static void many_default_rule_dimensions_keep_their_names(void **state)
{
    (void)state;
    ac_registry_t *reg = tu_registry("dimensions:\n  hp: { clamp_default: { min: 0, max: 1e9 } }\n"
                                     "default: { clamp_default: { min: 0, max: 1e9 } }\n",
                                     TU_LAYERS);
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "[{\"meta\":{\"system\":\"s\"},\"primary\":[");
    for (int i = 39; i >= 0; i--) /* in reverse name order */
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%s{\"dimension\":\"e%02d\",\"bucket\":\"FLAT\",\"value\":%d,"
                              "\"system\":\"a\"}",
                              i == 39 ? "" : ",", i, 100 + i);
    snprintf(text + n, sizeof text - n, "]}]");
    char *json = NULL;
    ac_error_t err;
    assert_int_equal(tu_resolve_json(reg, text, &json, &err), 0);
    json_error_t jerr;
    json_t *snap = json_loads(json, 0, &jerr), *primary = json_object_get(snap, "Primary");
    assert_non_null(primary);
    assert_int_equal(json_object_size(primary), 40);
    for (int i = 0; i < 40; i++) {
        char dim[8];
        snprintf(dim, sizeof dim, "e%02d", i);
        json_t *v = json_object_get(primary, dim);
        if (!v || json_number_value(v) != 100 + i)
            fail_msg("%s: %s in %s", dim, v ? "wrong value" : "missing", json);
    }
    json_decref(snap);
    free(json);
    ac_registry_destroy(&reg);
}

/* A reset request resolves only what was added since: the items of the request before it,
   still in its vectors past their counts, touch no dimension (with few items for the
   registry's dimensions, the resolver marks each item's dimension one by one). */
static void a_reset_request_resolves_only_its_new_items(void **state)
{
    (void)state;
    ac_request_t *req = ac_request_new(s_reg);
    ac_resolver_t *r = ac_resolver_new(s_reg);
    ac_error_t err;
    const ac_snapshot_t *snap;
    const char *dims[] = {"strength", "crit_rate", "sum_dim"};
    assert_true(ac_request_begin_output(req, "s", &err) >= 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            ac_request_add_contribution(req, AC_PRIMARY, dims[i], AC_FLAT, 1, "s", 0, &err), 0);
        assert_int_equal(ac_request_add_cap(req, dims[i], AC_CAP_HARD_MAX, AC_KIND_MAX, 5, "s", 0,
                                            "TOTAL", NULL, &err),
                         0);
    }
    assert_int_equal(ac_resolve(r, req, &snap, &err), 0);
    assert_int_equal(ac_snapshot_dimension_count(snap), 3);
    ac_request_reset(req);
    assert_true(ac_request_begin_output(req, "s", &err) >= 0);
    assert_int_equal(ac_request_add_contribution(req, AC_PRIMARY, "hp", AC_FLAT, 100, "s", 0, &err),
                     0);
    assert_int_equal(ac_request_add_cap(req, "hp", AC_CAP_HARD_MAX, AC_KIND_MAX, 50, "s", 0,
                                        "TOTAL", NULL, &err),
                     0);
    assert_int_equal(ac_resolve(r, req, &snap, &err), 0);
    assert_int_equal(ac_snapshot_dimension_count(snap), 1);
    ac_snapshot_dim_t d;
    assert_true(ac_snapshot_find(snap, s_reg, "hp", &d));
    assert_true(d.primary == 50 && d.max == 50);
    ac_resolver_destroy(&r);
    ac_request_destroy(&req);
}

/* Names that are prefixes of one another sort shorter first, in the registry (its ids are
   name order) and among the dimensions under the default rule, whatever the input order. */
static void prefix_names_sort_shorter_first(void **state)
{
    (void)state;
    ac_registry_t *reg = tu_registry("dimensions:\n"
                                     "  hpx: { clamp_default: { min: 0, max: 1e9 } }\n"
                                     "  hp: { clamp_default: { min: 0, max: 1e9 } }\n"
                                     "  hpxy: { clamp_default: { min: 0, max: 1e9 } }\n"
                                     "default: { clamp_default: { min: 0, max: 1e9 } }\n",
                                     TU_LAYERS);
    const char *names[] = {"abc", "hpxy", "ab", "hp", "a", "hpx"};
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text, "[{\"meta\":{\"system\":\"s\"},\"primary\":[");
    for (int i = 0; i < 6; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%s{\"dimension\":\"%s\",\"bucket\":\"FLAT\",\"value\":%d,"
                              "\"system\":\"a\"}",
                              i ? "," : "", names[i], i);
    snprintf(text + n, sizeof text - n, "]}]");
    char *json = NULL;
    ac_error_t err;
    assert_int_equal(tu_resolve_json(reg, text, &json, &err), 0);
    const char *want = "{\"Primary\":{\"hp\":3,\"hpx\":5,\"hpxy\":1,\"a\":4,\"ab\":2,\"abc\":0}";
    if (strncmp(json, want, strlen(want)) != 0)
        fail_msg("%s\n  should start %s", json, want);
    free(json);
    ac_registry_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_json_gives_invalid_json),
        cmocka_unit_test(msgpack_to_json_writes_each_type_and_non_finite_as_null),
        cmocka_unit_test(an_ext_object_is_written_as_its_own_bytes),
        cmocka_unit_test(an_error_deep_in_actor_data_names_the_first_sixteen_segments),
        cmocka_unit_test(deep_nesting_is_rejected_without_crashing),
        cmocka_unit_test(non_finite_numbers_are_rejected_at_their_path),
        cmocka_unit_test(huge_integers_are_read_as_doubles),
        cmocka_unit_test(wrong_types_are_schema_violations),
        cmocka_unit_test(unknown_enums_are_schema_violations),
        cmocka_unit_test(dimension_names_are_checked),
        cmocka_unit_test(cap_rules_are_checked),
        cmocka_unit_test(scope_defaults_to_total_which_must_exist),
        cmocka_unit_test(limits_give_too_large),
        cmocka_unit_test(actor_fields_are_checked),
        cmocka_unit_test(content_hash_covers_the_actor_but_not_input_order),
        cmocka_unit_test(random_bytes_never_crash),
        cmocka_unit_test(msgpack_framing_attacks_are_rejected),
        cmocka_unit_test(msgpack_and_json_agree),
        cmocka_unit_test(fast_snapshot_writer_matches_the_packer),
        cmocka_unit_test(numbers_print_in_shortest_round_trip_form),
        cmocka_unit_test(error_json_is_valid_json_whatever_the_message),
        cmocka_unit_test(error_json_is_terminated_and_truncated_to_its_buffer),
        cmocka_unit_test(a_number_token_is_spliced_up_to_400_characters_and_refused_beyond),
        cmocka_unit_test(peek_skips_every_value_by_its_exact_size),
        cmocka_unit_test(peek_skips_the_wide_forms_of_every_type),
        cmocka_unit_test(the_decoder_agrees_with_msgpack_c_on_every_form),
        cmocka_unit_test(a_bad_object_anywhere_fails_the_whole_message),
        cmocka_unit_test(every_context_is_written_to_json),
        cmocka_unit_test(prefix_names_sort_shorter_first),
        cmocka_unit_test(a_reset_request_resolves_only_its_new_items),
        cmocka_unit_test(many_default_rule_dimensions_keep_their_names),
        cmocka_unit_test(nul_bytes_and_the_dimension_id_space),
        cmocka_unit_test(a_reset_request_counts_its_outputs_from_zero),
        cmocka_unit_test(the_default_limits_are_the_documented_ones),
        cmocka_unit_test(the_fast_writer_gives_version_its_unsigned_form),
        cmocka_unit_test(integer_fields_given_as_floats),
        cmocka_unit_test(paths_and_bounds_around_tags_contexts_and_stage),
        cmocka_unit_test(actor_data_depth_ext_and_subsystem_count_bounds),
        cmocka_unit_test(peek_reads_wide_headers_by_their_form),
        cmocka_unit_test(enums_of_another_type_and_meta_keys_keep_their_paths),
    };
    return cmocka_run_group_tests_name("codec", tests, setup, teardown);
}
