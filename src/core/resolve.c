/*  resolve.c - the resolver: request in, snapshot out (SPEC 3-6).

    1. run the stage-1 subsystems the actor lists (they append to the request), and name
       the stage-2 ones' systems;
    2. rank the request's systems by name, so the sort key compares integers;
    3. count contributions and caps per dimension, lay each dimension's slices out (by
       section and bucket, caps apart), scatter sort items into them;
    4. per dimension: sort what is not in order already, reduce the caps, aggregate
       Primary and Derived, clamp, into a result per dimension;
    5. with stage 2: the first pass reduces only the dimensions with Primary
       contributions (stage 2 reads them), stage 2 runs, and the second pass reduces the
       dimensions it touched (their first-pass slices plus its items) and the pending
       ones: nothing is counted or scattered twice;
    6. write the snapshot from the results in output order (a NaN fails there, naming the
       first dimension in that order), then merge context packs.
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

/* A dimension's NaN, recorded when reduced and failed on when the snapshot is written. */
enum { FAULT_NONE, FAULT_CAP, FAULT_PRIMARY, FAULT_DERIVED };

/* The result of a dimension's last reduction. */
typedef struct {
    double min, max; /* EffectiveCapsFinal */
    double primary;  /* capped Primary value, when flags say so */
    double derived;  /* capped Derived value, when flags say so */
    uint8_t flags;   /* AC_SNAP_PRIMARY | AC_SNAP_DERIVED */
    uint8_t fault;   /* FAULT_* */
} dim_result_t;

/* A slot of the pair table: the pair's index in the snapshot, valid when stamp is the
   pass's. */
typedef struct {
    uint32_t stamp; /* pass that filled it */
    uint32_t index; /* pair index */
} pair_slot_t;

struct ac_resolver {
    const ac_registry_t *reg;      /* shared, not owned */
    ac_vec_t subs;                 /* ac_subsystem_t, registered subsystems */
    ac_symtab_t sub_names;         /* subsystem id -> index in subs */
    const ac_subsystem_t **listed; /* the actor's list, looked up by the stage-1 run */
    size_t listed_cap;             /* capacity of listed */
    uint64_t *sub_seen;            /* bit per subsystem: listed already (repeats) */
    size_t sub_seen_cap;           /* words in sub_seen */
    dim_slot_t *slots;             /* [dimension id] */
    size_t slots_cap;              /* capacity of slots */
    dim_slot_t *slots2;            /* [dimension id]: stage 2's new items, counts and cursors */
    size_t slots2_cap;             /* capacity of slots2 */
    size_t ranked;                 /* systems the last first pass ranked */
    bool in_batch;                 /* inside ac_resolve_batch: ranks may be shared */
    bool rank_valid;               /* rank_names describe r->rank */
    char *rank_names;              /* in a batch: the names r->rank was taken from, each
                                      as a uint32 length and its bytes, in id order */
    size_t rank_names_cap;         /* bytes of rank_names */
    size_t rank_count;             /* how many names */
    dim_result_t *res;             /* [dimension id], valid for the present ones */
    size_t res_cap;                /* capacity of res */
    uint64_t *present;             /* bitmap of dimensions present in this request */
    size_t present_cap;            /* words in present */
    uint64_t *dirty;               /* bitmap of dimensions reduced by this pass */
    size_t dirty_cap;              /* words in dirty */
    uint64_t *pending;             /* bitmap of dimensions a stage-1 pass left for stage 2 */
    size_t pending_cap;            /* words in pending */
    size_t pending_words;          /* words of pending that the stage-1 pass wrote */
    size_t words;                  /* words of the bitmaps in use */
    size_t ndims;                  /* dimensions the request may name (registry + extras) */
    uint32_t *order;               /* present dimensions in output (name) order */
    size_t order_cap;              /* capacity of order */
    ac_item_t *items;              /* contribution items, then cap items */
    ac_item_t *scratch;            /* merge sort buffer, as large as items */
    size_t items_cap;              /* capacity of items */
    size_t scratch_cap;            /* capacity of scratch */
    uint32_t *rank;                /* system id -> rank in name order */
    uint32_t *by_name;             /* ids sorted by name (systems, then reused) */
    size_t rank_cap;               /* capacity of rank */
    size_t by_name_cap;            /* capacity of by_name */
    ac_item_t *ctx;                /* context items: additive, post, multipliers */
    ac_item_t *ctx_scratch;        /* merge sort buffer for ctx */
    size_t ctx_cap;                /* capacity of ctx */
    size_t ctx_scratch_cap;        /* capacity of ctx_scratch */
    uint32_t *ctx_rank;            /* string id -> context name rank */
    uint32_t *ctx_names;           /* distinct context names, sorted */
    size_t ctx_rank_cap;           /* capacity of ctx_rank */
    size_t ctx_names_cap;          /* capacity of ctx_names */
    uint64_t *out;                 /* the snapshot being written (8-aligned) */
    size_t out_cap;                /* bytes of out */
    double *stage1;                /* Primary values of the first pass, by registry id */
    size_t stage1_cap;             /* capacity of stage1 */
    uint8_t *stage1_has;           /* which of them exist */
    size_t stage1_has_cap;         /* capacity of stage1_has */
    uint64_t generation;           /* registry generation, mixed with extra configuration */
    pair_slot_t *pair_tab;         /* open addressing over this pass's (Min, Max) pairs */
    size_t pair_tab_cap;           /* slots of pair_tab, a power of two */
    uint32_t pair_stamp;           /* slots of this pass carry it; others are empty */
};

