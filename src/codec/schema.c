/*  schema.c - the one schema walk: a parsed msgpack_object tree -> a request.

    JSON arrives here through json.c (jansson -> msgpack_object), msgpack directly. Every
    field is checked for type and range, then pushed through request.c's validating entry
    points. Paths are kept as a small stack of segments and only rendered into text when
    an error is reported, so a valid request pays nothing for them.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "actorcore/codec.h"
#include "core/request_impl.h"

#define MAX_SEGS 16

typedef struct {
    const char *key; /* field name, or NULL for an index */
    uint32_t len;    /* bytes of key */
    uint32_t index;  /* list index when key is NULL */
} seg_t;

typedef struct {
    const char *prefix;  /* rendered before the segments */
    seg_t seg[MAX_SEGS]; /* innermost last */
    int n;               /* segments in use */
} path_t;

static void path_render(const path_t *p, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s", p->prefix ? p->prefix : "");
    /* Deeper than MAX_SEGS (actor.data nests up to 32): the first MAX_SEGS are named. */
    for (int i = 0; i < p->n && i < MAX_SEGS && len < size; i++) {
        if (p->seg[i].key)
            len += (size_t)snprintf(buf + len, size - len, "%s%.*s", len ? "." : "",
                                    (int)(p->seg[i].len > 64 ? 64 : p->seg[i].len), p->seg[i].key);
        else
            len += (size_t)snprintf(buf + len, size - len, "[%u]", p->seg[i].index);
    }
}

static void push_key(path_t *p, const char *key, size_t len)
{
    if (p->n < MAX_SEGS)
        p->seg[p->n] = (seg_t){key, (uint32_t)len, 0};
    p->n++;
}

static void push_index(path_t *p, uint32_t index)
{
    if (p->n < MAX_SEGS)
        p->seg[p->n] = (seg_t){NULL, 0, index};
    p->n++;
}

static void pop(path_t *p)
{
    p->n--;
}

static int fail(ac_error_t *err, int code, const path_t *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(ac_error_t *err, int code, const path_t *p, const char *fmt, ...)
{
    char path[AC_ERROR_PATH_MAX];
    path_render(p, path, sizeof path);
    va_list ap;
    va_start(ap, fmt);
    ac_error_vset(err, code, path, fmt, ap);
    va_end(ap);
    return code;
}

static const char *type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "null";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a number";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    default:
        return "binary data";
    }
}

static inline bool key_eq(const msgpack_object *k, const char *name, size_t n)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* Compares a key with a string literal (its length known at compile time). */
#define key_is(k, lit) key_eq((k), lit, sizeof(lit) - 1)

/* Field access: every reader checks the type and renders a path only on failure. */
static int want_type(const msgpack_object *o, msgpack_object_type t, const char *what,
                     const path_t *p, ac_error_t *err)
{
    if (o->type == t)
        return 0;
    return fail(err, AC_ESCHEMA, p, "expected %s, found %s", what, type_name(o));
}

static int read_str(const msgpack_object *o, const path_t *p, const char **s, size_t *len,
                    ac_error_t *err)
{
    int rc = want_type(o, MSGPACK_OBJECT_STR, "a string", p, err);
    if (rc)
        return rc;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

static int read_double(const msgpack_object *o, const path_t *p, double *v, ac_error_t *err)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *v = (double)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = (double)o->via.i64;
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *v = o->via.f64;
        if (!isfinite(*v))
            return fail(err, AC_ENON_FINITE, p, "expected a finite number");
        return 0;
    default:
        return fail(err, AC_ESCHEMA, p, "expected a number, found %s", type_name(o));
    }
}

/* An integer in [lo, hi]; an integral float is accepted (JSON writers differ). */
static int read_int(const msgpack_object *o, const path_t *p, int64_t lo, int64_t hi, int64_t *v,
                    ac_error_t *err)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)hi)
            return fail(err, AC_ESCHEMA, p, "integer out of range [%lld, %lld]", (long long)lo,
                        (long long)hi);
        *v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
    } else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
        double d = o->via.f64;
        if (!isfinite(d))
            return fail(err, AC_ENON_FINITE, p, "expected a finite integer");
        if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return fail(err, AC_ESCHEMA, p, "expected an integer");
        *v = (int64_t)d;
    } else {
        return fail(err, AC_ESCHEMA, p, "expected an integer, found %s", type_name(o));
    }
    if (*v < lo || *v > hi)
        return fail(err, AC_ESCHEMA, p, "integer out of range [%lld, %lld]", (long long)lo,
                    (long long)hi);
    return 0;
}

