/*  test_tables.c - data-driven subsystems (tables, formulas), C plugins, and the demo
    configuration's W2 size. */
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

static const char *const COMBINER =
    "dimensions:\n"
    "  strength: { clamp_default: { min: 0, max: 1000 } }\n"
    "  agility: { clamp_default: { min: 0, max: 1000 } }\n"
    "  hp: { clamp_default: { min: 0, max: 100000 } }\n"
    "  luck: { clamp_default: { min: 0, max: 1000 } }\n"
    "  karma: { use_pipeline: false, operator: SUM, clamp_default: { min: -1000, max: 1000 } }\n";

static char s_dir[256];

static void put_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void clear_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*.yaml", s_dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(s_dir, sizeof s_dir, "tables");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rmtree(s_dir);
}

static const char *const RACE =
    "id: race\nkind: table\nkey: race\nrows:\n"
    "  human:\n"
    "    primary:\n"
    "      - { dimension: strength, bucket: FLAT, value: 10 }\n"
    "      - { dimension: strength, bucket: FLAT, value: 2, per: data.level }\n"
    "    caps:\n"
    "      - { dimension: strength, mode: HARD_MAX, kind: max, value: 100, scope: WORLD }\n";
static const char *const ITEMS =
    "id: items\nkind: table\neach: data.items\nrows:\n"
    "  sword: { primary: [ { dimension: strength, bucket: FLAT, value: 5 },\n"
    "                      { dimension: strength, bucket: MULT, value: 0.1 } ] }\n"
    "  ring: { derived: [ { dimension: hp, bucket: FLAT, value: 50 } ] }\n";
static const char *const BUFFS =
    "id: buffs\nkind: table\neach: data.buffs\nrows:\n"
    "  haste: { primary: [ { dimension: agility, bucket: FLAT, value: 3 } ] }\n";
static const char *const REALM =
    "id: realm\nkind: table\nkey: data.realm\nrealm_from_key: true\nrows:\n"
    "  \"r:T1\": { caps: [ { dimension: strength, mode: HARD_MAX, kind: max, value: 30, scope: "
    "REALM } ] }\n";
static const char *const FORMULAS = "id: derived_stats\nkind: formula\nformulas:\n"
                                    "  hp: { terms: { strength: 10, agility: 2 } }\n";

static const char *const ACTOR =
    "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"data\":{\"level\":4,\"items\":[\"sword\","
    "\"sword\",\"ring\"],"
    "\"buffs\":[{\"id\":\"haste\",\"stacks\":2}],\"realm\":\"r:T1\"},"
    "\"subsystems\":[\"derived_stats\",\"realm\",\"buffs\",\"items\",\"race\"]}";

typedef struct {
    fx_t *fx;
    ac_subsystems_t *subs;
} env_t;

static env_t load_env(void)
{
    env_t e;
    e.fx = fx_new(COMBINER, TU_LAYERS);
    e.subs = ac_subsystems_load(e.fx->reg, s_dir, &e.fx->err);
    if (!e.subs)
        fail_msg("load: %s (%s)", e.fx->err.message, e.fx->err.path);
    assert_int_equal(ac_subsystems_install(e.subs, e.fx->r, &e.fx->err), 0);
    return e;
}

static void free_env(env_t *e)
{
    fx_free(e->fx);
    ac_subsystems_destroy(&e->subs);
}

static void actor(fx_t *fx, const char *json)
{
    ac_request_reset(fx->req);
    if (ac_decode_actor_json(fx->req, json, strlen(json), &fx->err))
        fail_msg("actor: %s", fx->err.message);
}

/* Resolves the actor `json`, which must fail in a subsystem with `what` in the message. */
static void expect_request_failure(fx_t *fx, const char *json, const char *what)
{
    actor(fx, json);
    assert_int_equal(ac_resolve(fx->r, fx->req, &fx->snap, &fx->err), AC_ESUBSYSTEM_FAILED);
    if (!strstr(fx->err.message, what))
        fail_msg("'%s' does not say '%s'", fx->err.message, what);
}

