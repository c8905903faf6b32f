/*  json.c - JSON in (jansson -> msgpack_object) and out (snapshots).

    jansson rejects numbers it cannot hold: `1e999` ("real number overflow") and integers
    beyond 64 bits ("too big integer"). Neither is malformed JSON, so we splice them: a
    big finite integer is re-read as a real (append ".0"); an infinite real becomes a
    marker string that the conversion turns into an infinite float, which the schema walk
    then rejects as non_finite_value at the field's exact path. At most 16 splices, so an
    input full of them cannot make the parse quadratic.
*/
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/codec.h"
#include "codec/mpobj.h"
#include "codec/numfmt.h"
#include "core/request_impl.h"

#define MAX_SPLICES 16
static const char s_pos_inf[] = "\"\\u0001ac:+inf\"";
static const char s_neg_inf[] = "\"\\u0001ac:-inf\"";

/* Converts a jansson tree into a msgpack_object tree in zone. */
static int convert(json_t *j, msgpack_object *o, msgpack_zone *zone, bool spliced)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        o->type = MSGPACK_OBJECT_MAP;
        o->via.map.size = (uint32_t)n;
        o->via.map.ptr = n ? msgpack_zone_malloc(zone, n * sizeof(msgpack_object_kv)) : NULL;
        if (n && !o->via.map.ptr)
            return -1;
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach(j, key, val)
        {
            msgpack_object_kv *kv = &o->via.map.ptr[i++];
            size_t klen = strlen(key);
            char *k = msgpack_zone_malloc(zone, klen + 1);
            if (!k)
                return -1;
            memcpy(k, key, klen + 1);
            kv->key.type = MSGPACK_OBJECT_STR;
            kv->key.via.str.ptr = k;
            kv->key.via.str.size = (uint32_t)klen;
            if (convert(val, &kv->val, zone, spliced))
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        o->type = MSGPACK_OBJECT_ARRAY;
        o->via.array.size = (uint32_t)n;
        o->via.array.ptr = n ? msgpack_zone_malloc(zone, n * sizeof(msgpack_object)) : NULL;
        if (n && !o->via.array.ptr)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (convert(json_array_get(j, i), &o->via.array.ptr[i], zone, spliced))
                return -1;
        return 0;
    }
    case JSON_STRING: {
        size_t len = json_string_length(j);
        const char *s = json_string_value(j);
        if (spliced && len == 8 && memcmp(s, "\001ac:", 4) == 0 &&
            (memcmp(s + 4, "+inf", 4) == 0 || memcmp(s + 4, "-inf", 4) == 0)) {
            o->type = MSGPACK_OBJECT_FLOAT64;
            o->via.f64 = s[4] == '+' ? INFINITY : -INFINITY;
            return 0;
        }
        char *copy = msgpack_zone_malloc(zone, len + 1);
        if (!copy)
            return -1;
        memcpy(copy, s, len + 1);
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.ptr = copy;
        o->via.str.size = (uint32_t)len;
        return 0;
    }
    case JSON_INTEGER:
        ac_mpobj_set_int(o, json_integer_value(j));
        return 0;
    case JSON_REAL:
        o->type = MSGPACK_OBJECT_FLOAT64;
        o->via.f64 = json_real_value(j);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = json_is_true(j);
        return 0;
    default:
        o->type = MSGPACK_OBJECT_NIL;
        return 0;
    }
}

/* Replaces the number token that ends at `end` in *buf (owned copy) per the header
   comment. Returns 0, or -1 when the token cannot be found. */