/* Matches a string field against a closed set of names; -1 and an error when none. */
static int read_enum(const msgpack_object *o, const path_t *p, const char *const *names, int n,
                     const char *what, int *out, ac_error_t *err)
{
    const char *s;
    size_t len;
    int rc = read_str(o, p, &s, &len, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            *out = i;
            return 0;
        }
    return fail(err, AC_ESCHEMA, p, "unknown %s '%.*s'", what, (int)(len > 32 ? 32 : len), s);
}

static const char *const s_buckets[] = {"FLAT", "MULT", "POST_ADD", "OVERRIDE"};
static const char *const s_modes[] = {"BASELINE", "ADDITIVE", "OVERRIDE", "HARD_MAX", "HARD_MIN"};
static const char *const s_kinds[] = {"max", "min"};

static int unknown_field(const msgpack_object *k, path_t *p, const char *expected, ac_error_t *err)
{
    if (k->type != MSGPACK_OBJECT_STR)
        return fail(err, AC_ESCHEMA, p, "map keys must be strings");
    push_key(p, k->via.str.ptr, k->via.str.size);
    int rc = fail(err, AC_ESCHEMA, p, "unknown field (expected %s)", expected);
    pop(p);
    return rc;
}

static int missing(path_t *p, const char *field, ac_error_t *err)
{
    push_key(p, field, strlen(field));
    int rc = fail(err, AC_ESCHEMA, p, "required field is missing");
    pop(p);
    return rc;
}

static void render_walk_path(const void *ctx, char *buf, size_t size)
{
    path_render(ctx, buf, size);
}

/* The current path, for the request's entry points, rendered only if they fail. */
#define LAZY(p) (&(ac_lpath_t){render_walk_path, (p)})

static int walk_contribution(ac_request_t *req, const msgpack_object *o, ac_section_t section,
                             path_t *p, ac_error_t *err)
{
    int rc = want_type(o, MSGPACK_OBJECT_MAP, "a Contribution map", p, err);
    if (rc)
        return rc;
    ac_contribution_t c = {.section = (uint8_t)section};
    unsigned seen = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        const char *s;
        size_t len;
        int64_t prio;
        int e = 0;
        if (key_is(k, "dimension")) {
            push_key(p, "dimension", 9);
            rc = read_str(v, p, &s, &len, err);
            if (!rc) {
                rc = ac_req_dim(req, s, len, LAZY(p), &c.dim, err);
            }
            seen |= 1;
        } else if (key_is(k, "bucket")) {
            push_key(p, "bucket", 6);
            rc = read_enum(v, p, s_buckets, 4, "bucket", &e, err);
            c.bucket = (uint8_t)e;
            seen |= 2;
        } else if (key_is(k, "value")) {
            push_key(p, "value", 5);
            rc = read_double(v, p, &c.value, err);
            seen |= 4;
        } else if (key_is(k, "system")) {
            push_key(p, "system", 6);
            rc = read_str(v, p, &s, &len, err);
            if (!rc) {
                rc = ac_req_system(req, s, len, LAZY(p), &c.system, err);
            }
            seen |= 8;
        } else if (key_is(k, "priority")) {
            push_key(p, "priority", 8);
            rc = read_int(v, p, INT32_MIN, INT32_MAX, &prio, err);
            c.priority = (int32_t)prio;
        } else {
            return unknown_field(k, p, "dimension, bucket, value, system, priority", err);
        }
        pop(p);
        if (rc)
            return rc;
    }
    static const char *const req_fields[] = {"dimension", "bucket", "value", "system"};
    for (int i = 0; i < 4; i++)
        if (!(seen & (1u << i)))
            return missing(p, req_fields[i], err);
    return ac_req_push_contribution(req, &c, LAZY(p), err);
}