/* Grows *p to hold want elements of elem bytes (never shrinks). */
static int grow(void *pp, size_t *cap, size_t elem, size_t want)
{
    void **p = pp;
    if (want == 0)
        want = 1; /* never NULL after success: memset and memcpy may take it with 0 bytes */
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
    free(r->listed);
    free(r->rank_names);
    free(r->sub_seen);
    free(r->slots);
    free(r->slots2);
    free(r->res);
    free(r->present);
    free(r->dirty);
    free(r->pending);
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
    if (stage == 1) {
        size_t words = (r->subs.count + 63) / 64;
        if (grow(&r->listed, &r->listed_cap, sizeof *r->listed, actor->n_subsystems) ||
            grow(&r->sub_seen, &r->sub_seen_cap, sizeof *r->sub_seen, words))
            return ac_error_set(err, AC_ENOMEM, "", "out of memory");
        memset(r->sub_seen, 0, words * sizeof *r->sub_seen);
    }
    for (size_t i = 0; i < actor->n_subsystems; i++) {
        char path[48];
        ac_lpath_t lpath = {render_subsystem_path, &i};
        const char *want = actor->subsystems[i];
        const ac_subsystem_t *sub;
        if (stage == 1) {
            /* Looked up once; stage 2 reads the list's subsystems back from r->listed. A
               name listed twice finds the same subsystem, so a bit per subsystem finds
               the repeat (an unknown name fails where it first appears). */
            sub = find_subsystem(r, want);
            if (!sub) {
                render_subsystem_path(&i, path, sizeof path);
                return ac_error_set(err, AC_ESCHEMA, path, "unknown subsystem '%.128s'", want);
            }
            size_t k = (size_t)(sub - (const ac_subsystem_t *)r->subs.data);
            if (r->sub_seen[k / 64] & (1ull << (k % 64))) {
                render_subsystem_path(&i, path, sizeof path);
                return ac_error_set(err, AC_ESCHEMA, path, "subsystem '%.128s' is listed twice",
                                    want);
            }
            r->sub_seen[k / 64] |= 1ull << (k % 64);
            r->listed[i] = sub;
        } else {
            sub = r->listed[i];
        }
        int sub_stage = sub->stage == 2 ? 2 : 1;
        if (sub_stage == 2 && stage2)
            *stage2 = true;
        if (sub_stage == 2 && stage == 1) {
            /* Its system is named now, so the first pass ranks it and the second can
               keep every rank (and the items it sorted). */
            uint32_t sid;
            int rc = ac_req_system(req, sub->system_id, strlen(sub->system_id), &lpath, &sid, err);
            if (rc)
                return rc;
        }
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
    if (r->in_batch && r->rank_valid && n == r->rank_count) {
        /* Within a batch: the same names under the same ids give the same ranks. The
           names are compared with the copy taken when the ranks were (a callback may
           have changed the request they came from). */
        const char *p = r->rank_names;
        size_t i = 0;
        for (; i < n; i++) {
            uint32_t len = ac_symtab_len(&req->systems, (uint32_t)i), had;
            memcpy(&had, p, 4);
            if (had != len || memcmp(p + 4, ac_symtab_str(&req->systems, (uint32_t)i), len) != 0)
                break;
            p += 4 + len;
        }
        if (i == n)
            return 0;
    }
    if (grow(&r->rank, &r->rank_cap, sizeof *r->rank, n) ||
        grow(&r->by_name, &r->by_name_cap, sizeof *r->by_name, n))
        return -1;
    for (uint32_t i = 0; i < n; i++)
        r->by_name[i] = i;
    sort_ids_by_name(r->by_name, n, &req->systems, 0);
    for (uint32_t i = 0; i < n; i++)
        r->rank[r->by_name[i]] = i;
    r->rank_valid = false;
    if (r->in_batch) {
        size_t bytes = 0;
        for (uint32_t i = 0; i < n; i++)
            bytes += 4 + ac_symtab_len(&req->systems, i);
        if (grow(&r->rank_names, &r->rank_names_cap, 1, bytes) == 0) {
            char *p = r->rank_names;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t len = ac_symtab_len(&req->systems, i);
                memcpy(p, &len, 4);
                memcpy(p + 4, ac_symtab_str(&req->systems, i), len);
                p += 4 + len;
            }
            r->rank_count = n;
            r->rank_valid = true;
        }
    }
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
        add[i] = (ac_item_t){k, packs[i].additive_percent};
        post[i] = (ac_item_t){k, packs[i].post_add};
        for (uint32_t j = 0; j < packs[i].n_mult; j++)
            mult[m++] = (ac_item_t){k, mv[packs[i].mult_off + j]};
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
            sa += add[ia].v;
        for (; ip < np && (post[ip].k >> 32) == rank; ip++)
            sp += post[ip].v;
        if (!isfinite(sa) || !isfinite(sp))
            return AC_ENON_FINITE;
        uint32_t name = r->ctx_names[rank];
        uint32_t len = ac_symtab_len(&req->strings, name);
        memcpy(strings + *str_off, ac_symtab_str(&req->strings, name), len + 1);
        uint32_t n_mult = 0;
        double *mdst = (double *)(p + 24);
        for (; im < plan->n_mults && (mult[im].k >> 32) == rank; im++)
            mdst[n_mult++] = mult[im].v;
        memcpy(p, str_off, 4);
        memcpy(p + 4, &n_mult, 4);
        memcpy(p + 8, &sa, 8);
        memcpy(p + 16, &sp, 8);
        p += 24 + 8 * (size_t)n_mult;
        *str_off += len + 1;
    }
    return 0;
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

