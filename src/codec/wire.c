/*  wire.c - request/reply body helpers shared by the broker, workers, client and CLI. */
#include "actorcore/wire.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "actorcore/codec.h"
#include "codec/mpobj.h"
#include "codec/numfmt.h"

const msgpack_object *ac_wire_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* mpobj.h. Containers are walked with a counter, not recursion, so hostile nesting costs
   no stack. Long on purpose: one case per msgpack type byte, in the format's own order. */
size_t ac_wire_skip(const unsigned char *b, size_t len, size_t pos)
{
    uint64_t pending = 1;
    while (pending) {
        if (pos >= len)
            return SIZE_MAX;
        pending--;
        unsigned char t = b[pos++];
        uint64_t body = 0, more = 0;
        int hdr = 0;
        if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
            ;
        else if (t >= 0x80 && t <= 0x8f)
            more = 2 * (uint64_t)(t & 0x0f);
        else if (t >= 0x90 && t <= 0x9f)
            more = t & 0x0f;
        else if (t >= 0xa0 && t <= 0xbf)
            body = t & 0x1f;
        else
            switch (t) {
            case 0xc4:
            case 0xd9:
                hdr = 1;
                break;
            case 0xc5:
            case 0xda:
                hdr = 2;
                break;
            case 0xc6:
            case 0xdb:
                hdr = 4;
                break;
            case 0xc7:
                hdr = 1;
                body = 1;
                break;
            case 0xc8:
                hdr = 2;
                body = 1;
                break;
            case 0xc9:
                hdr = 4;
                body = 1;
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
            case 0xcc:
            case 0xd0:
                body = 1;
                break;
            case 0xcd:
            case 0xd1:
                body = 2;
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
            case 0xdc:
            case 0xde:
                hdr = 2;
                break;
            case 0xdd:
            case 0xdf:
                hdr = 4;
                break;
            default:
                return SIZE_MAX;
            }
        if (hdr) {
            if (len - pos < (size_t)hdr)
                return SIZE_MAX;
            uint64_t n = ac_be_read(b + pos, hdr);
            pos += (size_t)hdr;
            if (t == 0xdc || t == 0xdd)
                more = n;
            else if (t == 0xde || t == 0xdf)
                more = 2 * n;
            else
                body += n;
        }
        if (body > len - pos)
            return SIZE_MAX;
        pos += (size_t)body;
        pending += more;
        if (pending > len - pos + 1)
            return SIZE_MAX;
    }
    return pos;
}

int ac_wire_peek_uint(const char *buf, size_t len, const char *key, uint64_t *out)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t klen = strlen(key), pos = 0;
    if (len == 0)
        return -1;
    uint64_t pairs;
    unsigned char t = b[pos++];
    if (t >= 0x80 && t <= 0x8f)
        pairs = t & 0x0f;
    else if ((t == 0xde && len >= 3) || (t == 0xdf && len >= 5)) {
        int hdr = t == 0xde ? 2 : 4;
        pairs = ac_be_read(b + pos, hdr);
        pos += (size_t)hdr;
    } else
        return -1;
    for (uint64_t i = 0; i < pairs; i++) {
        size_t kstart = pos;
        size_t kend = ac_wire_skip(b, len, pos);
        if (kend == SIZE_MAX)
            return -1;
        /* fixstr keys, the common case, are compared; others are skipped */
        bool match = b[kstart] >= 0xa0 && b[kstart] <= 0xbf && (size_t)(b[kstart] & 0x1f) == klen &&
                     memcmp(b + kstart + 1, key, klen) == 0;
        pos = kend;
        if (match) {
            if (pos >= len)
                return -1;
            unsigned char v = b[pos];
            if (v <= 0x7f) {
                *out = v;
                return 1;
            }
            int w = v == 0xcc ? 1 : v == 0xcd ? 2 : v == 0xce ? 4 : v == 0xcf ? 8 : 0;
            if (!w)
                return 0;
            if (len - pos - 1 < (size_t)w)
                return -1;
            *out = ac_be_read(b + pos + 1, w);
            return 1;
        }
        pos = ac_wire_skip(b, len, pos);
        if (pos == SIZE_MAX)
            return -1;
    }
    return 0;
}

