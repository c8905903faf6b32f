/*  mpack.c - msgpack in (a bounded decoder) and out (snapshots).

    Decoding is our own recursive-descent pass into msgpack-c's msgpack_object tree (so the
    schema walk and every msgpack-c consumer read it as usual), for two measured reasons:
    - safety: msgpack-c allocates a container's element array as soon as it reads the
      header, so a 5-byte message claiming 2^32 elements asks for ~100 GB. Here every
      container's count is checked against the bytes that remain (each element needs at
      least one) before anything is allocated, and nesting is capped at 32;
    - speed: msgpack_unpack took 42.7 us on the 25.6 KB W1-inline body (16 ns an object),
      plus 10 us for the separate framing check it needed; this pass does both at once.
    Strings, binaries and ext payloads point into the input buffer (no copy): the buffer
    must outlive the tree. Integers are normalised as msgpack-c does (a non-negative signed
    integer is POSITIVE_INTEGER).
*/
#include <string.h>

#include "actorcore/codec.h"
#include "codec/mpobj.h"
#include "core/registry_impl.h"
#include "core/snapshot_impl.h"

#define MAX_DEPTH 32

typedef struct {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the last byte */
    msgpack_zone *zone;       /* where containers are allocated */
    const char *why;          /* first failure */
} dec_t;

static int fail(dec_t *d, const char *why)
{
    if (!d->why)
        d->why = why;
    return -1;
}

/* Takes n bytes; -1 when they are not there. */
static inline int take(dec_t *d, size_t n, const unsigned char **at)
{
    if ((size_t)(d->end - d->p) < n)
        return fail(d, "truncated message");
    *at = d->p;
    d->p += n;
    return 0;
}

static int decode(dec_t *d, msgpack_object *o, int depth);

static int decode_array(dec_t *d, msgpack_object *o, uint64_t n, int depth)
{
    if (n > (uint64_t)(d->end - d->p))
        return fail(d, "a container claims more elements than the message has bytes");
    if (depth >= MAX_DEPTH)
        return fail(d, "nested deeper than 32 levels");
    o->type = MSGPACK_OBJECT_ARRAY;
    o->via.array.size = (uint32_t)n;
    o->via.array.ptr = NULL;
    if (!n)
        return 0;
    o->via.array.ptr = msgpack_zone_malloc(d->zone, (size_t)n * sizeof(msgpack_object));
    if (!o->via.array.ptr)
        return fail(d, "out of memory");
    for (uint64_t i = 0; i < n; i++)
        if (decode(d, &o->via.array.ptr[i], depth + 1))
            return -1;
    return 0;
}

static int decode_map(dec_t *d, msgpack_object *o, uint64_t n, int depth)
{
    if (n > (uint64_t)(d->end - d->p) / 2)
        return fail(d, "a container claims more elements than the message has bytes");
    if (depth >= MAX_DEPTH)
        return fail(d, "nested deeper than 32 levels");
    o->type = MSGPACK_OBJECT_MAP;
    o->via.map.size = (uint32_t)n;
    o->via.map.ptr = NULL;
    if (!n)
        return 0;
    o->via.map.ptr = msgpack_zone_malloc(d->zone, (size_t)n * sizeof(msgpack_object_kv));
    if (!o->via.map.ptr)
        return fail(d, "out of memory");
    for (uint64_t i = 0; i < n; i++)
        if (decode(d, &o->via.map.ptr[i].key, depth + 1) ||
            decode(d, &o->via.map.ptr[i].val, depth + 1))
            return -1;
    return 0;
}

/* str, bin: a payload of n bytes. */
static int decode_raw(dec_t *d, msgpack_object *o, msgpack_object_type type, uint64_t n)
{
    const unsigned char *at;
    if (n > (uint64_t)(d->end - d->p) || take(d, (size_t)n, &at))
        return fail(d, "truncated message");
    o->type = type;
    o->via.str.size = (uint32_t)n;
    o->via.str.ptr = (const char *)at;
    return 0;
}

static int decode_ext(dec_t *d, msgpack_object *o, uint64_t n)
{
    const unsigned char *at;
    if (n + 1 > (uint64_t)(d->end - d->p) || take(d, (size_t)n + 1, &at))
        return fail(d, "truncated message");
    o->type = MSGPACK_OBJECT_EXT;
    o->via.ext.type = (int8_t)at[0];
    o->via.ext.size = (uint32_t)n;
    o->via.ext.ptr = (const char *)at + 1;
    return 0;
}