/* Scratch for the request's present sizes; -1 when out of memory. The bitmaps start
   empty. */
static int pass_reserve(ac_resolver_t *r, const ac_request_t *req)
{
    const size_t ndims = r->reg->dims.count + req->extra_dims.count;
    const size_t n = req->contribs.count + req->caps.count;
    const size_t words = (ndims + 63) / 64;
    if (grow(&r->slots, &r->slots_cap, sizeof *r->slots, ndims) ||
        grow(&r->res, &r->res_cap, sizeof *r->res, ndims) ||
        grow(&r->present, &r->present_cap, sizeof *r->present, words) ||
        grow(&r->dirty, &r->dirty_cap, sizeof *r->dirty, words) ||
        grow(&r->order, &r->order_cap, sizeof *r->order, ndims) ||
        grow(&r->items, &r->items_cap, sizeof *r->items, n) ||
        grow(&r->scratch, &r->scratch_cap, sizeof *r->scratch, n))
        return -1;
    r->words = words;
    r->ndims = ndims;
    memset(r->present, 0, words * sizeof *r->present);
    memset(r->dirty, 0, words * sizeof *r->dirty);
    return 0;
}

/* Marks dim dirty (to be reduced in this pass) and present; zeroes its counts the first
   time this pass sees it. */
static inline dim_slot_t *touch(ac_resolver_t *r, uint32_t dim)
{
    uint64_t bit = 1ull << (dim & 63);
    dim_slot_t *slot = &r->slots[dim];
    if (!(r->dirty[dim >> 6] & bit)) {
        r->dirty[dim >> 6] |= bit;
        r->present[dim >> 6] |= bit;
        memset(slot, 0, sizeof *slot);
    }
    return slot;
}

/* Counts, per dimension, the items of each (section, bucket) and the caps, and marks
   every dimension met dirty (to be reduced) and present. */