/* The request's contribution limit (it stays across actor(): a reset keeps the limits). */
static void limit_contributions(fx_t *fx, size_t max_contributions)
{
    ac_limits_t lim;
    ac_limits_default(&lim);
    lim.max_contributions = max_contributions;
    ac_request_set_limits(fx->req, &lim);
}

/* The folder the tests after the first one read: race, items, buffs, realm, formulas. */
static void put_the_five_files(void)
{
    clear_dir();
    put_file("race.yaml", RACE);
    put_file("items.yaml", ITEMS);
    put_file("buffs.yaml", BUFFS);
    put_file("realm.yaml", REALM);
    put_file("formulas.yaml", FORMULAS);
}

static void tables_and_formulas_give_hand_computed_values(void **state)
{
    (void)state;
    put_the_five_files();
    env_t e = load_env();
    assert_int_equal(ac_subsystems_count(e.subs), 5);
    actor(e.fx, ACTOR);
    fx_resolve(e.fx);
    /* strength: FLAT 5 + 5 (items) + 10 + 2*4 (race) = 28, times 1.1 twice: 33.88, capped by
       the realm's HARD_MAX 30 (REALM cap, realm from the row key). */
    ac_snapshot_dim_t d = fx_dim(e.fx, "strength");
    assert_double_exact(d.primary, 30);
    assert_double_exact(d.max, 30);
    /* agility: 3 per stack, 2 stacks. */
    assert_double_exact(fx_dim(e.fx, "agility").primary, 6);
    /* hp (Derived): the ring's 50 plus the stage-2 formula over the *capped* stage-1
       values: 2 * agility + 10 * strength = 12 + 300. */
    assert_double_exact(fx_dim(e.fx, "hp").derived, (2.0 * 6 + 10.0 * 30) + 50);
    free_env(&e);
}

static void subsystem_order_in_the_actor_never_matters(void **state)
{
    (void)state;
    env_t e = load_env();
    actor(e.fx, ACTOR);
    fx_resolve(e.fx);
    ac_snapshot_t *a = ac_snapshot_dup(e.fx->snap);
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"data\":{\"level\":4,\"items\":["
                "\"ring\",\"sword\",\"sword\"],"
                "\"buffs\":[{\"id\":\"haste\",\"stacks\":2}],\"realm\":\"r:T1\"},"
                "\"subsystems\":[\"race\",\"items\",\"realm\",\"derived_stats\",\"buffs\"]}");
    fx_resolve(e.fx);
    assert_true(ac_snapshot_equal(a, e.fx->snap));
    ac_snapshot_destroy(&a);
    free_env(&e);
}

static void unknown_rows_and_bad_fields_fail_the_request_by_name(void **state)
{
    (void)state;
    env_t e = load_env();
    expect_request_failure(e.fx,
                           "{\"id\":\"h\",\"version\":1,\"race\":\"goblin\",\"data\":{\"level\":1},"
                           "\"subsystems\":[\"race\"]}",
                           "goblin");
    expect_request_failure(
        e.fx, "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"subsystems\":[\"race\"]}",
        "data.level");
    expect_request_failure(
        e.fx,
        "{\"id\":\"h\",\"version\":1,\"data\":{\"items\":\"sword\"},\"subsystems\":[\"items\"]}",
        "data.items is not a list");
    /* An actor without the key field: the table has nothing to say. */
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"realm\"]}");
    fx_resolve(e.fx);
    assert_int_equal(ac_snapshot_dimension_count(e.fx->snap), 0);
    free_env(&e);
}

static void expect_load_error(const char *file, const char *text, const char *path,
                              const char *what)
{
    clear_dir();
    put_file(file, text);
    fx_t *fx = fx_new(COMBINER, TU_LAYERS);
    ac_subsystems_t *subs = ac_subsystems_load(fx->reg, s_dir, &fx->err);
    if (subs)
        fail_msg("loading should fail:\n%s", text);
    if (path && strcmp(fx->err.path, path) != 0)
        fail_msg("path '%s', expected '%s' (%s)", fx->err.path, path, fx->err.message);
    assert_non_null(strstr(fx->err.message, file));
    assert_non_null(strstr(fx->err.message, what));
    fx_free(fx);
}

