/*  test_settings.c - the settings loader, and the shipped config/actorcore.yaml against
    the worker's real settings table. */
#include <fcntl.h>
#include <unistd.h>

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
    assert_string_equal(cfg.metrics, "*:9101"); /* on in the shipped file (off built in) */
    /* Relative paths in a config file resolve against the file's folder. */
    assert_string_equal(cfg.store, AC_SOURCE_DIR "/config/../var/actorcore.db");
    assert_string_equal(cfg.subsystems, AC_SOURCE_DIR "/config/subsystems");
    ac_settings_free(t, n);
}

/* Replaces the file's text. */
static void rewrite(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
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
    rewrite(path, "mine:\n  name: x\n  colour: red\n");
    assert_int_equal(ac_settings_load_file(path, "mine", t, 3, &err), AC_ESCHEMA);
    assert_non_null(strstr(err.message, ":3:"));
    assert_string_equal(err.path, "colour");
    /* A setting takes one value: a list or a map in its place is refused where it is. */
    rewrite(path, "mine:\n  name: [x, y]\n");
    assert_int_equal(ac_settings_load_file(path, "mine", t, 3, &err), AC_ESCHEMA);
    assert_non_null(strstr(err.message, "expected a single value"));
    assert_string_equal(err.path, "name");
    /* A bad value names the file, its line and column, and the setting. */
    rewrite(path, "mine:\n  name: x\n  l1: { max_count: 70 }\n");
    assert_int_equal(ac_settings_load_file(path, "mine", t, 3, &err), AC_ESCHEMA);
    char where[160];
    snprintf(where, sizeof where, "%s:3:20: l1.max_count", path);
    if (!strstr(err.message, where))
        fail_msg("'%s' does not say '%s'", err.message, where);
    unlink(path);
    ac_settings_free(t, 3);
    assert_null(name); /* the first string of the table too */
}

typedef struct {
    int argc;
    char **argv;
    const ac_setting_t *t;
    size_t n;
    int rc;
} parse_call_t;

static void parse_call(void *arg)
{
    parse_call_t *c = arg;
    c->rc = ac_settings_parse_args(c->argc, c->argv, "prog", "mine", "usage: prog\n", c->t, c->n);
}

/* Runs ac_settings_parse_args on argv with fd 1 or 2 (which) captured; the text written
   comes back in *out (malloc'd). */
static int parse_captured(int argc, char **argv, const ac_setting_t *t, size_t n, int which,
                          char **out)
{
    parse_call_t c = {argc, argv, t, n, 0};
    *out = tu_capture(which, parse_call, &c);
    return c.rc;
}

/* A flag without its value, last on the line, or a word that is no flag: exit 2 and a
   message naming it; nothing after it is applied. */
static void a_flag_without_its_value_is_refused_by_name(void **state)
{
    (void)state;
    long long count = 5;
    ac_setting_t t[] = {{"count", AC_SET_INT, &count, 1, 10, "a count"}};
    char *cases[][4] = {{"prog", "--count", "7", "--count"}, {"prog", "stray", "--count", "7"}};
    const char *named[] = {"unexpected argument '--count'", "unexpected argument 'stray'"};
    for (int i = 0; i < 2; i++) {
        char *err = NULL;
        assert_int_equal(parse_captured(4, cases[i], t, 1, 2, &err), 2);
        if (!err || !strstr(err, named[i]))
            fail_msg("stderr '%s' does not say %s", err ? err : "", named[i]);
        free(err);
    }
}

/* --version and -V print the program's name and version and end the parse (0), as
   --help and -h print the usage. */
