/*  test_settings.c - the settings loader, and the shipped config/actorcore.yaml against
#include <fcntl.h>
#include <unistd.h>
    the worker's real settings table. */
#include "service/settings.h"
#include "testutil.h"
#include "worker.h"

static void shipped_config_loads_into_the_worker_settings(void **state)
{
    (void)state;
    worker_config_t cfg;
    worker_config_defaults(&cfg);
    size_t n;
    ac_setting_t *t = worker_settings(&cfg, &n);
    ac_error_t err;
    if (ac_settings_load_file(AC_SOURCE_DIR "/config/actorcore.yaml", "worker", t, n, &err))
        fail_msg("%s", err.message);
    assert_int_equal(cfg.credit, 64);
    assert_int_equal(cfg.l1_entries, 100000);
    assert_int_equal(cfg.max_batch, 1000);
    assert_string_equal(cfg.store, "var/actorcore.db");
    ac_settings_free(t, n);
}

static void flags_and_files_share_one_table(void **state)
{
    (void)state;
    char *name = NULL;
    long long count = 5;
    bool on = false;
    ac_setting_t t[] = {
        {"name", AC_SET_STR, &name, 0, 0, "a name"},
        {"l1.max_count", AC_SET_INT, &count, 1, 10, "a count"},
        {"on", AC_SET_BOOL, &on, 0, 0, "a switch"},
    };
    ac_error_t err;
    assert_int_equal(ac_settings_apply_flag("l1-max-count", "7", t, 3, &err), 0);
    assert_int_equal(count, 7);
    assert_int_equal(ac_settings_apply_flag("l1-max-count", "70", t, 3, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("l1-max-count", "7x", t, 3, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("on", "maybe", t, 3, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("nope", "1", t, 3, &err), AC_ENOT_FOUND);
    char path[] = "/tmp/ac_settings_XXXXXX";
    int fd = mkstemp(path);
    const char *yaml =
        "other: { anything: 1 }\nmine:\n  name: x\n  l1: { max_count: 3 }\n  on: true\n";
    assert_true(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
    close(fd);
    assert_int_equal(ac_settings_load_file(path, "mine", t, 3, &err), 0);
    assert_string_equal(name, "x");
    assert_int_equal(count, 3);
    assert_true(on);
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "mine:\n  name: x\n  colour: red\n";
    assert_true(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(ac_settings_load_file(path, "mine", t, 3, &err), AC_ESCHEMA);
    assert_non_null(strstr(err.message, ":3:"));
    assert_string_equal(err.path, "colour");
    unlink(path);
    ac_settings_free(t, 3);
}

static void a_number_setting_takes_finite_numbers_within_its_bounds(void **state)
{
    (void)state;
    double eps = 0.25;
    ac_setting_t t[] = {{"affinity.epsilon", AC_SET_DOUBLE, &eps, 0, 10, "a fraction"}};
    ac_error_t err;
    assert_int_equal(ac_settings_apply_flag("affinity-epsilon", "0.5", t, 1, &err), 0);
    assert_true(eps == 0.5);
    assert_int_equal(ac_settings_apply_flag("affinity-epsilon", "3", t, 1, &err), 0);
    assert_true(eps == 3.0);
    const char *bad[] = {"", "abc", "0.5x", "nan", "inf", "1e999", "-0.1", "10.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ac_settings_apply_flag("affinity-epsilon", bad[i], t, 1, &err),
                         AC_ESCHEMA);
        assert_string_equal(err.path, "affinity.epsilon");
    }
    assert_true(eps == 3.0); /* a refused value changes nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_config_loads_into_the_worker_settings),
        cmocka_unit_test(flags_and_files_share_one_table),
        cmocka_unit_test(a_number_setting_takes_finite_numbers_within_its_bounds),
    };
    return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
