/*  request.c - building and validating a request (see request.h).

    Validation lives here once: the builder, the schema walk of both codecs and worker-side
    subsystems all push items through ac_req_push_*, so a rule is checked the same way
    whichever door the data came in by.
*/
#include "core/request_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/subsystem.h"
#include "core/hash.h"

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

/* Appends one element (copied from item); -1 when out of memory. */
static int vec_push(ac_vec_t *v, size_t elem, const void *item)
{
    if (ac_vec_reserve(v, elem, v->count + 1))
        return -1;
    memcpy((char *)v->data + v->count * elem, item, elem);
    v->count++;
    return 0;
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
        return ac_error_set(err, AC_EINTERNAL, "actor.id", "out of memory");
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

/* ac_error_set with a lazily rendered path. */
static int req_fail(ac_error_t *err, int code, const ac_lpath_t *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int req_fail(ac_error_t *err, int code, const ac_lpath_t *path, const char *fmt, ...)
{
    if (!err)
        return code;
    char where[AC_ERROR_PATH_MAX];
    ac_lpath_render(path, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    ac_error_vset(err, code, where, fmt, ap);
    va_end(ap);
    return code;
}

int ac_req_dim(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path, uint32_t *id,
               ac_error_t *err)
{
    if (len > req->limits.max_dimension_len)
        return req_fail(err, AC_ETOO_LARGE, path,
                            "dimension name has %zu bytes, the limit is %zu", len,
                            req->limits.max_dimension_len);
    if (!ac_dimension_name_valid(name, len))
        return req_fail(err, AC_ESCHEMA, path,
                            "dimension '%.*s' does not match ^[a-z][a-z0-9_]*$",
                            (int)(len > 64 ? 64 : len), name);
    uint32_t rid = ac_symtab_find(&req->reg->dims, name, len);
    if (rid != AC_NO_ID) {
        *id = rid;
        return 0;
    }
    if (!req->reg->has_default)
        return req_fail(err, AC_EUNKNOWN_DIMENSION, path,
                            "dimension '%.*s' is not in the combiner registry, which has no "
                            "default rule",
                            (int)len, name);
    uint32_t xid = ac_symtab_intern(&req->extra_dims, name, len);
    if (xid == AC_NO_ID)
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    if ((uint64_t)xid + req->reg->dims.count >= 65535)
        return req_fail(err, AC_ETOO_LARGE, path, "too many distinct dimensions");
    *id = req->reg->dims.count + xid;
    return 0;
}

int ac_req_system(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path, uint32_t *id,
                  ac_error_t *err)
{
    if (len < 1 || len > 128)
        return req_fail(err, AC_ESCHEMA, path, "a system id has 1 to 128 bytes");
    if (memchr(name, '\0', len))
        return req_fail(err, AC_ESCHEMA, path, "NUL byte in a system id");
    uint32_t sid = ac_symtab_intern(&req->systems, name, len);
    if (sid == AC_NO_ID)
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    /* Sort keys reserve 22 bits for the system rank. */
    if (sid >= (1u << 22))
        return req_fail(err, AC_ETOO_LARGE, path, "too many distinct systems");
    *id = sid;
    return 0;
}

int ac_req_string(ac_request_t *req, const char *s, size_t len, const ac_lpath_t *path, uint32_t *id,
                  ac_error_t *err)
{
    if (len > 256)
        return req_fail(err, AC_ETOO_LARGE, path, "string longer than 256 bytes");
    if (memchr(s, '\0', len))
        return req_fail(err, AC_ESCHEMA, path, "NUL byte in a string");
    uint32_t sid = ac_symtab_intern(&req->strings, s, len);
    if (sid == AC_NO_ID)
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    *id = sid;
    return 0;
}

int ac_req_layer(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path, uint8_t *layer,
                 ac_error_t *err)
{
    uint32_t lid = ac_symtab_find(&req->reg->layers, name, len);
    if (lid == AC_NO_ID)
        return req_fail(err, AC_EUNKNOWN_LAYER, path,
                            "layer '%.*s' is not in the cap layer registry",
                            (int)(len > 64 ? 64 : len), name);
    *layer = (uint8_t)lid;
    return 0;
}

int ac_req_begin_output(ac_request_t *req, uint32_t system, const ac_lpath_t *path, ac_error_t *err)
{
    ac_output_info_t info = {system, 0, 0, 0};
    if (req->outputs.count >= req->limits.max_contributions + 1)
        return req_fail(err, AC_ETOO_LARGE, path, "more than %zu outputs",
                            req->limits.max_contributions + 1);
    if (vec_push(&req->outputs, sizeof info, &info))
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    return 0;
}

/* Items (contributions + caps) already in the request, against the limit. */
static int check_count(ac_request_t *req, const ac_lpath_t *path, ac_error_t *err)
{
    if (req->contribs.count + req->caps.count >= req->limits.max_contributions)
        return req_fail(err, AC_ETOO_LARGE, path,
                            "more than %zu contributions and caps in one request",
                            req->limits.max_contributions);
    return 0;
}

/* Fails with code at `<base>.<field>`. */
static int fail_at(ac_error_t *err, int code, const ac_lpath_t *base, const char *field,
                   const char *msg)
{
    char path[AC_ERROR_PATH_MAX], full[AC_ERROR_PATH_MAX];
    ac_lpath_render(base, path, sizeof path);
    snprintf(full, sizeof full, "%s.%s", path, field);
    return ac_error_set(err, code, full, "%s", msg);
}

int ac_req_push_contribution(ac_request_t *req, const ac_contribution_t *c, const ac_lpath_t *path,
                             ac_error_t *err)
{
    if (!isfinite(c->value))
        return fail_at(err, AC_ENON_FINITE, path, "value", "value must be a finite number");
    if (c->bucket > AC_OVERRIDE || c->section > AC_DERIVED)
        return fail_at(err, AC_ESCHEMA, path, "bucket", "unknown bucket");
    int rc = check_count(req, path, err);
    if (rc)
        return rc;
    if (ac_vec_reserve(&req->contribs, sizeof *c, req->contribs.count + 1))
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    /* Field by field: copying the caller's freshly built struct with one wide load
       stalls on store forwarding, and this runs for every contribution. */
    ac_contribution_t *dst = (ac_contribution_t *)req->contribs.data + req->contribs.count++;
    dst->value = c->value;
    dst->dim = c->dim;
    dst->system = c->system;
    dst->priority = c->priority;
    dst->bucket = c->bucket;
    dst->section = c->section;
    dst->reserved = 0;
    ac_output_info_t *out = ac_req_current_output(req);
    if (out) {
        if (c->section == AC_PRIMARY)
            out->n_primary++;
        else
            out->n_derived++;
    }
    return 0;
}

int ac_req_push_cap(ac_request_t *req, const ac_cap_t *c, const ac_lpath_t *path, ac_error_t *err)
{
    if (!isfinite(c->value))
        return fail_at(err, AC_ENON_FINITE, path, "value", "value must be a finite number");
    if (c->mode > AC_CAP_HARD_MIN)
        return fail_at(err, AC_ESCHEMA, path, "mode", "unknown mode");
    if (c->kind > AC_KIND_MIN)
        return fail_at(err, AC_ESCHEMA, path, "kind", "unknown kind");
    if (c->mode == AC_CAP_HARD_MAX && c->kind != AC_KIND_MAX)
        return fail_at(err, AC_EKIND_MODE, path, "kind", "mode HARD_MAX requires kind max");
    if (c->mode == AC_CAP_HARD_MIN && c->kind != AC_KIND_MIN)
        return fail_at(err, AC_EKIND_MODE, path, "kind", "mode HARD_MIN requires kind min");
    if (c->layer >= req->reg->layers.count)
        return fail_at(err, AC_EUNKNOWN_LAYER, path, "scope", "unknown layer");
    if (c->realm == AC_NO_ID && strcmp(ac_symtab_str(&req->reg->layers, c->layer), "REALM") == 0)
        return fail_at(err, AC_ESCHEMA, path, "realm", "scope REALM requires `realm`");
    int rc = check_count(req, path, err);
    if (rc)
        return rc;
    if (vec_push(&req->caps, sizeof *c, c))
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    ac_output_info_t *out = ac_req_current_output(req);
    if (out)
        out->n_caps++;
    return 0;
}

int ac_req_push_pack(ac_request_t *req, uint32_t name, double additive_percent,
                     const double *mults, size_t n_mults, double post_add, const ac_lpath_t *path,
                     ac_error_t *err)
{
    if (!isfinite(additive_percent) || !isfinite(post_add))
        return req_fail(err, AC_ENON_FINITE, path, "modifier values must be finite");
    for (size_t i = 0; i < n_mults; i++) {
        if (!isfinite(mults[i]))
            return req_fail(err, AC_ENON_FINITE, path, "multipliers[%zu] is not finite", i);
        if (!(mults[i] > 0))
            return req_fail(err, AC_ESCHEMA, path, "multipliers[%zu] must be > 0", i);
    }
    if (req->mults.count + n_mults > req->limits.max_contributions)
        return req_fail(err, AC_ETOO_LARGE, path, "more than %zu multipliers",
                            req->limits.max_contributions);
    int rc = check_count(req, path, err);
    if (rc)
        return rc;
    ac_output_info_t *out = ac_req_current_output(req);
    ac_pack_t pack = {name, out ? out->system : 0, additive_percent, post_add,
                      (uint32_t)req->mults.count, (uint32_t)n_mults};
    if (!out)
        return req_fail(err, AC_EINTERNAL, path, "a context needs an output");
    if (ac_vec_reserve(&req->mults, sizeof(double), req->mults.count + n_mults) ||
        vec_push(&req->packs, sizeof pack, &pack))
        return req_fail(err, AC_EINTERNAL, path, "out of memory");
    if (n_mults)
        memcpy((double *)req->mults.data + req->mults.count, mults, n_mults * sizeof(double));
    req->mults.count += n_mults;
    return 0;
}

static int check_room(ac_request_t *req, size_t n, ac_error_t *err)
{
    if (req->contribs.count + req->caps.count + n > req->limits.max_contributions)
        return ac_error_set(err, AC_ETOO_LARGE, "", "more than %zu contributions and caps in one request",
                            req->limits.max_contributions);
    return 0;
}

ac_contribution_t *ac_req_append_contributions(ac_request_t *req, size_t n, ac_error_t *err)
{
    if (check_room(req, n, err))
        return NULL;
    if (ac_vec_reserve(&req->contribs, sizeof(ac_contribution_t), req->contribs.count + n)) {
        ac_error_set(err, AC_EINTERNAL, "", "out of memory");
        return NULL;
    }
    ac_contribution_t *at = (ac_contribution_t *)req->contribs.data + req->contribs.count;
    req->contribs.count += n;
    return at;
}

ac_cap_t *ac_req_append_caps(ac_request_t *req, size_t n, ac_error_t *err)
{
    if (check_room(req, n, err))
        return NULL;
    if (ac_vec_reserve(&req->caps, sizeof(ac_cap_t), req->caps.count + n)) {
        ac_error_set(err, AC_EINTERNAL, "", "out of memory");
        return NULL;
    }
    ac_cap_t *at = (ac_cap_t *)req->caps.data + req->caps.count;
    req->caps.count += n;
    ac_output_info_t *out = ac_req_current_output(req);
    if (out)
        out->n_caps += (uint32_t)n;
    return at;
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

/* ---- the public builder and the subsystem output handle ----
   Both render a path prefix (`outputs[3]` or `actor.subsystems[1]`), then go through the
   same checks as the decoders. */

/* The path of a builder item, rendered only on error: `<base>.<list>[<index>].<field>`,
   base being `outputs[<output>]` (the builder API) or `actor.subsystems[<output>]`. */
typedef struct {
    size_t output;       /* index of the current output (or subsystem) */
    bool sub;            /* a subsystem's output */
    const char *list;    /* "primary", "derived", "caps", "context" or NULL */
    uint32_t index;      /* position in the list */
    const char *field;   /* trailing field or NULL */
} item_path_t;

static void render_item(const void *ctx, char *buf, size_t size)
{
    const item_path_t *p = ctx;
    size_t n = p->sub ? (size_t)snprintf(buf, size, "actor.subsystems[%zu]", p->output)
                      : (size_t)snprintf(buf, size, "outputs[%zu]", p->output);
    if (p->list && n < size)
        n += (size_t)(strcmp(p->list, "context") == 0
                          ? snprintf(buf + n, size - n, ".context")
                          : snprintf(buf + n, size - n, ".%s[%u]", p->list, p->index));
    if (p->field && n < size)
        snprintf(buf + n, size - n, ".%s", p->field);
}

static int build_contribution(ac_request_t *req, const ac_output_t *sub, ac_section_t section,
                              const char *dimension, ac_bucket_t bucket, double value,
                              uint32_t system, int32_t priority, ac_error_t *err)
{
    ac_output_info_t *out = ac_req_current_output(req);
    if (!out)
        return ac_error_set(err, AC_ESCHEMA, "outputs", "begin an output first");
    item_path_t ip = {sub ? sub->index : req->outputs.count - 1, sub != NULL,
                      section == AC_PRIMARY ? "primary" : "derived",
                      section == AC_PRIMARY ? out->n_primary : out->n_derived, NULL};
    item_path_t dp = ip;
    dp.field = "dimension";
    ac_contribution_t c = {.value = value, .system = system, .priority = priority,
                           .bucket = (uint8_t)bucket, .section = (uint8_t)section};
    int rc = ac_req_dim(req, dimension ? dimension : "", dimension ? strlen(dimension) : 0,
                        &(ac_lpath_t){render_item, &dp}, &c.dim, err);
    if (rc)
        return rc;
    return ac_req_push_contribution(req, &c, &(ac_lpath_t){render_item, &ip}, err);
}

static int build_cap(ac_request_t *req, const ac_output_t *sub, const char *dimension,
                     ac_cap_mode_t mode, ac_cap_kind_t kind, double value, uint32_t system,
                     int32_t priority, const char *scope, const char *realm, ac_error_t *err)
{
    ac_output_info_t *out = ac_req_current_output(req);
    if (!out)
        return ac_error_set(err, AC_ESCHEMA, "outputs", "begin an output first");
    item_path_t ip = {sub ? sub->index : req->outputs.count - 1, sub != NULL, "caps",
                      out->n_caps, NULL},
                fp = ip;
    ac_lpath_t field = {render_item, &fp};
    ac_cap_t c = {.value = value, .system = system, .priority = priority, .realm = AC_NO_ID,
                  .mode = (uint8_t)mode, .kind = (uint8_t)kind};
    fp.field = "dimension";
    int rc = ac_req_dim(req, dimension ? dimension : "", dimension ? strlen(dimension) : 0,
                        &field, &c.dim, err);
    if (rc)
        return rc;
    if (!scope)
        scope = "TOTAL";
    fp.field = "scope";
    rc = ac_req_layer(req, scope, strlen(scope), &field, &c.layer, err);
    if (rc)
        return rc;
    if (realm) {
        fp.field = "realm";
        rc = ac_req_string(req, realm, strlen(realm), &field, &c.realm, err);
        if (rc)
            return rc;
    }
    return ac_req_push_cap(req, &c, &(ac_lpath_t){render_item, &ip}, err);
}

static int build_context(ac_request_t *req, const ac_output_t *sub, const char *name,
                         double additive_percent, const double *multipliers,
                         size_t n_multipliers, double post_add, ac_error_t *err)
{
    if (!ac_req_current_output(req))
        return ac_error_set(err, AC_ESCHEMA, "outputs", "begin an output first");
    item_path_t ip = {sub ? sub->index : req->outputs.count - 1, sub != NULL, "context", 0,
                      name ? name : ""};
    ac_lpath_t path = {render_item, &ip};
    uint32_t nid;
    int rc = ac_req_string(req, name ? name : "", name ? strlen(name) : 0, &path, &nid, err);
    if (rc)
        return rc;
    return ac_req_push_pack(req, nid, additive_percent, multipliers, n_multipliers, post_add,
                            &path, err);
}

int ac_request_begin_output(ac_request_t *req, const char *system, ac_error_t *err)
{
    item_path_t ip = {req->outputs.count, false, NULL, 0, "meta.system"};
    ac_lpath_t path = {render_item, &ip};
    uint32_t sid;
    int rc = ac_req_system(req, system ? system : "", system ? strlen(system) : 0, &path, &sid, err);
    if (rc)
        return rc;
    rc = ac_req_begin_output(req, sid, &path, err);
    if (rc)
        return rc;
    ac_req_mark_inline(req);
    return (int)(req->outputs.count - 1);
}

/* The system of a builder item: interned with the item's path for errors. */
static int builder_system(ac_request_t *req, const char *system, const char *list,
                          uint32_t *sid, ac_error_t *err)
{
    item_path_t ip = {req->outputs.count ? req->outputs.count - 1 : 0, false, list, 0, "system"};
    return ac_req_system(req, system ? system : "", system ? strlen(system) : 0,
                         &(ac_lpath_t){render_item, &ip}, sid, err);
}

int ac_request_add_contribution(ac_request_t *req, ac_section_t section, const char *dimension,
                                ac_bucket_t bucket, double value, const char *system,
                                int32_t priority, ac_error_t *err)
{
    uint32_t sid;
    int rc = builder_system(req, system, section == AC_PRIMARY ? "primary" : "derived", &sid, err);
    if (rc == 0)
        rc = build_contribution(req, NULL, section, dimension, bucket, value, sid, priority, err);
    if (rc == 0)
        ac_req_mark_inline(req);
    return rc;
}

int ac_request_add_cap(ac_request_t *req, const char *dimension, ac_cap_mode_t mode,
                       ac_cap_kind_t kind, double value, const char *system, int32_t priority,
                       const char *scope, const char *realm, ac_error_t *err)
{
    uint32_t sid;
    int rc = builder_system(req, system, "caps", &sid, err);
    if (rc == 0)
        rc = build_cap(req, NULL, dimension, mode, kind, value, sid, priority, scope, realm, err);
    if (rc == 0)
        ac_req_mark_inline(req);
    return rc;
}

int ac_request_add_context(ac_request_t *req, const char *name, double additive_percent,
                           const double *multipliers, size_t n_multipliers, double post_add,
                           ac_error_t *err)
{
    int rc = build_context(req, NULL, name, additive_percent, multipliers, n_multipliers,
                           post_add, err);
    if (rc == 0)
        ac_req_mark_inline(req);
    return rc;
}

int ac_output_add(ac_output_t *out, ac_section_t section, const char *dimension,
                  ac_bucket_t bucket, double value, int32_t priority, ac_error_t *err)
{
    return build_contribution(out->req, out, section, dimension, bucket, value, out->system,
                              priority, err);
}

int ac_output_add_cap(ac_output_t *out, const char *dimension, ac_cap_mode_t mode,
                      ac_cap_kind_t kind, double value, int32_t priority, const char *scope,
                      const char *realm, ac_error_t *err)
{
    return build_cap(out->req, out, dimension, mode, kind, value, out->system, priority, scope,
                     realm, err);
}

int ac_output_add_id(ac_output_t *out, ac_section_t section, uint32_t dim, ac_bucket_t bucket,
                     double value, int32_t priority, ac_error_t *err)
{
    ac_request_t *req = out->req;
    ac_output_info_t *info = ac_req_current_output(req);
    item_path_t ip = {out->index, true, section == AC_PRIMARY ? "primary" : "derived",
                      info ? (section == AC_PRIMARY ? info->n_primary : info->n_derived) : 0, NULL};
    if (dim >= req->reg->dims.count)
        return req_fail(err, AC_EUNKNOWN_DIMENSION, &(ac_lpath_t){render_item, &ip},
                        "dimension id %u is not in the registry", dim);
    ac_contribution_t c = {.value = value, .dim = dim, .system = out->system,
                           .priority = priority, .bucket = (uint8_t)bucket,
                           .section = (uint8_t)section};
    return ac_req_push_contribution(req, &c, &(ac_lpath_t){render_item, &ip}, err);
}

int ac_output_add_cap_id(ac_output_t *out, uint32_t dim, ac_cap_mode_t mode, ac_cap_kind_t kind,
                         double value, int32_t priority, uint32_t layer, const char *realm,
                         ac_error_t *err)
{
    ac_request_t *req = out->req;
    ac_output_info_t *info = ac_req_current_output(req);
    item_path_t ip = {out->index, true, "caps", info ? info->n_caps : 0, NULL};
    ac_lpath_t path = {render_item, &ip};
    if (dim >= req->reg->dims.count || layer >= req->reg->layers.count)
        return req_fail(err, AC_ESCHEMA, &path, "dimension or layer id out of range");
    ac_cap_t c = {.value = value, .dim = dim, .system = out->system, .priority = priority,
                  .realm = AC_NO_ID, .mode = (uint8_t)mode, .kind = (uint8_t)kind,
                  .layer = (uint8_t)layer};
    if (realm) {
        int rc = ac_req_string(req, realm, strlen(realm), &path, &c.realm, err);
        if (rc)
            return rc;
    }
    return ac_req_push_cap(req, &c, &path, err);
}

bool ac_output_primary(const ac_output_t *out, uint32_t dim, double *value)
{
    if (!out->stage1 || dim >= out->req->reg->dims.count || !out->stage1_has[dim]) {
        *value = 0;
        return false;
    }
    *value = out->stage1[dim];
    return true;
}

int ac_output_add_context(ac_output_t *out, const char *name, double additive_percent,
                          const double *multipliers, size_t n_multipliers, double post_add,
                          ac_error_t *err)
{
    return build_context(out->req, out, name, additive_percent, multipliers, n_multipliers,
                         post_add, err);
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
        uint64_t msum = 0;  /* multipliers as a multiset too */
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
