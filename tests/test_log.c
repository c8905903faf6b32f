/*  test_log.c - the logfmt lines of service/log.h: quoting, the fields' conversions,
    levels, a line cut at its bound; then a real broker and worker, whose every stderr line
    must parse as logfmt with ts, level, component, pid and event first, with one line per
    request at debug (req_id, and code and path on errors) and none at info.
*/
#include <regex.h>

#include "reply.h"
#include "service/log.h"

/* Runs fn with stderr sent to a file; what it wrote (to be freed). */
static void call(void *fn)
{
    (*(void (**)(void))fn)();
}

/* What fn writes on stderr (the log's stream). */
static char *capture(void (*fn)(void))
{
    return tu_capture(STDERR_FILENO, call, &fn);
}

/* ---- a strict logfmt reader: key=value pairs, one space apart ---- */

typedef struct {
    char key[64];
    char value[2048]; /* unquoted */
} field_t;

/* Reads the fields of one line (no newline) into out; the count, or -1 with the offset
   of the first byte that breaks the grammar in *bad. */
static int parse_line(const char *line, field_t *out, int max, size_t *bad)
{
    const char *p = line;
    int n = 0;
    while (*p) {
        if (n > 0) {
            if (*p != ' ')
                goto fail;
            p++;
        }
        const char *k = p;
        while (*p &&
               ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
            p++;
        if (p == k || *p != '=' || p - k >= 64 || n >= max)
            goto fail;
        memcpy(out[n].key, k, (size_t)(p - k));
        out[n].key[p - k] = '\0';
        p++;
        size_t v = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                char c = *p;
                if (c == '\\') {
                    p++;
                    if (*p == 'n')
                        c = '\n';
                    else if (*p == 't')
                        c = '\t';
                    else if (*p == '"' || *p == '\\')
                        c = *p;
                    else if (*p == 'x' && p[1] && p[2]) {
                        char hex[3] = {p[1], p[2], 0};
                        c = (char)strtol(hex, NULL, 16);
                        p += 2;
                    } else
                        goto fail;
                } else if ((unsigned char)c < ' ') {
                    goto fail;
                }
                if (v + 1 < sizeof out[n].value)
                    out[n].value[v++] = c;
            }
            if (*p != '"')
                goto fail;
            p++;
        } else {
            const char *s = p;
            while (*p && *p != ' ') {
                if (*p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < ' ')
                    goto fail;
                p++;
            }
            if (p == s) /* an empty value is written "" */
                goto fail;
            v = (size_t)(p - s) < sizeof out[n].value - 1 ? (size_t)(p - s)
                                                          : sizeof out[n].value - 1;
            memcpy(out[n].value, s, v);
        }
        out[n].value[v] = '\0';
        n++;
    }
    return n;
fail:
    *bad = (size_t)(p - line);
    return -1;
}

static const char *field(const field_t *f, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(f[i].key, key) == 0)
            return f[i].value;
    return NULL;
}

/* Checks every line of text; the lines whose event is `event` are counted into *count and
   each is handed to check (may be NULL). Returns the number of lines. */