static void version_and_help_in_either_spelling(void **state)
{
    (void)state;
    long long count = 5;
    char *store = strdup("data/x.db");
    double eps = 0.25;
    ac_setting_t t[] = {{"count", AC_SET_INT, &count, 1, 10, "a count"},
                        {"store_file", AC_SET_PATH, &store, 0, 0, "a file"},
                        {"eps", AC_SET_DOUBLE, &eps, 0, 1, "a fraction"}};
    const char *flags[] = {"--version", "-V", "--help", "-h"};
    for (size_t i = 0; i < 4; i++) {
        char *argv[] = {"prog", "--count", "7", (char *)flags[i], NULL};
        char *out = NULL;
        assert_int_equal(parse_captured(4, argv, t, 3, 1, &out), 0);
        const char *want = i < 2 ? "prog " : "usage: prog\n";
        if (!out || strncmp(out, want, strlen(want)) != 0)
            fail_msg("%s printed '%s'", flags[i], out ? out : "(nothing)");
        /* The help lists every setting with its default: numbers, and a path. */
        if (i >= 2 &&
            (!strstr(out, "  --count ") || !strstr(out, "a count (default: 5)\n") ||
             !strstr(out, "  --store-file ") || !strstr(out, "a file (default: data/x.db)\n") ||
             !strstr(out, "  --eps ") || !strstr(out, "a fraction (default: 0.25)\n")))
            fail_msg("%s printed '%s'", flags[i], out);
        assert_int_equal(count, 5); /* the parse ended before any setting */
        free(out);
    }
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
    /* both bounds are inside */
    assert_int_equal(ac_settings_apply_flag("affinity-epsilon", "10", t, 1, &err), 0);
    assert_true(eps == 10.0);
    assert_int_equal(ac_settings_apply_flag("affinity-epsilon", "0", t, 1, &err), 0);
    assert_true(eps == 0.0);
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

static void an_endpoint_setting_takes_only_tcp_ipc_or_inproc_endpoints(void **state)
{
    (void)state;
    char *bind = NULL, *conn = NULL;
    ac_setting_t t[] = {
        {"events_in", AC_SET_ENDPOINT, &bind, AC_ENDPOINT_BIND, 0, "bound"},
        {"events", AC_SET_ENDPOINT, &conn, AC_ENDPOINT_CONNECT, AC_ENDPOINT_OPTIONAL, "connected"},
    };
    ac_error_t err;
    const char *good_bind[] = {"tcp://*:5555",      "tcp://127.0.0.1:1", "tcp://*:*",
                               "tcp://[::1]:65535", "tcp://eth0:80",     "ipc:///tmp/x.sock",
                               "inproc://events"};
    for (size_t i = 0; i < sizeof good_bind / sizeof good_bind[0]; i++) {
        if (ac_settings_apply_flag("events-in", good_bind[i], t, 2, &err))
            fail_msg("%s: %s", good_bind[i], err.message);
        assert_string_equal(bind, good_bind[i]);
    }
    const char *bad_bind[] = {"",
                              "abc",
                              "bogus://x",
                              "tcp://",
                              "tcp://:5555",
                              "tcp://h:0",
                              "tcp://h:65536",
                              "tcp://h:99999999999999999999",
                              "tcp://h:-1",
                              "tcp://h",
                              "ipc://",
                              "inproc://",
                              "tcp://a b:1",
                              "tcp://[]:80"};
    for (size_t i = 0; i < sizeof bad_bind / sizeof bad_bind[0]; i++) {
        assert_int_equal(ac_settings_apply_flag("events-in", bad_bind[i], t, 2, &err), AC_ESCHEMA);
        assert_non_null(strstr(err.message, "--events-in"));
        assert_string_equal(err.path, "events_in");
    }
    assert_string_equal(bind, "inproc://events"); /* a refused value changes nothing */
    /* Connecting: a host is needed, `*` is for binding; empty means none when optional. */
    assert_int_equal(ac_settings_apply_flag("events", "tcp://broker.example:5558", t, 2, &err), 0);
    assert_int_equal(ac_settings_apply_flag("events", "tcp://*:5558", t, 2, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("events", "tcp://h:*", t, 2, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("events", "", t, 2, &err), 0);
    assert_string_equal(conn, "");
    ac_settings_free(t, 2);
}

/* A list of endpoints holds 1 to AC_ENDPOINTS_MAX, each checked as one endpoint is. */
static void an_endpoint_list_holds_up_to_its_maximum_each_checked(void **state)
{
    (void)state;
    ac_error_t err;
    char list[256] = "";
    for (int i = 0; i < AC_ENDPOINTS_MAX; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%stcp://127.0.0.1:%d",
                 i ? "," : "", 5000 + i);
    if (ac_endpoint_list_check("--broker", list, false, &err))
        fail_msg("%s: %s", list, err.message);
    snprintf(list + strlen(list), sizeof list - strlen(list), ",tcp://127.0.0.1:6000");
    assert_int_equal(ac_endpoint_list_check("--broker", list, false, &err), AC_ESCHEMA);
    assert_non_null(strstr(err.message, "--broker: at most 4 endpoints"));
    assert_int_equal(ac_endpoint_list_check("--broker", "tcp://a:1,tcp://b:0", false, &err),
                     AC_ESCHEMA);
    assert_non_null(strstr(err.message, "tcp://b:0"));
    assert_int_equal(ac_endpoint_list_check("--broker", "tcp://a:1,ipc:///x", false, &err), 0);
}

static void worker_endpoints_are_checked_when_set(void **state)
{
    (void)state;
    worker_config_t cfg;
    worker_config_defaults(&cfg);
    size_t n;
    ac_setting_t *t = worker_settings(&cfg, &n);
    ac_error_t err;
    assert_int_equal(ac_settings_apply_flag("broker", "tcp://127.0.0.1:99999", t, n, &err),
                     AC_ESCHEMA);
    assert_non_null(strstr(err.message, "--broker"));
    assert_int_equal(ac_settings_apply_flag("events", "bogus://x", t, n, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("events", "ipc:///tmp/ev", t, n, &err), 0);
    ac_settings_free(t, n);
}

static void a_relative_path_resolves_against_its_config_file_not_the_current_folder(void **state)
{
    (void)state;
    char *store = NULL, *dir = NULL;
    ac_setting_t t[] = {
        {"store", AC_SET_PATH, &store, 0, 0, "a file"},
        {"dir", AC_SET_PATH, &dir, 0, 0, "a folder"},
    };
    char tmp[] = "/tmp/ac_paths_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char path[300];
    snprintf(path, sizeof path, "%s/svc.yaml", tmp);
    FILE *f = fopen(path, "w");
    fputs("mine:\n  store: data/l3.db\n  dir: /abs/olute\n", f);
    fclose(f);
    ac_error_t err;
    assert_int_equal(ac_settings_load_file(path, "mine", t, 2, &err), 0);
    char want[400];
    snprintf(want, sizeof want, "%s/data/l3.db", tmp);
    assert_string_equal(store, want);
    assert_string_equal(dir, "/abs/olute"); /* absolute: as written */
    /* On the command line a relative path means the current folder; none stays none. */
    assert_int_equal(ac_settings_apply_flag("store", "here.db", t, 2, &err), 0);
    assert_string_equal(store, "here.db");
    f = fopen(path, "w");
    fputs("mine:\n  store: none\n  dir: ''\n", f);
    fclose(f);
    assert_int_equal(ac_settings_load_file(path, "mine", t, 2, &err), 0);
    assert_string_equal(store, "none");
    assert_string_equal(dir, "");
    unlink(path);
    rmdir(tmp);
    ac_settings_free(t, 2);
}

/* --config FILE is read from the argument after it, wherever it stands, and a flag given
   too overrides the file. */
static void config_is_read_from_the_argument_after_the_flag(void **state)
{
    (void)state;
    char *name = NULL;
    long long count = 5;
    ac_setting_t t[] = {
        {"name", AC_SET_STR, &name, 0, 0, "a name"},
        {"l1.max_count", AC_SET_INT, &count, 1, 10, "a count"},
    };
    char path[] = "/tmp/ac_settings_XXXXXX";
    int fd = mkstemp(path);
    const char *yaml = "mine:\n  name: from-file\n  l1: { max_count: 3 }\n";
    assert_true(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
    close(fd);
    char *argv[] = {"prog", "--l1-max-count", "9", "--config", path, NULL};
    assert_int_equal(ac_settings_parse_args(5, argv, "prog", "mine", "usage\n", t, 2), -1);
    assert_string_equal(name, "from-file");
    assert_int_equal(count, 9);
    char *missing[] = {"prog", "--config", "/nonexistent/x.yaml", NULL};
    assert_int_equal(ac_settings_parse_args(3, missing, "prog", "mine", "usage\n", t, 2), 2);
    unlink(path);
    ac_settings_free(t, 2);
}

/* A switch takes true / 1 / yes and false / 0 / no, each spelling on its own. */
static void a_switch_takes_each_spelling_of_true_and_false(void **state)
{
    (void)state;
    bool on = false;
    ac_setting_t t[] = {{"on", AC_SET_BOOL, &on, 0, 0, "a switch"}};
    ac_error_t err;
    const char *yes[] = {"true", "1", "yes"}, *no[] = {"false", "0", "no"};
    for (int i = 0; i < 3; i++) {
        on = false;
        assert_int_equal(ac_settings_apply_flag("on", yes[i], t, 1, &err), 0);
        assert_true(on);
        assert_int_equal(ac_settings_apply_flag("on", no[i], t, 1, &err), 0);
        assert_false(on);
    }
    assert_int_equal(ac_settings_apply_flag("on", "yess", t, 1, &err), AC_ESCHEMA);
    assert_int_equal(ac_settings_apply_flag("on", "", t, 1, &err), AC_ESCHEMA);
}

static void a_listen_address_is_host_colon_port_or_empty_for_none(void **state)
{
    (void)state;
    char *listen = NULL;
    ac_setting_t t[] = {{"metrics", AC_SET_LISTEN, &listen, 0, 0, "an HTTP address"}};
    ac_error_t err;
    const char *good[] = {"127.0.0.1:9100", "*:1", "localhost:65535", "[::1]:80", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (ac_settings_apply_flag("metrics", good[i], t, 1, &err))
            fail_msg("'%s' refused: %s", good[i], err.message);
        assert_string_equal(listen, good[i]);
    }
    const char *bad[] = {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80", "tcp://h:80",
                         "h:80x",     "h:-1",        "a b:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ac_settings_apply_flag("metrics", bad[i], t, 1, &err), AC_ESCHEMA);
        assert_non_null(strstr(err.message, "--metrics: "));
        assert_string_equal(listen, ""); /* the last good value stays */
    }
    ac_settings_free(t, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_listen_address_is_host_colon_port_or_empty_for_none),
        cmocka_unit_test(shipped_config_loads_into_the_worker_settings),
        cmocka_unit_test(flags_and_files_share_one_table),
        cmocka_unit_test(a_relative_path_resolves_against_its_config_file_not_the_current_folder),
        cmocka_unit_test(a_number_setting_takes_finite_numbers_within_its_bounds),
        cmocka_unit_test(an_endpoint_setting_takes_only_tcp_ipc_or_inproc_endpoints),
        cmocka_unit_test(an_endpoint_list_holds_up_to_its_maximum_each_checked),
        cmocka_unit_test(worker_endpoints_are_checked_when_set),
        cmocka_unit_test(config_is_read_from_the_argument_after_the_flag),
        cmocka_unit_test(version_and_help_in_either_spelling),
        cmocka_unit_test(a_flag_without_its_value_is_refused_by_name),
        cmocka_unit_test(a_switch_takes_each_spelling_of_true_and_false),
    };
    return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