static void count_items(ac_resolver_t *r, const ac_request_t *req)
{
    const ac_contribution_t *restrict contribs = req->contribs.data;
    const ac_cap_t *restrict caps = req->caps.data;
    const size_t nc = req->contribs.count, nk = req->caps.count;
    dim_slot_t *restrict slots = r->slots;
    if (r->ndims <= 2 * (nc + nk)) {
        /* Few dimensions for the items: zero every slot at once rather than test each
           item's dimension; the bitmaps are filled from the counts after. */
        memset(slots, 0, r->ndims * sizeof *slots);
        for (size_t i = 0; i < nc; i++)
            slots[contribs[i].dim].n[SLOT(contribs[i].section, contribs[i].bucket)]++;
        for (size_t i = 0; i < nk; i++)
            slots[caps[i].dim].n[SLOT_CAPS]++;
        for (uint32_t dim = 0; dim < r->ndims; dim++) {
            const uint32_t *n = slots[dim].n;
            if (n[0] | n[1] | n[2] | n[3] | n[4] | n[5] | n[6] | n[7] | n[8]) {
                r->dirty[dim >> 6] |= 1ull << (dim & 63);
                r->present[dim >> 6] |= 1ull << (dim & 63);
            }
        }
        return;
    }
    for (size_t i = 0; i < nc; i++)
        touch(r, contribs[i].dim)->n[SLOT(contribs[i].section, contribs[i].bucket)]++;
    for (size_t i = 0; i < nk; i++)
        touch(r, caps[i].dim)->n[SLOT_CAPS]++;
}

/* Lays the dirty dimensions' slices out one after the other (contributions by section
   and bucket, in [0, contributions); caps after), and lists them in r->order, id order. Bucket
   slices are contiguous in bucket order, so once each is in order the whole section is. */
static size_t slice_items(ac_resolver_t *r, const ac_request_t *req)
{
    size_t pos = 0, cpos = req->contribs.count, n = 0;
    for (size_t w = 0; w < r->words; w++)
        for (uint64_t bits = r->dirty[w]; bits; bits &= bits - 1) {
            uint32_t dim = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            dim_slot_t *s = &r->slots[dim];
            for (int k = 0; k < SLOT_CAPS; k++) {
                s->off[k] = (uint32_t)pos;
                pos += s->n[k];
            }
            s->off[SLOT_CAPS] = (uint32_t)cpos;
            cpos += s->n[SLOT_CAPS];
            r->order[n++] = dim;
        }
    return n;
}

/* Scatters the sort items of the contributions and caps into their slices. */
static void scatter_items(ac_resolver_t *r, const ac_request_t *req)
{
    const ac_contribution_t *restrict contribs = req->contribs.data;
    const ac_cap_t *restrict caps = req->caps.data;
    const size_t nc = req->contribs.count, nk = req->caps.count;
    const uint32_t *restrict rank = r->rank;
    dim_slot_t *restrict slots = r->slots;
    ac_item_t *restrict items = r->items;
    for (size_t i = 0; i < nc; i++) {
        const ac_contribution_t *c = &contribs[i];
        ac_item_t *it = &items[slots[c->dim].off[SLOT(c->section, c->bucket)]++];
        it->k = ac_contrib_key(c->bucket, c->priority, rank[c->system]);
        it->v = c->value;
    }
    for (size_t i = 0; i < nk; i++) {
        const ac_cap_t *c = &caps[i];
        ac_item_t *it = &items[slots[c->dim].off[SLOT_CAPS]++];
        it->k = ac_cap_key(c->layer, c->priority, rank[c->system], c->kind, c->mode);
        it->v = c->value;
    }
}

/* Reduces each dirty dimension (r->order[0, n)) into r->res: caps, then Primary and
   Derived clamped into them. A NaN is recorded as the dimension's fault, not failed on
   here: a later pass may still replace it (a stage-2 OVERRIDE), and the error must name
   the first faulty dimension in output order, which only the snapshot writer walks. */
static void reduce_dims(ac_resolver_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t dim = r->order[i];
        const dim_slot_t *sl = &r->slots[dim];
        dim_result_t *res = &r->res[dim];
        const ac_rule_t *rule = rule_of(r, dim);
        ac_item_t *ci = r->items + sl->off[SLOT_CAPS] - sl->n[SLOT_CAPS];
        if (sl->n[SLOT_CAPS] > 1 && !ac_caps_grouped(ci, sl->n[SLOT_CAPS]))
            ac_items_sort(ci, sl->n[SLOT_CAPS], r->scratch);
        res->flags = 0;
        res->fault = 0;
        if (ac_caps_reduce(ci, sl->n[SLOT_CAPS], rule, r->reg->policy, &res->min, &res->max)) {
            res->fault = FAULT_CAP;
            continue;
        }
        for (int sec = 0; sec < 2; sec++) {
            const uint32_t *cnt = &sl->n[SLOT(sec, 0)];
            if (!(cnt[0] | cnt[1] | cnt[2] | cnt[3]))
                continue;
            for (int b = 0; b < 4; b++)
                if (cnt[b] > 1)
                    ac_items_sort_unless_sorted(r->items + sl->off[SLOT(sec, b)] - cnt[b], cnt[b],
                                                r->scratch);
            double v = ac_aggregate(r->items + sl->off[SLOT(sec, 0)] - cnt[0], cnt, rule);
            if (isnan(v) && !res->fault)
                res->fault = sec == 0 ? FAULT_PRIMARY : FAULT_DERIVED;
            v = ac_clamp(v, res->min, res->max);
            if (sec == 0) {
                res->primary = v;
                res->flags |= AC_SNAP_PRIMARY;
            } else {
                res->derived = v;
                res->flags |= AC_SNAP_DERIVED;
            }
        }
    }
}