static int walk_cap(ac_request_t *req, const msgpack_object *o, path_t *p, ac_error_t *err)
{
    int rc = want_type(o, MSGPACK_OBJECT_MAP, "a CapContribution map", p, err);
    if (rc)
        return rc;
    ac_cap_t c = {.realm = AC_NO_ID};
    unsigned seen = 0;
    bool have_scope = false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        const char *s;
        size_t len;
        int64_t prio;
        int e = 0;
        if (key_is(k, "system")) {
            push_key(p, "system", 6);
            rc = read_str(v, p, &s, &len, err);
            if (!rc)
                rc = ac_req_system(req, s, len, LAZY(p), &c.system, err);
            seen |= 1;
        } else if (key_is(k, "dimension")) {
            push_key(p, "dimension", 9);
            rc = read_str(v, p, &s, &len, err);
            if (!rc)
                rc = ac_req_dim(req, s, len, LAZY(p), &c.dim, err);
            seen |= 2;
        } else if (key_is(k, "mode")) {
            push_key(p, "mode", 4);
            rc = read_enum(v, p, s_modes, 5, "mode", &e, err);
            c.mode = (uint8_t)e;
            seen |= 4;
        } else if (key_is(k, "kind")) {
            push_key(p, "kind", 4);
            rc = read_enum(v, p, s_kinds, 2, "kind", &e, err);
            c.kind = (uint8_t)e;
            seen |= 8;
        } else if (key_is(k, "value")) {
            push_key(p, "value", 5);
            rc = read_double(v, p, &c.value, err);
            seen |= 16;
        } else if (key_is(k, "priority")) {
            push_key(p, "priority", 8);
            rc = read_int(v, p, INT32_MIN, INT32_MAX, &prio, err);
            c.priority = (int32_t)prio;
        } else if (key_is(k, "scope")) {
            push_key(p, "scope", 5);
            rc = read_str(v, p, &s, &len, err);
            if (!rc)
                rc = ac_req_layer(req, s, len, LAZY(p), &c.layer, err);
            have_scope = true;
        } else if (key_is(k, "realm")) {
            push_key(p, "realm", 5);
            rc = read_str(v, p, &s, &len, err);
            if (!rc && len == 0)
                rc = fail(err, AC_ESCHEMA, p, "realm must not be empty");
            if (!rc)
                rc = ac_req_string(req, s, len, LAZY(p), &c.realm, err);
        } else if (key_is(k, "tags")) {
            /* Tags are metadata for tools: checked for shape, not used by the merge. */
            push_key(p, "tags", 4);
            rc = want_type(v, MSGPACK_OBJECT_ARRAY, "an array of strings", p, err);
            for (uint32_t t = 0; !rc && t < v->via.array.size; t++) {
                push_index(p, t);
                rc = read_str(&v->via.array.ptr[t], p, &s, &len, err);
                pop(p);
            }
        } else {
            return unknown_field(
                k, p, "system, dimension, mode, kind, value, priority, scope, realm, tags", err);
        }
        pop(p);
        if (rc)
            return rc;
    }
    static const char *const req_fields[] = {"system", "dimension", "mode", "kind", "value"};
    for (int i = 0; i < 5; i++)
        if (!(seen & (1u << i)))
            return missing(p, req_fields[i], err);
    if (!have_scope) {
        push_key(p, "scope", 5);
        rc = ac_req_layer(req, "TOTAL", 5, LAZY(p), &c.layer, err);
        pop(p);
        if (rc)
            return rc;
    }
    return ac_req_push_cap(req, &c, LAZY(p), err);
}

