/*  resolve.c - the resolver: request in, snapshot out (SPEC 3-6).

    1. run the worker-side subsystems the actor lists (they append to the request);
    2. rank the request's systems by name, so the sort key compares integers;
    3. count contributions and caps per dimension (pass 1), lay the dimensions out in
       name order, scatter sort items into per-dimension slices (pass 2);
    4. per dimension: sort, reduce caps, aggregate Primary and Derived, clamp, write;
    5. merge context packs.
    All scratch memory belongs to the resolver and is reused, so a warm resolve does not
    touch the heap.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actorcore/resolve.h"
#include "core/hash.h"
#include "core/request_impl.h"
#include "core/items.h"
#include "core/snapshot_impl.h"

/* Per-dimension counts and slice offsets. Contributions are scattered by section and
   bucket (a radix step on the sort key's top bits: each sub-slice then arrives in input
   order, often already sorted); caps last. */
#define SLOT_CAPS 8
#define SLOT(section, bucket) ((section)*4 + (bucket))

typedef struct {
    uint32_t n[9];   /* items of each (section, bucket), then caps */
    uint32_t off[9]; /* end of each slice after the scatter */
} dim_slot_t;

/* A slot of the pair table: the pair's index in the snapshot, valid when stamp is the
   pass's. */
typedef struct {
    uint32_t stamp; /* pass that filled it */
    uint32_t index; /* pair index */
} pair_slot_t;

struct ac_resolver {
    const ac_registry_t *reg; /* shared, not owned */
    ac_vec_t subs;            /* ac_subsystem_t, registered subsystems */
    ac_symtab_t sub_names;    /* subsystem id -> index in subs */
    dim_slot_t *slots;        /* [dimension id] */
    size_t slots_cap;         /* capacity of slots */
    uint64_t *touched;        /* bitmap of dimensions present in this request */
    size_t touched_cap;       /* words in touched */
    uint32_t *order;          /* present dimensions in output (name) order */
    size_t order_cap;         /* capacity of order */
    ac_item_t *items;         /* contribution items, then cap items */
    ac_item_t *scratch;       /* merge sort buffer, as large as items */
    size_t items_cap;         /* capacity of items */
    size_t scratch_cap;       /* capacity of scratch */
    uint32_t *rank;           /* system id -> rank in name order */
    uint32_t *by_name;        /* ids sorted by name (systems, then reused) */
    size_t rank_cap;          /* capacity of rank */
    size_t by_name_cap;       /* capacity of by_name */
    ac_item_t *ctx;           /* context items: additive, post, multipliers */
    ac_item_t *ctx_scratch;   /* merge sort buffer for ctx */
    size_t ctx_cap;           /* capacity of ctx */
    size_t ctx_scratch_cap;   /* capacity of ctx_scratch */
    uint32_t *ctx_rank;       /* string id -> context name rank */
    uint32_t *ctx_names;      /* distinct context names, sorted */
    size_t ctx_rank_cap;      /* capacity of ctx_rank */
    size_t ctx_names_cap;     /* capacity of ctx_names */
    uint64_t *out;            /* the snapshot being written (8-aligned) */
    size_t out_cap;           /* bytes of out */
    double *stage1;           /* Primary values of the first pass, by registry id */
    size_t stage1_cap;        /* capacity of stage1 */
    uint8_t *stage1_has;      /* which of them exist */
    size_t stage1_has_cap;    /* capacity of stage1_has */
    uint64_t generation;      /* registry generation, mixed with extra configuration */
    pair_slot_t *pair_tab;    /* open addressing over this pass's (Min, Max) pairs */
    size_t pair_tab_cap;      /* slots of pair_tab, a power of two */
    uint32_t pair_stamp;      /* slots of this pass carry it; others are empty */
};