/* Which dimensions a pass reduces. */
typedef enum {
    PASS_ALL,   /* every dimension: a request without stage 2 */
    PASS_STAGE1 /* before stage 2: every dimension laid out and scattered, only those
                    with Primary contributions reduced (stage 2 reads their values); the
                    others wait, pending, for stage2_pass */
} pass_kind_t;

/* The first aggregation into r->res (see pass_kind_t), the systems ranked. */
static int aggregate_pass(ac_resolver_t *r, ac_request_t *req, pass_kind_t kind)
{
    if (rank_systems(r, req) || pass_reserve(r, req) ||
        grow(&r->pending, &r->pending_cap, sizeof *r->pending, r->words))
        return -1;
    count_items(r, req);
    size_t n = slice_items(r, req);
    scatter_items(r, req);
    if (kind == PASS_STAGE1) {
        /* Every dimension is laid out and scattered; only those with Primary
           contributions are reduced now, the others are left pending. */
        memset(r->pending, 0, r->words * sizeof *r->pending);
        r->pending_words = r->words;
        r->ranked = req->systems.count;
        size_t keep = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t dim = r->order[i];
            const uint32_t *c = r->slots[dim].n;
            if (c[0] | c[1] | c[2] | c[3])
                r->order[keep++] = dim;
            else
                r->pending[dim >> 6] |= 1ull << (dim & 63);
        }
        n = keep;
    }
    reduce_dims(r, n);
    return 0;
}

/* The pass after stage 2 when the first pass's ranks still hold (stage 2 added no
   system it had not ranked): the first pass's slices are kept; each dimension that the
   new items (from c0, k0 on) touch gets its old slices copied after them with room for
   its new items, which are scattered there; then the touched and the pending dimensions
   are reduced. 1 when the ranks do not hold, which cannot happen: stage 2's items carry
   the systems of stage-2 subsystems, named before the first pass (run_subsystems); the
   caller fails the request rather than reduce with stale ranks. -1 when out of memory. */
