/*  actorcore/subsystem.h - the subsystem interface the core runs (plugins own game formulas).
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    The core never contains game formulas (SPEC 1). A subsystem is a system id, a priority
    and a `contribute` function that, given the actor, adds Contributions, CapContributions
    and context packs to the output handle it is passed. An actor lists the subsystems that
    apply to it; ac_resolve runs them and merges their outputs with the request's own.
    Because aggregation sorts everything by its own key, the order in which subsystems run
    never changes the result; `priority` only orders their invocation.

    A contribute that returns non-zero, or that runs longer than its time budget, fails the
    request with `subsystem_failed`, its message and the path `actor.subsystems[i]`;
    nothing it added is kept. An `optional` subsystem that fails is skipped instead.

    Stages: stage-1 subsystems (the default) contribute from the actor alone. Stage-2
    subsystems (derived formulas) run after a first aggregation and may read its capped
    Primary values with ac_output_primary; the final snapshot aggregates everything.
*/
#ifndef ACTORCORE_SUBSYSTEM_H
#define ACTORCORE_SUBSYSTEM_H

#include "actorcore/export.h"

#include <stdbool.h>
#include <stdint.h>

#include "actorcore/error.h"
#include "actorcore/request.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever ac_subsystem_t or the ac_output_* functions change incompatibly. */
#define AC_SUBSYSTEM_ABI 1

/* Where a subsystem writes its SubsystemOutput; items carry the subsystem's system id. */
typedef struct ac_output ac_output_t;

AC_API int ac_output_add(ac_output_t *out, ac_section_t section, const char *dimension,
                         ac_bucket_t bucket, double value, int32_t priority, ac_error_t *err);
AC_API int ac_output_add_cap(ac_output_t *out, const char *dimension, ac_cap_mode_t mode,
                             ac_cap_kind_t kind, double value, int32_t priority, const char *scope,
                             const char *realm, ac_error_t *err);
AC_API int ac_output_add_context(ac_output_t *out, const char *name, double additive_percent,
                                 const double *multipliers, size_t n_multipliers, double post_add,
                                 ac_error_t *err);

/* Fast forms for compiled tables: the dimension is a registry id and the layer a
   position in the layer order, both resolved when the table was loaded. */
AC_API int ac_output_add_id(ac_output_t *out, ac_section_t section, uint32_t dim,
                            ac_bucket_t bucket, double value, int32_t priority, ac_error_t *err);
AC_API int ac_output_add_cap_id(ac_output_t *out, uint32_t dim, ac_cap_mode_t mode,
                                ac_cap_kind_t kind, double value, int32_t priority, uint32_t layer,
                                const char *realm, ac_error_t *err);

/* Stage 2 only: the capped stage-1 Primary value of a registry dimension. False (and
   *value 0) when stage 1 produced none. */
AC_API bool ac_output_primary(const ac_output_t *out, uint32_t dim, double *value);

typedef struct ac_subsystem {
    const char *system_id; /* unique; also the `system` of everything it contributes */
    int32_t priority;      /* invocation order (higher first); never changes results */
    void *state;           /* the subsystem's own data, passed back to contribute */
    /* Adds this subsystem's output for actor; 0 on success, else fills err. */
    int (*contribute)(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err);
    /* Frees state; may be NULL. Called when the resolver is destroyed. */
    void (*destroy)(void *state);
    uint8_t stage;      /* 0 or 1: stage 1; 2: reads stage-1 Primary values */
    bool optional;      /* on failure, skip it instead of failing the request */
    uint32_t budget_us; /* time budget of one contribute; 0 = none */
} ac_subsystem_t;

#ifdef __cplusplus
}
#endif
#endif