static void load_errors_name_file_line_and_field(void **state)
{
    (void)state;
    expect_load_error("a.yaml",
                      "id: a\nkind: table\nkey: race\nrows:\n  x: { primary: [ { dimension: charm, "
                      "bucket: FLAT, value: 1 } ] }\n",
                      "rows.x.primary[0].dimension", "a.yaml:5:");
    expect_load_error("b.yaml",
                      "id: b\nkind: table\nkey: race\nrows:\n  x: { caps: [ { dimension: luck, "
                      "mode: HARD_MAX, kind: min, value: 1 } ] }\n",
                      "rows.x.caps[0]", "HARD_MAX");
    expect_load_error("c.yaml",
                      "id: c\nkind: table\nkey: race\nrows:\n  x: { caps: [ { dimension: luck, "
                      "mode: BASELINE, kind: max, value: 1, scope: REALM } ] }\n",
                      "rows.x.caps[0]", "realm");
    expect_load_error("d.yaml", "id: d\nkind: spell\n", "kind", "kind is");
    expect_load_error("e.yaml", "id: e\nkind: table\nrows: {}\n", "rows", "key or each");
    /* found by fuzz_subsystems: a second `each` leaked the first's copy */
    expect_load_error("f.yaml", "id: f\nkind: table\neach: data.a\neach: data.b\nrows: {}\n",
                      "each", "each is given twice");
    expect_load_error("f.yaml", "id: f\nkind: formula\nformulas:\n  hp: { terms: { charm: 2 } }\n",
                      "formulas.hp.terms.charm", "charm");
    expect_load_error("g.yaml", "id: g\nkind: table\nkey: race\ncolour: red\nrows: {}\n", "",
                      "unknown field");
    expect_load_error("h.yaml", "id: [\n", NULL, "YAML syntax error");
    /* rows: a key that is not a string, a row listed twice, a section that is none of
       primary / derived / caps, a priority that is not an integer or is out of range */
    expect_load_error("l.yaml", "id: l\nkind: table\nkey: race\nrows:\n  ? [a]\n  : {}\n", "rows",
                      "l.yaml");
    expect_load_error("m.yaml", "id: m\nkind: table\nkey: race\nrows:\n  x: {}\n  x: {}\n",
                      "rows.x", "row listed twice");
    expect_load_error("n.yaml", "id: n\nkind: table\nkey: race\nrows:\n  x: { colour: [] }\n",
                      "rows.x", "expected primary, derived or caps");
    expect_load_error("o.yaml",
                      "id: o\nkind: table\nkey: race\nrows:\n  x: { primary: [ { dimension: luck, "
                      "bucket: FLAT, value: 1, priority: high } ] }\n",
                      "rows.x.primary[0].priority", "integer");
    expect_load_error("p.yaml",
                      "id: p\nkind: table\nkey: race\nrows:\n  x: { primary: [ { dimension: luck, "
                      "bucket: FLAT, value: 1, priority: 2147483648 } ] }\n",
                      "rows.x.primary[0].priority", "out of range");
    /* the id: a string of 1 to 128 bytes */
    expect_load_error("i.yaml", "id: [x]\nkind: table\nkey: race\nrows: {}\n", "id", "i.yaml");
    expect_load_error("j.yaml", "id: ''\nkind: table\nkey: race\nrows: {}\n", "id",
                      "1 to 128 bytes");
    char long_id[300];
    snprintf(long_id, sizeof long_id, "id: %0129d\nkind: table\nkey: race\nrows: {}\n", 0);
    expect_load_error("k.yaml", long_id, "id", "1 to 128 bytes");
    clear_dir();
    put_file("one.yaml", "id: same\nkind: formula\nformulas: { hp: { terms: { luck: 1 } } }\n");
    put_file("two.yaml", "id: same\nkind: formula\nformulas: { hp: { terms: { luck: 2 } } }\n");
    fx_t *fx = fx_new(COMBINER, TU_LAYERS);
    assert_null(ac_subsystems_load(fx->reg, s_dir, &fx->err));
    assert_non_null(strstr(fx->err.message, "two.yaml"));
    assert_non_null(strstr(fx->err.message, "another file"));
    assert_null(ac_subsystems_load(fx->reg, "/nonexistent/dir", &fx->err));
    fx_free(fx);
}