static int stage2_pass(ac_resolver_t *r, ac_request_t *req, size_t c0, size_t k0)
{
    const size_t nc = req->contribs.count, nk = req->caps.count;
    if (req->systems.count != r->ranked)
        return 1;
    const size_t ndims = r->reg->dims.count + req->extra_dims.count;
    const size_t words = (ndims + 63) / 64, had = r->words;
    const size_t base = c0 + k0, most = base + c0 + k0 + (nc - c0) + (nk - k0);
    if (grow(&r->slots, &r->slots_cap, sizeof *r->slots, ndims) ||
        grow(&r->slots2, &r->slots2_cap, sizeof *r->slots2, ndims) ||
        grow(&r->res, &r->res_cap, sizeof *r->res, ndims) ||
        grow(&r->present, &r->present_cap, sizeof *r->present, words) ||
        grow(&r->dirty, &r->dirty_cap, sizeof *r->dirty, words) ||
        grow(&r->pending, &r->pending_cap, sizeof *r->pending, words) ||
        grow(&r->order, &r->order_cap, sizeof *r->order, ndims) ||
        grow(&r->items, &r->items_cap, sizeof *r->items, most) ||
        grow(&r->scratch, &r->scratch_cap, sizeof *r->scratch, most))
        return -1;
    if (words > had) {
        memset(r->present + had, 0, (words - had) * sizeof *r->present);
        memset(r->pending + had, 0, (words - had) * sizeof *r->pending);
    }
    r->words = words;
    r->ndims = ndims;
    memset(r->dirty, 0, words * sizeof *r->dirty);
    const ac_contribution_t *contribs = req->contribs.data;
    const ac_cap_t *caps = req->caps.data;
    /* Count the new items per dimension and slot in slots2; a dimension new to the
       request starts with empty old slices. */
    for (size_t i = 0, n = (nc - c0) + (nk - k0); i < n; i++) {
        bool is_cap = i >= nc - c0;
        uint32_t dim = is_cap ? caps[k0 + i - (nc - c0)].dim : contribs[c0 + i].dim;
        uint64_t bit = 1ull << (dim & 63);
        if (!(r->dirty[dim >> 6] & bit)) {
            r->dirty[dim >> 6] |= bit;
            memset(&r->slots2[dim], 0, sizeof r->slots2[dim]);
            if (!(r->present[dim >> 6] & bit)) {
                r->present[dim >> 6] |= bit;
                memset(&r->slots[dim], 0, sizeof r->slots[dim]);
            }
        }
        const ac_contribution_t *c = is_cap ? NULL : &contribs[c0 + i];
        r->slots2[dim].n[is_cap ? SLOT_CAPS : SLOT(c->section, c->bucket)]++;
    }
    /* Lay each touched dimension out after the first pass's items: old slice, then room
       for the new items (slots2 off: where the next one goes). */
    size_t pos = base, n = 0;
    for (size_t w = 0; w < words; w++)
        for (uint64_t bits = r->dirty[w]; bits; bits &= bits - 1) {
            uint32_t dim = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            dim_slot_t *s = &r->slots[dim], *s2 = &r->slots2[dim];
            for (int k = 0; k <= SLOT_CAPS; k++) {
                uint32_t old_n = s->n[k];
                if (old_n)
                    memcpy(r->items + pos, r->items + s->off[k] - old_n, old_n * sizeof *r->items);
                pos += old_n;
                s2->off[k] = (uint32_t)pos;
                pos += s2->n[k];
                s->n[k] = old_n + s2->n[k];
                s->off[k] = (uint32_t)pos;
            }
            r->order[n++] = dim;
        }
    const uint32_t *rank = r->rank;
    for (size_t i = c0; i < nc; i++) {
        const ac_contribution_t *c = &contribs[i];
        ac_item_t *it = &r->items[r->slots2[c->dim].off[SLOT(c->section, c->bucket)]++];
        it->k = ac_contrib_key(c->bucket, c->priority, rank[c->system]);
        it->v = c->value;
    }
    for (size_t i = k0; i < nk; i++) {
        const ac_cap_t *c = &caps[i];
        ac_item_t *it = &r->items[r->slots2[c->dim].off[SLOT_CAPS]++];
        it->k = ac_cap_key(c->layer, c->priority, rank[c->system], c->kind, c->mode);
        it->v = c->value;
    }
    /* The pending dimensions stage 2 did not touch keep their first-pass slices. */
    for (size_t w = 0; w < r->pending_words; w++)
        for (uint64_t bits = r->pending[w] & ~r->dirty[w]; bits; bits &= bits - 1)
            r->order[n++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
    reduce_dims(r, n);
    return 0;
}

/* The error of a fault recorded by reduce_dims. */
static int fail_fault(ac_error_t *err, const ac_request_t *req, uint32_t dim, uint8_t fault)
{
    return fail_nan(err, req, dim,
                    fault == FAULT_CAP       ? "a cap"
                    : fault == FAULT_PRIMARY ? "the Primary value"
                                             : "the Derived value");
}

/* What the snapshot writer learns of the present dimensions before it lays the block. */
typedef struct {
    uint32_t nreg;      /* registry dimensions; ids above are the request's extras */
    size_t n_dims;      /* dimensions present */
    size_t first_extra; /* index in order of the first extra dimension */
    size_t n_primary;   /* dimensions with a Primary value */
    size_t n_derived;   /* dimensions with a Derived value */
    size_t extra_bytes; /* names of the extra dimensions, NUL included */
} plan_t;

/* Output order into r->order: ids ascending is name order for registry dimensions;
   dimensions under the default rule follow, sorted by name. Counts what the layout
   needs; fails on the first fault in that order. */
static int plan_dims(ac_resolver_t *r, const ac_request_t *req, plan_t *p, ac_error_t *err)
{
    size_t n = 0, first_extra = 0, np = 0, nd = 0, extra_bytes = 0;
    for (size_t w = 0; w < r->words; w++)
        for (uint64_t bits = r->present[w]; bits; bits &= bits - 1) {
            uint32_t dim = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            r->order[n++] = dim;
            if (dim < p->nreg)
                first_extra = n;
        }
    sort_ids_by_name(r->order + first_extra, n - first_extra, &req->extra_dims, p->nreg);
    if (n > 65535)
        return ac_error_set(err, AC_ETOO_LARGE, "", "more than 65535 dimensions");
    for (size_t i = 0; i < n; i++) {
        uint32_t dim = r->order[i];
        const dim_result_t *res = &r->res[dim];
        if (res->fault)
            return fail_fault(err, req, dim, res->fault);
        np += (res->flags & AC_SNAP_PRIMARY) != 0;
        nd += (res->flags & AC_SNAP_DERIVED) != 0;
        if (dim >= p->nreg)
            extra_bytes += ac_symtab_len(&req->extra_dims, dim - p->nreg) + 1;
    }
    p->n_dims = n;
    p->first_extra = first_extra;
    p->n_primary = np;
    p->n_derived = nd;
    p->extra_bytes = extra_bytes;
    return 0;
}

/* Sizes r->out for the snapshot (as if every dimension had a pair of its own: the real
   count is known once they are written) and writes the header's counts into *out; the
   pair table is made ready for n_dims pairs. An error code on failure. */
static int layout_snapshot(ac_resolver_t *r, const ac_request_t *req, const plan_t *p,
                           const ctx_plan_t *plan, ac_snapshot_t **out, ac_error_t *err)
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
    s->version = ac_request_version(req);
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
static void finish_layout(ac_snapshot_t *s, const plan_t *p, const ctx_plan_t *plan)
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

/* Writes the present dimensions' results, in output order, into the block. */
static void write_dims(ac_resolver_t *r, const plan_t *p, ac_snapshot_t *s)
{
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
        const dim_result_t *res = &r->res[dim];
        uint32_t k;
        if (last != UINT32_MAX && memcmp(&pairs[2 * last], &res->min, 8) == 0 &&
            memcmp(&pairs[2 * last + 1], &res->max, 8) == 0)
            k = last;
        else
            k = last = pair_index(r, pairs, &n_pairs, res->min, res->max);
        if (wide) {
            uint16_t k16 = (uint16_t)k;
            memcpy(idx + 2 * i, &k16, 2);
        } else {
            idx[i] = (uint8_t)k;
        }
        uint8_t f = res->flags;
        if (f & AC_SNAP_PRIMARY)
            *pv++ = res->primary;
        if (f & AC_SNAP_DERIVED)
            *dv++ = res->derived;
        if (dim >= p->nreg) {
            dims[i] = (uint16_t)(i - p->first_extra);
            f |= AC_SNAP_EXTRA;
        } else {
            dims[i] = (uint16_t)dim;
        }
        flags[i] = f;
    }
    s->n_pairs = n_pairs;
}

