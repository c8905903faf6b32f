/*  test_cli.c - `actorcore resolve` as a process: the golden cases, exit codes, and hostile
    input (every error code, huge and deep inputs, random bytes) -> exit 2 and a JSON error
    on stderr, never a crash. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char s_dir[256];

typedef struct {
    int status; /* exit code, or 128 + signal */
    char *out;  /* stdout */
    char *err;  /* stderr */
} run_t;

static char *read_all(const char *path)
{
    char *s = tu_slurp(path);
    return s ? s : strdup("");
}

/* Runs the CLI with args (NULL-terminated) and stdin from a file of `in` bytes. */
static run_t run_cli(const char *const *args, const char *in, size_t in_len)
{
    char inp[300], outp[300], errp[300];
    snprintf(inp, sizeof inp, "%s/stdin", s_dir);
    snprintf(outp, sizeof outp, "%s/stdout", s_dir);
    snprintf(errp, sizeof errp, "%s/stderr", s_dir);
    FILE *f = fopen(inp, "wb");
    assert_non_null(f);
    if (in_len)
        assert_int_equal(fwrite(in, 1, in_len, f), in_len);
    fclose(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fi = open(inp, O_RDONLY), fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        const char *argv[32];
        int n = 0;
        argv[n++] = AC_CLI_PATH;
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(AC_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    run_t r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = read_all(outp);
    r.err = read_all(errp);
    return r;
}

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

/* Resolves stdin with the golden registries. */
static run_t resolve_stdin(const char *in, size_t len)
{
    char c[512], l[512];
    tu_golden_path(c, sizeof c, "combiner.yaml");
    tu_golden_path(l, sizeof l, "cap_layers.yaml");
    const char *args[] = {"resolve", "--combiner", c, "--layers", l, "-", NULL};
    return run_cli(args, in, len);
}

/* Asserts exit 2 and a JSON error on stderr with the code (and path when given). */
static void assert_rejected(run_t *r, const char *code, const char *path)
{
    if (r->status != 2)
        fail_msg("exit %d, expected 2; stderr: %s; stdout: %.200s", r->status, r->err, r->out);
    assert_string_equal(r->out, "");
    json_error_t je;
    json_t *j = json_loads(r->err, JSON_DISABLE_EOF_CHECK, &je);
    if (!j)
        fail_msg("stderr is not a JSON error: %s", r->err);
    const char *got = json_string_value(json_object_get(j, "code"));
    assert_non_null(got);
    assert_non_null(json_string_value(json_object_get(j, "message")));
    assert_non_null(json_string_value(json_object_get(j, "path")));
    if (strcmp(got, code) != 0)
        fail_msg("code %s, expected %s: %s", got, code, r->err);
    if (path && strcmp(json_string_value(json_object_get(j, "path")), path) != 0)
        fail_msg("path %s, expected %s", json_string_value(json_object_get(j, "path")), path);
    json_decref(j);
}

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(s_dir, sizeof s_dir, "cli");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rmtree(s_dir);
}

static void golden_cases_through_the_cli(void **state)
{
    (void)state;
    for (size_t i = 0; i < TU_GOLDEN_NCASES; i++) {
        char c[512], l[512], in[512], want[512];
        tu_golden_path(c, sizeof c, "combiner.yaml");
        tu_case_layers(l, sizeof l, tu_golden_cases[i]);
        snprintf(in, sizeof in, "%s/%s/subsystems.json", AC_GOLDEN_DIR, tu_golden_cases[i]);
        snprintf(want, sizeof want, "%s/%s/expected.json", AC_GOLDEN_DIR, tu_golden_cases[i]);
        const char *args[] = {"resolve", "--combiner", c, "--layers", l, in, NULL};
        run_t r = run_cli(args, "", 0);
        if (r.status != 0)
            fail_msg("%s: exit %d: %s", tu_golden_cases[i], r.status, r.err);
        char *expected = tu_slurp(want);
        tu_assert_snapshot(expected, r.out);
        free(expected);
        run_free(&r);
    }
}

static void stdin_and_numbers_in_shortest_form(void **state)
{
    (void)state;
    const char *in = "[{\"meta\":{\"system\":\"a\"},\"primary\":[{\"dimension\":\"attack_power\","
                     "\"bucket\":\"FLAT\",\"value\":0.1,\"system\":\"a\"},{\"dimension\":"
                     "\"attack_power\",\"bucket\":\"FLAT\",\"value\":0.2,\"system\":\"b\"}]}]";
    run_t r = resolve_stdin(in, strlen(in));
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "{\"Primary\":{\"attack_power\":0.30000000000000004},\"Derived\":{},"
                               "\"CapsUsed\":{\"attack_power\":{\"Min\":0,\"Max\":1000000}},"
                               "\"Version\":1}\n");
    run_free(&r);
}

