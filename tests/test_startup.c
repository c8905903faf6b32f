/*  test_startup.c - start-up never crashes: every flag that a program's --help lists, set
    to each of a few bad values, ends the program at once with exit status 2 and a message
    on stderr naming the flag; never a signal, never a process that keeps running.

    The flags come from --help itself, so a setting added later is swept too. Runs happen
    in a temporary folder, not the project's, so nothing found there by accident (a
    config/ or var/ folder) makes a bad value look good.
*/
#include <stdarg.h>

/* Only svc_tmpdir of svc.h is used here: its other helpers would be unused statics. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "svc.h"
#pragma GCC diagnostic pop

/* The bad values of the sweep. */
static const char *const s_bad[] = {"-1",        "abc",    "99999999999999999999",
                                    "bogus://x", "tcp://", "tcp://127.0.0.1:99999"};
#define NBAD (sizeof s_bad / sizeof s_bad[0])

/* Flags for which some of the values are legitimately good: a file that does not exist yet
   (the store creates it) may be named `abc`. */
typedef struct {
    const char *flag;
    const char *good[NBAD + 1]; /* values skipped, NULL-terminated */
} skip_t;

static const skip_t s_skips[] = {
    {"--store", {"-1", "abc", "99999999999999999999", NULL}},
    {"--state", {"-1", "abc", "99999999999999999999", NULL}}, /* file names too */
    {"--host", {"-1", "abc", "99999999999999999999", NULL}},  /* host names too */
    {"--topic",
     {"-1", "abc", "99999999999999999999", "bogus://x", "tcp://", "tcp://127.0.0.1:99999",
      NULL}}, /* a topic is any bytes */
    {"--ingest-topics",
     {"-1", "abc", "99999999999999999999", "bogus://x", "tcp://", "tcp://127.0.0.1:99999",
      NULL}}, /* topic prefixes too */
};

static bool skipped(const char *flag, const char *value)
{
    for (size_t i = 0; i < sizeof s_skips / sizeof s_skips[0]; i++)
        if (strcmp(s_skips[i].flag, flag) == 0)
            for (const char *const *g = s_skips[i].good; *g; g++)
                if (strcmp(*g, value) == 0)
                    return true;
    return false;
}

/* Runs argv in the temporary folder with stdout to `out` and stderr to `errpath`; kills it
   after timeout_ms. Returns the wait status, or -1 when it had to be killed. */
