/*  request.c - the request object: lifecycle, limits, the actor, inline marks, counts.

    A request is built in three places, each a file of its own: request_validate.c holds the
    checks every item passes on its way in (ac_req_* : interning of names, value rules,
    limits), whichever door it came in by (the builder, the schema walk of both codecs,
    subsystems); request_build.c the public builder and the subsystem output handle, which
    render error paths and call those checks; request_hash.c the cache keys.
*/
#include "core/request_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_buckets[] = {"FLAT", "MULT", "POST_ADD", "OVERRIDE"};
static const char *const s_modes[] = {"BASELINE", "ADDITIVE", "OVERRIDE", "HARD_MAX", "HARD_MIN"};

const char *ac_bucket_name(int bucket)
{
    return bucket >= 0 && bucket < 4 ? s_buckets[bucket] : "?";
}

const char *ac_cap_mode_name(int mode)
{
    return mode >= 0 && mode < 5 ? s_modes[mode] : "?";
}

void ac_limits_default(ac_limits_t *limits)
{
    limits->max_message_bytes = 1u << 20;
    limits->max_contributions = 10000;
    limits->max_batch = 1000;
    limits->max_dimension_len = AC_DIMENSION_NAME_MAX;
}

int ac_vec_reserve(ac_vec_t *v, size_t elem, size_t want)
{
    if (want <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 16;
    while (cap < want)
        cap *= 2;
    void *data = realloc(v->data, cap * elem);
    if (!data)
        return -1;
    v->data = data;
    v->cap = cap;
    return 0;
}

void ac_vec_fini(ac_vec_t *v)
{
    free(v->data);
    memset(v, 0, sizeof *v);
}

ac_request_t *ac_request_new(const ac_registry_t *reg)
{
    ac_request_t *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->reg = reg;
    ac_limits_default(&req->limits);
    ac_arena_init(&req->arena, 8192);
    ac_symtab_init(&req->systems);
    ac_symtab_init(&req->extra_dims);
    ac_symtab_init(&req->strings);
    return req;
}

void ac_request_destroy(ac_request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_request_t *req = *self_p;
    ac_arena_fini(&req->arena);
    ac_symtab_fini(&req->systems);
    ac_symtab_fini(&req->extra_dims);
    ac_symtab_fini(&req->strings);
    ac_vec_fini(&req->contribs);
    ac_vec_fini(&req->caps);
    ac_vec_fini(&req->packs);
    ac_vec_fini(&req->mults);
    ac_vec_fini(&req->outputs);
    ac_vec_fini(&req->subsystem_ids);
    free(req);
    *self_p = NULL;
}

void ac_request_reset(ac_request_t *req)
{
    ac_arena_reset(&req->arena);
    ac_symtab_reset(&req->systems);
    ac_symtab_reset(&req->extra_dims);
    ac_symtab_reset(&req->strings);
    req->contribs.count = req->caps.count = req->packs.count = 0;
    req->mults.count = req->outputs.count = req->subsystem_ids.count = 0;
    req->has_actor = false;
    memset(&req->actor, 0, sizeof req->actor);
    req->has_version = false;
    req->inline_contribs = req->inline_caps = req->inline_packs = 0;
    req->inline_mults = req->inline_outputs = 0;
}

void ac_request_set_limits(ac_request_t *req, const ac_limits_t *limits)
{
    req->limits = *limits;
    if (req->limits.max_dimension_len > AC_DIMENSION_NAME_MAX)
        req->limits.max_dimension_len = AC_DIMENSION_NAME_MAX;
}

const ac_limits_t *ac_request_limits(const ac_request_t *req)
{
    return &req->limits;
}

const ac_registry_t *ac_request_registry(const ac_request_t *req)
{
    return req->reg;
}

int ac_request_set_actor(ac_request_t *req, const char *id, int64_t version, ac_error_t *err)
{
    size_t len = id ? strlen(id) : 0;
    if (len < 1 || len > 128)
        return ac_error_set(err, AC_ESCHEMA, "actor.id", "actor id must have 1 to 128 bytes");
    if (version < 0)
        return ac_error_set(err, AC_ESCHEMA, "actor.version", "actor version must be >= 0");
    char *copy = ac_arena_strdup(&req->arena, id, len);
    if (!copy)
        return ac_error_set(err, AC_ENOMEM, "actor.id", "out of memory");
    if (!req->has_actor)
        memset(&req->actor, 0, sizeof req->actor);
    req->has_actor = true;
    req->actor.id = copy;
    req->actor.id_len = len;
    req->actor.version = version;
    return 0;
}

const ac_actor_t *ac_request_actor(const ac_request_t *req)
{
    return req->has_actor ? &req->actor : NULL;
}

void ac_request_set_version(ac_request_t *req, int64_t version)
{
    req->has_version = true;
    req->version = version;
}

int64_t ac_request_version(const ac_request_t *req)
{
    if (req->has_version)
        return req->version;
    return req->has_actor ? req->actor.version : 1;
}

void ac_req_mark_inline(ac_request_t *req)
{
    req->inline_contribs = (uint32_t)req->contribs.count;
    req->inline_caps = (uint32_t)req->caps.count;
    req->inline_packs = (uint32_t)req->packs.count;
    req->inline_mults = (uint32_t)req->mults.count;
    req->inline_outputs = (uint32_t)req->outputs.count;
}

void ac_req_truncate_to_inline(ac_request_t *req)
{
    req->contribs.count = req->inline_contribs;
    req->caps.count = req->inline_caps;
    req->packs.count = req->inline_packs;
    req->mults.count = req->inline_mults;
    req->outputs.count = req->inline_outputs;
}

const char *ac_req_dim_name(const ac_request_t *req, uint32_t id, size_t *len)
{
    uint32_t nreg = req->reg->dims.count;
    const ac_symtab_t *t = id < nreg ? &req->reg->dims : &req->extra_dims;
    uint32_t local = id < nreg ? id : id - nreg;
    if (len)
        *len = ac_symtab_len(t, local);
    return ac_symtab_str(t, local);
}

size_t ac_request_output_count(const ac_request_t *req)
{
    return req->outputs.count;
}

size_t ac_request_contribution_count(const ac_request_t *req)
{
    return req->contribs.count;
}

size_t ac_request_cap_count(const ac_request_t *req)
{
    return req->caps.count;
}
