/*  common.c - what the `actorcore` subcommands share (cli.h): structured errors on
    stderr with their exit status, and reading an input file or standard input under a
    byte limit.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Prints err as JSON on stderr and returns the exit status for it. */
int cli_report(const ac_error_t *err)
{
    char buf[1024];
    ac_error_to_json(err, buf, sizeof buf);
    fprintf(stderr, "%s\n", buf);
    return err->code == AC_EINTERNAL ? 1 : 2;
}

int cli_usage_error(const char *fmt, const char *arg)
{
    ac_error_t err;
    char msg[AC_ERROR_MESSAGE_MAX];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
#pragma GCC diagnostic pop
    ac_error_set(&err, AC_ESCHEMA, "", "%s", msg);
    cli_report(&err);
    fprintf(stderr, "Try 'actorcore --help'.\n");
    return 2;
}

void cli_name_flag(ac_error_t *err, const char *flag)
{
    char msg[AC_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", err->message);
    snprintf(err->message, sizeof err->message, "--%s: %s", flag, msg);
}

/* Reads all of f, failing with too_large past max bytes. */
static char *read_stream(FILE *f, size_t max, size_t *len, ac_error_t *err)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        ac_error_set(err, AC_EINTERNAL, "", "out of memory");
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (n > max)
                break;
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                ac_error_set(err, AC_EINTERNAL, "", "out of memory");
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (n > max) {
        free(buf);
        ac_error_set(err, AC_ETOO_LARGE, "", "input is larger than %zu bytes", max);
        return NULL;
    }
    if (ferror(f)) {
        free(buf);
        ac_error_set(err, AC_ESCHEMA, "", "read error: %s", strerror(errno));
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *cli_read_input(const char *path, size_t max, size_t *len, ac_error_t *err)
{
    if (!path || strcmp(path, "-") == 0)
        return read_stream(stdin, max, len, err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        ac_error_set(err, AC_ESCHEMA, "", "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = read_stream(f, max, len, err);
    fclose(f);
    return buf;
}