/* The extra dimensions' names, in output order, from strings + *str_off on. */
static void write_extra_names(const ac_resolver_t *r, const ac_request_t *req, const plan_t *p,
                              ac_snapshot_t *s, uint32_t *str_off)
{
    char *names = (char *)s + s->names_off;
    char *strings = names + 4 * (size_t)s->n_extra;
    for (size_t i = p->first_extra; i < p->n_dims; i++) {
        uint32_t local = r->order[i] - p->nreg, len = ac_symtab_len(&req->extra_dims, local);
        memcpy(names + 4 * (i - p->first_extra), str_off, 4);
        memcpy(strings + *str_off, ac_symtab_str(&req->extra_dims, local), len + 1);
        *str_off += len + 1;
    }
}

/* The snapshot of r->res and the request's context packs, into r->out. */
static int write_snapshot(ac_resolver_t *r, const ac_request_t *req, const ac_snapshot_t **snap,
                          ac_error_t *err)
{
    plan_t p = {.nreg = r->reg->dims.count};
    int rc = plan_dims(r, req, &p, err);
    if (rc)
        return rc;
    ctx_plan_t plan;
    if (plan_contexts(r, req, &plan))
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    if (plan.n_names > 65535)
        return ac_error_set(err, AC_ETOO_LARGE, "", "more than 65535 contexts");
    ac_snapshot_t *s;
    rc = layout_snapshot(r, req, &p, &plan, &s, err);
    if (rc)
        return rc;
    write_dims(r, &p, s);
    finish_layout(s, &p, &plan);
    uint32_t str_off = 0;
    write_extra_names(r, req, &p, s, &str_off);
    char *strings = (char *)s + s->names_off + 4 * (size_t)s->n_extra;
    if (plan.n_names &&
        write_contexts(r, req, &plan, (char *)s + ac_snap_context_off(s), strings, &str_off))
        return ac_error_set(err, AC_ENON_FINITE, "Context",
                            "a merged context pack overflowed to infinity");
    *snap = s;
    return 0;
}

