/*  wire.c - request/reply body helpers shared by the broker, workers, client and CLI. */
#include "actorcore/wire.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "actorcore/codec.h"
#include "numfmt.h"

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
        /* bin and ext: hexadecimal text */
        rc = put(out, "\"");
        const unsigned char *p = (const unsigned char *)o->via.bin.ptr;
        for (uint32_t i = 0; i < o->via.bin.size && !rc; i++) {
            snprintf(buf, sizeof buf, "%02x", p[i]);
            rc = put(out, buf);
        }
        return rc ? rc : put(out, "\"");
    }
    }
}