static int walk_pack(ac_request_t *req, uint32_t name, const msgpack_object *o, path_t *p,
                     ac_error_t *err)
{
    int rc = want_type(o, MSGPACK_OBJECT_MAP, "a ModifierPack map", p, err);
    if (rc)
        return rc;
    double add = 0, post = 0;
    const msgpack_object *mults = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (key_is(k, "additive_percent")) {
            push_key(p, "additive_percent", 16);
            rc = read_double(v, p, &add, err);
        } else if (key_is(k, "post_add")) {
            push_key(p, "post_add", 8);
            rc = read_double(v, p, &post, err);
        } else if (key_is(k, "multipliers")) {
            push_key(p, "multipliers", 11);
            rc = want_type(v, MSGPACK_OBJECT_ARRAY, "an array of numbers", p, err);
            mults = v;
        } else {
            return unknown_field(k, p, "additive_percent, multipliers, post_add", err);
        }
        pop(p);
        if (rc)
            return rc;
    }
    /* Multipliers are staged in the request's own vector, then handed over in place. */
    size_t n = mults ? mults->via.array.size : 0;
    if (n > req->limits.max_contributions)
        return fail(err, AC_ETOO_LARGE, p, "too many multipliers");
    double stage[64];
    double *vals = stage;
    if (n > 64) {
        if (ac_vec_reserve(&req->mults, sizeof(double), req->mults.count + 2 * n))
            return fail(err, AC_ENOMEM, p, "out of memory");
        vals = (double *)req->mults.data + req->mults.count + n;
    }
    for (size_t i = 0; i < n; i++) {
        push_key(p, "multipliers", 11);
        push_index(p, (uint32_t)i);
        rc = read_double(&mults->via.array.ptr[i], p, &vals[i], err);
        if (!rc && !(vals[i] > 0))
            rc = fail(err, AC_ESCHEMA, p, "a multiplier must be > 0");
        pop(p);
        pop(p);
        if (rc)
            return rc;
    }
    return ac_req_push_pack(req, name, add, vals, n, post, LAZY(p), err);
}

static int walk_output(ac_request_t *req, const msgpack_object *o, path_t *p, ac_error_t *err)
{
    int rc = want_type(o, MSGPACK_OBJECT_MAP, "a SubsystemOutput map", p, err);
    if (rc)
        return rc;
    /* meta first: the output's identity is needed before its items. */
    const msgpack_object *meta = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (key_is(k, "meta"))
            meta = &o->via.map.ptr[i].val;
        else if (!key_is(k, "primary") && !key_is(k, "derived") && !key_is(k, "caps") &&
                 !key_is(k, "context"))
            return unknown_field(k, p, "primary, derived, caps, context, meta", err);
    }
    if (!meta)
        return missing(p, "meta", err);
    push_key(p, "meta", 4);
    rc = want_type(meta, MSGPACK_OBJECT_MAP, "a meta map", p, err);
    uint32_t system = AC_NO_ID;
    for (uint32_t i = 0; !rc && i < meta->via.map.size; i++) {
        const msgpack_object *k = &meta->via.map.ptr[i].key, *v = &meta->via.map.ptr[i].val;
        const char *s;
        size_t len;
        int64_t stage;
        if (key_is(k, "system")) {
            push_key(p, "system", 6);
            rc = read_str(v, p, &s, &len, err);
            if (!rc)
                rc = ac_req_system(req, s, len, LAZY(p), &system, err);
            pop(p);
        } else if (key_is(k, "stage")) {
            push_key(p, "stage", 5);
            rc = read_int(v, p, 0, 1000, &stage, err);
            pop(p);
        } else if (key_is(k, "version")) {
            push_key(p, "version", 7);
            if (v->type != MSGPACK_OBJECT_STR && v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                rc = fail(err, AC_ESCHEMA, p, "expected a string or an integer");
            pop(p);
        } else {
            rc = unknown_field(k, p, "system, stage, version", err);
        }
    }
    if (!rc && system == AC_NO_ID)
        rc = missing(p, "system", err);
    pop(p);
    if (rc)
        return rc;
    rc = ac_req_begin_output(req, system, LAZY(p), err);
    if (rc)
        return rc;

    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (key_is(k, "meta"))
            continue;
        push_key(p, k->via.str.ptr, k->via.str.size);
        if (key_is(k, "context")) {
            rc = want_type(v, MSGPACK_OBJECT_MAP, "a map of context name to ModifierPack", p, err);
            for (uint32_t j = 0; !rc && j < v->via.map.size; j++) {
                const msgpack_object *ck = &v->via.map.ptr[j].key;
                if (ck->type != MSGPACK_OBJECT_STR || ck->via.str.size == 0) {
                    rc = fail(err, AC_ESCHEMA, p, "context names are non-empty strings");
                    break;
                }
                push_key(p, ck->via.str.ptr, ck->via.str.size);
                uint32_t name;
                rc = ac_req_string(req, ck->via.str.ptr, ck->via.str.size, LAZY(p), &name, err);
                if (!rc)
                    rc = walk_pack(req, name, &v->via.map.ptr[j].val, p, err);
                pop(p);
            }
        } else {
            rc = want_type(v, MSGPACK_OBJECT_ARRAY, "an array", p, err);
            bool caps = key_is(k, "caps");
            ac_section_t section = key_is(k, "primary") ? AC_PRIMARY : AC_DERIVED;
            for (uint32_t j = 0; !rc && j < v->via.array.size; j++) {
                push_index(p, j);
                rc = caps ? walk_cap(req, &v->via.array.ptr[j], p, err)
                          : walk_contribution(req, &v->via.array.ptr[j], section, p, err);
                pop(p);
            }
        }
        pop(p);
        if (rc)
            return rc;
    }
    return 0;
}

