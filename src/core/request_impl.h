/*  request_impl.h - the request's layout and the validating entry points that the
    builder, the schema walk (JSON and msgpack) and subsystems all go through. */
#ifndef AC_REQUEST_IMPL_H
#define AC_REQUEST_IMPL_H

#include "actorcore/request.h"
#include "core/arena.h"
#include "core/registry_impl.h"
#include "core/symtab.h"

#include <stdio.h>

/* A growable array of fixed-size elements, kept across resets. */
typedef struct {
    void *data;   /* elements */
    size_t count; /* in use */
    size_t cap;   /* allocated */
} ac_vec_t;

int ac_vec_reserve(ac_vec_t *v, size_t elem, size_t want);
void ac_vec_fini(ac_vec_t *v);

/* A context ModifierPack as given by one output. */
typedef struct {
    uint32_t name;           /* string id of the context name */
    uint32_t system;         /* system id of the output's meta.system */
    double additive_percent; /* finite */
    double post_add;         /* finite */
    uint32_t mult_off;       /* first multiplier in the request's mults */
    uint32_t n_mult;         /* multipliers of this pack */
} ac_pack_t;

/* Per output: meta and the counters that paths are rendered from. */
typedef struct {
    uint32_t system;    /* system id of meta.system */
    uint32_t n_primary; /* primary contributions so far */
    uint32_t n_derived; /* derived contributions so far */
    uint32_t n_caps;    /* cap contributions so far */
} ac_output_info_t;

struct ac_request {
    const ac_registry_t *reg; /* dimensions, layers; not owned */
    ac_limits_t limits;       /* in force for this request */
    ac_arena_t arena;         /* actor strings and data */
    ac_symtab_t systems;      /* system names */
    ac_symtab_t extra_dims;   /* dimensions under the default rule, id - reg count */
    ac_symtab_t strings;      /* context names, realms */
    ac_vec_t contribs;        /* ac_contribution_t */
    ac_vec_t caps;            /* ac_cap_t */
    ac_vec_t packs;           /* ac_pack_t */
    ac_vec_t mults;           /* double, multipliers of every pack */
    ac_vec_t outputs;         /* ac_output_info_t */
    ac_vec_t subsystem_ids;   /* const char *, the actor's subsystem list */
    bool has_actor;           /* actor below is set */
    ac_actor_t actor;         /* the actor */
    bool has_version;         /* version below overrides */
    int64_t version;          /* explicit snapshot Version */
    uint32_t inline_contribs; /* counts before worker-side subsystems ran */
    uint32_t inline_caps;     /* " */
    uint32_t inline_packs;    /* " */
    uint32_t inline_mults;    /* " */
    uint32_t inline_outputs;  /* " */
};

/* A field path, rendered only when an error needs it: valid requests never pay for
   formatting paths. `render` NULL means ctx is a plain C string. */
typedef struct {
    void (*render)(const void *ctx, char *buf, size_t size); /* writes the path */
    const void *ctx;                                         /* its argument */
} ac_lpath_t;

#define AC_LPATH_STR(s) (&(ac_lpath_t){NULL, (s)})

static inline void ac_lpath_render(const ac_lpath_t *p, char *buf, size_t size)
{
    if (p->render)
        p->render(p->ctx, buf, size);
    else
        snprintf(buf, size, "%s", (const char *)p->ctx);
}

/* Interns a dimension name: checks its syntax and length, looks it up in the registry,
   falls back to the default rule, else unknown_dimension. */
int ac_req_dim(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path,
               uint32_t *id, ac_error_t *err);
/* Interns a system name (1..128 bytes). */
int ac_req_system(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path,
                  uint32_t *id, ac_error_t *err);
/* Interns a free string (context names, realms). */
int ac_req_string(ac_request_t *req, const char *s, size_t len, const ac_lpath_t *path,
                  uint32_t *id, ac_error_t *err);
/* Resolves a layer name to its position, else unknown_layer. */
int ac_req_layer(ac_request_t *req, const char *name, size_t len, const ac_lpath_t *path,
                 uint8_t *layer, ac_error_t *err);

/* Starts an output; *index receives its position. */
int ac_req_begin_output(ac_request_t *req, uint32_t system, const ac_lpath_t *path,
                        ac_error_t *err);
/* The push functions take the item's path (`outputs[0].caps[3]`) and name the field at
   fault in errors. */
/* Fails with code and a printf message at a lazily rendered path; returns code. */
int ac_req_fail(ac_error_t *err, int code, const ac_lpath_t *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends a contribution (checks: finite value, count limit). */
int ac_req_push_contribution(ac_request_t *req, const ac_contribution_t *c, const ac_lpath_t *path,
                             ac_error_t *err);
/* Appends a cap (checks: finite, kind/mode agreement, REALM needs realm, count limit). */
int ac_req_push_cap(ac_request_t *req, const ac_cap_t *c, const ac_lpath_t *path, ac_error_t *err);
/* Appends a pack; copies the multipliers (checks: finite, multipliers > 0). */
int ac_req_push_pack(ac_request_t *req, uint32_t name, double additive_percent, const double *mults,
                     size_t n_mults, double post_add, const ac_lpath_t *path, ac_error_t *err);
/* Bulk appends for compiled tables, whose entries were validated when loaded: reserve n
   slots (counted against the limit) for the caller to fill in place. NULL with err on
   failure. The current output's counters are advanced by the caller's section counts. */
ac_contribution_t *ac_req_append_contributions(ac_request_t *req, size_t n, ac_error_t *err);
ac_cap_t *ac_req_append_caps(ac_request_t *req, size_t n, ac_error_t *err);

/* Marks the current content as inline (given by the caller, not by subsystems). */
void ac_req_mark_inline(ac_request_t *req);
/* Drops whatever subsystems appended after the inline mark. */
void ac_req_truncate_to_inline(ac_request_t *req);

/* Name of a request dimension id (registry or extra). */
const char *ac_req_dim_name(const ac_request_t *req, uint32_t id, size_t *len);

/* The handle a subsystem writes its output through (subsystem.h). */
struct ac_output {
    ac_request_t *req;         /* the request being extended */
    uint32_t system;           /* system id of the subsystem */
    size_t index;              /* its place in the actor's list: paths actor.subsystems[i] */
    const double *stage1;      /* stage 2: Primary values by registry id, else NULL */
    const uint8_t *stage1_has; /* stage 2: which of them exist */
};

/* How much a request holds, to roll back what one subsystem added. */
typedef struct {
    size_t contribs, caps, packs, mults, outputs;
} ac_req_mark_t;

static inline ac_req_mark_t ac_req_mark(const ac_request_t *req)
{
    return (ac_req_mark_t){req->contribs.count, req->caps.count, req->packs.count, req->mults.count,
                           req->outputs.count};
}

static inline void ac_req_rollback(ac_request_t *req, ac_req_mark_t m)
{
    req->contribs.count = m.contribs;
    req->caps.count = m.caps;
    req->packs.count = m.packs;
    req->mults.count = m.mults;
    req->outputs.count = m.outputs;
}

static inline ac_output_info_t *ac_req_current_output(ac_request_t *req)
{
    return req->outputs.count ? (ac_output_info_t *)req->outputs.data + req->outputs.count - 1
                              : NULL;
}

#endif