static int splice_number(char **buf, size_t *len, size_t end)
{
    size_t start = end;
    while (start > 0 && strchr("0123456789+-.eE", (*buf)[start - 1]) && (*buf)[start - 1])
        start--;
    if (start == end || end - start > 400)
        return -1;
    char token[401];
    memcpy(token, *buf + start, end - start);
    token[end - start] = '\0';
    double v = strtod(token, NULL);
    const char *rep;
    char real[410];
    if (isfinite(v)) {
        if (strpbrk(token, ".eE"))
            return -1; /* a real that overflowed yet parses finite: not ours to fix */
        snprintf(real, sizeof real, "%s.0", token);
        rep = real;
    } else {
        rep = v > 0 ? s_pos_inf : s_neg_inf;
    }
    size_t rlen = strlen(rep), nlen = *len - (end - start) + rlen;
    char *out = malloc(nlen + 1);
    if (!out)
        return -1;
    memcpy(out, *buf, start);
    memcpy(out + start, rep, rlen);
    memcpy(out + start + rlen, *buf + end, *len - end);
    out[nlen] = '\0';
    free(*buf);
    *buf = out;
    *len = nlen;
    return 0;
}

int ac_json_parse(const char *text, size_t len, msgpack_zone *zone, msgpack_object *out,
                  ac_error_t *err)
{
    char *copy = NULL;
    const char *src = text;
    size_t src_len = len;
    json_t *root = NULL;
    for (int splices = 0;; splices++) {
        json_error_t je;
        root = json_loadb(src, src_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        if (root)
            break;
        if (json_error_code(&je) == json_error_numeric_overflow && splices < MAX_SPLICES) {
            if (!copy) {
                copy = malloc(len + 1);
                if (!copy)
                    return ac_error_set(err, AC_ENOMEM, "", "out of memory");
                memcpy(copy, text, len);
                copy[len] = '\0';
            }
            if (splice_number(&copy, &src_len, (size_t)je.position) == 0) {
                src = copy;
                continue;
            }
        }
        free(copy);
        return ac_error_set(err, AC_EINVALID_JSON, "", "line %d, column %d: %s", je.line, je.column,
                            je.text);
    }
    int rc = convert(root, out, zone, copy != NULL);
    json_decref(root);
    free(copy);
    if (rc)
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    return 0;
}

/* Parses and walks one JSON document with a zone of its own. */
static int decode_json(ac_request_t *req, const char *text, size_t len, bool actor, ac_error_t *err)
{
    if (len > req->limits.max_message_bytes)
        return ac_error_set(err, AC_ETOO_LARGE, "", "input is %zu bytes, the limit is %zu", len,
                            req->limits.max_message_bytes);
    msgpack_zone *zone = msgpack_zone_new(8192);
    if (!zone)
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    msgpack_object obj;
    int rc = ac_json_parse(text, len, zone, &obj, err);
    if (rc == 0)
        rc = actor ? ac_decode_actor(req, &obj, "actor", err)
                   : ac_decode_outputs(req, &obj, "outputs", err);
    msgpack_zone_free(zone);
    return rc;
}

int ac_decode_outputs_json(ac_request_t *req, const char *text, size_t len, ac_error_t *err)
{
    return decode_json(req, text, len, false, err);
}

int ac_decode_actor_json(ac_request_t *req, const char *text, size_t len, ac_error_t *err)
{
    return decode_json(req, text, len, true, err);
}

/* ---- output ---- */

static int put(msgpack_sbuffer *out, const char *s, size_t len)
{
    return msgpack_sbuffer_write(out, s, len);
}

#define PUT_LIT(out, lit) put(out, lit, sizeof(lit) - 1)

static int put_num(msgpack_sbuffer *out, double v)
{
    char buf[AC_NUMFMT_MAX];
    size_t n = ac_numfmt(v, buf);
    return put(out, buf, n);
}

int ac_json_write_string(msgpack_sbuffer *out, const char *s, size_t len)
{
    int rc = PUT_LIT(out, "\"");
    size_t run = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        rc = put(out, s + run, i - run);
        char esc[8];
        snprintf(esc, sizeof esc, "\\u%04x", c);
        if (!rc)
            rc = put(out, esc, 6);
        run = i + 1;
    }
    if (!rc)
        rc = put(out, s + run, len - run);
    if (!rc)
        rc = PUT_LIT(out, "\"");
    return rc;
}