/* Table "v": row human, `fields` primaries of luck, each scaled by its own data.f<i>. */
static void per_fields_table(char *text, size_t size, int fields)
{
    snprintf(text, size, "id: v\nkind: table\nkey: race\nrows:\n  human:\n    primary:\n");
    for (int i = 0; i < fields; i++)
        snprintf(text + strlen(text), size - strlen(text),
                 "      - { dimension: luck, bucket: FLAT, value: 1, per: data.f%d }\n", i);
}

/* The loader's checks on a table's shape and on each entry: rows and a row must be
   mappings; a contribution needs a bucket and a cap a mode and a kind; a realm that is not
   a string is named by its own path wherever it sits in the entry; 16 scaling fields per
   table load and a 17th is refused. */
static void table_loader_checks_every_entry_field(void **state)
{
    (void)state;
    expect_load_error("q.yaml", "id: q\nkind: table\nkey: race\nrows: [a]\n", "rows",
                      "expected a mapping, found a list");
    expect_load_error("r.yaml", "id: r\nkind: table\nkey: race\nrows:\n  x: [a]\n", "rows.x",
                      "expected a mapping, found a list");
    expect_load_error("s.yaml",
                      "id: s\nkind: table\nkey: race\nrows:\n  x: { primary: [ { dimension: luck, "
                      "value: 1 } ] }\n",
                      "rows.x.primary[0]", "needs dimension, bucket and value");
    expect_load_error("t.yaml",
                      "id: t\nkind: table\nkey: race\nrows:\n  x: { caps: [ { dimension: luck, "
                      "kind: max, value: 1 } ] }\n",
                      "rows.x.caps[0]", "needs dimension, mode, kind and value");
    expect_load_error("u.yaml",
                      "id: u\nkind: table\nkey: race\nrows:\n  x: { caps: [ { dimension: luck, "
                      "realm: [r], mode: BASELINE, kind: max, value: 1 } ] }\n",
                      "rows.x.caps[0].realm", "expected a scalar");
    char text[4096];
    per_fields_table(text, sizeof text, 17);
    expect_load_error("v.yaml", text, "rows.human.primary[16].per", "at most 16 scaling fields");
    per_fields_table(text, sizeof text, 16);
    clear_dir();
    put_file("v.yaml", text);
    env_t e = load_env();
    char json[1024] = "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"data\":{";
    for (int i = 0; i < 16; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json), "%s\"f%d\":%d", i ? "," : "", i,
                 i + 1);
    snprintf(json + strlen(json), sizeof json - strlen(json), "},\"subsystems\":[\"v\"]}");
    actor(e.fx, json);
    fx_resolve(e.fx);
    assert_double_exact(fx_dim(e.fx, "luck").primary, 16 * 17 / 2); /* 1 + 2 + ... + 16 */
    free_env(&e);
    put_the_five_files(); /* as the tests after this one expect */
}

/* A row scaled by lifespan reads the lifespan even when the actor has an age too, and one
   scaled by age fails without an age; a key read from data must be a string; a row past
   the request's contribution limit, or whose cap names a realm over 256 bytes, fails the
   request. */
