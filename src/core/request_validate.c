/*  request_validate.c - the checks every request item passes on its way in.

    Validation lives here once: the builder, the schema walk of both codecs and worker-side
    subsystems all push items through ac_req_push_*, so a rule is checked the same way
    whichever door the data came in by. Names are interned here (dimensions against the
    registry, systems, strings, layers) and limits are counted here.
*/
#include "core/request_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends one element (copied from item); -1 when out of memory. */
static int vec_push(ac_vec_t *v, size_t elem, const void *item)
{
    if (ac_vec_reserve(v, elem, v->count + 1))
        return -1;
    memcpy((char *)v->data + v->count * elem, item, elem);
    v->count++;
    return 0;
}

int ac_req_fail(ac_error_t *err, int code, const ac_lpath_t *path, const char *fmt, ...)
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

int ac_req_dim(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path,
               uint32_t *id, ac_error_t *err)
{
    if (len > req->limits.max_dimension_len)
        return ac_req_fail(err, AC_ETOO_LARGE, path,
                           "dimension name has %zu bytes, the limit is %zu", len,
                           req->limits.max_dimension_len);
    if (!ac_dimension_name_valid(name, len))
        return ac_req_fail(err, AC_ESCHEMA, path,
                           "dimension '%.*s' does not match ^[a-z][a-z0-9_]*$",
                           (int)(len > 64 ? 64 : len), name);
    uint32_t rid = ac_symtab_find(&req->reg->dims, name, len);
    if (rid != AC_NO_ID) {
        *id = rid;
        return 0;
    }
    if (!req->reg->has_default)
        return ac_req_fail(err, AC_EUNKNOWN_DIMENSION, path,
                           "dimension '%.*s' is not in the combiner registry, which has no "
                           "default rule",
                           (int)len, name);
    uint32_t xid = ac_symtab_intern(&req->extra_dims, name, len);
    if (xid == AC_NO_ID)
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
    if ((uint64_t)xid + req->reg->dims.count >= 65535)
        return ac_req_fail(err, AC_ETOO_LARGE, path, "too many distinct dimensions");
    *id = req->reg->dims.count + xid;
    return 0;
}

int ac_req_system(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path,
                  uint32_t *id, ac_error_t *err)
{
    if (len < 1 || len > 128)
        return ac_req_fail(err, AC_ESCHEMA, path, "a system id has 1 to 128 bytes");
    if (memchr(name, '\0', len))
        return ac_req_fail(err, AC_ESCHEMA, path, "NUL byte in a system id");
    uint32_t sid = ac_symtab_intern(&req->systems, name, len);
    if (sid == AC_NO_ID)
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
    /* Sort keys reserve 22 bits for the system rank. */
    if (sid >= (1u << 22))
        return ac_req_fail(err, AC_ETOO_LARGE, path, "too many distinct systems");
    *id = sid;
    return 0;
}

int ac_req_string(ac_request_t *req, const char *s, size_t len, const ac_lpath_t *path,
                  uint32_t *id, ac_error_t *err)
{
    if (len > 256)
        return ac_req_fail(err, AC_ETOO_LARGE, path, "string longer than 256 bytes");
    if (memchr(s, '\0', len))
        return ac_req_fail(err, AC_ESCHEMA, path, "NUL byte in a string");
    uint32_t sid = ac_symtab_intern(&req->strings, s, len);
    if (sid == AC_NO_ID)
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
    *id = sid;
    return 0;
}

int ac_req_layer(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path,
                 uint8_t *layer, ac_error_t *err)
{
    uint32_t lid = ac_symtab_find(&req->reg->layers, name, len);
    if (lid == AC_NO_ID)
        return ac_req_fail(err, AC_EUNKNOWN_LAYER, path,
                           "layer '%.*s' is not in the cap layer registry",
                           (int)(len > 64 ? 64 : len), name);
    *layer = (uint8_t)lid;
    return 0;
}

int ac_req_begin_output(ac_request_t *req, uint32_t system, const ac_lpath_t *path, ac_error_t *err)
{
    ac_output_info_t info = {system, 0, 0, 0};
    if (req->outputs.count >= req->limits.max_contributions + 1)
        return ac_req_fail(err, AC_ETOO_LARGE, path, "more than %zu outputs",
                           req->limits.max_contributions + 1);
    if (vec_push(&req->outputs, sizeof info, &info))
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
    return 0;
}

/* Items (contributions + caps) already in the request, against the limit. */
static int check_count(ac_request_t *req, const ac_lpath_t *path, ac_error_t *err)
{
    if (req->contribs.count + req->caps.count >= req->limits.max_contributions)
        return ac_req_fail(err, AC_ETOO_LARGE, path,
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
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
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
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
    ac_output_info_t *out = ac_req_current_output(req);
    if (out)
        out->n_caps++;
    return 0;
}

int ac_req_push_pack(ac_request_t *req, uint32_t name, double additive_percent, const double *mults,
                     size_t n_mults, double post_add, const ac_lpath_t *path, ac_error_t *err)
{
    if (!isfinite(additive_percent) || !isfinite(post_add))
        return ac_req_fail(err, AC_ENON_FINITE, path, "modifier values must be finite");
    for (size_t i = 0; i < n_mults; i++) {
        if (!isfinite(mults[i]))
            return ac_req_fail(err, AC_ENON_FINITE, path, "multipliers[%zu] is not finite", i);
        if (!(mults[i] > 0))
            return ac_req_fail(err, AC_ESCHEMA, path, "multipliers[%zu] must be > 0", i);
    }
    if (req->mults.count + n_mults > req->limits.max_contributions)
        return ac_req_fail(err, AC_ETOO_LARGE, path, "more than %zu multipliers",
                           req->limits.max_contributions);
    int rc = check_count(req, path, err);
    if (rc)
        return rc;
    ac_output_info_t *out = ac_req_current_output(req);
    ac_pack_t pack = {name,     out ? out->system : 0,      additive_percent,
                      post_add, (uint32_t)req->mults.count, (uint32_t)n_mults};
    if (!out)
        return ac_req_fail(err, AC_EINTERNAL, path, "a context needs an output");
    if (ac_vec_reserve(&req->mults, sizeof(double), req->mults.count + n_mults) ||
        vec_push(&req->packs, sizeof pack, &pack))
        return ac_req_fail(err, AC_ENOMEM, path, "out of memory");
    if (n_mults)
        memcpy((double *)req->mults.data + req->mults.count, mults, n_mults * sizeof(double));
    req->mults.count += n_mults;
    return 0;
}

static int check_room(ac_request_t *req, size_t n, ac_error_t *err)
{
    if (req->contribs.count + req->caps.count + n > req->limits.max_contributions)
        return ac_error_set(err, AC_ETOO_LARGE, "",
                            "more than %zu contributions and caps in one request",
                            req->limits.max_contributions);
    return 0;
}

ac_contribution_t *ac_req_append_contributions(ac_request_t *req, size_t n, ac_error_t *err)
{
    if (check_room(req, n, err))
        return NULL;
    if (ac_vec_reserve(&req->contribs, sizeof(ac_contribution_t), req->contribs.count + n)) {
        ac_error_set(err, AC_ENOMEM, "", "out of memory");
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
        ac_error_set(err, AC_ENOMEM, "", "out of memory");
        return NULL;
    }
    ac_cap_t *at = (ac_cap_t *)req->caps.data + req->caps.count;
    req->caps.count += n;
    ac_output_info_t *out = ac_req_current_output(req);
    if (out)
        out->n_caps += (uint32_t)n;
    return at;
}