int ac_decode_outputs(ac_request_t *req, const msgpack_object *outputs, const char *prefix,
                      ac_error_t *err)
{
    path_t p = {.prefix = prefix};
    int rc = want_type(outputs, MSGPACK_OBJECT_ARRAY, "an array of SubsystemOutput", &p, err);
    for (uint32_t i = 0; !rc && i < outputs->via.array.size; i++) {
        push_index(&p, i);
        rc = walk_output(req, &outputs->via.array.ptr[i], &p, err);
        pop(&p);
    }
    ac_req_mark_inline(req);
    return rc;
}

/* Deep copy of a msgpack object into the request's arena; floats must be finite. */
static int copy_object(ac_request_t *req, const msgpack_object *src, msgpack_object *dst, path_t *p,
                       int depth, ac_error_t *err)
{
    if (depth > 64)
        return fail(err, AC_ETOO_LARGE, p, "nested deeper than 64 levels");
    *dst = *src;
    switch (src->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(src->via.f64))
            return fail(err, AC_ENON_FINITE, p, "numbers in actor data must be finite");
        return 0;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN: {
        char *s = ac_arena_strdup(&req->arena, src->via.str.ptr, src->via.str.size);
        if (!s)
            return fail(err, AC_ENOMEM, p, "out of memory");
        dst->via.str.ptr = s;
        return 0;
    }
    case MSGPACK_OBJECT_EXT:
        return fail(err, AC_ESCHEMA, p, "msgpack ext types are not allowed");
    case MSGPACK_OBJECT_ARRAY: {
        uint32_t n = src->via.array.size;
        msgpack_object *items = ac_arena_alloc(&req->arena, (size_t)n * sizeof *items);
        if (!items)
            return fail(err, AC_ENOMEM, p, "out of memory");
        dst->via.array.ptr = items;
        for (uint32_t i = 0; i < n; i++) {
            push_index(p, i);
            int rc = copy_object(req, &src->via.array.ptr[i], &items[i], p, depth + 1, err);
            pop(p);
            if (rc)
                return rc;
        }
        return 0;
    }
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = src->via.map.size;
        msgpack_object_kv *kv = ac_arena_alloc(&req->arena, (size_t)n * sizeof *kv);
        if (!kv)
            return fail(err, AC_ENOMEM, p, "out of memory");
        dst->via.map.ptr = kv;
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object *k = &src->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                return fail(err, AC_ESCHEMA, p, "map keys must be strings");
            push_key(p, k->via.str.ptr, k->via.str.size);
            int rc = copy_object(req, k, &kv[i].key, p, depth + 1, err);
            if (!rc)
                rc = copy_object(req, &src->via.map.ptr[i].val, &kv[i].val, p, depth + 1, err);
            pop(p);
            if (rc)
                return rc;
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* A copy of an optional string field into the arena. */
static int actor_string(ac_request_t *req, const msgpack_object *v, path_t *p, size_t max,
                        const char **out, ac_error_t *err)
{
    const char *s;
    size_t len;
    int rc = read_str(v, p, &s, &len, err);
    if (rc)
        return rc;
    if (len > max)
        return fail(err, AC_ESCHEMA, p, "longer than %zu bytes", max);
    if (memchr(s, '\0', len))
        return fail(err, AC_ESCHEMA, p, "NUL byte in a string");
    *out = ac_arena_strdup(&req->arena, s, len);
    return *out ? 0 : fail(err, AC_ENOMEM, p, "out of memory");
}

static int walk_timestamp(ac_request_t *req, const msgpack_object *v, path_t *p,
                          const msgpack_object **out, ac_error_t *err)
{
    if (v->type != MSGPACK_OBJECT_STR && v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
        v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return fail(err, AC_ESCHEMA, p, "expected a string or an integer timestamp");
    msgpack_object *copy = ac_arena_alloc(&req->arena, sizeof *copy);
    if (!copy)
        return fail(err, AC_ENOMEM, p, "out of memory");
    *out = copy;
    return copy_object(req, v, copy, p, 0, err);
}

int ac_decode_actor(ac_request_t *req, const msgpack_object *o, const char *prefix, ac_error_t *err)
{
    path_t p = {.prefix = prefix};
    int rc = want_type(o, MSGPACK_OBJECT_MAP, "an Actor map", &p, err);
    if (rc)
        return rc;
    ac_actor_t a = {0};
    const char *id = NULL;
    bool have_version = false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return fail(err, AC_ESCHEMA, &p, "map keys must be strings");
        push_key(&p, k->via.str.ptr, k->via.str.size);
        if (key_is(k, "id")) {
            rc = actor_string(req, v, &p, 128, &id, err);
            if (!rc && !*id)
                rc = fail(err, AC_ESCHEMA, &p, "the actor id must not be empty");
        } else if (key_is(k, "version")) {
            rc = read_int(v, &p, 0, INT64_MAX, &a.version, err);
            have_version = true;
        } else if (key_is(k, "name")) {
            rc = actor_string(req, v, &p, 256, &a.name, err);
        } else if (key_is(k, "race")) {
            rc = actor_string(req, v, &p, 128, &a.race, err);
        } else if (key_is(k, "lifespan")) {
            rc = read_double(v, &p, &a.lifespan, err);
            a.has_lifespan = true;
        } else if (key_is(k, "age")) {
            rc = read_double(v, &p, &a.age, err);
            a.has_age = true;
        } else if (key_is(k, "created_at")) {
            rc = walk_timestamp(req, v, &p, &a.created_at, err);
        } else if (key_is(k, "updated_at")) {
            rc = walk_timestamp(req, v, &p, &a.updated_at, err);
        } else if (key_is(k, "data")) {
            rc = want_type(v, MSGPACK_OBJECT_MAP, "a map", &p, err);
            msgpack_object *copy = rc ? NULL : ac_arena_alloc(&req->arena, sizeof *copy);
            if (!rc && !copy)
                rc = fail(err, AC_ENOMEM, &p, "out of memory");
            if (!rc)
                rc = copy_object(req, v, copy, &p, 0, err);
            a.data = copy;
        } else if (key_is(k, "subsystems")) {
            rc = want_type(v, MSGPACK_OBJECT_ARRAY, "an array of subsystem ids", &p, err);
            size_t n = rc ? 0 : v->via.array.size;
            if (n > 1024)
                rc = fail(err, AC_ETOO_LARGE, &p, "more than 1024 subsystems");
            const char **ids = (rc || !n) ? NULL : ac_arena_alloc(&req->arena, n * sizeof *ids);
            if (!rc && n && !ids)
                rc = fail(err, AC_ENOMEM, &p, "out of memory");
            for (size_t j = 0; !rc && j < n; j++) {
                push_index(&p, (uint32_t)j);
                rc = actor_string(req, &v->via.array.ptr[j], &p, 128, &ids[j], err);
                if (!rc && !*ids[j])
                    rc = fail(err, AC_ESCHEMA, &p, "a subsystem id must not be empty");
                pop(&p);
            }
            a.subsystems = ids;
            a.n_subsystems = rc ? 0 : n;
        } else {
            pop(&p);
            return unknown_field(k, &p,
                                 "id, version, name, race, lifespan, age, created_at, "
                                 "updated_at, data, subsystems",
                                 err);
        }
        pop(&p);
        if (rc)
            return rc;
    }
    if (!id)
        return missing(&p, "id", err);
    if (!have_version)
        return missing(&p, "version", err);
    a.id = id;
    a.id_len = strlen(id);
    req->actor = a;
    req->has_actor = true;
    return 0;
}