static void scaling_fields_keys_and_limits_of_a_table(void **state)
{
    (void)state;
    clear_dir();
    put_file("life.yaml", "id: life\nkind: table\nkey: race\nrows:\n"
                          "  human: { primary: [ { dimension: luck, bucket: FLAT, value: 2, "
                          "per: lifespan },\n"
                          "                      { dimension: agility, bucket: FLAT, value: 3, "
                          "per: age } ] }\n");
    put_file("realm.yaml", REALM);
    put_file("buffs.yaml", BUFFS);
    env_t e = load_env();
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"age\":10,\"lifespan\":100,"
                "\"subsystems\":[\"life\"]}");
    fx_resolve(e.fx);
    assert_double_exact(fx_dim(e.fx, "luck").primary, 200);
    assert_double_exact(fx_dim(e.fx, "agility").primary, 30);

    expect_request_failure(
        e.fx, "{\"id\":\"h\",\"version\":1,\"data\":{\"realm\":7},\"subsystems\":[\"realm\"]}",
        "data.realm is not a string");
    /* an entry of an `each` list is a row name or a map with a string id */
    const char *const nameless[][2] = {{"[{\"stacks\":2}]", "data.buffs[0] names no row"},
                                       {"[{\"id\":3}]", "data.buffs[0] names no row"},
                                       {"[\"haste\",4]", "data.buffs[1] names no row"}};
    for (int i = 0; i < 3; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"id\":\"h\",\"version\":1,\"data\":{\"buffs\":%s},\"subsystems\":[\"buffs\"]}",
                 nameless[i][0]);
        expect_request_failure(e.fx, json, nameless[i][1]);
    }

    /* an actor with a lifespan and no age: a row scaled by age has no field to read */
    expect_request_failure(e.fx,
                           "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"lifespan\":100,"
                           "\"subsystems\":[\"life\"]}",
                           "actor field age is missing");
    limit_contributions(e.fx, 1);
    expect_request_failure(e.fx,
                           "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"age\":10,"
                           "\"lifespan\":100,\"subsystems\":[\"life\"]}",
                           "more than 1 contributions and caps");
    free_env(&e);

    /* a cap's realm is a request string: one past 256 bytes fails the request that uses it */
    char text[1024];
    snprintf(text, sizeof text,
             "id: far\nkind: table\nkey: race\nrows:\n  human: { caps: [ { dimension: luck, "
             "mode: BASELINE, kind: max, value: 1, scope: REALM, realm: r%0256d } ] }\n",
             0);
    clear_dir();
    put_file("far.yaml", text);
    e = load_env();
    expect_request_failure(
        e.fx, "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"subsystems\":[\"far\"]}",
        "string longer than 256 bytes");
    free_env(&e);
    put_the_five_files(); /* as the tests after this one expect */
}

static void editing_a_table_changes_the_generation(void **state)
{
    (void)state;
    clear_dir();
    put_file("race.yaml", RACE);
    fx_t *fx = fx_new(COMBINER, TU_LAYERS);
    ac_subsystems_t *a = ac_subsystems_load(fx->reg, s_dir, &fx->err);
    ac_subsystems_t *b = ac_subsystems_load(fx->reg, s_dir, &fx->err);
    assert_true(ac_subsystems_generation(a) == ac_subsystems_generation(b));
    char edited[1024];
    snprintf(edited, sizeof edited, "%s", RACE);
    *strstr(edited, "value: 10") = '\0';
    strcat(edited, "value: 11 }\n");
    put_file("race.yaml", edited);
    ac_subsystems_t *c = ac_subsystems_load(fx->reg, s_dir, &fx->err);
    assert_non_null(c);
    assert_true(ac_subsystems_generation(a) != ac_subsystems_generation(c));
    /* Installed, the set's generation reaches snapshots (and so cache keys). */
    uint64_t before = ac_resolver_generation(fx->r);
    ac_subsystems_install(a, fx->r, &fx->err);
    assert_true(ac_resolver_generation(fx->r) != before);
    fx_resolve(fx);
    assert_true(ac_snapshot_generation(fx->snap) == ac_resolver_generation(fx->r));
    assert_true(ac_snapshot_generation(fx->snap) != ac_registry_generation(fx->reg));
    fx_free(fx);
    ac_subsystems_destroy(&a);
    ac_subsystems_destroy(&b);
    ac_subsystems_destroy(&c);
}

static void plugin_file(const char *name, const char *lib, const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text, "id: %s\nkind: plugin\nlibrary: %s\n%s", name, lib, extra);
    char file[64];
    snprintf(file, sizeof file, "%s.yaml", name);
    put_file(file, text);
}

static void the_example_plugin_loads_and_contributes(void **state)
{
    (void)state;
    clear_dir();
    plugin_file("karma", AC_PLUGIN_DIR "/libac_karma.so",
                "config: { per_year: 2.5, luck_every: 10 }\n");
    env_t e = load_env();
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"age\":31,\"subsystems\":[\"karma\"]}");
    fx_resolve(e.fx);
    assert_double_exact(fx_dim(e.fx, "karma").primary, 2.5 * 31);
    assert_double_exact(fx_dim(e.fx, "luck").primary, 3);
    free_env(&e);
    clear_dir();
    plugin_file("karma", AC_PLUGIN_DIR "/libac_karma.so", "config: [1, 2]\n");
    fx_t *fx = fx_new(COMBINER, TU_LAYERS);
    assert_null(ac_subsystems_load(fx->reg, s_dir, &fx->err));
    assert_non_null(strstr(fx->err.message, "refused its config"));
    fx_free(fx);
}

