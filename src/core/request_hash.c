/*  request_hash.c - cache keys of a request: its outputs, and its whole content.

    Both are independent of input order (a multiset hash over names, not request-local ids),
    so two requests that must resolve alike hash alike.
*/
#include "core/request_impl.h"

#include <string.h>

#include "core/hash.h"

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

uint64_t ac_request_outputs_hash(const ac_request_t *req)
{
    /* A multiset hash: each item hashed by names (not request-local ids, which depend on
       input order), then summed, so any permutation of the inputs hashes alike. */
    uint64_t sum = 0;
    const ac_contribution_t *c = req->contribs.data;
    for (size_t i = 0; i < req->inline_contribs; i++) {
        size_t dl;
        const char *dn = ac_req_dim_name(req, c[i].dim, &dl);
        uint64_t h = ac_hash_str(AC_HASH_INIT, dn, dl);
        h = ac_hash_str(h, ac_symtab_str(&req->systems, c[i].system),
                        ac_symtab_len(&req->systems, c[i].system));
        h = ac_hash_u64(h, ((uint64_t)c[i].bucket << 40) | ((uint64_t)c[i].section << 32) |
                               (uint32_t)c[i].priority);
        sum += ac_hash_finish(ac_hash_u64(h, bits_of(c[i].value)));
    }
    const ac_cap_t *k = req->caps.data;
    for (size_t i = 0; i < req->inline_caps; i++) {
        size_t dl;
        const char *dn = ac_req_dim_name(req, k[i].dim, &dl);
        uint64_t h = ac_hash_str(AC_HASH_INIT ^ 1, dn, dl);
        h = ac_hash_str(h, ac_symtab_str(&req->systems, k[i].system),
                        ac_symtab_len(&req->systems, k[i].system));
        h = ac_hash_u64(h, ((uint64_t)k[i].mode << 48) | ((uint64_t)k[i].kind << 40) |
                               ((uint64_t)k[i].layer << 32) | (uint32_t)k[i].priority);
        if (k[i].realm != AC_NO_ID)
            h = ac_hash_str(h, ac_symtab_str(&req->strings, k[i].realm),
                            ac_symtab_len(&req->strings, k[i].realm));
        sum += ac_hash_finish(ac_hash_u64(h, bits_of(k[i].value)));
    }
    const ac_pack_t *p = req->packs.data;
    const double *m = req->mults.data;
    for (size_t i = 0; i < req->inline_packs; i++) {
        uint64_t h = ac_hash_str(AC_HASH_INIT ^ 2, ac_symtab_str(&req->strings, p[i].name),
                                 ac_symtab_len(&req->strings, p[i].name));
        h = ac_hash_str(h, ac_symtab_str(&req->systems, p[i].system),
                        ac_symtab_len(&req->systems, p[i].system));
        h = ac_hash_u64(h, bits_of(p[i].additive_percent));
        h = ac_hash_u64(h, bits_of(p[i].post_add));
        uint64_t msum = 0; /* multipliers as a multiset too */
        for (uint32_t j = 0; j < p[i].n_mult; j++)
            msum += ac_hash_finish(ac_hash_u64(AC_HASH_INIT ^ 3, bits_of(m[p[i].mult_off + j])));
        sum += ac_hash_finish(ac_hash_u64(h, msum));
    }
    return ac_hash_finish(sum ^ (uint64_t)req->inline_outputs);
}

/* Hashes a msgpack object (type, then content; maps in their given order). */
static uint64_t hash_object(uint64_t h, const msgpack_object *o)
{
    if (!o)
        return ac_hash_u64(h, 0xff);
    h = ac_hash_u64(h, (uint64_t)o->type);
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        return ac_hash_u64(h, o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return ac_hash_u64(h, o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return ac_hash_u64(h, (uint64_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return ac_hash_u64(h, bits_of(o->via.f64));
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        return ac_hash_str(h, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        h = ac_hash_u64(h, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            h = hash_object(h, &o->via.array.ptr[i]);
        return h;
    case MSGPACK_OBJECT_MAP:
        h = ac_hash_u64(h, o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            h = hash_object(h, &o->via.map.ptr[i].key);
            h = hash_object(h, &o->via.map.ptr[i].val);
        }
        return h;
    default:
        return h;
    }
}

static uint64_t hash_cstr(uint64_t h, const char *s)
{
    return s ? ac_hash_str(h, s, strlen(s)) : ac_hash_u64(h, 0xfe);
}

uint64_t ac_request_content_hash(const ac_request_t *req)
{
    uint64_t h = ac_hash_u64(AC_HASH_INIT, ac_request_outputs_hash(req));
    if (!req->has_actor)
        return ac_hash_finish(h);
    const ac_actor_t *a = &req->actor;
    h = hash_cstr(hash_cstr(h, a->name), a->race);
    h = ac_hash_u64(h, a->has_age ? bits_of(a->age) : 0x7ff8dead);
    h = ac_hash_u64(h, a->has_lifespan ? bits_of(a->lifespan) : 0x7ff8dead);
    h = hash_object(hash_object(h, a->created_at), a->updated_at);
    h = hash_object(h, a->data);
    h = ac_hash_u64(h, a->n_subsystems);
    for (size_t i = 0; i < a->n_subsystems; i++)
        h = hash_cstr(h, a->subsystems[i]);
    return ac_hash_finish(h);
}