static void actor_and_actor_version_set_the_version(void **state)
{
    (void)state;
    char c[512], l[512], actor[300], in[512];
    tu_golden_path(c, sizeof c, "combiner.yaml");
    tu_golden_path(l, sizeof l, "cap_layers.yaml");
    tu_golden_path(in, sizeof in, "case01_total_cap_sum/subsystems.json");
    snprintf(actor, sizeof actor, "%s/actor.json", s_dir);
    FILE *f = fopen(actor, "w");
    fputs("{\"id\":\"hero-1\",\"version\":12,\"race\":\"human\"}", f);
    fclose(f);
    const char *a1[] = {"resolve", "--combiner", c, "--layers", l, "--actor", actor, in, NULL};
    run_t r = run_cli(a1, "", 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"Version\":12"));
    assert_non_null(strstr(r.out, "\"strength\":500"));
    run_free(&r);
    const char *a2[] = {"resolve",         "--combiner", c,  "--layers", l,
                        "--actor-version", "99",         in, NULL};
    r = run_cli(a2, "", 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"Version\":99"));
    run_free(&r);
    /* An actor alone (no outputs file) resolves to an empty snapshot of its version. */
    const char *a3[] = {"resolve", "--combiner", c, "--layers", l, "--actor", actor, NULL};
    r = run_cli(a3, "", 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "{\"Primary\":{},\"Derived\":{},\"CapsUsed\":{},\"Version\":12}\n");
    run_free(&r);
    /* An actor listing a subsystem nobody registered is rejected by name. */
    f = fopen(actor, "w");
    fputs("{\"id\":\"hero-1\",\"version\":1,\"subsystems\":[\"ghost\"]}", f);
    fclose(f);
    r = run_cli(a3, "", 0);
    assert_rejected(&r, "schema_violation", "actor.subsystems[0]");
    assert_non_null(strstr(r.err, "ghost"));
    run_free(&r);
}

#define OUT1(items) "[{\"meta\":{\"system\":\"s\"}," items "}]"

static void every_input_error_code_exits_2_with_a_path(void **state)
{
    (void)state;
    struct {
        const char *in, *code, *path;
    } cases[] = {
        {"[{\"primary\": [", "invalid_json", ""},
        {"not json at all", "invalid_json", ""},
        {OUT1("\"primary\":[{\"dimension\":\"strength\",\"bucket\":\"FLAT\",\"value\":1e999,"
              "\"system\":\"a\"}]"),
         "non_finite_value", "outputs[0].primary[0].value"},
        {OUT1("\"primary\":[{\"dimension\":\"strength\",\"bucket\":\"FLAT\",\"value\":\"5\","
              "\"system\":\"a\"}]"),
         "schema_violation", "outputs[0].primary[0].value"},
        {OUT1("\"primary\":[{\"dimension\":\"strength\",\"bucket\":\"SUPER\",\"value\":5,"
              "\"system\":\"a\"}]"),
         "schema_violation", "outputs[0].primary[0].bucket"},
        {OUT1("\"caps\":[{\"dimension\":\"strength\",\"mode\":\"SOFT\",\"kind\":\"max\",\"value\":"
              "5,\"system\":\"a\"}]"),
         "schema_violation", "outputs[0].caps[0].mode"},
        {OUT1("\"caps\":[{\"dimension\":\"strength\",\"mode\":\"BASELINE\",\"kind\":\"upper\","
              "\"value\":5,\"system\":\"a\"}]"),
         "schema_violation", "outputs[0].caps[0].kind"},
        {OUT1("\"caps\":[{},{\"dimension\":\"strength\",\"mode\":\"BASELINE\",\"kind\":\"max\","
              "\"value\":5,\"system\":\"a\",\"scope\":\"MOON\"}]"),
         "schema_violation", "outputs[0].caps[0].system"},
        {OUT1("\"caps\":[{\"dimension\":\"strength\",\"mode\":\"BASELINE\",\"kind\":\"max\","
              "\"value\":5,\"system\":\"a\",\"scope\":\"MOON\"}]"),
         "unknown_layer", "outputs[0].caps[0].scope"},
        {OUT1("\"caps\":[{\"dimension\":\"strength\",\"mode\":\"BASELINE\",\"kind\":\"max\","
              "\"value\":5,\"system\":\"a\",\"scope\":\"REALM\"}]"),
         "schema_violation", "outputs[0].caps[0].realm"},
        {OUT1("\"caps\":[{\"dimension\":\"strength\",\"mode\":\"HARD_MAX\",\"kind\":\"min\","
              "\"value\":5,\"system\":\"a\"}]"),
         "kind_mode_mismatch", "outputs[0].caps[0].kind"},
        {OUT1("\"primary\":[{\"dimension\":\"STRENGTH\",\"bucket\":\"FLAT\",\"value\":5,\"system\":"
              "\"a\"}]"),
         "schema_violation", "outputs[0].primary[0].dimension"},
        {OUT1("\"primary\":[{\"dimension\":"
              "\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij\","
              "\"bucket\":\"FLAT\",\"value\":5,\"system\":\"a\"}]"),
         "too_large", "outputs[0].primary[0].dimension"},
        {OUT1("\"primary\":[{\"dimension\":\"charisma\",\"bucket\":\"FLAT\",\"value\":5,\"system\":"
              "\"a\"}]"),
         "unknown_dimension", "outputs[0].primary[0].dimension"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_t r = resolve_stdin(cases[i].in, strlen(cases[i].in));
        assert_rejected(&r, cases[i].code, cases[i].path);
        run_free(&r);
    }
}

static void twenty_megabytes_is_too_large(void **state)
{
    (void)state;
    size_t n = 20u << 20;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    run_t r = resolve_stdin(big, n);
    assert_rejected(&r, "too_large", "");
    run_free(&r);
    free(big);
}

static void deep_nesting_is_rejected(void **state)
{
    (void)state;
    size_t n = 100000;
    char *deep = malloc(2 * n);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    run_t r = resolve_stdin(deep, 2 * n);
    /* 200 000 bytes: within the limit; the parser refuses the depth. */
    assert_rejected(&r, "invalid_json", "");
    run_free(&r);
    memset(deep, '{', n);
    r = resolve_stdin(deep, n);
    assert_rejected(&r, "invalid_json", "");
    run_free(&r);
    free(deep);
}

static void random_bytes_exit_2_never_crash(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    char buf[4096];
    for (int round = 0; round < 60; round++) {
        size_t n = 1 + (size_t)(round * 67) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (char)x;
        }
        if (round % 3 == 1)
            buf[0] = '[';
        run_t r = resolve_stdin(buf, n);
        if (r.status != 2)
            fail_msg("round %d: exit %d: %s", round, r.status, r.err);
        run_free(&r);
    }
}