static void broken_plugins_are_refused_at_load(void **state)
{
    (void)state;
    struct {
        const char *lib, *what;
    } cases[] = {
        {"/nonexistent/libnothing.so", "cannot load"},
        {AC_PLUGIN_DIR "/libac_test_no_symbol.so", "exports no"},
        {AC_PLUGIN_DIR "/libac_test_wrong_abi.so", "ABI"},
    };
    for (int i = 0; i < 3; i++) {
        clear_dir();
        plugin_file("p", cases[i].lib, "");
        fx_t *fx = fx_new(COMBINER, TU_LAYERS);
        assert_null(ac_subsystems_load(fx->reg, s_dir, &fx->err));
        if (!strstr(fx->err.message, cases[i].what))
            fail_msg("%s: %s", cases[i].lib, fx->err.message);
        assert_string_equal(fx->err.path, "library");
        fx_free(fx);
    }
}

static void failing_and_slow_plugins_fail_the_request_unless_optional(void **state)
{
    (void)state;
    clear_dir();
    plugin_file("failing", AC_PLUGIN_DIR "/libac_test_fail.so", "");
    plugin_file("failing_ok", AC_PLUGIN_DIR "/libac_test_fail.so", "optional: true\n");
    plugin_file("slow", AC_PLUGIN_DIR "/libac_test_slow.so", "budget_us: 5000\n");
    plugin_file("slow_ok", AC_PLUGIN_DIR "/libac_test_slow.so",
                "budget_us: 5000\noptional: true\n");
    plugin_file("slow_unbounded", AC_PLUGIN_DIR "/libac_test_slow.so", "");
    env_t e = load_env();
    expect_request_failure(e.fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"failing\"]}",
                           "database is down");
    expect_request_failure(e.fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"slow\"]}",
                           "budget");
    /* Optional ones are skipped, and what they added is discarded. */
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"failing_ok\",\"slow_ok\"]}");
    fx_resolve(e.fx);
    assert_int_equal(ac_snapshot_dimension_count(e.fx->snap), 0);
    /* Without a budget, slow is fine. */
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"subsystems\":[\"slow_unbounded\"]}");
    fx_resolve(e.fx);
    assert_double_exact(fx_dim(e.fx, "luck").primary, 1);
    free_env(&e);
}

static void the_demo_actor_is_a_w2_actor(void **state)
{
    (void)state;
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load(AC_SOURCE_DIR "/config/combiner.yaml",
                                          AC_SOURCE_DIR "/config/cap_layers.yaml", &err);
    assert_non_null(reg);
    ac_subsystems_t *subs = ac_subsystems_load(reg, AC_SOURCE_DIR "/config/subsystems", &err);
    if (!subs)
        fail_msg("%s", err.message);
    ac_resolver_t *r = ac_resolver_new(reg);
    ac_request_t *req = ac_request_new(reg);
    assert_int_equal(ac_subsystems_install(subs, r, &err), 0);
    char *json = tu_slurp(AC_SOURCE_DIR "/config/demo/actor.json");
    assert_int_equal(ac_decode_actor_json(req, json, strlen(json), &err), 0);
    const ac_snapshot_t *snap;
    if (ac_resolve(r, req, &snap, &err))
        fail_msg("%s at %s", err.message, err.path);
    /* WORKLOADS.md W2: >= 300 contributions, >= 40 caps, >= 20 dimensions. */
    assert_true(ac_request_contribution_count(req) >= 300);
    assert_true(ac_request_cap_count(req) >= 40);
    assert_true(ac_snapshot_dimension_count(snap) >= 20);
    free(json);
    ac_request_destroy(&req);
    ac_resolver_destroy(&r);
    ac_subsystems_destroy(&subs);
    ac_registry_destroy(&reg);
}

