/*  reply.h - a test's side of the service through the C client: sending requests,
    waiting for replies, reading their fields. Shared by the integration suites.
*/
#ifndef AC_TEST_REPLY_H
#define AC_TEST_REPLY_H

#include <czmq.h>

#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "svc.h"

/* A parsed reply. */
typedef struct {
    msgpack_zone *zone;
    msgpack_object obj;
} parsed_t;

static inline const msgpack_object *parse_reply(parsed_t *p, const ac_reply_t *r)
{
    if (!p->zone)
        p->zone = msgpack_zone_new(8192);
    msgpack_zone_clear(p->zone);
    ac_error_t err;
    if (ac_msgpack_parse(r->body, r->len, p->zone, &p->obj, &err))
        fail_msg("reply is not msgpack: %s", err.message);
    return &p->obj;
}

static inline bool reply_ok(const msgpack_object *o)
{
    const msgpack_object *ok = ac_wire_get(o, "ok");
    return ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
}

static inline char *to_json(const msgpack_object *o)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ac_msgpack_to_json(o, &sb);
    char *s = strndup(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

static inline const char *error_code(const msgpack_object *o, char *buf, size_t size)
{
    const msgpack_object *c = ac_wire_get(ac_wire_get(o, "error"), "code");
    snprintf(buf, size, "%.*s", c ? (int)c->via.str.size : 0, c ? c->via.str.ptr : "");
    return buf;
}

/* Packs {op: resolve, id, outputs: <json file or text>, actor?: {id, version}, extra...}. */
static inline uint64_t send_resolve(ac_client_t *c, const char *outputs_json, const char *actor_id,
                                    bool publish, const char *cache)
{
    msgpack_zone *zone = msgpack_zone_new(8192);
    msgpack_object outs;
    ac_error_t err;
    if (ac_json_parse(outputs_json, strlen(outputs_json), zone, &outs, &err))
        fail_msg("bad test input: %s", err.message);
    uint64_t id = ac_client_next_id(c);
    msgpack_packer *pk;
    ac_client_begin(c, &pk, "resolve", id, 1 + (actor_id != NULL) + publish + (cache != NULL));
    ac_wire_pack_str(pk, "outputs");
    msgpack_pack_object(pk, outs);
    if (actor_id) {
        ac_wire_pack_str(pk, "actor");
        msgpack_pack_map(pk, 2);
        ac_wire_pack_str(pk, "id");
        ac_wire_pack_str(pk, actor_id);
        ac_wire_pack_str(pk, "version");
        msgpack_pack_int(pk, 1);
    }
    if (publish) {
        ac_wire_pack_str(pk, "publish");
        msgpack_pack_true(pk);
    }
    if (cache) {
        ac_wire_pack_str(pk, "cache");
        ac_wire_pack_str(pk, cache);
    }
    assert_int_equal(ac_client_send(c, id), 0);
    msgpack_zone_free(zone);
    return id;
}

static inline uint64_t send_simple(ac_client_t *c, const char *op, const char *actor_id)
{
    uint64_t id = ac_client_next_id(c);
    msgpack_packer *pk;
    ac_client_begin(c, &pk, op, id, actor_id != NULL);
    if (actor_id) {
        ac_wire_pack_str(pk, "actor_id");
        ac_wire_pack_str(pk, actor_id);
    }
    assert_int_equal(ac_client_send(c, id), 0);
    return id;
}

/* Waits for one reply, failing the test after timeout. */
static inline void recv_one(ac_client_t *c, ac_reply_t *r, int timeout_ms)
{
    if (ac_client_recv(c, r, timeout_ms) != 1)
        fail_msg("no reply within %d ms", timeout_ms);
}

/* Blocks until the service answers a ping: up to 30 s (a loaded machine can take seconds
   to start a worker, e.g. two opening one new store file), asking again every 300 ms. */
static inline void wait_ready(const svc_t *s)
{
    ac_client_config_t cfg = {.timeout_ms = 300, .retries = 100};
    ac_client_t *c = ac_client_new(s->fe, &cfg);
    send_simple(c, "ping", NULL);
    ac_reply_t r;
    recv_one(c, &r, 40000); /* the retries' 30 s end first: then a synthesized timeout */
    parsed_t p = {0};
    assert_true(reply_ok(parse_reply(&p, &r)));
    msgpack_zone_free(p.zone);
    ac_client_destroy(&c);
}

static inline const char *one_flat(char *buf, size_t size, const char *dim, double v)
{
    snprintf(buf, size,
             "[{\"meta\":{\"system\":\"t\"},\"primary\":[{\"dimension\":\"%s\",\"bucket\":\"FLAT\","
             "\"value\":%.17g,\"system\":\"t\"}]}]",
             dim, v);
    return buf;
}

static inline const char *tier_of(const msgpack_object *o, char *buf, size_t size)
{
    const msgpack_object *tier = ac_wire_get(o, "cache");
    snprintf(buf, size, "%.*s", tier ? (int)tier->via.str.size : 0, tier ? tier->via.str.ptr : "");
    return buf;
}

#endif
