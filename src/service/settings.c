/*  settings.c - see settings.h. */
#include "service/settings.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/actorcore.h"
#include "core/yamldoc.h"

#define AC_SETTINGS_VERSION AC_VERSION_STRING

static const ac_setting_t *find(const char *name, const ac_setting_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Host of a tcp endpoint: a name, an address, `[v6]`, or `*` (bind: every interface). */
static bool host_ok(const char *h, size_t len, bool bind)
{
    if (len == 0)
        return false;
    if (len == 1 && h[0] == '*')
        return bind;
    if (h[0] == '[')
        return len > 2 && h[len - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == len - 2;
    return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == len;
}

int ac_endpoint_list_split(const char *list, char **out, int max)
{
    int n = 0;
    for (const char *p = list; n < max;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        out[n] = strndup(p, len);
        if (!out[n])
            break;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

int ac_endpoint_list_check(const char *label, const char *list, bool bind, ac_error_t *err)
{
    char *eps[AC_ENDPOINTS_MAX + 1];
    size_t commas = 0;
    for (const char *p = list; *p; p++)
        commas += *p == ',';
    if (commas >= AC_ENDPOINTS_MAX)
        return ac_error_set(err, AC_ESCHEMA, "", "%s: at most %d endpoints, comma-separated", label,
                            AC_ENDPOINTS_MAX);
    int n = ac_endpoint_list_split(list, eps, AC_ENDPOINTS_MAX);
    int rc = n == (int)commas + 1 ? 0 : ac_error_set(err, AC_ENOMEM, "", "out of memory");
    for (int i = 0; i < n; i++) {
        if (!rc)
            rc = ac_endpoint_check(label, eps[i], bind, err);
        free(eps[i]);
    }
    return rc;
}

int ac_endpoint_check(const char *label, const char *endpoint, bool bind, ac_error_t *err)
{
    const char *why = NULL;
    if (strncmp(endpoint, "tcp://", 6) == 0) {
        const char *host = endpoint + 6, *colon = strrchr(host, ':');
        const char *port = colon ? colon + 1 : "";
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        if (!colon || !host_ok(host, (size_t)(colon - host), bind))
            why = bind ? "expected tcp://HOST:PORT (HOST an address, interface or *)"
                       : "expected tcp://HOST:PORT";
        else if (strcmp(port, "*") == 0)
            why = bind ? NULL : "a port of * is for a bound endpoint only";
        else if (!*port || *end || errno || port[0] == '-' || port[0] == '+' || v < 1 || v > 65535)
            why = "the port must be 1-65535";
    } else if (strncmp(endpoint, "ipc://", 6) == 0) {
        size_t len = strlen(endpoint + 6);
        if (len == 0)
            why = "expected ipc://PATH";
        else if (len > 107)
            why = "an ipc path is at most 107 bytes";
    } else if (strncmp(endpoint, "inproc://", 9) == 0) {
        if (!endpoint[9])
            why = "expected inproc://NAME";
    } else {
        why = "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME";
    }
    if (why)
        return ac_error_set(err, AC_ESCHEMA, label, "%s: %s, found '%.60s'", label, why, endpoint);
    return 0;
}

int ac_listen_check(const char *label, const char *listen, ac_error_t *err)
{
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : "";
    char *end;
    errno = 0;
    long v = strtol(port, &end, 10);
    const char *why = NULL;
    if (!colon || !host_ok(listen, (size_t)(colon - listen), true))
        why = "expected HOST:PORT (HOST an address, a name or *), or empty for none";
    else if (!*port || *end || errno || port[0] == '-' || port[0] == '+' || v < 1 || v > 65535)
        why = "the port must be 1-65535";
    if (why)
        return ac_error_set(err, AC_ESCHEMA, label, "%s: %s, found '%.60s'", label, why, listen);
    return 0;
}

/* Sets s from text; `label` names it in messages ("--l1-entries", "file:3:5: l1.entries");
   `base` is the folder of the config file the value came from (NULL: the command line). */
static int set_value(const ac_setting_t *s, const char *text, const char *label, const char *base,
                     ac_error_t *err)
{
    char joined[4096];
    if (s->type == AC_SET_PATH && base && *text && *text != '/' && strcmp(text, "none") != 0) {
        if ((size_t)snprintf(joined, sizeof joined, "%s/%s", base, text) >= sizeof joined)
            return ac_error_set(err, AC_ESCHEMA, s->name, "%s: the path is too long", label);
        text = joined;
    }
    switch (s->type) {
    case AC_SET_ENDPOINT:
        if (!(*text == '\0' && (s->max & AC_ENDPOINT_OPTIONAL))) {
            int rc = s->max & AC_ENDPOINT_LIST
                         ? ac_endpoint_list_check(label, text, s->min == AC_ENDPOINT_BIND, err)
                         : ac_endpoint_check(label, text, s->min == AC_ENDPOINT_BIND, err);
            if (rc) {
                snprintf(err->path, sizeof err->path, "%s", s->name);
                return rc;
            }
        }
        __attribute__((fallthrough)); /* stored as a string */
    case AC_SET_LISTEN:
        if (s->type == AC_SET_LISTEN && *text && ac_listen_check(label, text, err)) {
            snprintf(err->path, sizeof err->path, "%s", s->name);
            return err->code;
        }
        __attribute__((fallthrough));
    case AC_SET_PATH:
    case AC_SET_STR: {
        char *copy = strdup(text);
        if (!copy)
            return ac_error_set(err, AC_ENOMEM, s->name, "out of memory");
        free(*(char **)s->dest);
        *(char **)s->dest = copy;
        return 0;
    }
    case AC_SET_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno)
            return ac_error_set(err, AC_ESCHEMA, s->name, "%s: expected an integer, found '%.40s'",
                                label, text);
        if (v < s->min || v > s->max)
            return ac_error_set(err, AC_ESCHEMA, s->name, "%s: %lld is outside [%lld, %lld]", label,
                                v, s->min, s->max);
        *(long long *)s->dest = v;
        return 0;
    }
    case AC_SET_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (!*text || *end || errno || !isfinite(v))
            return ac_error_set(err, AC_ESCHEMA, s->name, "%s: expected a number, found '%.40s'",
                                label, text);
        if (v < (double)s->min || v > (double)s->max)
            return ac_error_set(err, AC_ESCHEMA, s->name, "%s: %g is outside [%lld, %lld]", label,
                                v, s->min, s->max);
        *(double *)s->dest = v;
        return 0;
    }
    default:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 || strcmp(text, "yes") == 0)
            *(bool *)s->dest = true;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || strcmp(text, "no") == 0)
            *(bool *)s->dest = false;
        else
            return ac_error_set(err, AC_ESCHEMA, s->name,
                                "%s: expected true or false, found '%.40s'", label, text);
        return 0;
    }
}

