/*  actorcore/request.h - one resolve request: an optional actor and SubsystemOutputs.
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    A request is filled either by a decoder (codec.h: JSON or msgpack, one schema walk) or
    by C code through the builder functions below, which validate exactly as the decoders
    do (SPEC 1 and 7): every rejected item returns a negative ac_code_t with a path such as
    `outputs[2].caps[0].scope`, and leaves the request usable for nothing but reset.

    Names are interned on entry: dimensions to registry ids (unlisted names under the
    registry's `default` rule get request-local ids above the registry's), systems and
    other strings to request-local ids. After reset, a request re-filled with a similar
    load allocates nothing: its tables and arena keep their memory.
*/
#ifndef ACTORCORE_REQUEST_H
#define ACTORCORE_REQUEST_H

#include "actorcore/export.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actorcore/error.h"
#include "actorcore/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { AC_FLAT, AC_MULT, AC_POST_ADD, AC_OVERRIDE } ac_bucket_t;

typedef enum {
    AC_CAP_BASELINE,
    AC_CAP_ADDITIVE,
    AC_CAP_OVERRIDE,
    AC_CAP_HARD_MAX,
    AC_CAP_HARD_MIN
} ac_cap_mode_t;

typedef enum { AC_KIND_MAX, AC_KIND_MIN } ac_cap_kind_t;

typedef enum { AC_PRIMARY, AC_DERIVED } ac_section_t;

/* Configurable limits (SPEC 7). */
typedef struct {
    size_t max_message_bytes; /* one encoded message; default 1 MiB */
    size_t max_contributions; /* contributions + cap contributions per request; 10 000 */
    size_t max_batch;         /* items of a resolve_batch; 1 000 */
    size_t max_dimension_len; /* bytes of a dimension name; 64 (never more) */
} ac_limits_t;

AC_API void ac_limits_default(ac_limits_t *limits);

/* A Contribution, interned. */
typedef struct {
    double value;      /* finite */
    uint32_t dim;      /* dimension id (registry id, or request-local above it) */
    uint32_t system;   /* request-local system id */
    int32_t priority;  /* default 0 */
    uint8_t bucket;    /* ac_bucket_t */
    uint8_t section;   /* ac_section_t: Primary or Derived */
    uint16_t reserved; /* zero */
} ac_contribution_t;

/* A CapContribution, interned. */
typedef struct {
    double value;     /* finite */
    uint32_t dim;     /* dimension id */
    uint32_t system;  /* request-local system id */
    int32_t priority; /* default 0 */
    uint32_t realm;   /* string id of `realm`, UINT32_MAX when absent */
    uint8_t mode;     /* ac_cap_mode_t */
    uint8_t kind;     /* ac_cap_kind_t */
    uint8_t layer;    /* position of `scope` in the layer order */
    uint8_t reserved; /* zero */
} ac_cap_t;

/* The actor, when the request has one. Strings are NUL-terminated and owned by the
   request; `data` is a deep copy of the free map (NULL when absent). */
typedef struct {
    const char *id;                   /* 1..128 bytes */
    size_t id_len;                    /* bytes of id */
    int64_t version;                  /* >= 0 */
    const char *name;                 /* NULL when absent */
    const char *race;                 /* NULL when absent */
    bool has_lifespan;                /* lifespan was given */
    double lifespan;                  /* finite */
    bool has_age;                     /* age was given */
    double age;                       /* finite */
    const msgpack_object *created_at; /* integer or string, NULL when absent */
    const msgpack_object *updated_at; /* integer or string, NULL when absent */
    const msgpack_object *data;       /* a map, NULL when absent */
    size_t n_subsystems;              /* entries in subsystems */
    const char *const *subsystems;    /* worker-side subsystem ids that apply */
} ac_actor_t;

typedef struct ac_request ac_request_t;

AC_API ac_request_t *ac_request_new(const ac_registry_t *reg);
AC_API void ac_request_destroy(ac_request_t **self_p);
/* Empties the request, keeping its memory. */
AC_API void ac_request_reset(ac_request_t *self);
AC_API void ac_request_set_limits(ac_request_t *self, const ac_limits_t *limits);
AC_API const ac_limits_t *ac_request_limits(const ac_request_t *self);
AC_API const ac_registry_t *ac_request_registry(const ac_request_t *self);

/* Sets the actor (id and version; other fields via the decoders). */
AC_API int ac_request_set_actor(ac_request_t *self, const char *id, int64_t version,
                                ac_error_t *err);
/* The actor, or NULL. */
AC_API const ac_actor_t *ac_request_actor(const ac_request_t *self);
/* Overrides the snapshot's Version (else the actor's version, else 1). */
AC_API void ac_request_set_version(ac_request_t *self, int64_t version);
AC_API int64_t ac_request_version(const ac_request_t *self);

/* Starts a SubsystemOutput whose meta.system is `system`; later items belong to it. */
AC_API int ac_request_begin_output(ac_request_t *self, const char *system, ac_error_t *err);

/* Adds a Contribution to the current output (priority: 0 unless a contribution says). */
AC_API int ac_request_add_contribution(ac_request_t *self, ac_section_t section,
                                       const char *dimension, ac_bucket_t bucket, double value,
                                       const char *system, int32_t priority, ac_error_t *err);

/* Adds a CapContribution; scope NULL means TOTAL; realm may be NULL unless scope is REALM. */
AC_API int ac_request_add_cap(ac_request_t *self, const char *dimension, ac_cap_mode_t mode,
                              ac_cap_kind_t kind, double value, const char *system,
                              int32_t priority, const char *scope, const char *realm,
                              ac_error_t *err);

/* Adds a context ModifierPack (SPEC 6) to the current output. */
AC_API int ac_request_add_context(ac_request_t *self, const char *name, double additive_percent,
                                  const double *multipliers, size_t n_multipliers, double post_add,
                                  ac_error_t *err);

AC_API size_t ac_request_output_count(const ac_request_t *self);
AC_API size_t ac_request_contribution_count(const ac_request_t *self);
AC_API size_t ac_request_cap_count(const ac_request_t *self);

/* A 64-bit hash of the request's outputs (not of the actor): part of the cache key. Two
   requests with the same outputs in any order hash alike. */
AC_API uint64_t ac_request_outputs_hash(const ac_request_t *self);

/* ac_request_outputs_hash mixed with a hash of the actor's content (name, race, age,
   lifespan, timestamps, data, subsystem list): what worker-side subsystems read. The
   service uses it as the cache key's hash, so an actor whose items change without a new
   version still misses rather than being served a stale snapshot. */
AC_API uint64_t ac_request_content_hash(const ac_request_t *self);

AC_API const char *ac_bucket_name(int bucket);
AC_API const char *ac_cap_mode_name(int mode);

#ifdef __cplusplus
}
#endif
#endif
