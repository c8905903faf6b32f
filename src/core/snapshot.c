/*  snapshot.c - reading, checking and copying snapshot blocks (layout: snapshot_impl.h). */
#include "core/snapshot_impl.h"

#include <stdlib.h>
#include <string.h>

#include "core/registry_impl.h"

size_t ac_snapshot_size(const ac_snapshot_t *s)
{
    return s->size;
}

int64_t ac_snapshot_version(const ac_snapshot_t *s)
{
    return s->version;
}

uint64_t ac_snapshot_generation(const ac_snapshot_t *s)
{
    return s->generation;
}

size_t ac_snapshot_dimension_count(const ac_snapshot_t *s)
{
    return s->n_dims;
}

size_t ac_snapshot_primary_count(const ac_snapshot_t *s)
{
    return s->n_primary;
}

size_t ac_snapshot_derived_count(const ac_snapshot_t *s)
{
    return s->n_derived;
}

static const char *strings_area(const ac_snapshot_t *s)
{
    return (const char *)s + s->names_off + 4 * (size_t)s->n_extra;
}

static const char *extra_name(const ac_snapshot_t *s, uint16_t index)
{
    uint32_t off;
    memcpy(&off, (const char *)s + s->names_off + 4 * (size_t)index, 4);
    return strings_area(s) + off;
}

void ac_snapshot_iter_init(ac_snapshot_iter_t *it, const ac_snapshot_t *snap,
                           const ac_registry_t *reg)
{
    it->snap = snap;
    it->reg = reg;
    it->index = it->primary = it->derived = 0;
}

bool ac_snapshot_next(ac_snapshot_iter_t *it, ac_snapshot_dim_t *dim)
{
    const ac_snapshot_t *s = it->snap;
    if (it->index >= s->n_dims)
        return false;
    size_t i = it->index++;
    uint8_t flags = ac_snap_flags(s)[i];
    uint16_t id = ac_snap_dims(s)[i];
    if (flags & AC_SNAP_EXTRA)
        dim->name = extra_name(s, id);
    else
        dim->name = it->reg && id < it->reg->dims.count ? ac_symtab_str(&it->reg->dims, id) : "?";
    dim->name_len = strlen(dim->name);
    const double *b = ac_snap_bounds_of(s, i);
    dim->min = b[0];
    dim->max = b[1];
    dim->has_primary = flags & AC_SNAP_PRIMARY;
    dim->primary = dim->has_primary ? ac_snap_primary(s)[it->primary++] : 0;
    dim->has_derived = flags & AC_SNAP_DERIVED;
    dim->derived = dim->has_derived ? ac_snap_derived(s)[it->derived++] : 0;
    return true;
}

bool ac_snapshot_find(const ac_snapshot_t *snap, const ac_registry_t *reg, const char *name,
                      ac_snapshot_dim_t *dim)
{
    ac_snapshot_iter_t it;
    ac_snapshot_iter_init(&it, snap, reg);
    while (ac_snapshot_next(&it, dim))
        if (strcmp(dim->name, name) == 0)
            return true;
    return false;
}

size_t ac_snapshot_context_count(const ac_snapshot_t *s)
{
    return s->n_context;
}

void ac_snapshot_context(const ac_snapshot_t *s, size_t i, ac_context_t *ctx)
{
    const char *p = (const char *)s + ac_snap_context_off(s);
    for (size_t k = 0;; k++) {
        uint32_t name_off, n_mult;
        memcpy(&name_off, p, 4);
        memcpy(&n_mult, p + 4, 4);
        if (k == i) {
            ctx->name = strings_area(s) + name_off;
            ctx->name_len = strlen(ctx->name);
            memcpy(&ctx->additive_percent, p + 8, 8);
            memcpy(&ctx->post_add, p + 16, 8);
            ctx->multipliers = (const double *)(p + 24);
            ctx->n_multipliers = n_mult;
            return;
        }
        p += 24 + 8 * (size_t)n_mult;
    }
}

double ac_context_apply(const ac_context_t *ctx, double base)
{
    double v = base * (1 + ctx->additive_percent);
    for (size_t i = 0; i < ctx->n_multipliers; i++)
        v *= ctx->multipliers[i];
    return v + ctx->post_add;
}

/* True when [off, off + len) lies inside a block of size bytes. */
static bool in_bounds(size_t off, size_t len, size_t size)
{
    return off <= size && len <= size - off;
}

/* True when the string at off in [area, area + area_len) is NUL-terminated inside it. */
static bool string_ok(const char *area, size_t area_len, uint32_t off)
{
    return off < area_len && memchr(area + off, '\0', area_len - off) != NULL;
}

bool ac_snapshot_check(const void *data, size_t size, size_t dim_count)
{
    if (size < sizeof(ac_snapshot_t) || ((uintptr_t)data & 7))
        return false;
    const ac_snapshot_t *s = data;
    if (s->magic != AC_SNAP_MAGIC || s->size != size)
        return false;
    size_t fixed = ac_snap_fixed_size(s->n_dims, s->n_primary, s->n_derived);
    size_t context_off = fixed + 16 * (size_t)s->n_pairs;
    if (context_off > size || s->names_off > size || context_off > s->names_off || s->reserved != 0)
        return false;
    if ((s->n_dims == 0) != (s->n_pairs == 0) || s->n_pairs > s->n_dims)
        return false;
    if (!in_bounds(s->names_off, 4 * (size_t)s->n_extra, size))
        return false;
    const char *area = strings_area(s);
    size_t area_len = size - (size_t)(area - (const char *)s);
    const uint8_t *flags = ac_snap_flags(s);
    size_t np = 0, nd = 0;
    for (size_t i = 0; i < s->n_dims; i++) {
        uint16_t id = ac_snap_dims(s)[i];
        if (flags[i] & ~(AC_SNAP_PRIMARY | AC_SNAP_DERIVED | AC_SNAP_EXTRA))
            return false;
        if ((flags[i] & AC_SNAP_EXTRA) ? id >= s->n_extra : id >= dim_count)
            return false;
        if (ac_snap_pair_index(s, i) >= s->n_pairs)
            return false;
        np += !!(flags[i] & AC_SNAP_PRIMARY);
        nd += !!(flags[i] & AC_SNAP_DERIVED);
    }
    if (np != s->n_primary || nd != s->n_derived)
        return false;
    for (size_t i = 0; i < s->n_extra; i++) {
        uint32_t off;
        memcpy(&off, (const char *)s + s->names_off + 4 * i, 4);
        if (!string_ok(area, area_len, off))
            return false;
    }
    size_t p = context_off;
    for (size_t k = 0; k < s->n_context; k++) {
        uint32_t name_off, n_mult;
        if (!in_bounds(p, 24, s->names_off))
            return false;
        memcpy(&name_off, (const char *)s + p, 4);
        memcpy(&n_mult, (const char *)s + p + 4, 4);
        if (!string_ok(area, area_len, name_off) ||
            !in_bounds(p + 24, 8 * (size_t)n_mult, s->names_off))
            return false;
        p += 24 + 8 * (size_t)n_mult;
    }
    return p == s->names_off;
}

ac_snapshot_t *ac_snapshot_dup(const ac_snapshot_t *snap)
{
    ac_snapshot_t *copy = malloc(snap->size);
    if (copy)
        memcpy(copy, snap, snap->size);
    return copy;
}

void ac_snapshot_destroy(ac_snapshot_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool ac_snapshot_equal(const ac_snapshot_t *a, const ac_snapshot_t *b)
{
    return a->size == b->size && memcmp(a, b, a->size) == 0;
}