/* A formula sums its terms in dimension order whatever order the file lists them in (SPEC
   5: the sum's order is the data's, never the input's): 1e16 * strength, -1e16 * luck and
   1 * agility over primaries of 1 give 0 in name order (agility, luck, strength) and 1 in
   the file's; a formula's bucket is read by name and applied (MULT multiplies), and an
   unknown one is refused. */
static void formula_terms_sum_in_dimension_order_and_buckets_are_named(void **state)
{
    (void)state;
    clear_dir();
    put_file("base.yaml", "id: base\nkind: table\nkey: race\nrows:\n"
                          "  human:\n    primary:\n"
                          "      - { dimension: strength, bucket: FLAT, value: 1 }\n"
                          "      - { dimension: luck, bucket: FLAT, value: 1 }\n"
                          "      - { dimension: agility, bucket: FLAT, value: 1 }\n"
                          "    derived:\n"
                          "      - { dimension: hp, bucket: FLAT, value: 10 }\n");
    put_file("f.yaml", "id: f\nkind: formula\nformulas:\n"
                       "  hp: { terms: { strength: 1e16, luck: -1e16, agility: 1 } }\n");
    put_file("f2.yaml", "id: f2\nkind: formula\nformulas:\n"
                        "  hp: { terms: { agility: 0.5 }, bucket: MULT }\n");
    env_t e = load_env();
    actor(e.fx, "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"subsystems\":[\"base\","
                "\"f\",\"f2\"]}");
    fx_resolve(e.fx);
    /* hp (a pipeline): FLAT 10 (the table) + 0 (f), times 1 + 0.5 (f2's MULT) */
    assert_double_exact(fx_dim(e.fx, "hp").derived, 15);
    free_env(&e);
    expect_load_error("g.yaml",
                      "id: g\nkind: formula\nformulas:\n  hp: { terms: { luck: 1 }, "
                      "bucket: NOPE }\n",
                      NULL, "unknown bucket");
    /* two formulas in one file each sum their own terms; an output past the request's
       limit fails the request */
    clear_dir();
    put_file("base.yaml", "id: base\nkind: table\nkey: race\nrows:\n"
                          "  human:\n    primary:\n"
                          "      - { dimension: strength, bucket: FLAT, value: 1 }\n"
                          "      - { dimension: agility, bucket: FLAT, value: 2 }\n");
    put_file("two.yaml", "id: two\nkind: formula\nformulas:\n"
                         "  hp: { terms: { strength: 10 } }\n"
                         "  luck: { terms: { agility: 3 } }\n");
    e = load_env();
    const char *two = "{\"id\":\"h\",\"version\":1,\"race\":\"human\",\"subsystems\":[\"base\","
                      "\"two\"]}";
    actor(e.fx, two);
    fx_resolve(e.fx);
    assert_double_exact(fx_dim(e.fx, "hp").derived, 10);
    assert_double_exact(fx_dim(e.fx, "luck").derived, 6);
    limit_contributions(e.fx, 3);
    expect_request_failure(e.fx, two, "subsystem 'two' failed: more than 3 contributions");
    free_env(&e);
    put_the_five_files(); /* as the tests after this one expect */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_and_formulas_give_hand_computed_values),
        cmocka_unit_test(formula_terms_sum_in_dimension_order_and_buckets_are_named),
        cmocka_unit_test(subsystem_order_in_the_actor_never_matters),
        cmocka_unit_test(unknown_rows_and_bad_fields_fail_the_request_by_name),
        cmocka_unit_test(load_errors_name_file_line_and_field),
        cmocka_unit_test(table_loader_checks_every_entry_field),
        cmocka_unit_test(scaling_fields_keys_and_limits_of_a_table),
        cmocka_unit_test(editing_a_table_changes_the_generation),
        cmocka_unit_test(the_example_plugin_loads_and_contributes),
        cmocka_unit_test(broken_plugins_are_refused_at_load),
        cmocka_unit_test(failing_and_slow_plugins_fail_the_request_unless_optional),
        cmocka_unit_test(the_demo_actor_is_a_w2_actor),
    };
    return cmocka_run_group_tests_name("tables", tests, setup, teardown);
}
