/*  snapshot_impl.h - the snapshot block layout (see snapshot.h).

    header (40 bytes)
    double  primary[n_primary]      values, in dimension order
    double  derived[n_derived]      values, in dimension order
    uint16  dim[n_dims]             registry id, or index into extra names (flag EXTRA)
    uint8   flags[n_dims]           PRIMARY | DERIVED | EXTRA
    uint8   pair[n_dims]            index of the dimension's (Min, Max) in pairs; uint16
                                    when n_dims > 256
    (pad to 8)
    double  pairs[2 * n_pairs]      the distinct (Min, Max) pairs, in order of first use
    contexts: n_context x { u32 name_off, u32 n_mult, double add, double post, double mult[] }
    uint32  extra_name_off[n_extra]
    names:  NUL-terminated strings; offsets are from the start of this area

    Dimensions mostly share their caps (a game's stats come under a handful of layer
    rules), so each distinct pair is stored once, bit for bit (-0 and +0 are two pairs),
    and a dimension costs 4 bytes + its values instead of 19 + its values: W1's 20
    dimensions with one pair take 296 bytes instead of 584. The first layout (magic
    0xAC53, 16 bytes of bounds per dimension) is refused by ac_snapshot_check; no tier
    keeps blocks across processes (L1 and L3 hold the msgpack encoding), so none is left
    to read.
*/
#ifndef AC_SNAPSHOT_IMPL_H
#define AC_SNAPSHOT_IMPL_H

#include <stdint.h>
#include <string.h>

#include "actorcore/snapshot.h"

#define AC_SNAP_PRIMARY 1u
#define AC_SNAP_DERIVED 2u
#define AC_SNAP_EXTRA 4u
#define AC_SNAP_MAGIC 0xAC54u

struct ac_snapshot {
    int64_t version;     /* the actor's version, 1 without actor */
    uint64_t generation; /* registry generation it was resolved under */
    uint32_t size;       /* bytes of the whole block */
    uint16_t magic;      /* AC_SNAP_MAGIC */
    uint16_t n_dims;     /* dimensions (CapsUsed entries) */
    uint16_t n_primary;  /* Primary values */
    uint16_t n_derived;  /* Derived values */
    uint16_t n_context;  /* merged context packs */
    uint16_t n_extra;    /* names of non-registry dimensions */
    uint16_t n_pairs;    /* distinct (Min, Max) pairs */
    uint16_t reserved;   /* zero */
    uint32_t names_off;  /* offset of the extra_name_off array; strings follow it */
};

/* Layout helpers: offsets of the arrays after the header. */
static inline const double *ac_snap_primary(const ac_snapshot_t *s)
{
    return (const double *)(s + 1);
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

/* Bytes of one pair index: 1 while every index fits (n_dims <= 256), else 2. */
static inline size_t ac_snap_index_width(size_t n_dims)
{
    return n_dims <= 256 ? 1 : 2;
}

/* Size up to and including the pair indices, padded to 8: where the pairs start. */
static inline size_t ac_snap_fixed_size(size_t n_dims, size_t n_primary, size_t n_derived)
{
    size_t n = sizeof(struct ac_snapshot) + 8 * (n_primary + n_derived) +
               (3 + ac_snap_index_width(n_dims)) * n_dims;
    return (n + 7) & ~(size_t)7;
}

/* Index into pairs of dimension i. */
static inline size_t ac_snap_pair_index(const ac_snapshot_t *s, size_t i)
{
    const uint8_t *idx = ac_snap_flags(s) + s->n_dims;
    if (ac_snap_index_width(s->n_dims) == 1)
        return idx[i];
    uint16_t v;
    memcpy(&v, idx + 2 * i, 2);
    return v;
}

static inline const double *ac_snap_pairs(const ac_snapshot_t *s)
{
    return (const double *)((const char *)s +
                            ac_snap_fixed_size(s->n_dims, s->n_primary, s->n_derived));
}

/* Min and Max of dimension i. */
static inline const double *ac_snap_bounds_of(const ac_snapshot_t *s, size_t i)
{
    return ac_snap_pairs(s) + 2 * ac_snap_pair_index(s, i);
}

/* Where the context area starts: after the pairs. */
static inline size_t ac_snap_context_off(const ac_snapshot_t *s)
{
    return ac_snap_fixed_size(s->n_dims, s->n_primary, s->n_derived) + 16 * (size_t)s->n_pairs;
}

#endif
