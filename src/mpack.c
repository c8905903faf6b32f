/*  mpack.c - msgpack in (bounded parse) and out (snapshots).

    msgpack-c allocates a container's element array as soon as it reads the header, so a
    5-byte message claiming 2^32 elements would ask for ~100 GB. Before handing bytes to
    msgpack_unpack we walk the headers once: every element needs at least one byte, so a
    container claiming more elements than bytes remain is rejected up front, as is nesting
    deeper than msgpack-c's own stack and any byte after the one object.
*/
#include <string.h>

#include "actorcore/codec.h"
#include "registry_impl.h"

#define MAX_DEPTH 32

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Checks the framing of exactly one object in buf; 0 or a message. */
static const char *scan(const unsigned char *buf, size_t len)
{
    uint64_t pending[MAX_DEPTH + 1];
    int depth = 0;
    size_t pos = 0;
    pending[0] = 1;
    for (;;) {
        while (depth >= 0 && pending[depth] == 0)
            depth--;
        if (depth < 0)
            break;
        pending[depth]--;
        if (pos >= len)
            return "truncated message";
        unsigned char b = buf[pos++];
        uint64_t skip = 0, children = 0;
        int hdr = 0;  /* bytes of length field to read */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b >= 0x80 && b <= 0x8f) {
            children = 2 * (uint64_t)(b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            children = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: hdr = 1; break;                 /* bin8, str8 */
            case 0xc5: case 0xda: hdr = 2; break;                 /* bin16, str16 */
            case 0xc6: case 0xdb: hdr = 4; break;                 /* bin32, str32 */
            case 0xc7: hdr = 1; skip = 1; break;                  /* ext8 (+type) */
            case 0xc8: hdr = 2; skip = 1; break;
            case 0xc9: hdr = 4; skip = 1; break;
            case 0xca: skip = 4; break;                           /* float32 */
            case 0xcb: skip = 8; break;                           /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                           /* fixext: type + data */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: case 0xde: hdr = 2; break;                 /* array16, map16 */
            case 0xdd: case 0xdf: hdr = 4; break;                 /* array32, map32 */
            default: return "invalid msgpack type byte 0xc1";
            }
            if (hdr) {
                if (len - pos < (size_t)hdr)
                    return "truncated message";
                uint64_t n = be(buf + pos, hdr);
                pos += (size_t)hdr;
                if (b == 0xdc || b == 0xdd)
                    children = n;
                else if (b == 0xde || b == 0xdf)
                    children = 2 * n;
                else
                    skip += n;
            }
        }
        if (skip > len - pos)
            return "truncated message";
        pos += (size_t)skip;
        if (children) {
            if (children > len - pos)
                return "a container claims more elements than the message has bytes";
            if (depth + 1 > MAX_DEPTH)
                return "nested deeper than 32 levels";
            pending[++depth] = children;
        }
    }
    if (pos != len)
        return "bytes after the end of the message";
    return NULL;
}

int ac_msgpack_parse(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *out,
                     ac_error_t *err)
{
    const char *why = scan((const unsigned char *)buf, len);
    if (why)
        return ac_error_set(err, AC_EINVALID_MSGPACK, "", "%s", why);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(buf, len, &off, zone, out);
    if (r == MSGPACK_UNPACK_SUCCESS)
        return 0;
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return ac_error_set(err, AC_EINTERNAL, "", "out of memory decoding msgpack");
    return ac_error_set(err, AC_EINVALID_MSGPACK, "", "malformed msgpack");
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
    return rc ? AC_EINTERNAL : 0;
}