static void bad_flags_and_help(void **state)
{
    (void)state;
    const char *help[] = {"--help", NULL};
    run_t r = run_cli(help, "", 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "--combiner"));
    run_free(&r);
    const char *ver[] = {"--version", NULL};
    r = run_cli(ver, "", 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "actorcore"));
    run_free(&r);
    const char *bad[][8] = {
        {"resolve", "--bogus", NULL},
        {"resolve", "--layers", "x", NULL},
        {"frobnicate", NULL},
        {"resolve", "--combiner", "a", "--layers", "b", "--actor-version", "-3", NULL},
        {"resolve", "--combiner", "a", "--layers", "b", "f1", "f2", NULL},
        {NULL},
    };
    for (int i = 0; bad[i][0] || i == 5; i++) {
        if (i == 5) {
            const char *none[] = {NULL};
            r = run_cli(none, "", 0);
        } else {
            r = run_cli(bad[i], "", 0);
        }
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        assert_true(strlen(r.err) > 0);
        run_free(&r);
        if (i == 5)
            break;
    }
}

static void bad_config_names_the_file(void **state)
{
    (void)state;
    char c[300], l[512];
    snprintf(c, sizeof c, "%s/bad.yaml", s_dir);
    FILE *f = fopen(c, "w");
    fputs("dimensions:\n  strength: { use_pipeline: false, operator: MEDIAN, clamp_default: { min: "
          "0, max: 1 } }\n",
          f);
    fclose(f);
    tu_golden_path(l, sizeof l, "cap_layers.yaml");
    const char *args[] = {"resolve", "--combiner", c, "--layers", l, "-", NULL};
    run_t r = run_cli(args, "[]", 2);
    assert_rejected(&r, "schema_violation", "dimensions.strength.operator");
    assert_non_null(strstr(r.err, "bad.yaml:2:"));
    run_free(&r);
    const char *missing[] = {"resolve", "--combiner", "/no/such.yaml", "--layers", l, "-", NULL};
    r = run_cli(missing, "[]", 2);
    assert_rejected(&r, "schema_violation", "");
    assert_non_null(strstr(r.err, "/no/such.yaml"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_cases_through_the_cli),
        cmocka_unit_test(stdin_and_numbers_in_shortest_form),
        cmocka_unit_test(actor_and_actor_version_set_the_version),
        cmocka_unit_test(every_input_error_code_exits_2_with_a_path),
        cmocka_unit_test(twenty_megabytes_is_too_large),
        cmocka_unit_test(deep_nesting_is_rejected),
        cmocka_unit_test(random_bytes_exit_2_never_crash),
        cmocka_unit_test(bad_flags_and_help),
        cmocka_unit_test(bad_config_names_the_file),
    };
    return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
