/*  skim.c - what the broker reads of a request body, by a bounded skim of its msgpack: its
    `op`, and the actors it names: the top-level map's `actor_id` or `actor.id`, and those
    of every item of a batch's `items`. Affinity needs one actor (every id the same);
    coherence (floors.c) needs the hash of each. The skim reads object headers and jumps
    over strings; it gives up on anything else, on a truncated body, past its budget of
    objects and past SKIM_DEPTH nested containers, so its cost is bounded by the body's size
    whatever the body holds. Nothing is allocated.
*/
#include <string.h>

#include "broker.h"
#include "core/hash.h"

#define SKIM_DEPTH 32 /* containers the skim may open inside one another */

typedef struct {
    const uint8_t *p, *end;
    int budget;       /* objects left to read */
    int depth;        /* containers open */
    skim_info_t *out; /* what was found */
} skim_t;

enum { K_BAD, K_STR, K_MAP, K_ARRAY, K_OTHER };

/* Type bytes 0xc0..0xdf: the kind, the bytes of length that follow, the payload bytes to
   skip. K_BAD: never used, or ext 8/16/32, which our bodies do not carry. */
static const struct {
    uint8_t kind, extra, skip;
} s_types[32] = {
    [0x00] = {K_OTHER, 0, 0}, [0x02] = {K_OTHER, 0, 0},  [0x03] = {K_OTHER, 0, 0}, /* nil, bool */
    [0x04] = {K_STR, 1, 0},   [0x05] = {K_STR, 2, 0},    [0x06] = {K_STR, 4, 0},   /* bin */
    [0x0a] = {K_OTHER, 0, 4}, [0x0b] = {K_OTHER, 0, 8},                            /* float */
    [0x0c] = {K_OTHER, 0, 1}, [0x0d] = {K_OTHER, 0, 2},  [0x0e] = {K_OTHER, 0, 4},
    [0x0f] = {K_OTHER, 0, 8}, /* uint */
    [0x10] = {K_OTHER, 0, 1}, [0x11] = {K_OTHER, 0, 2},  [0x12] = {K_OTHER, 0, 4},
    [0x13] = {K_OTHER, 0, 8}, /* int */
    [0x14] = {K_OTHER, 0, 2}, [0x15] = {K_OTHER, 0, 3},  [0x16] = {K_OTHER, 0, 5},
    [0x17] = {K_OTHER, 0, 9}, [0x18] = {K_OTHER, 0, 17},                         /* fixext */
    [0x19] = {K_STR, 1, 0},   [0x1a] = {K_STR, 2, 0},    [0x1b] = {K_STR, 4, 0}, /* str */
    [0x1c] = {K_ARRAY, 2, 0}, [0x1d] = {K_ARRAY, 4, 0},                          /* array */
    [0x1e] = {K_MAP, 2, 0},   [0x1f] = {K_MAP, 4, 0},                            /* map */
};

static bool need(skim_t *k, size_t n)
{
    return (size_t)(k->end - k->p) >= n;
}

/* Reads an object header: its kind and, for containers and strings, the count or length
   (scalars are skipped whole). False on truncation, a type we do not read, or when the
   budget is spent. */
static bool header(skim_t *k, int *kind, uint32_t *len)
{
    if (--k->budget < 0 || !need(k, 1))
        return false;
    uint8_t t = *k->p++;
    *len = 0;
    if (t <= 0x7f || t >= 0xe0) {
        *kind = K_OTHER;
    } else if (t >= 0xc0) {
        int extra = s_types[t - 0xc0].extra, skip = s_types[t - 0xc0].skip;
        *kind = s_types[t - 0xc0].kind;
        if (*kind == K_BAD || !need(k, (size_t)(extra + skip)))
            return false;
        for (int i = 0; i < extra; i++)
            *len = (*len << 8) | *k->p++;
        k->p += skip;
    } else if (t >= 0xa0) {
        *kind = K_STR, *len = t & 0x1f;
    } else if (t >= 0x90) {
        *kind = K_ARRAY, *len = t & 0x0f;
    } else {
        *kind = K_MAP, *len = t & 0x0f;
    }
    return true;
}

/* Skips one whole object. */
static bool skip_object(skim_t *k)
{
    int kind;
    uint32_t len;
    if (!header(k, &kind, &len))
        return false;
    if (kind == K_STR) {
        if (!need(k, len))
            return false;
        k->p += len;
        return true;
    }
    uint64_t n = kind == K_MAP ? 2ull * len : kind == K_ARRAY ? len : 0;
    if (n && ++k->depth > SKIM_DEPTH)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!skip_object(k))
            return false;
    k->depth -= n != 0;
    return true;
}

/* Reads a string object into (s, n); false when the next object is not a string. */
static bool read_str(skim_t *k, const uint8_t **s, uint32_t *n)
{
    int kind;
    if (!header(k, &kind, n) || kind != K_STR || !need(k, *n))
        return false;
    *s = k->p;
    k->p += *n;
    return true;
}