static int run(const char *const *argv, const char *out, const char *errpath, int timeout_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(svc_tmpdir()) != 0)
            _exit(126);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_RDONLY);
        dup2(fo, 1);
        dup2(fe, 2);
        dup2(nul, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        fail_msg("fork");
    int st = 0;
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(5000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* The flags --help lists: lines "  --flag VALUE ...". At most max, each malloc'd. */
static int help_flags(const char *const *prefix, char **flags, int max)
{
    char out[400], errp[400];
    snprintf(out, sizeof out, "%s/help.out", svc_tmpdir());
    snprintf(errp, sizeof errp, "%s/help.err", svc_tmpdir());
    const char *argv[8];
    int n = 0;
    for (; prefix[n]; n++)
        argv[n] = prefix[n];
    argv[n++] = "--help";
    argv[n] = NULL;
    int st = run(argv, out, errp, 5000);
    assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *text = tu_slurp(out);
    int nflags = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  --", 4) != 0 || nflags >= max)
            continue;
        size_t len = strcspn(line + 2, " \t");
        flags[nflags++] = strndup(line + 2, len);
    }
    free(text);
    return nflags;
}

/* Sweeps every flag of the program started as `prefix` (argv[0] and any subcommand). */
static void sweep(const char *const *prefix, const char *name)
{
    char *flags[64];
    int nflags = help_flags(prefix, flags, 64);
    assert_true(nflags > 0);
    char out[400], errp[400];
    snprintf(out, sizeof out, "%s/run.out", svc_tmpdir());
    snprintf(errp, sizeof errp, "%s/run.err", svc_tmpdir());
    int failures = 0, runs = 0;
    for (int f = 0; f < nflags; f++)
        for (size_t v = 0; v < NBAD; v++) {
            if (skipped(flags[f], s_bad[v]))
                continue;
            const char *argv[10];
            int n = 0;
            for (; prefix[n]; n++)
                argv[n] = prefix[n];
            argv[n++] = flags[f];
            argv[n++] = s_bad[v];
            argv[n] = NULL;
            int st = run(argv, out, errp, 3000);
            runs++;
            char *err = tu_slurp(errp);
            const char *why = NULL;
            if (st < 0)
                why = "still running after 3 s (the bad value was accepted)";
            else if (WIFSIGNALED(st))
                why = "killed by a signal";
            else if (WEXITSTATUS(st) != 2)
                why = "exit status is not 2";
            else if (!strstr(err, flags[f]))
                why = "stderr does not name the flag";
            if (why) {
                failures++;
                fprintf(stderr, "%s %s '%s': %s (status %d, signal %d); stderr: %.300s\n", name,
                        flags[f], s_bad[v], why, st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                        st >= 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0, err);
            }
            free(err);
        }
    for (int f = 0; f < nflags; f++)
        free(flags[f]);
    fprintf(stderr, "%s: %d flags, %d runs, %d failures\n", name, nflags, runs, failures);
    assert_int_equal(failures, 0);
}

static void every_broker_flag_refuses_bad_values_with_exit_2(void **state)
{
    (void)state;
    const char *prefix[] = {AC_BROKER_PATH, NULL};
    sweep(prefix, "actorcore-broker");
}

static void every_worker_flag_refuses_bad_values_with_exit_2(void **state)
{
    (void)state;
    const char *prefix[] = {AC_WORKER_PATH, NULL};
    sweep(prefix, "actorcore-worker");
}

static void every_call_flag_refuses_bad_values_with_exit_2(void **state)
{
    (void)state;
    const char *prefix[] = {AC_CLI_PATH, "call", "ping", NULL};
    sweep(prefix, "actorcore call");
}

static void every_subscribe_flag_refuses_bad_values_with_exit_2(void **state)
{
    (void)state;
    const char *prefix[] = {AC_CLI_PATH, "subscribe", NULL};
    sweep(prefix, "actorcore subscribe");
}

static void every_publish_flag_refuses_bad_values_with_exit_2(void **state)
{
    (void)state;
    const char *prefix[] = {AC_CLI_PATH, "publish", "--actor",
                            AC_SOURCE_DIR "/config/demo/actor.json", NULL};
    sweep(prefix, "actorcore publish");
}

static void every_resolve_flag_refuses_bad_values_with_exit_2(void **state)
{
    (void)state;
    /* Good registries first: a bad --combiner or --layers later on the line replaces them. */
    const char *prefix[] = {AC_CLI_PATH,  "resolve",
                            "--combiner", AC_SOURCE_DIR "/config/combiner.yaml",
                            "--layers",   AC_SOURCE_DIR "/config/cap_layers.yaml",
                            NULL};
    sweep(prefix, "actorcore resolve");
}

/* Runs the broker on free ports with --state path; its exit status (the test fails when
   it keeps running), stderr in <tmp>/state.err. */
static int broker_with_state(const char *path, int stop_after_ms)
{
    svc_t s;
    svc_ports(&s);
    const char *argv[] = {AC_BROKER_PATH, "--frontend",   s.fe,   "--backend", s.be, "--events-in",
                          s.ein,          "--events-out", s.eout, "--state",   path, NULL};
    char out[400], errp[400];
    snprintf(out, sizeof out, "%s/state.out", svc_tmpdir());
    snprintf(errp, sizeof errp, "%s/state.err", svc_tmpdir());
    int st = run(argv, out, errp, stop_after_ms);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool state_err_has(const char *needle)
{
    char errp[400];
    snprintf(errp, sizeof errp, "%s/state.err", svc_tmpdir());
    char *err = tu_slurp(errp);
    bool yes = err && strstr(err, needle);
    if (!yes)
        fprintf(stderr, "stderr has no '%s': %.400s\n", needle, err ? err : "(none)");
    free(err);
    return yes;
}

/* A --state file that is not the broker's (the wrong size, a bad header) or cannot be
   opened ends start-up with exit 2 naming --state, and the file is left byte for byte as
   it was: nothing already stored is lost to a typo. */
static void a_foreign_state_file_is_refused_and_left_as_it_was(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/notes.txt", svc_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("an operator's notes, not a broker state file\n", f);
    fclose(f);
    char *before = tu_slurp(path);
    assert_int_equal(broker_with_state(path, 10000), 2);
    assert_true(state_err_has("code=bad_setting path=--state"));
    assert_true(state_err_has("is not a broker state file (45 bytes"));
    char *after = tu_slurp(path);
    assert_string_equal(before, after);
    free(before);
    free(after);

    /* A file of the right size with a bad header: made by a broker (stopped once the file
       has its size), then its magic overwritten. */
    char good[400];
    snprintf(good, sizeof good, "%s/broker.state", svc_tmpdir());
    svc_t s;
    svc_ports(&s);
    const char *argv[] = {AC_BROKER_PATH, "--frontend",   s.fe,   "--backend", s.be, "--events-in",
                          s.ein,          "--events-out", s.eout, "--state",   good, NULL};
    pid_t pid = svc_spawn(argv, "state-maker.log");
    struct stat st = {0};
    for (int waited = 0; waited < 20000 && (stat(good, &st) != 0 || st.st_size <= 4096);
         waited += 10)
        usleep(10000);
    svc_stop(pid, SIGTERM, 5000);
    assert_true(st.st_size > 4096);
    int fd = open(good, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "notfloor", 8, 0), 8);
    close(fd);
    unsigned char head[64];
    fd = open(good, O_RDONLY);
    assert_int_equal(read(fd, head, sizeof head), (ssize_t)sizeof head);
    close(fd);
    assert_int_equal(broker_with_state(good, 10000), 2);
    assert_true(state_err_has("path=--state"));
    assert_true(state_err_has("(bad header)"));
    unsigned char again[64];
    fd = open(good, O_RDONLY);
    assert_int_equal(read(fd, again, sizeof again), (ssize_t)sizeof again);
    close(fd);
    assert_memory_equal(head, again, sizeof head);
    struct stat st2;
    assert_int_equal(stat(good, &st2), 0);
    assert_int_equal(st2.st_size, st.st_size);

    /* A folder is no file. */
    assert_int_equal(broker_with_state(svc_tmpdir(), 10000), 2);
    assert_true(state_err_has("path=--state msg=\"cannot "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_broker_flag_refuses_bad_values_with_exit_2),
        cmocka_unit_test(every_worker_flag_refuses_bad_values_with_exit_2),
        cmocka_unit_test(every_call_flag_refuses_bad_values_with_exit_2),
        cmocka_unit_test(every_subscribe_flag_refuses_bad_values_with_exit_2),
        cmocka_unit_test(every_resolve_flag_refuses_bad_values_with_exit_2),
        cmocka_unit_test(every_publish_flag_refuses_bad_values_with_exit_2),
        cmocka_unit_test(a_foreign_state_file_is_refused_and_left_as_it_was),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
