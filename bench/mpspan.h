/*  mpspan.h - reading msgpack by byte spans, without decoding: how actorcore-bench checks
    every reply at a few hundred nanoseconds each. A value is found by walking the map it
    sits in and skipping the values before it; two values are equal when their bytes are
    (the workers pack snapshots canonically, the same way every time).
*/
#ifndef AC_BENCH_MPSPAN_H
#define AC_BENCH_MPSPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A span of bytes inside a buffer. */
typedef struct {
    const unsigned char *p; /* first byte; NULL when not found */
    size_t len;             /* bytes */
} mp_span_t;

static inline uint64_t mp_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The length of the value at p (at most end - p bytes), or 0 when malformed or cut. For
   a container, *count gets its element count (pairs for a map) and the length is that of
   its header only, unless deep (then the whole value). */
static size_t mp_skip(const unsigned char *p, const unsigned char *end, bool deep);

static inline size_t mp_header(const unsigned char *p, const unsigned char *end, uint64_t *count,
                               int *kind)
{
    /* kind: 0 scalar (length in header), 1 array, 2 map; for scalars the return value is
       the whole value's length. */
    *count = 0;
    *kind = 0;
    if (p >= end)
        return 0;
    unsigned c = *p;
    size_t avail = (size_t)(end - p);
    size_t hdr = 1, body = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 1;
    if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
        *kind = (c & 0xf0) == 0x80 ? 2 : 1;
        *count = c & 0x0f;
        return 1;
    }
    if ((c & 0xe0) == 0xa0)
        body = c & 0x1f;
    else {
        switch (c) {
        case 0xcc:
        case 0xd0:
            body = 1;
            break;
        case 0xcd:
        case 0xd1:
            body = 2;
            break;
        case 0xca:
        case 0xce:
        case 0xd2:
            body = 4;
            break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
            body = 8;
            break;
        case 0xd4:
            body = 2;
            break;
        case 0xd5:
            body = 3;
            break;
        case 0xd6:
            body = 5;
            break;
        case 0xd7:
            body = 9;
            break;
        case 0xd8:
            body = 17;
            break;
        case 0xc4:
        case 0xd9:
            hdr = 2;
            break;
        case 0xc5:
        case 0xda:
            hdr = 3;
            break;
        case 0xc6:
        case 0xdb:
            hdr = 5;
            break;
        case 0xc7:
            hdr = 3;
            break;
        case 0xc8:
            hdr = 4;
            break;
        case 0xc9:
            hdr = 6;
            break;
        case 0xdc:
        case 0xde:
            hdr = 3;
            break;
        case 0xdd:
        case 0xdf:
            hdr = 5;
            break;
        default:
            return 0;
        }
        if (hdr > avail)
            return 0;
        if (c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf) {
            *kind = c == 0xde || c == 0xdf ? 2 : 1;
            *count = mp_be(p + 1, (int)hdr - 1);
            return hdr;
        }
        if (hdr > 1) {
            int w = c >= 0xc7 && c <= 0xc9 ? (int)hdr - 2 : (int)hdr - 1;
            body = (size_t)mp_be(p + 1, w) + (c >= 0xc7 && c <= 0xc9 ? 1 : 0);
        }
    }
    return hdr + body <= avail ? hdr + body : 0;
}

static size_t mp_skip(const unsigned char *p, const unsigned char *end, bool deep)
{
    uint64_t count;
    int kind;
    size_t n = mp_header(p, end, &count, &kind);
    if (!n || !kind || !deep)
        return n;
    const unsigned char *q = p + n;
    for (uint64_t i = 0; i < count * (uint64_t)kind; i++) {
        size_t m = mp_skip(q, end, true);
        if (!m)
            return 0;
        q += m;
    }
    return (size_t)(q - p);
}

/* The value under the string key `key` of the map m; p NULL when absent or malformed. */
static inline mp_span_t mp_get(mp_span_t m, const char *key)
{
    mp_span_t none = {NULL, 0};
    const unsigned char *end = m.p + m.len;
    uint64_t count;
    int kind;
    size_t n = m.p ? mp_header(m.p, end, &count, &kind) : 0;
    if (!n || kind != 2)
        return none;
    size_t klen = strlen(key);
    const unsigned char *q = m.p + n;
    for (uint64_t i = 0; i < count; i++) {
        size_t ks = mp_skip(q, end, true);
        if (!ks)
            return none;
        /* A str key: fixstr or str8 holding exactly key. */
        bool match = ((*q & 0xe0) == 0xa0 && (size_t)(*q & 0x1f) == klen && ks == klen + 1 &&
                      memcmp(q + 1, key, klen) == 0) ||
                     (*q == 0xd9 && ks == klen + 2 && memcmp(q + 2, key, klen) == 0);
        q += ks;
        size_t vs = mp_skip(q, end, true);
        if (!vs)
            return none;
        if (match)
            return (mp_span_t){q, vs};
        q += vs;
    }
    return none;
}

/* The values under keys[0..n-1] of the map m, in one pass (out[i].p NULL when absent);
   -1 when m is not a map or is malformed, else 0. */
static inline int mp_get_many(mp_span_t m, const char *const *keys, int n, mp_span_t *out)
{
    const unsigned char *end = m.p + m.len;
    uint64_t count;
    int kind;
    for (int i = 0; i < n; i++)
        out[i] = (mp_span_t){NULL, 0};
    size_t h = m.p ? mp_header(m.p, end, &count, &kind) : 0;
    if (!h || kind != 2)
        return -1;
    const unsigned char *q = m.p + h;
    for (uint64_t i = 0; i < count; i++) {
        size_t ks = mp_skip(q, end, true);
        if (!ks)
            return -1;
        const unsigned char *k = q;
        q += ks;
        size_t vs = mp_skip(q, end, true);
        if (!vs)
            return -1;
        for (int j = 0; j < n; j++) {
            size_t klen = strlen(keys[j]);
            if (((*k & 0xe0) == 0xa0 && ks == klen + 1 && memcmp(k + 1, keys[j], klen) == 0) ||
                (*k == 0xd9 && ks == klen + 2 && memcmp(k + 2, keys[j], klen) == 0))
                out[j] = (mp_span_t){q, vs};
        }
        q += vs;
    }
    return 0;
}

/* The element count of the array a, or -1 when a is not one; *first gets its first
   element. */
static inline int64_t mp_array(mp_span_t a, const unsigned char **first)
{
    uint64_t count;
    int kind;
    size_t n = a.p ? mp_header(a.p, a.p + a.len, &count, &kind) : 0;
    if (!n || kind != 1)
        return -1;
    *first = a.p + n;
    return (int64_t)count;
}

static inline bool mp_is_true(mp_span_t v)
{
    return v.p && v.len == 1 && v.p[0] == 0xc3;
}

/* True when v is the string s. */
static inline bool mp_str_eq(mp_span_t v, const char *s, size_t len)
{
    if (!v.p)
        return false;
    if ((v.p[0] & 0xe0) == 0xa0)
        return (size_t)(v.p[0] & 0x1f) == len && v.len == len + 1 && !memcmp(v.p + 1, s, len);
    if (v.p[0] == 0xd9)
        return v.len == len + 2 && !memcmp(v.p + 2, s, len);
    return false;
}

static inline bool mp_span_eq(mp_span_t a, mp_span_t b)
{
    return a.p && b.p && a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

#endif
