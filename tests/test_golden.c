/*  test_golden.c - the design's ten truth files through the library (test_cli runs them
    through the command line). */
#include "testutil.h"

static void run_case(const char *name)
{
    char c[512], l[512], in[512], want[512];
    tu_golden_path(c, sizeof c, "combiner.yaml");
    tu_case_layers(l, sizeof l, name);
    snprintf(in, sizeof in, "%s/%s/subsystems.json", AC_GOLDEN_DIR, name);
    snprintf(want, sizeof want, "%s/%s/expected.json", AC_GOLDEN_DIR, name);
    ac_error_t err;
    ac_registry_t *reg = ac_registry_load(c, l, &err);
    if (!reg)
        fail_msg("%s: %s", name, err.message);
    char *input = tu_slurp(in), *expected = tu_slurp(want), *got = NULL;
    assert_non_null(input);
    assert_non_null(expected);
    if (tu_resolve_json(reg, input, &got, &err))
        fail_msg("%s: %s at %s", name, err.message, err.path);
    tu_assert_snapshot(expected, got);
    free(input);
    free(expected);
    free(got);
    ac_registry_destroy(&reg);
}

#define GOLDEN(i)                        \
    static void golden_##i(void **state) \
    {                                    \
        (void)state;                     \
        run_case(tu_golden_cases[i]);    \
    }
GOLDEN(0)
GOLDEN(1)
GOLDEN(2)
GOLDEN(3)
GOLDEN(4)
GOLDEN(5)
GOLDEN(6)
GOLDEN(7)
GOLDEN(8)
GOLDEN(9)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_0), cmocka_unit_test(golden_1), cmocka_unit_test(golden_2),
        cmocka_unit_test(golden_3), cmocka_unit_test(golden_4), cmocka_unit_test(golden_5),
        cmocka_unit_test(golden_6), cmocka_unit_test(golden_7), cmocka_unit_test(golden_8),
        cmocka_unit_test(golden_9),
    };
    return cmocka_run_group_tests_name("golden", tests, NULL, NULL);
}