/* Walks a mapping, flattening nested maps into dotted names. */
static int walk(ac_yamldoc_t *d, yaml_node_t *map, const char *prefix, const ac_setting_t *table,
                size_t n, const char *base, ac_error_t *err)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = ac_yamldoc_node(d, p->key), *v = ac_yamldoc_node(d, p->value);
        const char *key;
        size_t klen;
        int rc = ac_yaml_string(d, k, prefix, &key, &klen, err);
        if (rc)
            return rc;
        char name[128];
        snprintf(name, sizeof name, "%s%s%.*s", prefix, *prefix ? "." : "", (int)klen, key);
        if (v->type == YAML_MAPPING_NODE) {
            if ((rc = walk(d, v, name, table, n, base, err)))
                return rc;
            continue;
        }
        const ac_setting_t *s = find(name, table, n);
        if (!s)
            return ac_yaml_fail(d, k, name, err, "unknown setting");
        if (v->type != YAML_SCALAR_NODE)
            return ac_yaml_fail(d, v, name, err, "expected a single value");
        char where[300];
        snprintf(where, sizeof where, "%s:%zu:%zu: %s", d->name, v->start_mark.line + 1,
                 v->start_mark.column + 1, name);
        char text[1024];
        snprintf(text, sizeof text, "%.*s", (int)v->data.scalar.length,
                 (const char *)v->data.scalar.value);
        if ((rc = set_value(s, text, where, base, err)))
            return rc;
    }
    return 0;
}

