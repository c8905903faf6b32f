/*  test_registry.c - loading the registries, their errors, and the generation. */
#include "testutil.h"

/* Loads text pairs and expects failure; returns the error. */
static ac_error_t load_fail(const char *combiner, const char *layers)
{
    ac_error_t err;
    ac_error_clear(&err);
    ac_registry_t *reg = ac_registry_load_buffers("c.yaml", combiner, strlen(combiner), "l.yaml",
                                                  layers, strlen(layers), &err);
    if (reg)
        fail_msg("loading should have failed:\n%s\n%s", combiner, layers);
    assert_int_not_equal(err.code, 0);
    return err;
}

static void golden_registry_loads_with_ids_in_name_order(void **state)
{
    (void)state;
    char c[512], l[512];
    tu_golden_path(c, sizeof c, "combiner.yaml");
    tu_golden_path(l, sizeof l, "cap_layers.yaml");
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load(c, l, &err);
    assert_non_null(reg);
    assert_int_equal(ac_registry_dimension_count(reg), 11);
    for (uint32_t i = 1; i < 11; i++)
        assert_true(
            strcmp(ac_registry_dimension_name(reg, i - 1), ac_registry_dimension_name(reg, i)) < 0);
    int id = ac_registry_dimension_id(reg, "lifespan_years", 14);
    assert_true(id >= 0);
    const ac_rule_t *rule = ac_registry_rule(reg, (uint32_t)id);
    assert_false(rule->use_pipeline);
    assert_int_equal(rule->op, AC_OP_MAX);
    assert_true(rule->clamp_max == 100000);
    assert_null(ac_registry_default_rule(reg));
    assert_int_equal(ac_registry_layer_count(reg), 4);
    assert_int_equal(ac_registry_layer_id(reg, "WORLD", 5), 1);
    assert_int_equal(ac_registry_layer_id(reg, "NOPE", 4), -1);
    assert_int_equal(ac_registry_policy(reg), AC_POLICY_INTERSECT);
    ac_registry_destroy(&reg);
    ac_registry_destroy(&reg); /* safe twice */
}

static void json_layers_file_is_accepted(void **state)
{
    (void)state;
    char c[512], l[512];
    tu_golden_path(c, sizeof c, "combiner.yaml");
    tu_golden_path(l, sizeof l, "case09_prioritized_override/cap_layer_registry.json");
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load(c, l, &err);
    assert_non_null(reg);
    assert_int_equal(ac_registry_layer_count(reg), 2);
    assert_int_equal(ac_registry_policy(reg), AC_POLICY_PRIORITIZED_OVERRIDE);
    ac_registry_destroy(&reg);
}

static void generation_ignores_formatting_but_not_meaning(void **state)
{
    (void)state;
    ac_registry_t *a = tu_registry(
        "dimensions:\n  a: { use_pipeline: true, clamp_default: { min: 0, max: 10 } }\n"
        "  b: { use_pipeline: false, operator: SUM, clamp_default: { min: 0, max: 1 } }\n",
        TU_LAYERS);
    /* Same meaning: other order, comments, block style, number spelling. */
    ac_registry_t *b = tu_registry(
        "# comment\ndimensions:\n  b:\n    clamp_default: { max: 1.0, min: 0 }\n"
        "    operator: SUM\n    use_pipeline: false\n"
        "  a: { clamp_default: { min: 0.0, max: 1e1 }, use_pipeline: true }\n",
        "across_policy: INTERSECT\norder:\n  - REALM\n  - WORLD\n  - EVENT\n  - TOTAL\n");
    ac_registry_t *c = tu_registry(
        "dimensions:\n  a: { use_pipeline: true, clamp_default: { min: 0, max: 11 } }\n"
        "  b: { use_pipeline: false, operator: SUM, clamp_default: { min: 0, max: 1 } }\n",
        TU_LAYERS);
    ac_registry_t *d = tu_registry(
        "dimensions:\n  a: { use_pipeline: true, clamp_default: { min: 0, max: 10 } }\n"
        "  b: { use_pipeline: false, operator: SUM, clamp_default: { min: 0, max: 1 } }\n",
        TU_LAYERS_PO);
    assert_true(ac_registry_generation(a) == ac_registry_generation(b));
    assert_true(ac_registry_generation(a) != ac_registry_generation(c));
    assert_true(ac_registry_generation(a) != ac_registry_generation(d));
    ac_registry_destroy(&a);
    ac_registry_destroy(&b);
    ac_registry_destroy(&c);
    ac_registry_destroy(&d);
}

