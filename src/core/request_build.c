/*  request_build.c - the public builder and the subsystem output handle.

    Both render a path prefix (`outputs[3]` or `actor.subsystems[1]`) lazily, only when an
    item fails, then go through the same checks as the decoders (request_validate.c).
*/
#include "core/request_impl.h"

#include <stdio.h>
#include <string.h>

#include "actorcore/subsystem.h"

/* The path of a builder item, rendered only on error: `<base>.<list>[<index>].<field>`,
   base being `outputs[<output>]` (the builder API) or `actor.subsystems[<output>]`. */
typedef struct {
    size_t output;     /* index of the current output (or subsystem) */
    bool sub;          /* a subsystem's output */
    const char *list;  /* "primary", "derived", "caps", "context" or NULL */
    uint32_t index;    /* position in the list */
    const char *field; /* trailing field or NULL */
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
    ac_contribution_t c = {.value = value,
                           .system = system,
                           .priority = priority,
                           .bucket = (uint8_t)bucket,
                           .section = (uint8_t)section};
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
    item_path_t ip = {sub ? sub->index : req->outputs.count - 1, sub != NULL, "caps", out->n_caps,
                      NULL},
                fp = ip;
    ac_lpath_t field = {render_item, &fp};
    ac_cap_t c = {.value = value,
                  .system = system,
                  .priority = priority,
                  .realm = AC_NO_ID,
                  .mode = (uint8_t)mode,
                  .kind = (uint8_t)kind};
    fp.field = "dimension";
    int rc = ac_req_dim(req, dimension ? dimension : "", dimension ? strlen(dimension) : 0, &field,
                        &c.dim, err);
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
                         double additive_percent, const double *multipliers, size_t n_multipliers,
                         double post_add, ac_error_t *err)
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
    return ac_req_push_pack(req, nid, additive_percent, multipliers, n_multipliers, post_add, &path,
                            err);
}

int ac_request_begin_output(ac_request_t *req, const char *system, ac_error_t *err)
{
    item_path_t ip = {req->outputs.count, false, NULL, 0, "meta.system"};
    ac_lpath_t path = {render_item, &ip};
    uint32_t sid;
    int rc =
        ac_req_system(req, system ? system : "", system ? strlen(system) : 0, &path, &sid, err);
    if (rc)
        return rc;
    rc = ac_req_begin_output(req, sid, &path, err);
    if (rc)
        return rc;
    ac_req_mark_inline(req);
    return (int)(req->outputs.count - 1);
}

/* The system of a builder item: interned with the item's path for errors. */
static int builder_system(ac_request_t *req, const char *system, const char *list, uint32_t *sid,
                          ac_error_t *err)
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
    int rc =
        build_context(req, NULL, name, additive_percent, multipliers, n_multipliers, post_add, err);
    if (rc == 0)
        ac_req_mark_inline(req);
    return rc;
}

int ac_output_add(ac_output_t *out, ac_section_t section, const char *dimension, ac_bucket_t bucket,
                  double value, int32_t priority, ac_error_t *err)
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
        return ac_req_fail(err, AC_EUNKNOWN_DIMENSION, &(ac_lpath_t){render_item, &ip},
                           "dimension id %u is not in the registry", dim);
    ac_contribution_t c = {.value = value,
                           .dim = dim,
                           .system = out->system,
                           .priority = priority,
                           .bucket = (uint8_t)bucket,
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
        return ac_req_fail(err, AC_ESCHEMA, &path, "dimension or layer id out of range");
    ac_cap_t c = {.value = value,
                  .dim = dim,
                  .system = out->system,
                  .priority = priority,
                  .realm = AC_NO_ID,
                  .mode = (uint8_t)mode,
                  .kind = (uint8_t)kind,
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