int ac_settings_load_file(const char *path, const char *section, const ac_setting_t *table,
                          size_t n, ac_error_t *err)
{
    size_t len;
    char *text = ac_read_file(path, AC_CONFIG_MAX_BYTES, &len, err);
    if (!text)
        return err->code;
    /* The file's folder, for the relative paths in it ("." when it has none). */
    char base[4096];
    snprintf(base, sizeof base, "%s", path);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(base, sizeof base, ".");
    ac_yamldoc_t d;
    int rc = ac_yamldoc_parse(&d, path, text, len, err);
    if (rc == 0) {
        yaml_node_t *root = ac_yamldoc_root(&d);
        rc = ac_yaml_expect(&d, root, YAML_MAPPING_NODE, "", err);
        for (yaml_node_pair_t *p = rc ? NULL : root->data.mapping.pairs.start;
             p && p < root->data.mapping.pairs.top && !rc; p++) {
            yaml_node_t *k = ac_yamldoc_node(&d, p->key), *v = ac_yamldoc_node(&d, p->value);
            if (!ac_yaml_is(k, section))
                continue; /* another program's section */
            rc = ac_yaml_expect(&d, v, YAML_MAPPING_NODE, section, err);
            if (!rc)
                rc = walk(&d, v, "", table, n, base, err);
        }
    }
    ac_yamldoc_fini(&d);
    free(text);
    return rc;
}

int ac_settings_apply_flag(const char *flag, const char *value, const ac_setting_t *table, size_t n,
                           ac_error_t *err)
{
    char name[128];
    snprintf(name, sizeof name, "%s", flag);
    for (char *c = name; *c; c++)
        if (*c == '-')
            *c = '.';
    const ac_setting_t *s = find(name, table, n);
    if (!s) {
        /* Names with underscores (e.g. "queue_max") are spelt with dashes too. */
        for (size_t i = 0; i < n && !s; i++) {
            char alt[128];
            snprintf(alt, sizeof alt, "%s", table[i].name);
            for (char *c = alt; *c; c++)
                if (*c == '_')
                    *c = '.';
            if (strcmp(alt, name) == 0)
                s = &table[i];
        }
    }
    if (!s)
        return AC_ENOT_FOUND;
    char label[132];
    snprintf(label, sizeof label, "--%s", flag); /* as the user spelt it */
    return set_value(s, value, label, NULL, err);
}

int ac_settings_parse_args(int argc, char **argv, const char *prog, const char *section,
                           const char *usage, const ac_setting_t *table, size_t n)
{
    ac_error_t err;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            ac_settings_help(stdout, table, n);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("%s %s\n", prog, AC_SETTINGS_VERSION);
            return 0;
        }
    }
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0 &&
            ac_settings_load_file(argv[i + 1], section, table, n, &err)) {
            fprintf(stderr, "%s: --config: %s\n", prog, err.message);
            return 2;
        }
    for (int i = 1; i < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "%s: unexpected argument '%s'\n%s", prog, argv[i], usage);
            return 2;
        }
        if (strcmp(argv[i], "--config") == 0)
            continue;
        int rc = ac_settings_apply_flag(argv[i] + 2, argv[i + 1], table, n, &err);
        if (rc == AC_ENOT_FOUND) {
            fprintf(stderr, "%s: unknown option '%s'\n%s", prog, argv[i], usage);
            return 2;
        }
        if (rc) {
            fprintf(stderr, "%s: %s\n", prog, err.message);
            return 2;
        }
    }
    return -1;
}

void ac_settings_help(FILE *out, const ac_setting_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char flag[128];
        snprintf(flag, sizeof flag, "%s", table[i].name);
        for (char *c = flag; *c; c++)
            if (*c == '.' || *c == '_')
                *c = '-';
        char def[160] = "";
        if ((table[i].type == AC_SET_STR || table[i].type == AC_SET_ENDPOINT ||
             table[i].type == AC_SET_PATH || table[i].type == AC_SET_LISTEN) &&
            *(char **)table[i].dest)
            snprintf(def, sizeof def, " (default: %s)", *(char **)table[i].dest);
        else if (table[i].type == AC_SET_INT)
            snprintf(def, sizeof def, " (default: %lld)", *(long long *)table[i].dest);
        else if (table[i].type == AC_SET_DOUBLE)
            snprintf(def, sizeof def, " (default: %g)", *(double *)table[i].dest);
        else if (table[i].type == AC_SET_BOOL)
            snprintf(def, sizeof def, " (default: %s)", *(bool *)table[i].dest ? "true" : "false");
        fprintf(out, "  --%-24s %s%s\n", flag, table[i].help, def);
    }
}

void ac_settings_free(const ac_setting_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].type == AC_SET_STR || table[i].type == AC_SET_ENDPOINT ||
            table[i].type == AC_SET_PATH || table[i].type == AC_SET_LISTEN) {
            free(*(char **)table[i].dest);
            *(char **)table[i].dest = NULL;
        }
}