static void default_rule_is_optional_and_loaded(void **state)
{
    (void)state;
    ac_registry_t *reg = tu_registry("dimensions: {}\ndefault: { use_pipeline: true, "
                                     "clamp_default: { min: -1.0e15, max: 1.0e15 } }\n",
                                     TU_LAYERS);
    const ac_rule_t *def = ac_registry_default_rule(reg);
    assert_non_null(def);
    assert_true(def->clamp_min == -1e15 && def->clamp_max == 1e15);
    ac_registry_destroy(&reg);
}

static void unknown_operator_names_file_line_and_field(void **state)
{
    (void)state;
    ac_error_t err = load_fail("dimensions:\n  a: { use_pipeline: false, operator: MEDIAN, "
                               "clamp_default: { min: 0, max: 1 } }\n",
                               TU_LAYERS);
    assert_int_equal(err.code, AC_ESCHEMA);
    assert_string_equal(err.path, "dimensions.a.operator");
    assert_non_null(strstr(err.message, "c.yaml:2:"));
    assert_non_null(strstr(err.message, "MEDIAN"));
}

static void clamp_min_above_max_is_rejected(void **state)
{
    (void)state;
    ac_error_t err = load_fail(
        "dimensions:\n  a: { use_pipeline: true, clamp_default: { min: 5, max: 1 } }\n", TU_LAYERS);
    assert_string_equal(err.path, "dimensions.a.clamp_default");
    assert_non_null(strstr(err.message, "c.yaml:2:"));
}

