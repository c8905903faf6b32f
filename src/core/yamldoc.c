/*  yamldoc.c - see yamldoc.h. */
#include "core/yamldoc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ac_yamldoc_parse(ac_yamldoc_t *d, const char *name, const char *text, size_t len,
                     ac_error_t *err)
{
    memset(d, 0, sizeof *d);
    d->name = name;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return ac_error_set(err, AC_EINTERNAL, "", "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &d->doc)) {
        int rc = ac_error_set(err, AC_ESCHEMA, "", "%s:%zu:%zu: YAML syntax error: %s", name,
                              parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    d->loaded = true;
    if (!yaml_document_get_root_node(&d->doc))
        return ac_error_set(err, AC_ESCHEMA, "", "%s:1:1: the document is empty", name);
    return 0;
}

void ac_yamldoc_fini(ac_yamldoc_t *d)
{
    if (d->loaded)
        yaml_document_delete(&d->doc);
    d->loaded = false;
}

yaml_node_t *ac_yamldoc_root(ac_yamldoc_t *d)
{
    return yaml_document_get_root_node(&d->doc);
}

yaml_node_t *ac_yamldoc_node(ac_yamldoc_t *d, int index)
{
    return yaml_document_get_node(&d->doc, index);
}

char *ac_read_file(const char *path, size_t max, size_t *len, ac_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ac_error_set(err, AC_ESCHEMA, "", "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap > max)
                break;
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) {
        ac_error_set(err, AC_ENOMEM, "", "%s: out of memory", path);
        return NULL;
    }
    if (failed) {
        free(buf);
        ac_error_set(err, AC_ESCHEMA, "", "%s: read error", path);
        return NULL;
    }
    if (n > max) {
        free(buf);
        ac_error_set(err, AC_ETOO_LARGE, "", "%s: larger than %zu bytes", path, max);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int ac_yaml_fail(ac_yamldoc_t *d, const yaml_node_t *node, const char *path, ac_error_t *err,
                 const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t line = node ? node->start_mark.line + 1 : 1;
    size_t col = node ? node->start_mark.column + 1 : 1;
    return ac_error_set(err, AC_ESCHEMA, path, "%s:%zu:%zu: %s: %s", d->name, line, col,
                        path && *path ? path : "(document)", msg);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

int ac_yaml_expect(ac_yamldoc_t *d, yaml_node_t *n, yaml_node_type_t type, const char *path,
                   ac_error_t *err)
{
    if (n && n->type == type)
        return 0;
    const char *want = type == YAML_MAPPING_NODE    ? "a mapping"
                       : type == YAML_SEQUENCE_NODE ? "a list"
                                                    : "a scalar";
    return ac_yaml_fail(d, n, path, err, "expected %s, found %s", want,
                        n ? node_kind(n) : "nothing");
}

bool ac_yaml_is(const yaml_node_t *n, const char *s)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

int ac_yaml_string(ac_yamldoc_t *d, yaml_node_t *n, const char *path, const char **s, size_t *len,
                   ac_error_t *err)
{
    int rc = ac_yaml_expect(d, n, YAML_SCALAR_NODE, path, err);
    if (rc)
        return rc;
    *s = (const char *)n->data.scalar.value;
    *len = n->data.scalar.length;
    if (memchr(*s, '\0', *len))
        return ac_yaml_fail(d, n, path, err, "NUL byte in a string");
    return 0;
}

/* A plain scalar that must be a number. Quoted scalars are strings, never numbers. */
static int number_text(ac_yamldoc_t *d, yaml_node_t *n, const char *path, char *buf, size_t size,
                       ac_error_t *err)
{
    int rc = ac_yaml_expect(d, n, YAML_SCALAR_NODE, path, err);
    if (rc)
        return rc;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
        n->data.scalar.style != YAML_ANY_SCALAR_STYLE)
        return ac_yaml_fail(d, n, path, err, "expected a number, found a quoted string");
    if (len == 0 || len >= size)
        return ac_yaml_fail(d, n, path, err, "expected a number");
    memcpy(buf, n->data.scalar.value, len);
    buf[len] = '\0';
    return 0;
}

int ac_yaml_double(ac_yamldoc_t *d, yaml_node_t *n, const char *path, double *v, ac_error_t *err)
{
    char buf[64];
    int rc = number_text(d, n, path, buf, sizeof buf, err);
    if (rc)
        return rc;
    /* strtod would accept "inf", "nan" and hex; a config number is decimal and finite. */
    for (const char *p = buf; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return ac_yaml_fail(d, n, path, err, "expected a finite decimal number, found '%s'",
                                buf);
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    if (*end || end == buf)
        return ac_yaml_fail(d, n, path, err, "expected a number, found '%s'", buf);
    if (!isfinite(x))
        return ac_yaml_fail(d, n, path, err, "number '%s' is not finite", buf);
    *v = x;
    return 0;
}

int ac_yaml_int(ac_yamldoc_t *d, yaml_node_t *n, const char *path, long long *v, ac_error_t *err)
{
    char buf[64];
    int rc = number_text(d, n, path, buf, sizeof buf, err);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (*end || end == buf || errno == ERANGE)
        return ac_yaml_fail(d, n, path, err, "expected an integer, found '%s'", buf);
    *v = x;
    return 0;
}

int ac_yaml_bool(ac_yamldoc_t *d, yaml_node_t *n, const char *path, bool *v, ac_error_t *err)
{
    int rc = ac_yaml_expect(d, n, YAML_SCALAR_NODE, path, err);
    if (rc)
        return rc;
    if (ac_yaml_is(n, "true") || ac_yaml_is(n, "True") || ac_yaml_is(n, "TRUE"))
        *v = true;
    else if (ac_yaml_is(n, "false") || ac_yaml_is(n, "False") || ac_yaml_is(n, "FALSE"))
        *v = false;
    else
        return ac_yaml_fail(d, n, path, err, "expected true or false, found '%.*s'",
                            (int)(n->data.scalar.length > 40 ? 40 : n->data.scalar.length),
                            (const char *)n->data.scalar.value);
    return 0;
}