/* One object at d's position into o. Long on purpose: it is one switch with a case per
   msgpack type byte, read top to bottom like the format's own table; cutting it would
   scatter that table over several functions and add a call per object on the hot path. */
static int decode(dec_t *d, msgpack_object *o, int depth)
{
    const unsigned char *at;
    if (take(d, 1, &at))
        return -1;
    unsigned char t = *at;
    if (t <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = t;
        return 0;
    }
    if (t >= 0xe0) {
        ac_mpobj_set_int(o, (int8_t)t);
        return 0;
    }
    if (t <= 0x8f)
        return decode_map(d, o, t & 0x0f, depth);
    if (t <= 0x9f)
        return decode_array(d, o, t & 0x0f, depth);
    if (t <= 0xbf)
        return decode_raw(d, o, MSGPACK_OBJECT_STR, t & 0x1f);
    int w;
    switch (t) {
    case 0xc0:
        o->type = MSGPACK_OBJECT_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = t == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        w = 1 << (t - 0xc4);
        if (take(d, (size_t)w, &at))
            return -1;
        return decode_raw(d, o, MSGPACK_OBJECT_BIN, ac_be_read(at, w));
    case 0xc7:
    case 0xc8:
    case 0xc9:
        w = 1 << (t - 0xc7);
        if (take(d, (size_t)w, &at))
            return -1;
        return decode_ext(d, o, ac_be_read(at, w));
    case 0xca: {
        if (take(d, 4, &at))
            return -1;
        uint32_t bits = (uint32_t)ac_be_read(at, 4);
        float f;
        memcpy(&f, &bits, 4);
        o->type = MSGPACK_OBJECT_FLOAT32;
        o->via.f64 = f;
        return 0;
    }
    case 0xcb: {
        if (take(d, 8, &at))
            return -1;
        uint64_t bits = ac_be_read(at, 8);
        memcpy(&o->via.f64, &bits, 8);
        o->type = MSGPACK_OBJECT_FLOAT64;
        return 0;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        w = 1 << (t - 0xcc);
        if (take(d, (size_t)w, &at))
            return -1;
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = ac_be_read(at, w);
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        w = 1 << (t - 0xd0);
        if (take(d, (size_t)w, &at))
            return -1;
        uint64_t u = ac_be_read(at, w);
        int64_t v = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : w == 4 ? (int32_t)u : (int64_t)u;
        ac_mpobj_set_int(o, v);
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return decode_ext(d, o, 1u << (t - 0xd4));
    case 0xd9:
    case 0xda:
    case 0xdb:
        w = 1 << (t - 0xd9);
        if (take(d, (size_t)w, &at))
            return -1;
        return decode_raw(d, o, MSGPACK_OBJECT_STR, ac_be_read(at, w));
    case 0xdc:
    case 0xdd:
        w = t == 0xdc ? 2 : 4;
        if (take(d, (size_t)w, &at))
            return -1;
        return decode_array(d, o, ac_be_read(at, w), depth);
    case 0xde:
    case 0xdf:
        w = t == 0xde ? 2 : 4;
        if (take(d, (size_t)w, &at))
            return -1;
        return decode_map(d, o, ac_be_read(at, w), depth);
    default:
        return fail(d, "invalid msgpack type byte 0xc1");
    }
}

int ac_msgpack_parse(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *out,
                     ac_error_t *err)
{
    dec_t d = {(const unsigned char *)buf, (const unsigned char *)buf + len, zone, NULL};
    int rc = decode(&d, out, 0);
    if (rc == 0 && d.p != d.end)
        fail(&d, "bytes after the end of the message");
    else if (rc != 0)
        fail(&d, "invalid message"); /* a failure always fails, named or not */
    if (d.why)
        return ac_error_set(err,
                            strcmp(d.why, "out of memory") == 0 ? AC_ENOMEM : AC_EINVALID_MSGPACK,
                            "", "%s", d.why);
    return 0;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

#define PACK_LIT(pk, lit) pack_str(pk, lit, sizeof(lit) - 1)

int ac_snapshot_pack(msgpack_packer *pk, const ac_snapshot_t *snap, const ac_registry_t *reg,
                     const char *actor_id, size_t actor_id_len)
{
    size_t n_ctx = ac_snapshot_context_count(snap);
    int rc = msgpack_pack_map(pk, 5 + (actor_id != NULL) + (n_ctx > 0));
    ac_snapshot_iter_t it;
    ac_snapshot_dim_t d;
    /* Primary, Derived: name -> value; CapsUsed: name -> {Min, Max}. */
    for (int section = 0; section < 3 && !rc; section++) {
        size_t count = section == 0   ? ac_snapshot_primary_count(snap)
                       : section == 1 ? ac_snapshot_derived_count(snap)
                                      : ac_snapshot_dimension_count(snap);
        rc = section == 0   ? PACK_LIT(pk, "Primary")
             : section == 1 ? PACK_LIT(pk, "Derived")
                            : PACK_LIT(pk, "CapsUsed");
        rc = rc ? rc : msgpack_pack_map(pk, count);
        ac_snapshot_iter_init(&it, snap, reg);
        while (!rc && ac_snapshot_next(&it, &d)) {
            if ((section == 0 && !d.has_primary) || (section == 1 && !d.has_derived))
                continue;
            rc = pack_str(pk, d.name, d.name_len);
            if (section == 2) {
                rc = rc ? rc : msgpack_pack_map(pk, 2);
                rc = rc ? rc : PACK_LIT(pk, "Min");
                rc = rc ? rc : msgpack_pack_double(pk, d.min);
                rc = rc ? rc : PACK_LIT(pk, "Max");
                rc = rc ? rc : msgpack_pack_double(pk, d.max);
            } else {
                rc = rc ? rc : msgpack_pack_double(pk, section == 0 ? d.primary : d.derived);
            }
        }
    }
    rc = rc ? rc : PACK_LIT(pk, "Version");
    rc = rc ? rc : msgpack_pack_int64(pk, ac_snapshot_version(snap));
    rc = rc ? rc : PACK_LIT(pk, "Generation");
    rc = rc ? rc : msgpack_pack_uint64(pk, ac_snapshot_generation(snap));
    if (actor_id) {
        rc = rc ? rc : PACK_LIT(pk, "ActorId");
        rc = rc ? rc : pack_str(pk, actor_id, actor_id_len);
    }
    if (n_ctx) {
        rc = rc ? rc : PACK_LIT(pk, "Context");
        rc = rc ? rc : msgpack_pack_map(pk, n_ctx);
        for (size_t i = 0; i < n_ctx && !rc; i++) {
            ac_context_t c;
            ac_snapshot_context(snap, i, &c);
            rc = pack_str(pk, c.name, c.name_len);
            rc = rc ? rc : msgpack_pack_map(pk, 3);
            rc = rc ? rc : PACK_LIT(pk, "additive_percent");
            rc = rc ? rc : msgpack_pack_double(pk, c.additive_percent);
            rc = rc ? rc : PACK_LIT(pk, "multipliers");
            rc = rc ? rc : msgpack_pack_array(pk, c.n_multipliers);
            for (size_t m = 0; m < c.n_multipliers && !rc; m++)
                rc = msgpack_pack_double(pk, c.multipliers[m]);
            rc = rc ? rc : PACK_LIT(pk, "post_add");
            rc = rc ? rc : msgpack_pack_double(pk, c.post_add);
        }
    }
    return rc ? AC_ENOMEM : 0; /* a buffer write is all that can fail */
}

/* ---- the fast snapshot writer ----
   The worker packs one snapshot per request; through msgpack-c's packer that is a callback
   and a bounds check per field, and a strlen per name per section (about a fifth of a
   W2 worker's time). Here the bytes are written straight into a buffer sized up front. */

static inline unsigned char *w_u8(unsigned char *p, unsigned v)
{
    *p++ = (unsigned char)v;
    return p;
}

static inline unsigned char *w_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        p[n - 1 - i] = (unsigned char)(v >> (8 * i));
    return p + n;
}

static inline unsigned char *w_str(unsigned char *p, const char *s, size_t n)
{
    if (n < 32)
        p = w_u8(p, 0xa0u | (unsigned)n);
    else if (n < 256)
        p = w_be(w_u8(p, 0xd9), n, 1);
    else
        p = w_be(w_u8(p, 0xda), n, 2);
    memcpy(p, s, n);
    return p + n;
}

static inline unsigned char *w_map(unsigned char *p, size_t n)
{
    return n < 16 ? w_u8(p, 0x80u | (unsigned)n) : w_be(w_u8(p, 0xde), n, 2);
}

static inline unsigned char *w_f64(unsigned char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return w_be(w_u8(p, 0xcb), bits, 8);
}

#define W_LIT(p, lit) w_str(p, lit, sizeof(lit) - 1)

/* Name of dimension i of the snapshot, and its length, without strlen for registry ones. */
static const char *dim_name(const ac_snapshot_t *s, const ac_registry_t *reg, size_t i, size_t *len)
{
    uint16_t id = ac_snap_dims(s)[i];
    if (!(ac_snap_flags(s)[i] & AC_SNAP_EXTRA)) {
        *len = ac_symtab_len(&reg->dims, id);
        return ac_symtab_str(&reg->dims, id);
    }
    ac_snapshot_iter_t it;
    ac_snapshot_dim_t d;
    ac_snapshot_iter_init(&it, s, reg);
    for (size_t k = 0; k <= i; k++)
        ac_snapshot_next(&it, &d);
    *len = d.name_len;
    return d.name;
}

int ac_snapshot_pack_buffer(msgpack_sbuffer *sb, const ac_snapshot_t *snap,
                            const ac_registry_t *reg, const char *actor_id, size_t actor_id_len)
{
    if (snap->n_context || snap->n_extra || actor_id_len > 255) {
        /* Rare shapes take the general path. */
        msgpack_packer pk;
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        return ac_snapshot_pack(&pk, snap, reg, actor_id, actor_id_len);
    }
    /* Upper bound: per dimension three names (<= 67 bytes each), two bounds and two
       values with their keys; plus the fixed keys. */
    size_t need = 128 + actor_id_len + (size_t)snap->n_dims * (3 * 67 + 60);
    if (sb->alloc - sb->size < need) {
        char *bigger = realloc(sb->data, sb->size + need);
        if (!bigger)
            return AC_ENOMEM;
        sb->data = bigger;
        sb->alloc = sb->size + need;
    }
    unsigned char *p = (unsigned char *)sb->data + sb->size;
    const double *pv = ac_snap_primary(snap), *dv = ac_snap_derived(snap);
    const uint8_t *flags = ac_snap_flags(snap);
    p = w_map(p, 5 + (actor_id != NULL));
    p = W_LIT(p, "Primary");
    p = w_map(p, snap->n_primary);
    for (size_t i = 0; i < snap->n_dims; i++)
        if (flags[i] & AC_SNAP_PRIMARY) {
            size_t len;
            const char *name = dim_name(snap, reg, i, &len);
            p = w_f64(w_str(p, name, len), *pv++);
        }
    p = W_LIT(p, "Derived");
    p = w_map(p, snap->n_derived);
    for (size_t i = 0; i < snap->n_dims; i++)
        if (flags[i] & AC_SNAP_DERIVED) {
            size_t len;
            const char *name = dim_name(snap, reg, i, &len);
            p = w_f64(w_str(p, name, len), *dv++);
        }
    p = W_LIT(p, "CapsUsed");
    p = w_map(p, snap->n_dims);
    for (size_t i = 0; i < snap->n_dims; i++) {
        size_t len;
        const char *name = dim_name(snap, reg, i, &len);
        const double *b = ac_snap_bounds_of(snap, i);
        p = w_map(w_str(p, name, len), 2);
        p = w_f64(W_LIT(p, "Min"), b[0]);
        p = w_f64(W_LIT(p, "Max"), b[1]);
    }
    p = W_LIT(p, "Version");
    int64_t v = ac_snapshot_version(snap);
    p = v >= 0 ? w_be(w_u8(p, 0xcf), (uint64_t)v, 8) : w_be(w_u8(p, 0xd3), (uint64_t)v, 8);
    p = W_LIT(p, "Generation");
    p = w_be(w_u8(p, 0xcf), ac_snapshot_generation(snap), 8);
    if (actor_id) {
        p = W_LIT(p, "ActorId");
        p = w_str(p, actor_id, actor_id_len);
    }
    sb->size = (size_t)((char *)p - sb->data);
    return 0;
}