/* Writes {"name":value,...} for the dimensions whose flag matches section. */
static int put_values(msgpack_sbuffer *out, const ac_snapshot_t *snap, const ac_registry_t *reg,
                      int section)
{
    int rc = PUT_LIT(out, "{");
    bool first = true;
    ac_snapshot_iter_t it;
    ac_snapshot_dim_t d;
    ac_snapshot_iter_init(&it, snap, reg);
    while (!rc && ac_snapshot_next(&it, &d)) {
        bool has = section == 0 ? d.has_primary : section == 1 ? d.has_derived : true;
        if (!has)
            continue;
        if (!first)
            rc = PUT_LIT(out, ",");
        first = false;
        rc = rc ? rc : ac_json_write_string(out, d.name, d.name_len);
        rc = rc ? rc : PUT_LIT(out, ":");
        if (section == 2) {
            rc = rc ? rc : PUT_LIT(out, "{\"Min\":");
            rc = rc ? rc : put_num(out, d.min);
            rc = rc ? rc : PUT_LIT(out, ",\"Max\":");
            rc = rc ? rc : put_num(out, d.max);
            rc = rc ? rc : PUT_LIT(out, "}");
        } else {
            rc = rc ? rc : put_num(out, section == 0 ? d.primary : d.derived);
        }
    }
    return rc ? rc : PUT_LIT(out, "}");
}

static int put_contexts(msgpack_sbuffer *out, const ac_snapshot_t *snap)
{
    int rc = PUT_LIT(out, ",\"Context\":{");
    for (size_t i = 0; !rc && i < ac_snapshot_context_count(snap); i++) {
        ac_context_t c;
        ac_snapshot_context(snap, i, &c);
        if (i)
            rc = PUT_LIT(out, ",");
        rc = rc ? rc : ac_json_write_string(out, c.name, c.name_len);
        rc = rc ? rc : PUT_LIT(out, ":{\"additive_percent\":");
        rc = rc ? rc : put_num(out, c.additive_percent);
        rc = rc ? rc : PUT_LIT(out, ",\"multipliers\":[");
        for (size_t m = 0; !rc && m < c.n_multipliers; m++) {
            if (m)
                rc = PUT_LIT(out, ",");
            rc = rc ? rc : put_num(out, c.multipliers[m]);
        }
        rc = rc ? rc : PUT_LIT(out, "],\"post_add\":");
        rc = rc ? rc : put_num(out, c.post_add);
        rc = rc ? rc : PUT_LIT(out, "}");
    }
    return rc ? rc : PUT_LIT(out, "}");
}

int ac_snapshot_to_json(const ac_snapshot_t *snap, const ac_registry_t *reg, msgpack_sbuffer *out)
{
    char version[32];
    size_t size0 = out->size; /* restored on failure: nothing half-written */
    int rc = PUT_LIT(out, "{\"Primary\":");
    rc = rc ? rc : put_values(out, snap, reg, 0);
    rc = rc ? rc : PUT_LIT(out, ",\"Derived\":");
    rc = rc ? rc : put_values(out, snap, reg, 1);
    rc = rc ? rc : PUT_LIT(out, ",\"CapsUsed\":");
    rc = rc ? rc : put_values(out, snap, reg, 2);
    int n = snprintf(version, sizeof version, ",\"Version\":%lld",
                     (long long)ac_snapshot_version(snap));
    rc = rc ? rc : put(out, version, (size_t)n);
    if (!rc && ac_snapshot_context_count(snap))
        rc = put_contexts(out, snap);
    rc = rc ? rc : PUT_LIT(out, "}");
    if (rc)
        out->size = size0;
    return rc ? AC_ENOMEM : 0; /* a buffer write is all that can fail */
}
