/*  snapshot_impl.h - the snapshot block layout (see snapshot.h).

    header (32 bytes)
    double  bounds[2 * n_dims]      Min, Max of each dimension
    double  primary[n_primary]      values, in dimension order
    double  derived[n_derived]      values, in dimension order
    uint16  dim[n_dims]             registry id, or index into extra names (flag EXTRA)
    uint8   flags[n_dims]           PRIMARY | DERIVED | EXTRA
    (pad to 8)
    contexts: n_context x { u32 name_off, u32 n_mult, double add, double post, double mult[] }
    uint32  extra_name_off[n_extra]
    names:  NUL-terminated strings; offsets are from the start of this area
*/
#ifndef AC_SNAPSHOT_IMPL_H
#define AC_SNAPSHOT_IMPL_H

#include <stdint.h>

#include "actorcore/snapshot.h"

#define AC_SNAP_PRIMARY 1u
#define AC_SNAP_DERIVED 2u
#define AC_SNAP_EXTRA 4u
#define AC_SNAP_MAGIC 0xAC53u

struct ac_snapshot {
    int64_t version;      /* the actor's version, 1 without actor */
    uint64_t generation;  /* registry generation it was resolved under */
    uint32_t size;        /* bytes of the whole block */
    uint16_t magic;       /* AC_SNAP_MAGIC */
    uint16_t n_dims;      /* dimensions (CapsUsed entries) */
    uint16_t n_primary;   /* Primary values */
    uint16_t n_derived;   /* Derived values */
    uint16_t n_context;   /* merged context packs */
    uint16_t n_extra;     /* names of non-registry dimensions */
    uint32_t context_off; /* offset of the context area */
    uint32_t names_off;   /* offset of the extra_name_off array; strings follow it */
};

/* Layout helpers: offsets of the arrays after the header. */
static inline const double *ac_snap_bounds(const ac_snapshot_t *s)
{
    return (const double *)(s + 1);
}

static inline const double *ac_snap_primary(const ac_snapshot_t *s)
{
    return ac_snap_bounds(s) + 2 * (size_t)s->n_dims;
}

static inline const double *ac_snap_derived(const ac_snapshot_t *s)
{
    return ac_snap_primary(s) + s->n_primary;
}

static inline const uint16_t *ac_snap_dims(const ac_snapshot_t *s)
{
    return (const uint16_t *)(ac_snap_derived(s) + s->n_derived);
}

static inline const uint8_t *ac_snap_flags(const ac_snapshot_t *s)
{
    return (const uint8_t *)(ac_snap_dims(s) + s->n_dims);
}

/* Size up to and including the flags, padded to 8. */
static inline size_t ac_snap_fixed_size(size_t n_dims, size_t n_primary, size_t n_derived)
{
    size_t n = sizeof(struct ac_snapshot) + 16 * n_dims + 8 * (n_primary + n_derived) + 3 * n_dims;
    return (n + 7) & ~(size_t)7;
}

#endif
