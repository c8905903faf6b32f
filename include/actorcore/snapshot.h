/*  actorcore/snapshot.h - the resolved stats of one actor.
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    A snapshot is one flat, position-independent block of memory: a header, then per
    dimension its caps (Min, Max) and its Primary and/or Derived value, then the merged
    context packs, then the names of dimensions that are not in the registry. It can be
    copied with memcpy, compared with memcmp (two equal snapshots are bitwise equal) and
    stored as is. Registry dimensions are stored by id, so naming them needs the registry
    whose generation the snapshot carries. A W1 snapshot (20 dimensions) takes 576 bytes.

    Dimensions appear in name byte order (registry dimensions first, then dimensions
    resolved under the `default` rule).
*/
#ifndef ACTORCORE_SNAPSHOT_H
#define ACTORCORE_SNAPSHOT_H

#include "actorcore/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actorcore/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_snapshot ac_snapshot_t;

/* One dimension of a snapshot. */
typedef struct {
    const char *name; /* dimension name */
    size_t name_len;  /* bytes of name */
    double min;       /* CapsUsed.Min */
    double max;       /* CapsUsed.Max */
    bool has_primary; /* the dimension is in Primary */
    double primary;   /* its Primary value; 0 when not in Primary */
    bool has_derived; /* the dimension is in Derived */
    double derived;   /* its Derived value; 0 when not in Derived */
} ac_snapshot_dim_t;

/* One merged context ModifierPack (SPEC 6). */
typedef struct {
    const char *name;          /* context name */
    size_t name_len;           /* bytes of name */
    double additive_percent;   /* summed */
    double post_add;           /* summed */
    const double *multipliers; /* concatenated, in sort-key order */
    size_t n_multipliers;      /* entries in multipliers */
} ac_context_t;

/* Walks the dimensions of a snapshot in order. */
typedef struct {
    const ac_snapshot_t *snap; /* being walked */
    const ac_registry_t *reg;  /* names registry dimensions */
    size_t index;              /* next dimension */
    size_t primary;            /* next Primary value */
    size_t derived;            /* next Derived value */
} ac_snapshot_iter_t;

AC_API size_t ac_snapshot_size(const ac_snapshot_t *snap);
AC_API int64_t ac_snapshot_version(const ac_snapshot_t *snap);
AC_API uint64_t ac_snapshot_generation(const ac_snapshot_t *snap);
AC_API size_t ac_snapshot_dimension_count(const ac_snapshot_t *snap);
AC_API size_t ac_snapshot_primary_count(const ac_snapshot_t *snap);
AC_API size_t ac_snapshot_derived_count(const ac_snapshot_t *snap);

AC_API void ac_snapshot_iter_init(ac_snapshot_iter_t *it, const ac_snapshot_t *snap,
                                  const ac_registry_t *reg);
/* Fills dim with the next dimension; false at the end. */
AC_API bool ac_snapshot_next(ac_snapshot_iter_t *it, ac_snapshot_dim_t *dim);
/* Finds a dimension by name; false when the snapshot has none. */
AC_API bool ac_snapshot_find(const ac_snapshot_t *snap, const ac_registry_t *reg, const char *name,
                             ac_snapshot_dim_t *dim);

AC_API size_t ac_snapshot_context_count(const ac_snapshot_t *snap);
/* Fills ctx with context i (0 <= i < count); contexts are in name byte order. */
AC_API void ac_snapshot_context(const ac_snapshot_t *snap, size_t i, ac_context_t *ctx);
/* base * (1 + additive_percent) * each multiplier + post_add (SPEC 6). */
AC_API double ac_context_apply(const ac_context_t *ctx, double base);

/* Validates a block claimed to be a snapshot (e.g. read back from disk): sizes, counts
   and offsets all in bounds, and registry ids below dim_count. */
AC_API bool ac_snapshot_check(const void *data, size_t size, size_t dim_count);

/* A malloc'd copy (one allocation); NULL when out of memory. */
AC_API ac_snapshot_t *ac_snapshot_dup(const ac_snapshot_t *snap);
AC_API void ac_snapshot_destroy(ac_snapshot_t **self_p);
/* Bitwise equality. */
AC_API bool ac_snapshot_equal(const ac_snapshot_t *a, const ac_snapshot_t *b);

#ifdef __cplusplus
}
#endif
#endif