/* Grows *p to hold want elements of elem bytes (never shrinks). */
static int grow(void *pp, size_t *cap, size_t elem, size_t want)
{
    void **p = pp;
    if (want <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < want)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

ac_resolver_t *ac_resolver_new(const ac_registry_t *reg)
{
    ac_resolver_t *r = calloc(1, sizeof *r);
    if (r) {
        r->reg = reg;
        r->generation = reg->generation;
        ac_symtab_init(&r->sub_names);
    }
    return r;
}

void ac_resolver_destroy(ac_resolver_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_resolver_t *r = *self_p;
    ac_subsystem_t *subs = r->subs.data;
    for (size_t i = 0; i < r->subs.count; i++)
        if (subs[i].destroy)
            subs[i].destroy(subs[i].state);
    ac_vec_fini(&r->subs);
    ac_symtab_fini(&r->sub_names);
    free(r->slots);
    free(r->touched);
    free(r->order);
    free(r->items);
    free(r->scratch);
    free(r->rank);
    free(r->by_name);
    free(r->ctx);
    free(r->ctx_scratch);
    free(r->ctx_rank);
    free(r->ctx_names);
    free(r->out);
    free(r->stage1);
    free(r->stage1_has);
    free(r->pair_tab);
    free(r);
    *self_p = NULL;
}

int ac_resolver_add_subsystem(ac_resolver_t *r, const ac_subsystem_t *sub, ac_error_t *err)
{
    if (!sub || !sub->system_id || !sub->contribute || !*sub->system_id ||
        strlen(sub->system_id) > 128)
        return ac_error_set(err, AC_ESCHEMA, "", "a subsystem needs a system id and contribute");
    size_t len = strlen(sub->system_id);
    if (ac_symtab_find(&r->sub_names, sub->system_id, len) != AC_NO_ID)
        return ac_error_set(err, AC_ESCHEMA, "", "subsystem '%s' is registered twice",
                            sub->system_id);
    if (ac_vec_reserve(&r->subs, sizeof *sub, r->subs.count + 1) ||
        ac_symtab_intern(&r->sub_names, sub->system_id, len) != r->subs.count)
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    ((ac_subsystem_t *)r->subs.data)[r->subs.count++] = *sub;
    return 0;
}

size_t ac_resolver_subsystem_count(const ac_resolver_t *r)
{
    return r->subs.count;
}

void ac_resolver_mix_generation(ac_resolver_t *r, uint64_t extra)
{
    r->generation = ac_hash_finish(ac_hash_u64(r->reg->generation, extra));
}

uint64_t ac_resolver_generation(const ac_resolver_t *r)
{
    return r->generation;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "actor.subsystems[i]", rendered only for errors. */
static void render_subsystem_path(const void *ctx, char *buf, size_t size)
{
    snprintf(buf, size, "actor.subsystems[%zu]", *(const size_t *)ctx);
}

/* The registered subsystem named id, or NULL. */
static const ac_subsystem_t *find_subsystem(const ac_resolver_t *r, const char *id)
{
    uint32_t i = ac_symtab_find(&r->sub_names, id, strlen(id));
    return i == AC_NO_ID ? NULL : (const ac_subsystem_t *)r->subs.data + i;
}

/* Step 1: runs the actor's subsystems of one stage; what they add goes after the inline
   items. Stage 1 also checks the list (unknown or repeated names). *stage2 tells whether
   any listed subsystem belongs to stage 2. */
static int run_subsystems(ac_resolver_t *r, ac_request_t *req, int stage, bool *stage2,
                          ac_error_t *err)
{
    if (!req->has_actor)
        return 0;
    const ac_actor_t *actor = &req->actor;
    for (size_t i = 0; i < actor->n_subsystems; i++) {
        char path[48];
        ac_lpath_t lpath = {render_subsystem_path, &i};
        const char *want = actor->subsystems[i];
        const ac_subsystem_t *sub = find_subsystem(r, want);
        if (stage == 1) {
            for (size_t j = 0; j < i; j++)
                if (strcmp(actor->subsystems[j], want) == 0) {
                    render_subsystem_path(&i, path, sizeof path);
                    return ac_error_set(err, AC_ESCHEMA, path, "subsystem '%.128s' is listed twice",
                                        want);
                }
            if (!sub) {
                render_subsystem_path(&i, path, sizeof path);
                return ac_error_set(err, AC_ESCHEMA, path, "unknown subsystem '%.128s'", want);
            }
        }
        int sub_stage = sub->stage == 2 ? 2 : 1;
        if (sub_stage == 2 && stage2)
            *stage2 = true;
        if (sub_stage != stage)
            continue;
        ac_req_mark_t mark = ac_req_mark(req);
        ac_output_t out = {.req = req, .index = i};
        if (stage == 2) {
            out.stage1 = r->stage1;
            out.stage1_has = r->stage1_has;
        }
        int rc =
            ac_req_system(req, sub->system_id, strlen(sub->system_id), &lpath, &out.system, err);
        if (rc == 0)
            rc = ac_req_begin_output(req, out.system, &lpath, err);
        if (rc)
            return rc;
        ac_error_t inner;
        ac_error_clear(&inner);
        int64_t t0 = sub->budget_us ? mono_us() : 0;
        int failed = sub->contribute(sub->state, actor, &out, &inner) != 0;
        if (!failed && sub->budget_us && mono_us() - t0 > (int64_t)sub->budget_us) {
            failed = 1;
            ac_error_set(&inner, AC_ETIMEOUT, "", "took longer than its budget of %u us",
                         sub->budget_us);
        }
        if (!failed)
            continue;
        ac_req_rollback(req, mark); /* nothing it added is kept */
        render_subsystem_path(&i, path, sizeof path);
        if (inner.code == AC_ENOMEM) /* not the subsystem's fault; never skipped when optional */
            return ac_error_set(err, AC_ENOMEM, path, "subsystem '%s': out of memory",
                                sub->system_id);
        if (sub->optional)
            continue;
        return ac_error_set(err, AC_ESUBSYSTEM_FAILED, path, "subsystem '%s' failed: %s%s%s",
                            sub->system_id, inner.message, inner.path[0] ? " at " : "", inner.path);
    }
    return 0;
}

/* Insertion sort of ids by name for short lists, qsort beyond (rare: many systems). */
typedef struct {
    const ac_symtab_t *t;
} name_ctx_t;

static int cmp_ids_by_name(const void *a, const void *b, void *arg)
{
    const ac_symtab_t *t = ((const name_ctx_t *)arg)->t;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return ac_name_cmp(ac_symtab_str(t, x), ac_symtab_len(t, x), ac_symtab_str(t, y),
                       ac_symtab_len(t, y));
}

static void sort_ids_by_name(uint32_t *ids, size_t n, const ac_symtab_t *t, uint32_t bias)
{
    name_ctx_t ctx = {t};
    if (n > 32) {
        for (size_t i = 0; i < n; i++)
            ids[i] -= bias;
        qsort_r(ids, n, sizeof *ids, cmp_ids_by_name, &ctx);
        for (size_t i = 0; i < n; i++)
            ids[i] += bias;
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t x = ids[i] - bias;
        size_t j = i;
        while (j > 0) {
            uint32_t y = ids[j - 1] - bias;
            if (cmp_ids_by_name(&x, &y, &ctx) >= 0)
                break;
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = x + bias;
    }
}

/* Step 2: rank[system id] = position of the system in name byte order. */
static int rank_systems(ac_resolver_t *r, const ac_request_t *req)
{
    size_t n = req->systems.count;
    if (grow(&r->rank, &r->rank_cap, sizeof *r->rank, n) ||
        grow(&r->by_name, &r->by_name_cap, sizeof *r->by_name, n))
        return -1;
    for (uint32_t i = 0; i < n; i++)
        r->by_name[i] = i;
    sort_ids_by_name(r->by_name, n, &req->systems, 0);
    for (uint32_t i = 0; i < n; i++)
        r->rank[r->by_name[i]] = i;
    return 0;
}

/* Context packs, merged per name (SPEC 6). Items: additive and post keyed by
   (name rank, system rank); multipliers likewise; each sorted, then summed/concatenated. */
typedef struct {
    size_t n_names;   /* distinct context names */
    size_t n_mults;   /* multipliers over all packs */
    size_t bytes;     /* context area size */
    size_t str_bytes; /* names with NULs */
} ctx_plan_t;

static int plan_contexts(ac_resolver_t *r, const ac_request_t *req, ctx_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    size_t np = req->packs.count;
    if (np == 0)
        return 0;
    const ac_pack_t *packs = req->packs.data;
    size_t ns = req->strings.count;
    if (grow(&r->ctx_rank, &r->ctx_rank_cap, sizeof *r->ctx_rank, ns) ||
        grow(&r->ctx_names, &r->ctx_names_cap, sizeof *r->ctx_names, ns))
        return -1;
    uint32_t *names = r->ctx_names;
    for (size_t i = 0; i < ns; i++)
        r->ctx_rank[i] = UINT32_MAX;
    for (size_t i = 0; i < np; i++) {
        if (r->ctx_rank[packs[i].name] == UINT32_MAX) {
            r->ctx_rank[packs[i].name] = 0;
            names[plan->n_names++] = packs[i].name;
        }
        plan->n_mults += packs[i].n_mult;
    }
    sort_ids_by_name(names, plan->n_names, &req->strings, 0);
    for (size_t i = 0; i < plan->n_names; i++) {
        r->ctx_rank[names[i]] = (uint32_t)i;
        plan->str_bytes += ac_symtab_len(&req->strings, names[i]) + 1;
    }
    size_t n_items = 2 * np + plan->n_mults;
    if (grow(&r->ctx, &r->ctx_cap, sizeof *r->ctx, n_items) ||
        grow(&r->ctx_scratch, &r->ctx_scratch_cap, sizeof *r->ctx_scratch, n_items))
        return -1;
    ac_item_t *cs = r->ctx_scratch;
    ac_item_t *add = r->ctx, *post = add + np, *mult = post + np;
    const double *mv = req->mults.data;
    size_t m = 0;
    for (size_t i = 0; i < np; i++) {
        uint64_t k = ((uint64_t)r->ctx_rank[packs[i].name] << 32) | r->rank[packs[i].system];
        add[i] = (ac_item_t){k, ac_order_bits(packs[i].additive_percent)};
        post[i] = (ac_item_t){k, ac_order_bits(packs[i].post_add)};
        for (uint32_t j = 0; j < packs[i].n_mult; j++)
            mult[m++] = (ac_item_t){k, ac_order_bits(mv[packs[i].mult_off + j])};
    }
    ac_items_sort(add, np, cs);
    ac_items_sort(post, np, cs);
    ac_items_sort(mult, m, cs);
    plan->bytes = 24 * plan->n_names + 8 * plan->n_mults;
    return 0;
}

/* Writes the merged packs at ctx_area; their names at strings + *str_off. */
static int write_contexts(ac_resolver_t *r, const ac_request_t *req, const ctx_plan_t *plan,
                          char *ctx_area, char *strings, uint32_t *str_off)
{
    size_t np = req->packs.count;
    const ac_item_t *add = r->ctx, *post = add + np, *mult = post + np;
    size_t ia = 0, ip = 0, im = 0;
    char *p = ctx_area;
    for (size_t rank = 0; rank < plan->n_names; rank++) {
        double sa = 0, sp = 0;
        for (; ia < np && (add[ia].k >> 32) == rank; ia++)
            sa += ac_order_value(add[ia].v);
        for (; ip < np && (post[ip].k >> 32) == rank; ip++)
            sp += ac_order_value(post[ip].v);
        if (!isfinite(sa) || !isfinite(sp))
            return AC_ENON_FINITE;
        uint32_t name = r->ctx_names[rank];
        uint32_t len = ac_symtab_len(&req->strings, name);
        memcpy(strings + *str_off, ac_symtab_str(&req->strings, name), len + 1);
        uint32_t n_mult = 0;
        double *mdst = (double *)(p + 24);
        for (; im < plan->n_mults && (mult[im].k >> 32) == rank; im++)
            mdst[n_mult++] = ac_order_value(mult[im].v);
        memcpy(p, str_off, 4);
        memcpy(p + 4, &n_mult, 4);
        memcpy(p + 8, &sa, 8);
        memcpy(p + 16, &sp, 8);
        p += 24 + 8 * (size_t)n_mult;
        *str_off += len + 1;
    }
    return 0;
}

/* The slot of dim, zeroed the first time this resolve sees the dimension. */
static inline dim_slot_t *touch(ac_resolver_t *r, uint32_t dim)
{
    uint64_t bit = 1ull << (dim & 63);
    dim_slot_t *slot = &r->slots[dim];
    if (!(r->touched[dim >> 6] & bit)) {
        r->touched[dim >> 6] |= bit;
        memset(slot, 0, sizeof *slot);
    }
    return slot;
}

static const ac_rule_t *rule_of(const ac_resolver_t *r, uint32_t dim)
{
    return dim < r->reg->dims.count ? &r->reg->rules[dim] : &r->reg->default_rule;
}

/* Fails a resolve on a NaN result: the inputs were finite, but their sums were not. */
static int fail_nan(ac_error_t *err, const ac_request_t *req, uint32_t dim, const char *what)
{
    size_t len;
    const char *name = ac_req_dim_name(req, dim, &len);
    return ac_error_set(err, AC_ENON_FINITE, "",
                        "%s of dimension '%.*s' is not a number "
                        "(the finite inputs overflowed)",
                        what, (int)len, name);
}

/* What one pass has learnt of the request so far, handed from step to step. */
typedef struct {
    const ac_request_t *req; /* the request being aggregated */
    bool primary_only;       /* first pass before stage 2: Derived left out */
    uint32_t nreg;           /* registry dimensions; ids above are the request's extras */
    size_t words;            /* words of the touched bitmap */
    size_t nc, nk;           /* contributions and caps in the request */
    size_t n_dims;           /* dimensions present */
    size_t first_extra;      /* index in order of the first extra dimension */
    size_t n_primary;        /* dimensions with a Primary value */
    size_t n_derived;        /* dimensions with a Derived value */
    size_t extra_bytes;      /* names of the extra dimensions, NUL included */
} pass_t;

static inline bool is_touched(const ac_resolver_t *r, uint32_t dim)
{
    return (r->touched[dim >> 6] & (1ull << (dim & 63))) != 0;
}

/* Scratch for this request's sizes; the touched bitmap cleared. -1 when out of memory. */
static int pass_reserve(ac_resolver_t *r, pass_t *p)
{
    const size_t ndims = p->nreg + p->req->extra_dims.count;
    const size_t n = p->nc + p->nk;
    p->words = (ndims + 63) / 64;
    if (grow(&r->slots, &r->slots_cap, sizeof *r->slots, ndims) ||
        grow(&r->touched, &r->touched_cap, sizeof *r->touched, p->words) ||
        grow(&r->order, &r->order_cap, sizeof *r->order, ndims) ||
        grow(&r->items, &r->items_cap, sizeof *r->items, n) ||
        grow(&r->scratch, &r->scratch_cap, sizeof *r->scratch, n))
        return -1;
    memset(r->touched, 0, p->words * sizeof *r->touched);
    return 0;
}

/* Pass 1: count the items of each (section, bucket) and the caps, per dimension. */
static void count_per_dim(ac_resolver_t *r, const pass_t *p)
{
    const ac_contribution_t *contribs = p->req->contribs.data;
    const ac_cap_t *caps = p->req->caps.data;
    for (size_t i = 0; i < p->nc; i++)
        if (!(p->primary_only && contribs[i].section == AC_DERIVED))
            touch(r, contribs[i].dim)->n[SLOT(contribs[i].section, contribs[i].bucket)]++;
    for (size_t i = 0; i < p->nk; i++) {
        uint32_t dim = caps[i].dim;
        /* The first pass only needs dimensions that have Primary contributions. */
        if (p->primary_only && !is_touched(r, dim))
            continue;
        touch(r, dim)->n[SLOT_CAPS]++;
    }
}

/* Output order into r->order: ids ascending is name order for registry dimensions;
   dimensions under the default rule follow, sorted by name. */
static void order_dims(ac_resolver_t *r, pass_t *p)
{
    size_t n_dims = 0, first_extra = 0;
    for (size_t w = 0; w < p->words; w++)
        for (uint64_t bits = r->touched[w]; bits; bits &= bits - 1) {
            uint32_t dim = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            r->order[n_dims++] = dim;
            if (dim < p->nreg)
                first_extra = n_dims;
        }
    sort_ids_by_name(r->order + first_extra, n_dims - first_extra, &p->req->extra_dims, p->nreg);
    p->n_dims = n_dims;
    p->first_extra = first_extra;
}

/* Slices: per dimension the primary buckets, then the derived buckets, in [0, nc); caps
   after. Bucket slices are contiguous in bucket order, so once each is sorted the whole
   section is sorted. Counts the dimensions with a Primary or Derived value on the way. */
static void slice_dims(ac_resolver_t *r, pass_t *p)
{
    size_t pos = 0, cpos = p->nc, n_primary = 0, n_derived = 0, extra_bytes = 0;
    for (size_t i = 0; i < p->n_dims; i++) {
        dim_slot_t *s = &r->slots[r->order[i]];
        for (int k = 0; k < SLOT_CAPS; k++) {
            s->off[k] = (uint32_t)pos;
            pos += s->n[k];
        }
        s->off[SLOT_CAPS] = (uint32_t)cpos;
        cpos += s->n[SLOT_CAPS];
        n_primary += (s->n[0] | s->n[1] | s->n[2] | s->n[3]) > 0;
        n_derived += (s->n[4] | s->n[5] | s->n[6] | s->n[7]) > 0;
        if (r->order[i] >= p->nreg)
            extra_bytes += ac_symtab_len(&p->req->extra_dims, r->order[i] - p->nreg) + 1;
    }
    p->n_primary = n_primary;
    p->n_derived = n_derived;
    p->extra_bytes = extra_bytes;
}

/* Pass 2: scatter the sort items of contributions and caps into their slices. */
static void scatter_items(ac_resolver_t *r, const pass_t *p)
{
    const ac_contribution_t *contribs = p->req->contribs.data;
    const ac_cap_t *caps = p->req->caps.data;
    const uint32_t *rank = r->rank;
    dim_slot_t *slots = r->slots;
    for (size_t i = 0; i < p->nc; i++) {
        const ac_contribution_t *c = &contribs[i];
        if (p->primary_only && c->section == AC_DERIVED)
            continue;
        r->items[slots[c->dim].off[SLOT(c->section, c->bucket)]++] = (ac_item_t){
            ac_contrib_key(c->bucket, c->priority, rank[c->system]), ac_order_bits(c->value)};
    }
    for (size_t i = 0; i < p->nk; i++) {
        const ac_cap_t *c = &caps[i];
        if (p->primary_only && !is_touched(r, c->dim))
            continue;
        r->items[slots[c->dim].off[SLOT_CAPS]++] =
            (ac_item_t){ac_cap_key(c->layer, c->priority, rank[c->system], c->kind, c->mode),
                        ac_order_bits(c->value)};
    }
}

/* Sizes r->out for the snapshot (as if every dimension had a pair of its own: the real
   count is known after the caps) and writes the header's counts into *out; the pair
   table is made ready for n_dims pairs. An error code on failure. */
static int layout_snapshot(ac_resolver_t *r, const pass_t *p, const ctx_plan_t *plan,
                           ac_snapshot_t **out, ac_error_t *err)
{
    size_t n_extra = p->n_dims - p->first_extra;
    size_t fixed = ac_snap_fixed_size(p->n_dims, p->n_primary, p->n_derived);
    size_t most =
        fixed + 16 * p->n_dims + plan->bytes + 4 * n_extra + p->extra_bytes + plan->str_bytes + 8;
    if (most > UINT32_MAX)
        return ac_error_set(err, AC_ETOO_LARGE, "", "snapshot too large");
    size_t tab = 32;
    while (tab < 2 * p->n_dims)
        tab *= 2;
    size_t had = r->pair_tab_cap;
    if (grow(&r->out, &r->out_cap, 8, most / 8 + 1) ||
        grow(&r->pair_tab, &r->pair_tab_cap, sizeof *r->pair_tab, tab))
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    if (had != r->pair_tab_cap || ++r->pair_stamp == 0) {
        memset(r->pair_tab, 0, r->pair_tab_cap * sizeof *r->pair_tab);
        r->pair_stamp = 1;
    }
    ac_snapshot_t *s = (ac_snapshot_t *)r->out;
    memset((char *)s + fixed - 8, 0, 8); /* padding after the pair indices */
    s->version = ac_request_version(p->req);
    s->generation = r->generation;
    s->magic = AC_SNAP_MAGIC;
    s->n_dims = (uint16_t)p->n_dims;
    s->n_primary = (uint16_t)p->n_primary;
    s->n_derived = (uint16_t)p->n_derived;
    s->n_context = (uint16_t)plan->n_names;
    s->n_extra = (uint16_t)n_extra;
    s->n_pairs = 0;
    s->reserved = 0;
    *out = s;
    return 0;
}

/* Once the pairs are known: the context and name areas' offsets, the size, the padding
   after the strings. */
static void finish_layout(ac_snapshot_t *s, const pass_t *p, const ctx_plan_t *plan)
{
    size_t names_off = ac_snap_context_off(s) + plan->bytes;
    size_t size = names_off + 4 * (size_t)s->n_extra + p->extra_bytes + plan->str_bytes;
    size = (size + 7) & ~(size_t)7;
    if (size > names_off)
        memset((char *)s + size - 8, 0, 8); /* padding after the strings */
    s->names_off = (uint32_t)names_off;
    s->size = (uint32_t)size;
}

/* The index of the pair (mn, mx) among the snapshot's pairs, bit for bit; a new pair is
   appended. Open addressing over r->pair_tab, which has room for twice the dimensions. */
static uint32_t pair_index(ac_resolver_t *r, double *pairs, uint16_t *n_pairs, double mn, double mx)
{
    uint64_t a, b;
    memcpy(&a, &mn, 8);
    memcpy(&b, &mx, 8);
    size_t mask = r->pair_tab_cap - 1;
    size_t h = (size_t)(((a * 0x9E3779B97F4A7C15ull) ^ b) * 0xC2B2AE3D27D4EB4Full >> 40) & mask;
    for (;; h = (h + 1) & mask) {
        pair_slot_t *ps = &r->pair_tab[h];
        if (ps->stamp != r->pair_stamp) {
            uint32_t k = (*n_pairs)++;
            ps->stamp = r->pair_stamp;
            ps->index = k;
            pairs[2 * k] = mn;
            pairs[2 * k + 1] = mx;
            return k;
        }
        uint64_t x, y;
        memcpy(&x, &pairs[2 * ps->index], 8);
        memcpy(&y, &pairs[2 * ps->index + 1], 8);
        if (x == a && y == b)
            return ps->index;
    }
}

/* Per dimension, in output order: sort and reduce the caps, then aggregate Primary and
   Derived and clamp them into the caps. */
static int reduce_dims(ac_resolver_t *r, const pass_t *p, ac_snapshot_t *s, ac_error_t *err)
{
    const ac_request_t *req = p->req;
    double *pv = (double *)ac_snap_primary(s);
    double *dv = (double *)ac_snap_derived(s);
    uint16_t *dims = (uint16_t *)ac_snap_dims(s);
    uint8_t *flags = (uint8_t *)ac_snap_flags(s);
    uint8_t *idx = flags + p->n_dims;
    const bool wide = ac_snap_index_width(p->n_dims) == 2;
    double *pairs = (double *)ac_snap_pairs(s);
    uint16_t n_pairs = 0;
    uint32_t last = UINT32_MAX; /* the previous dimension's pair: the usual match */
    for (size_t i = 0; i < p->n_dims; i++) {
        uint32_t dim = r->order[i];
        dim_slot_t *sl = &r->slots[dim];
        const ac_rule_t *rule = rule_of(r, dim);
        ac_item_t *ci = r->items + sl->off[SLOT_CAPS] - sl->n[SLOT_CAPS];
        ac_items_sort_unless_sorted(ci, sl->n[SLOT_CAPS], r->scratch);
        double mn, mx;
        if (ac_caps_reduce(ci, sl->n[SLOT_CAPS], rule, r->reg->policy, &mn, &mx))
            return fail_nan(err, req, dim, "a cap");
        uint32_t k;
        if (last != UINT32_MAX && memcmp(&pairs[2 * last], &mn, 8) == 0 &&
            memcmp(&pairs[2 * last + 1], &mx, 8) == 0)
            k = last;
        else
            k = last = pair_index(r, pairs, &n_pairs, mn, mx);
        if (wide) {
            uint16_t k16 = (uint16_t)k;
            memcpy(idx + 2 * i, &k16, 2);
        } else {
            idx[i] = (uint8_t)k;
        }
        uint8_t f = 0;
        for (int sec = 0; sec < 2; sec++) {
            const uint32_t *n = &sl->n[SLOT(sec, 0)];
            size_t total = (size_t)n[0] + n[1] + n[2] + n[3];
            if (!total)
                continue;
            for (int b = 0; b < 4; b++)
                ac_items_sort_unless_sorted(r->items + sl->off[SLOT(sec, b)] - n[b], n[b],
                                            r->scratch);
            ac_item_t *it = r->items + sl->off[SLOT(sec, 0)] - n[0];
            double v = ac_aggregate(it, n, rule);
            if (isnan(v))
                return fail_nan(err, req, dim,
                                sec == 0 ? "the Primary value" : "the Derived value");
            *(sec == 0 ? pv++ : dv++) = ac_clamp(v, mn, mx);
            f |= sec == 0 ? AC_SNAP_PRIMARY : AC_SNAP_DERIVED;
        }
        if (dim >= p->nreg) {
            dims[i] = (uint16_t)(i - p->first_extra);
            f |= AC_SNAP_EXTRA;
        } else {
            dims[i] = (uint16_t)dim;
        }
        flags[i] = f;
    }
    s->n_pairs = n_pairs;
    return 0;
}

/* The extra dimensions' names, in output order, from strings + *str_off on. */
static void write_extra_names(const ac_resolver_t *r, const pass_t *p, ac_snapshot_t *s,
                              uint32_t *str_off)
{
    const ac_request_t *req = p->req;
    char *names = (char *)s + s->names_off;
    char *strings = names + 4 * (size_t)s->n_extra;
    for (size_t i = p->first_extra; i < p->n_dims; i++) {
        uint32_t local = r->order[i] - p->nreg, len = ac_symtab_len(&req->extra_dims, local);
        memcpy(names + 4 * (i - p->first_extra), str_off, 4);
        memcpy(strings + *str_off, ac_symtab_str(&req->extra_dims, local), len + 1);
        *str_off += len + 1;
    }
}

/* One aggregation of everything the request holds now, into r->out. With primary_only
   (the first pass before stage 2, which only needs capped Primary values) Derived
   contributions are left out. The steps are the module comment's 2-5. */
static int resolve_pass(ac_resolver_t *r, ac_request_t *req, bool primary_only,
                        const ac_snapshot_t **snap, ac_error_t *err)
{
    *snap = NULL;
    pass_t p = {.req = req,
                .primary_only = primary_only,
                .nreg = r->reg->dims.count,
                .nc = req->contribs.count,
                .nk = req->caps.count};
    if (rank_systems(r, req) || pass_reserve(r, &p))
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    count_per_dim(r, &p);
    order_dims(r, &p);
    if (p.n_dims > 65535)
        return ac_error_set(err, AC_ETOO_LARGE, "", "more than 65535 dimensions");
    slice_dims(r, &p);
    scatter_items(r, &p);

    ctx_plan_t plan;
    if (plan_contexts(r, req, &plan))
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    if (plan.n_names > 65535)
        return ac_error_set(err, AC_ETOO_LARGE, "", "more than 65535 contexts");
    ac_snapshot_t *s;
    int rc = layout_snapshot(r, &p, &plan, &s, err);
    if (rc)
        return rc;
    rc = reduce_dims(r, &p, s, err);
    if (rc)
        return rc;
    finish_layout(s, &p, &plan);
    uint32_t str_off = 0;
    write_extra_names(r, &p, s, &str_off);
    char *strings = (char *)s + s->names_off + 4 * (size_t)s->n_extra;
    if (plan.n_names &&
        write_contexts(r, req, &plan, (char *)s + ac_snap_context_off(s), strings, &str_off))
        return ac_error_set(err, AC_ENON_FINITE, "Context",
                            "a merged context pack overflowed to infinity");
    *snap = s;
    return 0;
}

/* Keeps the capped Primary values of a first pass, by registry id, for stage 2. */
static int keep_stage1(ac_resolver_t *r, const ac_snapshot_t *snap)
{
    size_t n = r->reg->dims.count;
    if (grow(&r->stage1, &r->stage1_cap, sizeof *r->stage1, n) ||
        grow(&r->stage1_has, &r->stage1_has_cap, sizeof *r->stage1_has, n))
        return -1;
    memset(r->stage1_has, 0, n);
    const double *pv = ac_snap_primary(snap);
    const uint16_t *dims = ac_snap_dims(snap);
    const uint8_t *flags = ac_snap_flags(snap);
    for (size_t i = 0, k = 0; i < snap->n_dims; i++) {
        if (!(flags[i] & AC_SNAP_PRIMARY))
            continue;
        double v = pv[k++];
        if (!(flags[i] & AC_SNAP_EXTRA)) {
            r->stage1[dims[i]] = v;
            r->stage1_has[dims[i]] = 1;
        }
    }
    return 0;
}

int ac_resolve(ac_resolver_t *r, ac_request_t *req, const ac_snapshot_t **snap, ac_error_t *err)
{
    *snap = NULL;
    if (req->reg != r->reg)
        return ac_error_set(err, AC_EINTERNAL, "", "request and resolver use different registries");
    ac_req_truncate_to_inline(req);
    bool stage2 = false;
    int rc = run_subsystems(r, req, 1, &stage2, err);
    if (rc == 0 && stage2) {
        /* Stage 2 reads the capped result of stage 1. */
        rc = resolve_pass(r, req, true, snap, err);
        if (rc == 0 && keep_stage1(r, *snap))
            rc = ac_error_set(err, AC_ENOMEM, "", "out of memory");
        if (rc == 0)
            rc = run_subsystems(r, req, 2, NULL, err);
    }
    if (rc) {
        *snap = NULL;
        ac_req_truncate_to_inline(req);
        return rc;
    }
    return resolve_pass(r, req, false, snap, err);
}

size_t ac_resolve_batch(ac_resolver_t *r, ac_request_t *const *reqs, size_t n, ac_batch_fn *fn,
                        void *arg)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        const ac_snapshot_t *snap;
        ac_error_t err;
        if (ac_resolve(r, reqs[i], &snap, &err) == 0) {
            fn(arg, i, snap, NULL);
        } else {
            failed++;
            fn(arg, i, NULL, &err);
        }
    }
    return failed;
}