/* Name order of two extra dimensions (ids above nreg). */
static int cmp_extra(const ac_request_t *req, uint32_t a, uint32_t b, uint32_t nreg)
{
    const ac_symtab_t *t = &req->extra_dims;
    return ac_name_cmp(ac_symtab_str(t, a - nreg), ac_symtab_len(t, a - nreg),
                       ac_symtab_str(t, b - nreg), ac_symtab_len(t, b - nreg));
}

/* After a first pass before stage 2: fails on the first fault of a dimension with a
   Primary value, in output order (stage 2 reads those values; Derived ones and caps of
   dimensions without Primary contributions may still be repaired by stage 2), and keeps
   the capped Primary values by registry id. */
static int keep_stage1(ac_resolver_t *r, const ac_request_t *req, ac_error_t *err)
{
    size_t n = r->reg->dims.count;
    if (grow(&r->stage1, &r->stage1_cap, sizeof *r->stage1, n) ||
        grow(&r->stage1_has, &r->stage1_has_cap, sizeof *r->stage1_has, n))
        return ac_error_set(err, AC_ENOMEM, "", "out of memory");
    memset(r->stage1_has, 0, n);
    const uint32_t nreg = r->reg->dims.count;
    /* Output order: registry ids ascending, then extras by name. */
    uint32_t first_fault = UINT32_MAX;
    uint32_t first_extra_fault = UINT32_MAX;
    for (size_t w = 0; w < r->words; w++)
        for (uint64_t bits = r->present[w]; bits; bits &= bits - 1) {
            uint32_t dim = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            const dim_result_t *res = &r->res[dim];
            const dim_slot_t *sl = &r->slots[dim];
            bool has_primary = (sl->n[0] | sl->n[1] | sl->n[2] | sl->n[3]) != 0;
            if (!has_primary)
                continue;
            if (res->fault == FAULT_CAP || res->fault == FAULT_PRIMARY) {
                if (dim < nreg && first_fault == UINT32_MAX)
                    first_fault = dim;
                if (dim >= nreg && (first_extra_fault == UINT32_MAX ||
                                    cmp_extra(req, dim, first_extra_fault, nreg) < 0))
                    first_extra_fault = dim;
            }
            if (dim < nreg) {
                r->stage1[dim] = res->primary;
                r->stage1_has[dim] = 1;
            }
        }
    if (first_fault == UINT32_MAX)
        first_fault = first_extra_fault;
    if (first_fault != UINT32_MAX)
        return fail_fault(err, req, first_fault, r->res[first_fault].fault);
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
    if (rc == 0 && aggregate_pass(r, req, stage2 ? PASS_STAGE1 : PASS_ALL))
        rc = ac_error_set(err, AC_ENOMEM, "", "out of memory");
    size_t c0 = req->contribs.count, k0 = req->caps.count;
    if (rc == 0 && stage2) {
        /* Stage 2 reads the capped result of stage 1. */
        rc = keep_stage1(r, req, err);
        if (rc == 0)
            rc = run_subsystems(r, req, 2, NULL, err);
    }
    if (rc) {
        *snap = NULL;
        ac_req_truncate_to_inline(req);
        return rc;
    }
    /* Only the dimensions that stage 2 touched, or the first pass left, are reduced. */
    if (stage2) {
        int kept = stage2_pass(r, req, c0, k0);
        if (kept < 0)
            return ac_error_set(err, AC_ENOMEM, "", "out of memory");
        if (kept > 0) /* never: stage 2's systems are named before the first pass */
            return ac_error_set(err, AC_EINTERNAL, "", "stage 2 brought a system not ranked");
    }
    return write_snapshot(r, req, snap, err);
}

size_t ac_resolve_batch(ac_resolver_t *r, ac_request_t *const *reqs, size_t n, ac_batch_fn *fn,
                        void *arg)
{
    /* What a batch shares: the system ranks while consecutive items name the same
       systems (rank_systems checks the names). A software prefetch of the next item's
       arrays was tried and dropped: 140 prefetches cost more instructions than the
       hardware's own sequential prefetch leaves to win. */
    size_t failed = 0;
    r->in_batch = true;
    r->rank_valid = false;
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
    r->in_batch = false;
    r->rank_valid = false;
    return failed;
}