bool ac_wire_id_ok(const msgpack_object *o)
{
    return o && (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                 (o->type == MSGPACK_OBJECT_STR && o->via.str.size <= 256));
}

int ac_wire_pack_id(msgpack_packer *pk, const msgpack_object *id)
{
    if (!ac_wire_id_ok(id))
        return msgpack_pack_nil(pk);
    return msgpack_pack_object(pk, *id);
}

int ac_wire_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

int ac_wire_pack_error(msgpack_packer *pk, const msgpack_object *id, const ac_error_t *err)
{
    int rc = msgpack_pack_map(pk, 3);
    rc = rc ? rc : ac_wire_pack_str(pk, "id");
    rc = rc ? rc : ac_wire_pack_id(pk, id);
    rc = rc ? rc : ac_wire_pack_str(pk, "ok");
    rc = rc ? rc : msgpack_pack_false(pk);
    rc = rc ? rc : ac_wire_pack_str(pk, "error");
    rc = rc ? rc : msgpack_pack_map(pk, 3);
    rc = rc ? rc : ac_wire_pack_str(pk, "code");
    rc = rc ? rc : ac_wire_pack_str(pk, ac_code_name(err->code));
    rc = rc ? rc : ac_wire_pack_str(pk, "message");
    rc = rc ? rc : ac_wire_pack_str(pk, err->message);
    rc = rc ? rc : ac_wire_pack_str(pk, "path");
    rc = rc ? rc : ac_wire_pack_str(pk, err->path);
    return rc;
}

static int put(msgpack_sbuffer *out, const char *s)
{
    return msgpack_sbuffer_write(out, s, strlen(s));
}

int ac_msgpack_to_json(const msgpack_object *o, msgpack_sbuffer *out)
{
    char buf[64];
    int rc = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return put(out, "null");
    case MSGPACK_OBJECT_BOOLEAN:
        return put(out, o->via.boolean ? "true" : "false");
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(buf, sizeof buf, "%" PRIu64, o->via.u64);
        return put(out, buf);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(buf, sizeof buf, "%" PRId64, o->via.i64);
        return put(out, buf);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return put(out, "null");
        ac_numfmt(o->via.f64, buf);
        return put(out, buf);
    case MSGPACK_OBJECT_STR:
        return ac_json_write_string(out, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        rc = put(out, "[");
        for (uint32_t i = 0; i < o->via.array.size && !rc; i++) {
            if (i)
                rc = put(out, ",");
            rc = rc ? rc : ac_msgpack_to_json(&o->via.array.ptr[i], out);
        }
        return rc ? rc : put(out, "]");
    case MSGPACK_OBJECT_MAP:
        rc = put(out, "{");
        for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (i)
                rc = put(out, ",");
            if (k->type == MSGPACK_OBJECT_STR)
                rc = rc ? rc : ac_json_write_string(out, k->via.str.ptr, k->via.str.size);
            else {
                msgpack_sbuffer tmp;
                msgpack_sbuffer_init(&tmp);
                rc = rc ? rc : ac_msgpack_to_json(k, &tmp);
                rc = rc ? rc : ac_json_write_string(out, tmp.data ? tmp.data : "", tmp.size);
                msgpack_sbuffer_destroy(&tmp);
            }
            rc = rc ? rc : put(out, ":");
            rc = rc ? rc : ac_msgpack_to_json(&o->via.map.ptr[i].val, out);
        }
        return rc ? rc : put(out, "}");
    default: {
        /* bin and ext: hexadecimal text (an ext's bytes are not where a bin's are:
           msgpack_object_ext has its type first) */
        rc = put(out, "\"");
        bool ext = o->type == MSGPACK_OBJECT_EXT;
        const unsigned char *p = (const unsigned char *)(ext ? o->via.ext.ptr : o->via.bin.ptr);
        uint32_t size = ext ? o->via.ext.size : o->via.bin.size;
        for (uint32_t i = 0; i < size && !rc; i++) {
            snprintf(buf, sizeof buf, "%02x", p[i]);
            rc = put(out, buf);
        }
        return rc ? rc : put(out, "\"");
    }
    }
}
