/*  actorcore/resolve.h - turning a request into a snapshot (SPEC 3-6).
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    A resolver holds the scratch memory of resolving (sort buffers, per-dimension slots,
    the snapshot being written) and the worker-side subsystems it may run. It is not shared
    between threads: each thread or process makes its own, over a shared registry. Nothing
    is global, so any number of resolvers run side by side. After warm-up, resolving a
    request of a similar size allocates nothing.

    The result does not depend on the order of outputs or of any list inside them: every
    sum and product runs in the order of the sort key (bucket; priority descending; system
    ascending by byte order; value ascending), so the snapshot is bitwise identical.
*/
#ifndef ACTORCORE_RESOLVE_H
#define ACTORCORE_RESOLVE_H

#include "actorcore/export.h"

#include "actorcore/error.h"
#include "actorcore/registry.h"
#include "actorcore/request.h"
#include "actorcore/snapshot.h"
#include "actorcore/subsystem.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_resolver ac_resolver_t;

AC_API ac_resolver_t *ac_resolver_new(const ac_registry_t *reg);
/* Destroys the resolver and calls destroy on the state of its subsystems. */
AC_API void ac_resolver_destroy(ac_resolver_t **self_p);

/* Registers a worker-side subsystem (copied). Fails on a duplicate system id. */
AC_API int ac_resolver_add_subsystem(ac_resolver_t *self, const ac_subsystem_t *sub,
                                     ac_error_t *err);
AC_API size_t ac_resolver_subsystem_count(const ac_resolver_t *self);

/* Mixes extra configuration (e.g. the subsystem tables' generation) into the generation
   that snapshots carry and cache keys use; replaces any earlier mix. */
AC_API void ac_resolver_mix_generation(ac_resolver_t *self, uint64_t extra);
/* The registry generation, mixed with any extra configuration. */
AC_API uint64_t ac_resolver_generation(const ac_resolver_t *self);

/* Resolves req: runs the subsystems its actor lists, merges everything, and sets *snap to
   a snapshot owned by the resolver, valid until its next resolve (ac_snapshot_dup keeps
   one). Returns 0, or a negative code with err filled; never a partial snapshot. */
AC_API int ac_resolve(ac_resolver_t *self, ac_request_t *req, const ac_snapshot_t **snap,
                      ac_error_t *err);

/* Called once per batch item, in input order; exactly one of snap and err is non-NULL.
   snap is valid during the call only. */
typedef void(ac_batch_fn)(void *arg, size_t index, const ac_snapshot_t *snap,
                          const ac_error_t *err);

/* Resolves each request in turn; a bad item fails only itself. Returns how many failed. */
AC_API size_t ac_resolve_batch(ac_resolver_t *self, ac_request_t *const *reqs, size_t n,
                               ac_batch_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