static void bad_combiner_files_are_rejected_with_paths(void **state)
{
    (void)state;
    struct {
        const char *text, *path;
    } cases[] = {
        {"dimensions:\n  a: { use_pipeline: true }\n", "dimensions.a"},
        {"dimensions:\n  a: { use_pipeline: true, operator: SUM, clamp_default: { min: 0, max: 1 } "
         "}\n",
         "dimensions.a.operator"},
        {"dimensions:\n  a: { use_pipeline: false, clamp_default: { min: 0, max: 1 } }\n",
         "dimensions.a.operator"},
        {"dimensions:\n  a: { use_pipeline: maybe, clamp_default: { min: 0, max: 1 } }\n",
         "dimensions.a.use_pipeline"},
        {"dimensions:\n  a: { clamp_default: { min: 0, max: .inf } }\n",
         "dimensions.a.clamp_default.max"},
        {"dimensions:\n  a: { clamp_default: { min: '0', max: 1 } }\n",
         "dimensions.a.clamp_default.min"},
        {"dimensions:\n  a: { clamp_default: { min: 0 } }\n", "dimensions.a.clamp_default"},
        {"dimensions:\n  a: { clamp_default: { min: 0, max: 1 }, colour: red }\n", "dimensions.a"},
        {"dimensions:\n  Bad: { clamp_default: { min: 0, max: 1 } }\n", "dimensions.Bad"},
        {"dimensions:\n  a: { clamp_default: { min: 0, max: 1 } }\n  a: { clamp_default: { min: 0, "
         "max: 2 } }\n",
         "dimensions.a"},
        {"dimension:\n  a: {}\n", ""},
        {"[1, 2]\n", ""},
        {"dimensions: [a, b]\n", "dimensions"},
        {"dimensions:\n  a: 5\n", "dimensions.a"},
        {"dimensions:\n  a: { clamp_default: { min: 1.2.3, max: 1 } }\n",
         "dimensions.a.clamp_default.min"},
        {"dimensions:\n  a: { clamp_default: { min: 0, max: 1e } }\n",
         "dimensions.a.clamp_default.max"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_error_t err = load_fail(cases[i].text, TU_LAYERS);
        assert_int_equal(err.code, AC_ESCHEMA);
        if (strcmp(err.path, cases[i].path) != 0)
            fail_msg("case %zu: path '%s', expected '%s' (%s)", i, err.path, cases[i].path,
                     err.message);
        assert_non_null(strstr(err.message, "c.yaml:"));
    }
}

static void bad_layer_files_are_rejected(void **state)
{
    (void)state;
    const char *ok = "dimensions: {}\n";
    struct {
        const char *text, *path;
    } cases[] = {
        {"order: []\n", "order"},
        {"order: [REALM, WORLD, REALM]\n", "order[2]"},
        {"order: [REALM]\nacross_policy: UNION\n", "across_policy"},
        {"across_policy: INTERSECT\n", "order"},
        {"order: [REALM]\nextra: 1\n", ""},
        {"order: REALM\n", "order"},
        {"order: [[REALM]]\n", "order[0]"},
        {"order: [{REALM: 1}]\n", "order[0]"},
        {"- REALM\n- WORLD\n", ""}, /* the root itself is not a mapping */
        {"REALM\n", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ac_error_t err = load_fail(ok, cases[i].text);
        if (strcmp(err.path, cases[i].path) != 0)
            fail_msg("case %zu: path '%s', expected '%s' (%s)", i, err.path, cases[i].path,
                     err.message);
        assert_non_null(strstr(err.message, "l.yaml:"));
    }
}

/* A dimension name too long to be one is named in the error's path by its first 80
   bytes: 81 bytes give 80, 80 give all 80. */
static void a_long_dimension_name_is_named_by_its_first_80_bytes(void **state)
{
    (void)state;
    for (size_t len = 79; len <= 82; len++) {
        char name[100], text[200], want[120];
        memset(name, 'a', len);
        name[len] = '\0';
        snprintf(text, sizeof text, "dimensions:\n  %s: { use_pipeline: true }\n", name);
        ac_error_t err = load_fail(text, "order: [TOTAL]\n");
        snprintf(want, sizeof want, "dimensions.%.80s", name);
        if (strcmp(err.path, want) != 0)
            fail_msg("a %zu-byte name: path '%s', expected '%s'", len, err.path, want);
        assert_int_equal(err.code, AC_ESCHEMA);
    }
}

/* The generation reads every byte of both clamp bounds: a maximum that differs from
   another only in its sign (its top byte) gives another generation, and so does a
   minimum; a layer id past the last has no name. */
static void the_generation_sees_every_byte_of_the_clamp_bounds(void **state)
{
    (void)state;
    const char *texts[] = {
        "dimensions:\n  x: { use_pipeline: true, clamp_default: { min: -10, max: 2 } }\n",
        "dimensions:\n  x: { use_pipeline: true, clamp_default: { min: -10, max: -2 } }\n",
        "dimensions:\n  x: { use_pipeline: true, clamp_default: { min: 2, max: 10 } }\n",
        "dimensions:\n  x: { use_pipeline: true, clamp_default: { min: -2, max: 10 } }\n",
    };
    uint64_t gen[4];
    for (int i = 0; i < 4; i++) {
        ac_error_t err;
        const char *layers = "order: [WORLD, TOTAL]\n";
        ac_registry_t *reg = ac_registry_load_buffers("c.yaml", texts[i], strlen(texts[i]),
                                                      "l.yaml", layers, strlen(layers), &err);
        assert_non_null(reg);
        gen[i] = ac_registry_generation(reg);
        assert_string_equal(ac_registry_layer_name(reg, 1), "TOTAL");
        assert_null(ac_registry_layer_name(reg, 2));
        ac_registry_destroy(&reg);
    }
    assert_true(gen[0] != gen[1]);
    assert_true(gen[2] != gen[3]);
}

static void yaml_syntax_error_names_the_line(void **state)
{
    (void)state;
    ac_error_t err = load_fail("dimensions:\n  a: { use_pipeline: true,\n  b: [\n", TU_LAYERS);
    assert_int_equal(err.code, AC_ESCHEMA);
    assert_non_null(strstr(err.message, "c.yaml:"));
    assert_non_null(strstr(err.message, "YAML syntax error"));
    err = load_fail("", TU_LAYERS);
    assert_non_null(strstr(err.message, "empty"));
}

static void missing_file_is_an_error_not_a_crash(void **state)
{
    (void)state;
    ac_error_t err;
    assert_null(ac_registry_load("/nonexistent/c.yaml", "/nonexistent/l.yaml", &err));
    assert_non_null(strstr(err.message, "/nonexistent/c.yaml"));
}

/* A layer name has 1 to 64 bytes. */
static void layer_names_have_at_most_64_bytes(void **state)
{
    (void)state;
    char name[80], layers[120];
    memset(name, 'L', 65);
    name[64] = '\0';
    snprintf(layers, sizeof layers, "order: [%s]\n", name);
    ac_registry_t *reg = tu_registry("dimensions: {}\n", layers);
    assert_non_null(reg);
    ac_registry_destroy(&reg);
    name[64] = 'L';
    name[65] = '\0';
    snprintf(layers, sizeof layers, "order: [%s]\n", name);
    ac_error_t err = load_fail("dimensions: {}\n", layers);
    assert_string_equal(err.path, "order[0]");
}

/* The operators' names by number, "?" outside them; a dimension name is a lowercase letter
   then lowercase letters, digits and underscores. */
static void operator_names_and_dimension_name_rules(void **state)
{
    (void)state;
    const char *want[] = {"SUM", "MAX", "MIN", "AVERAGE", "MULTIPLY"};
    for (int op = 0; op < 5; op++)
        assert_string_equal(ac_operator_name(op), want[op]);
    assert_string_equal(ac_operator_name(-1), "?");
    assert_string_equal(ac_operator_name(5), "?");
    const char *good[] = {"hp", "a", "fire_resist_2", "z9_"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(ac_dimension_name_valid(good[i], strlen(good[i])));
    const char *bad[] = {"", "Hp", "hP", "h-p", "h p", "h.p", "h{", "h`", "h/", "h:", "9a", "_a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ac_dimension_name_valid(bad[i], strlen(bad[i])))
            fail_msg("'%s' taken as a dimension name", bad[i]);
}

/* A quoted number is a string: refused as one, with a message that says so. */
static void a_quoted_number_is_refused_as_a_string(void **state)
{
    (void)state;
    ac_error_t err =
        load_fail("dimensions:\n  a: { clamp_default: { min: '0', max: 1 } }\n", TU_LAYERS);
    assert_int_equal(err.code, AC_ESCHEMA);
    assert_string_equal(err.path, "dimensions.a.clamp_default.min");
    assert_non_null(strstr(err.message, "quoted string"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_registry_loads_with_ids_in_name_order),
        cmocka_unit_test(json_layers_file_is_accepted),
        cmocka_unit_test(generation_ignores_formatting_but_not_meaning),
        cmocka_unit_test(default_rule_is_optional_and_loaded),
        cmocka_unit_test(unknown_operator_names_file_line_and_field),
        cmocka_unit_test(clamp_min_above_max_is_rejected),
        cmocka_unit_test(bad_combiner_files_are_rejected_with_paths),
        cmocka_unit_test(bad_layer_files_are_rejected),
        cmocka_unit_test(layer_names_have_at_most_64_bytes),
        cmocka_unit_test(a_quoted_number_is_refused_as_a_string),
        cmocka_unit_test(operator_names_and_dimension_name_rules),
        cmocka_unit_test(yaml_syntax_error_names_the_line),
        cmocka_unit_test(the_generation_sees_every_byte_of_the_clamp_bounds),
        cmocka_unit_test(a_long_dimension_name_is_named_by_its_first_80_bytes),
        cmocka_unit_test(missing_file_is_an_error_not_a_crash),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