static bool key_is(const uint8_t *s, uint32_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Records an actor id the body names: its hash, whether every id so far is the same, and
   (room allowing) the hash in out->ids. */
static void found_id(skim_t *k, const uint8_t *id, uint32_t len)
{
    skim_info_t *o = k->out;
    uint64_t h = ac_hash_finish(ac_hash_bytes(AC_HASH_INIT, id, len));
    if (len == 0)
        o->one_actor = false;
    else if (o->nids == 0)
        o->key = h, o->one_actor = true;
    else if (h != o->key)
        o->one_actor = false;
    if (o->nids < o->cap)
        o->ids[o->nids] = h;
    else
        o->complete = false;
    o->nids++;
}

/* The value of an id key: a string, recorded as an actor the body names. */
static bool id_value(skim_t *k)
{
    const uint8_t *id;
    uint32_t len;
    if (!read_str(k, &id, &len))
        return false;
    found_id(k, id, len);
    return true;
}

/* The value of `actor`: a map whose `id` is the actor id. */
static bool actor_map(skim_t *k)
{
    int kind;
    uint32_t n;
    if (!header(k, &kind, &n) || kind != K_MAP)
        return false;
    for (uint32_t j = 0; j < n; j++) {
        const uint8_t *ak;
        uint32_t aklen;
        if (!read_str(k, &ak, &aklen))
            return false;
        if (key_is(ak, aklen, "id")) {
            if (!id_value(k))
                return false;
        } else if (!skip_object(k)) {
            return false;
        }
    }
    return true;
}

/* The op a body names, when it is one the broker treats apart. */
static int op_of(const uint8_t *s, uint32_t n)
{
    if (key_is(s, n, "get"))
        return SKIM_OP_GET;
    if (key_is(s, n, "invalidate"))
        return SKIM_OP_INVALIDATE;
    if (key_is(s, n, "resolve") || key_is(s, n, "resolve_batch"))
        return SKIM_OP_RESOLVE;
    if (key_is(s, n, "admin"))
        return SKIM_OP_ADMIN;
    return SKIM_OP_OTHER;
}

/* A map of `len` entries: its actor ids (`actor_id`, `actor.id`), and at the top level
   its op and the ids of its batch `items`. False on a body that cannot be skimmed. */
static bool map_actor(skim_t *k, uint32_t len, bool top)
{
    for (uint32_t i = 0; i < len; i++) {
        const uint8_t *key, *s;
        uint32_t klen, n;
        if (!read_str(k, &key, &klen))
            return false;
        if (key_is(key, klen, "actor_id")) {
            if (!id_value(k))
                return false;
        } else if (key_is(key, klen, "actor")) {
            if (!actor_map(k))
                return false;
        } else if (top && key_is(key, klen, "op")) {
            if (!read_str(k, &s, &n))
                return false;
            k->out->op = op_of(s, n);
            k->out->batch = k->out->batch || key_is(s, n, "resolve_batch");
        } else if (top && key_is(key, klen, "items")) {
            int kind;
            uint32_t count, ilen;
            if (!header(k, &kind, &count) || kind != K_ARRAY)
                return false;
            k->out->batch = true;
            for (uint32_t j = 0; j < count; j++)
                if (!header(k, &kind, &ilen) || kind != K_MAP || !map_actor(k, ilen, false))
                    return false;
        } else if (!skip_object(k)) {
            return false;
        }
    }
    return true;
}

bool skim_body(const uint8_t *p, size_t n, int budget, skim_info_t *out)
{
    skim_t k = {p, p + n, budget, 0, out};
    out->op = SKIM_OP_OTHER;
    out->nids = 0;
    out->one_actor = false;
    out->batch = false;
    out->complete = true;
    int kind;
    uint32_t len;
    if (!header(&k, &kind, &len) || kind != K_MAP || !map_actor(&k, len, true)) {
        out->complete = false;
        out->one_actor = false;
        return false;
    }
    return true;
}

bool skim_value(const uint8_t *p, size_t n, const char *key, const uint8_t **value,
                size_t *value_len)
{
    skim_t k = {p, p + n, (int)(n < INT32_MAX - 1 ? n + 1 : INT32_MAX), 0, NULL};
    int kind;
    uint32_t len;
    if (!header(&k, &kind, &len) || kind != K_MAP)
        return false;
    for (uint32_t i = 0; i < len; i++) {
        const uint8_t *name;
        uint32_t nlen;
        if (!read_str(&k, &name, &nlen))
            return false;
        const uint8_t *at = k.p;
        if (!skip_object(&k))
            return false;
        if (key_is(name, nlen, key)) {
            *value = at;
            *value_len = (size_t)(k.p - at);
            return true;
        }
    }
    return false;
}

bool skim_actor(const uint8_t *p, size_t n, uint64_t *key)
{
    skim_info_t info = {0};
    if (!skim_body(p, n, SKIM_BUDGET, &info) || !info.one_actor)
        return false;
    *key = info.key;
    return true;
}