static int check_lines(const char *text, const char *component, const char *event, int *count,
                       void (*check)(const field_t *, int))
{
    static field_t f[64];
    regex_t ts;
    assert_int_equal(regcomp(&ts,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char *copy = strdup(text);
    int lines = 0;
    for (char *line = copy, *end; line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (!end)
            fail_msg("a line without its newline: '%s'", line);
        *end = '\0';
        size_t bad = 0;
        int n = parse_line(line, f, 64, &bad);
        if (n < 5)
            fail_msg("not logfmt at byte %zu: '%s'", bad, line);
        const char *first[] = {"ts", "level", "component", "pid", "event"};
        for (int i = 0; i < 5; i++)
            if (strcmp(f[i].key, first[i]) != 0)
                fail_msg("field %d is '%s', not '%s': '%s'", i, f[i].key, first[i], line);
        if (regexec(&ts, f[0].value, 0, NULL, 0) != 0)
            fail_msg("ts is not UTC ISO 8601 with milliseconds: '%s'", line);
        const char *lv = f[1].value;
        if (strcmp(lv, "debug") && strcmp(lv, "info") && strcmp(lv, "warn") && strcmp(lv, "error"))
            fail_msg("level '%s': '%s'", lv, line);
        if (component && strcmp(f[2].value, component) != 0)
            fail_msg("component '%s', not '%s': '%s'", f[2].value, component, line);
        if (strcmp(lv, "error") == 0 && (!field(f, n, "code") || !field(f, n, "msg")))
            fail_msg("an error without its code and msg: '%s'", line);
        if (event && strcmp(f[4].value, event) == 0) {
            (*count)++;
            if (check)
                check(f, n);
        }
        lines++;
    }
    free(copy);
    regfree(&ts);
    return lines;
}

/* ---- the module ---- */

static void quote(const char *in, const char *want)
{
    char out[128];
    int n = ac_log_quote(out, sizeof out, in, (int)strlen(in));
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
}

static void values_are_quoted_only_when_logfmt_needs_it(void **state)
{
    (void)state;
    quote("plain", "plain");
    quote("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555");
    quote("", "\"\"");
    quote("two words", "\"two words\"");
    quote("a=b", "\"a=b\"");
    quote("say \"hi\"", "\"say \\\"hi\\\"\"");
    quote("back\\slash", "\"back\\\\slash\"");
    quote("line\nbreak\ttab", "\"line\\nbreak\\ttab\"");
    quote("bell\a", "\"bell\\x07\"");
    /* Cut short: the room is all it writes, NUL included, and it says so. */
    char small[6];
    assert_int_equal(ac_log_quote(small, sizeof small, "a b c d e", 9), (int)sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void emit_fields(void)
{
    const char *volatile nothing = NULL; /* a NULL string, as a caller's bug might pass */
    ac_log_setup("tester", AC_LOG_INFO);
    ac_log(AC_LOG_INFO, "converted",
           "s=%s n=%d big=%lld u=%u z=%zu x=%x g=%g f=%.2f cut=%.*s w=%5d pct=100%% null=%s "
           "lit=%.2s zd=%zd",
           "a b", -7, -9000000000ll, 42u, (size_t)1234567, 255u, 0.5, 3.14159, 3, "abcdef", 12,
           nothing, "abcdef", (ssize_t)-5000000000ll);
    ac_log(AC_LOG_DEBUG, "hidden", "k=%d", 1); /* below the level */
    ac_log(AC_LOG_WARN, "empty", "v=%s", "");
}

static void conversion_check(const field_t *f, int n)
{
    const char *want[][2] = {{"s", "a b"},   {"n", "-7"},          {"big", "-9000000000"},
                             {"u", "42"},    {"z", "1234567"},     {"x", "ff"},
                             {"g", "0.5"},   {"f", "3.14"},        {"cut", "abc"},
                             {"w", "   12"}, {"pct", "100%"},      {"null", "(null)"},
                             {"lit", "ab"},  {"zd", "-5000000000"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = field(f, n, want[i][0]);
        if (!v || strcmp(v, want[i][1]) != 0)
            fail_msg("%s = '%s', not '%s'", want[i][0], v ? v : "(missing)", want[i][1]);
    }
}

static void every_conversion_is_written_as_printf_would(void **state)
{
    (void)state;
    char *text = capture(emit_fields);
    int count = 0;
    assert_int_equal(check_lines(text, "tester", "converted", &count, conversion_check), 2);
    assert_int_equal(count, 1);
    assert_null(strstr(text, "event=hidden"));
    /* `%5d` keeps its padding: the value is quoted because of the spaces. */
    assert_non_null(strstr(text, "w=\"   12\""));
    assert_non_null(strstr(text, " level=warn component=tester pid="));
    free(text);
}

static void emit_long(void)
{
    ac_log_setup("tester", AC_LOG_DEBUG);
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ac_log(AC_LOG_DEBUG, "long", "v=%s after=%d", big, 1);
    ac_log(AC_LOG_INFO, "next", "k=%d", 1);
}

static void a_line_past_its_bound_is_cut_and_says_so(void **state)
{
    (void)state;
    char *text = capture(emit_long);
    int count = 0;
    assert_int_equal(check_lines(text, "tester", "next", &count, NULL), 2);
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_true(nl - text <= 4096);
    assert_non_null(strstr(text, " truncated=true\n"));
    free(text);
}

static void emit_bad_setting(void)
{
    ac_log_setup("tester", AC_LOG_INFO);
    ac_log_bad_setting("ingest.max_actors", "ingest.max_actors: too many (%d)", 3);
    ac_log_bad_setting("state", "cannot open %s", "/x y");
    ac_log_bad_setting("metrics", "--metrics: cannot listen on %s", "*:1");
    ac_log_bad_setting("metrics", "metrics endpoint %s", "down"); /* no "metrics: " prefix */
}

static void a_bad_setting_names_its_flag_and_code(void **state)
{
    (void)state;
    char *text = capture(emit_bad_setting);
    int count = 0;
    assert_int_equal(check_lines(text, "tester", "start_failed", &count, NULL), 4);
    assert_int_equal(count, 4);
    assert_non_null(strstr(text, "path=--metrics msg=\"metrics endpoint down\"\n"));
    assert_non_null(strstr(text, "path=--metrics msg=\"cannot listen on *:1\"\n"));
    /* The flag's spelling, and the message without its own "setting: " prefix. */
    assert_non_null(
        strstr(text, "code=bad_setting path=--ingest-max-actors msg=\"too many (3)\"\n"));
    assert_non_null(strstr(text, "code=bad_setting path=--state msg=\"cannot open /x y\"\n"));
    ac_log_level_t lv;
    assert_int_equal(ac_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, AC_LOG_WARN);
    assert_int_equal(ac_log_level_parse("loud", &lv), -1);
    assert_int_equal(ac_log_level_parse(NULL, &lv), -1);
    free(text);
}

/* ---- real processes ---- */

static int s_request_errors; /* request lines with an error code, each with its path */

static int s_resolves; /* request lines of op resolve */

static void request_check(const field_t *f, int n)
{
    const char *op = field(f, n, "op");
    s_resolves += op && strcmp(op, "resolve") == 0;
    const char *rid = field(f, n, "req_id"), *code = field(f, n, "code");
    if (!rid || !*rid || !code)
        fail_msg("a request line without req_id or code");
    if (strcmp(code, "ok") != 0) {
        const char *path = field(f, n, "path");
        if (!path || strcmp(path, "outputs[0].primary[0].bucket") != 0)
            fail_msg("an error request line without the field at fault: path '%s'",
                     path ? path : "(none)");
        s_request_errors++;
    }
}

/* Sends `ok` good resolves and one refused (an unknown dimension), answered both. */
static void drive(svc_t *s, int ok)
{
    ac_client_config_t cfg = {.timeout_ms = 10000, .retries = 0};
    ac_client_t *c = ac_client_new(s->fe, &cfg);
    char outs[256];
    ac_reply_t r;
    parsed_t p = {0};
    for (int i = 0; i < ok; i++) {
        send_resolve(c, one_flat(outs, sizeof outs, "strength", 10 + i), NULL, false, NULL);
        recv_one(c, &r, 20000);
        assert_true(reply_ok(parse_reply(&p, &r)));
    }
    send_resolve(c,
                 "[{\"meta\":{\"system\":\"t\"},\"primary\":[{\"dimension\":\"strength\","
                 "\"bucket\":\"NOPE\",\"value\":1,\"system\":\"t\"}]}]",
                 NULL, false, NULL);
    recv_one(c, &r, 20000);
    assert_false(reply_ok(parse_reply(&p, &r)));
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
}

static char *log_text(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", svc_tmpdir(), name);
    char *t = tu_slurp(path);
    assert_non_null(t);
    return t;
}

static void run_at(const char *level, const char *blog, const char *wlog, int *requests,
                   int *errors)
{
    svc_t s;
    svc_ports(&s);
    /* svc.h passes --verbose true (debug) first: turned off, log_level decides. */
    const char *extra[] = {"--verbose", "false", "--log-level", level, NULL};
    svc_start_broker_with(&s, "200", extra, blog);
    pid_t w = svc_start_worker_with(&s, NULL, "none", "200", "100", extra, wlog);
    wait_ready(&s);
    drive(&s, 5);
    svc_stop(w, SIGTERM, 5000);
    svc_stop(s.broker, SIGTERM, 5000);
    char *bt = log_text(blog), *wt = log_text(wlog);
    int joined = 0;
    assert_true(check_lines(bt, "broker", "worker_joined", &joined, NULL) >= 2);
    assert_true(joined >= 1);
    int lines = 0;
    s_request_errors = 0;
    s_resolves = 0;
    check_lines(wt, "worker", "request", &lines, request_check);
    *requests = s_resolves;
    *errors = s_request_errors;
    free(bt);
    free(wt);
}

static void the_processes_write_logfmt_one_line_per_request_only_at_debug(void **state)
{
    (void)state;
    int requests = 0, errors = 0;
    run_at("info", "broker-info.log", "worker-info.log", &requests, &errors);
    assert_int_equal(requests, 0); /* nothing per request at info */
    run_at("debug", "broker-debug.log", "worker-debug.log", &requests, &errors);
    /* the 5 resolves and the refused one (the readiness pings are not counted: a retried
       ping may be answered twice) */
    assert_int_equal(requests, 6);
    assert_int_equal(errors, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_quoted_only_when_logfmt_needs_it),
        cmocka_unit_test(every_conversion_is_written_as_printf_would),
        cmocka_unit_test(a_line_past_its_bound_is_cut_and_says_so),
        cmocka_unit_test(a_bad_setting_names_its_flag_and_code),
        cmocka_unit_test(the_processes_write_logfmt_one_line_per_request_only_at_debug),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    svc_cleanup();
    return rc;
}
