/*  tables.c - loading worker-side subsystems from YAML (see subsystems.h): compiled
    tables, stage-2 formulas, and C plugins loaded with dlopen. */
#include "actorcore/subsystems.h"

#include <dirent.h>
#include <dlfcn.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/registry_impl.h"
#include "core/request_impl.h"
#include "core/yamldoc.h"

/* ---- compiled forms ---- */

typedef struct {
    uint8_t is_cap;       /* 1: a cap contribution */
    uint8_t section;      /* ac_section_t (contributions) */
    uint8_t bucket;       /* ac_bucket_t (contributions) */
    uint8_t mode;         /* ac_cap_mode_t (caps) */
    uint8_t kind;         /* ac_cap_kind_t (caps) */
    uint8_t layer;        /* position in the layer order (caps) */
    uint32_t dim;         /* registry id */
    int32_t priority;     /* the entry's, else the subsystem's */
    int32_t per;          /* index of the actor field it scales by, -1 for none */
    double value;         /* before scaling */
    const char *realm;    /* fixed realm of a REALM cap, or NULL */
} entry_t;

typedef struct {
    uint32_t first, count;  /* its entries in the table's entry array: contributions first */
    uint32_t n_contrib;     /* how many of them are contributions (the rest are caps) */
    uint32_t n_primary;     /* how many contributions are Primary */
} row_t;

enum { SRC_NONE, SRC_ID, SRC_NAME, SRC_RACE, SRC_DATA };

typedef struct {
    int key_src;             /* where the row name comes from (SRC_*) */
    char *key_data;          /* data.<key_data> */
    char *each_data;         /* each element of data.<each_data>, when set */
    bool realm_from_key;     /* REALM caps take the row name as realm */
    ac_symtab_t rows;        /* row name -> index */
    row_t *row;              /* [rows.count] */
    entry_t *entries;        /* all rows' entries */
    size_t n_entries;
    char **per;              /* actor fields entries scale by ("data.level", "age") */
    size_t n_per;
} table_t;

typedef struct {
    uint32_t dim;            /* derived dimension */
    uint8_t bucket;          /* its bucket */
    int32_t priority;        /* its priority */
    double constant;         /* added to the terms */
    uint32_t first, count;   /* its terms */
} formula_t;

typedef struct {
    uint32_t dim;            /* Primary dimension read */
    double coef;             /* its coefficient */
} term_t;

typedef struct {
    formula_t *f;
    size_t n;
    term_t *terms;
} formulas_t;

typedef struct {
    void *dl;                 /* dlopen handle */
    const ac_plugin_t *vt;    /* its vtable */
    void *state;              /* from create */
} plugin_t;

typedef struct {
    int kind;                 /* 0 table, 1 formula, 2 plugin */
    ac_subsystem_t sub;       /* what resolvers register */
    char *id;                 /* owned id string */
    table_t table;
    formulas_t formulas;
    plugin_t plugin;
} item_t;

struct ac_subsystems {
    item_t *items;
    size_t n;
    uint64_t generation;
};

/* ---- actor field access ---- */

static const msgpack_object *data_field(const ac_actor_t *a, const char *key)
{
    if (!a->data)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < a->data->via.map.size; i++) {
        const msgpack_object *k = &a->data->via.map.ptr[i].key;
        if (k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
            return &a->data->via.map.ptr[i].val;
    }
    return NULL;
}

static bool as_number(const msgpack_object *o, double *v)
{
    if (!o)
        return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)o->via.u64; return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)o->via.i64; return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *v = o->via.f64; return true;
    default: return false;
    }
}

/* The numeric actor field "data.x", "age" or "lifespan". */
static bool actor_number(const ac_actor_t *a, const char *field, double *v)
{
    if (strncmp(field, "data.", 5) == 0)
        return as_number(data_field(a, field + 5), v);
    if (strcmp(field, "age") == 0 && a->has_age)
        return *v = a->age, true;
    if (strcmp(field, "lifespan") == 0 && a->has_lifespan)
        return *v = a->lifespan, true;
    return false;
}

/* ---- table contribute ---- */

/* Appends a row's entries in place (they were validated when the table was loaded; only
   the request's limits and overflow after scaling can still fail). */
static int apply_row(const table_t *t, uint32_t row, double mult, const double *per,
                     const char *row_name, ac_output_t *out, ac_error_t *err)
{
    const row_t *r = &t->row[row];
    const entry_t *e = &t->entries[r->first];
    ac_request_t *req = out->req;
    ac_contribution_t *c = r->n_contrib ? ac_req_append_contributions(req, r->n_contrib, err) : NULL;
    if (r->n_contrib && !c)
        return err->code;
    for (uint32_t i = 0; i < r->n_contrib; i++, e++) {
        double v = e->value * mult * (e->per >= 0 ? per[e->per] : 1);
        if (!isfinite(v))
            return ac_error_set(err, AC_ENON_FINITE, "", "row '%s' overflows when scaled", row_name);
        c[i].value = v;
        c[i].dim = e->dim;
        c[i].system = out->system;
        c[i].priority = e->priority;
        c[i].bucket = e->bucket;
        c[i].section = e->section;
        c[i].reserved = 0;
    }
    ac_output_info_t *info = ac_req_current_output(req);
    if (info) {
        info->n_primary += r->n_primary;
        info->n_derived += r->n_contrib - r->n_primary;
    }
    uint32_t n_caps = r->count - r->n_contrib;
    if (!n_caps)
        return 0;
    uint32_t key_realm = AC_NO_ID;
    if (t->realm_from_key &&
        ac_req_string(req, row_name, strlen(row_name), AC_LPATH_STR("realm"), &key_realm, err))
        return err->code;
    ac_cap_t *k = ac_req_append_caps(req, n_caps, err);
    if (!k)
        return err->code;
    for (uint32_t i = 0; i < n_caps; i++, e++) {
        double v = e->value * mult * (e->per >= 0 ? per[e->per] : 1);
        if (!isfinite(v))
            return ac_error_set(err, AC_ENON_FINITE, "", "row '%s' overflows when scaled", row_name);
        uint32_t realm = key_realm;
        if (e->realm && ac_req_string(req, e->realm, strlen(e->realm), AC_LPATH_STR("realm"), &realm, err))
            return err->code;
        k[i] = (ac_cap_t){.value = v, .dim = e->dim, .system = out->system,
                          .priority = e->priority, .realm = realm, .mode = e->mode,
                          .kind = e->kind, .layer = e->layer};
    }
    return 0;
}

static int row_of(const table_t *t, const char *name, size_t len, uint32_t *row, ac_error_t *err)
{
    *row = ac_symtab_find(&t->rows, name, len);
    if (*row == AC_NO_ID)
        return ac_error_set(err, AC_ESCHEMA, "", "no row '%.*s' in the table", (int)(len > 64 ? 64 : len),
                            name);
    return 0;
}

static int table_contribute(void *state, const ac_actor_t *a, ac_output_t *out, ac_error_t *err)
{
    const table_t *t = state;
    double per[16];
    for (size_t i = 0; i < t->n_per; i++)
        if (!actor_number(a, t->per[i], &per[i]))
            return ac_error_set(err, AC_ESCHEMA, "", "actor field %s is missing or not a number",
                                t->per[i]);
    if (t->each_data) {
        const msgpack_object *list = data_field(a, t->each_data);
        if (!list)
            return 0;
        if (list->type != MSGPACK_OBJECT_ARRAY)
            return ac_error_set(err, AC_ESCHEMA, "", "data.%s is not a list", t->each_data);
        for (uint32_t i = 0; i < list->via.array.size; i++) {
            const msgpack_object *el = &list->via.array.ptr[i], *name = el;
            double stacks = 1;
            if (el->type == MSGPACK_OBJECT_MAP) {
                name = NULL;
                for (uint32_t k = 0; k < el->via.map.size; k++) {
                    const msgpack_object *key = &el->via.map.ptr[k].key;
                    if (key->via.str.size == 2 && memcmp(key->via.str.ptr, "id", 2) == 0)
                        name = &el->via.map.ptr[k].val;
                    else if (key->via.str.size == 6 && memcmp(key->via.str.ptr, "stacks", 6) == 0 &&
                             (!as_number(&el->via.map.ptr[k].val, &stacks) || stacks < 0 ||
                              stacks > 1e6))
                        return ac_error_set(err, AC_ESCHEMA, "", "data.%s[%u].stacks is not a count",
                                            t->each_data, i);
                }
            }
            if (!name || name->type != MSGPACK_OBJECT_STR)
                return ac_error_set(err, AC_ESCHEMA, "", "data.%s[%u] names no row", t->each_data, i);
            uint32_t row;
            int rc = row_of(t, name->via.str.ptr, name->via.str.size, &row, err);
            if (rc == 0)
                rc = apply_row(t, row, stacks, per, ac_symtab_str(&t->rows, row), out, err);
            if (rc)
                return rc;
        }
        return 0;
    }
    const char *key = NULL;
    size_t len = 0;
    if (t->key_src == SRC_RACE && a->race)
        key = a->race;
    else if (t->key_src == SRC_NAME && a->name)
        key = a->name;
    else if (t->key_src == SRC_ID)
        key = a->id;
    else if (t->key_src == SRC_DATA) {
        const msgpack_object *o = data_field(a, t->key_data);
        if (o && o->type != MSGPACK_OBJECT_STR)
            return ac_error_set(err, AC_ESCHEMA, "", "data.%s is not a string", t->key_data);
        if (o) {
            key = o->via.str.ptr;
            len = o->via.str.size;
        }
    }
    if (!key)
        return 0; /* the actor has no such field: this table has nothing to say */
    if (!len)
        len = strlen(key);
    uint32_t row;
    int rc = row_of(t, key, len, &row, err);
    return rc ? rc : apply_row(t, row, 1, per, ac_symtab_str(&t->rows, row), out, err);
}

static int formula_contribute(void *state, const ac_actor_t *a, ac_output_t *out, ac_error_t *err)
{
    (void)a;
    const formulas_t *fs = state;
    for (size_t i = 0; i < fs->n; i++) {
        const formula_t *f = &fs->f[i];
        double v = f->constant;
        for (uint32_t k = f->first; k < f->first + f->count; k++) {
            double p;
            ac_output_primary(out, fs->terms[k].dim, &p);
            v += fs->terms[k].coef * p;
        }
        int rc = ac_output_add_id(out, AC_DERIVED, f->dim, f->bucket, v, f->priority, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- loading ---- */

typedef struct {
    ac_yamldoc_t *d;
    const ac_registry_t *reg;
    ac_error_t *err;
} ld_t;

static const char *const s_buckets[] = {"FLAT", "MULT", "POST_ADD", "OVERRIDE"};
static const char *const s_modes[] = {"BASELINE", "ADDITIVE", "OVERRIDE", "HARD_MAX", "HARD_MIN"};

static int find_name(yaml_node_t *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (ac_yaml_is(v, names[i]))
            return i;
    return -1;
}

static int dim_of(ld_t *l, yaml_node_t *v, const char *path, uint32_t *dim)
{
    const char *s;
    size_t len;
    int rc = ac_yaml_string(l->d, v, path, &s, &len, l->err);
    if (rc)
        return rc;
    int id = ac_registry_dimension_id(l->reg, s, len);
    if (id < 0)
        return ac_yaml_fail(l->d, v, path, l->err, "dimension '%.*s' is not in the combiner registry",
                            (int)(len > 64 ? 64 : len), s);
    *dim = (uint32_t)id;
    return 0;
}

static int32_t per_index(table_t *t, const char *field)
{
    for (size_t i = 0; i < t->n_per; i++)
        if (strcmp(t->per[i], field) == 0)
            return (int32_t)i;
    if (t->n_per >= 16)
        return -1;
    t->per = realloc(t->per, (t->n_per + 1) * sizeof *t->per);
    t->per[t->n_per] = strdup(field);
    return (int32_t)t->n_per++;
}

static int load_entry(ld_t *l, table_t *t, yaml_node_t *n, bool is_cap, ac_section_t section,
                      int32_t default_prio, const char *path, entry_t *e)
{
    int rc = ac_yaml_expect(l->d, n, YAML_MAPPING_NODE, path, l->err);
    if (rc)
        return rc;
    memset(e, 0, sizeof *e);
    e->is_cap = is_cap;
    e->section = (uint8_t)section;
    e->priority = default_prio;
    e->per = -1;
    bool have_dim = false, have_value = false, have_bucket = false, have_mode = false, have_kind = false;
    int layer = ac_registry_layer_id(l->reg, "TOTAL", 5);
    yaml_node_t *realm_node = NULL;
    char sub[AC_ERROR_PATH_MAX];
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ac_yamldoc_node(l->d, p->key), *v = ac_yamldoc_node(l->d, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?";
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        if (ac_yaml_is(k, "dimension")) {
            rc = dim_of(l, v, sub, &e->dim);
            have_dim = true;
        } else if (ac_yaml_is(k, "value")) {
            rc = ac_yaml_double(l->d, v, sub, &e->value, l->err);
            have_value = true;
        } else if (ac_yaml_is(k, "priority")) {
            long long prio;
            rc = ac_yaml_int(l->d, v, sub, &prio, l->err);
            if (!rc && (prio < INT32_MIN || prio > INT32_MAX))
                rc = ac_yaml_fail(l->d, v, sub, l->err, "priority out of range");
            e->priority = (int32_t)prio;
        } else if (ac_yaml_is(k, "per")) {
            if (!(v->type == YAML_SCALAR_NODE &&
                  (strncmp((const char *)v->data.scalar.value, "data.", 5) == 0 || ac_yaml_is(v, "age") ||
                   ac_yaml_is(v, "lifespan"))))
                rc = ac_yaml_fail(l->d, v, sub, l->err, "per names data.<field>, age or lifespan");
            else if ((e->per = per_index(t, (const char *)v->data.scalar.value)) < 0)
                rc = ac_yaml_fail(l->d, v, sub, l->err, "at most 16 scaling fields per table");
        } else if (!is_cap && ac_yaml_is(k, "bucket")) {
            int b = find_name(v, s_buckets, 4);
            rc = b < 0 ? ac_yaml_fail(l->d, v, sub, l->err, "unknown bucket") : 0;
            e->bucket = (uint8_t)(b < 0 ? 0 : b);
            have_bucket = true;
        } else if (is_cap && ac_yaml_is(k, "mode")) {
            int m = find_name(v, s_modes, 5);
            rc = m < 0 ? ac_yaml_fail(l->d, v, sub, l->err, "unknown mode") : 0;
            e->mode = (uint8_t)(m < 0 ? 0 : m);
            have_mode = true;
        } else if (is_cap && ac_yaml_is(k, "kind")) {
            static const char *const kinds[] = {"max", "min"};
            int kd = find_name(v, kinds, 2);
            rc = kd < 0 ? ac_yaml_fail(l->d, v, sub, l->err, "kind is max or min") : 0;
            e->kind = (uint8_t)(kd < 0 ? 0 : kd);
            have_kind = true;
        } else if (is_cap && ac_yaml_is(k, "scope")) {
            const char *s;
            size_t len;
            rc = ac_yaml_string(l->d, v, sub, &s, &len, l->err);
            if (!rc && (layer = ac_registry_layer_id(l->reg, s, len)) < 0)
                rc = ac_yaml_fail(l->d, v, sub, l->err, "layer '%.*s' is not in the cap layer registry",
                                  (int)len, s);
        } else if (is_cap && ac_yaml_is(k, "realm")) {
            realm_node = v;
        } else {
            rc = ac_yaml_fail(l->d, k, path, l->err, "unknown field");
        }
        if (rc)
            return rc;
    }
    if (!have_dim || !have_value || (!is_cap && !have_bucket) || (is_cap && (!have_mode || !have_kind)))
        return ac_yaml_fail(l->d, n, path, l->err, is_cap ? "needs dimension, mode, kind and value"
                                                          : "needs dimension, bucket and value");
    if (is_cap && ((e->mode == AC_CAP_HARD_MAX && e->kind != AC_KIND_MAX) ||
                   (e->mode == AC_CAP_HARD_MIN && e->kind != AC_KIND_MIN)))
        return ac_yaml_fail(l->d, n, path, l->err, "HARD_MAX needs kind max, HARD_MIN kind min");
    if (layer < 0)
        return ac_yaml_fail(l->d, n, path, l->err, "no scope, and the registry has no TOTAL layer");
    e->layer = (uint8_t)layer;
    if (realm_node) {
        snprintf(sub, sizeof sub, "%s.realm", path);
        const char *s;
        size_t len;
        if ((rc = ac_yaml_string(l->d, realm_node, sub, &s, &len, l->err)))
            return rc;
        e->realm = ac_arena_strdup(&t->rows.arena, s, len);
    }
    if (is_cap && !e->realm && !t->realm_from_key &&
        strcmp(ac_registry_layer_name(l->reg, e->layer), "REALM") == 0)
        return ac_yaml_fail(l->d, n, path, l->err, "scope REALM needs realm (or realm_from_key)");
    return 0;
}

static int load_table(ld_t *l, item_t *it, yaml_node_t *rows_node, int32_t prio)
{
    table_t *t = &it->table;
    int rc = ac_yaml_expect(l->d, rows_node, YAML_MAPPING_NODE, "rows", l->err);
    if (rc)
        return rc;
    size_t nrows = (size_t)(rows_node->data.mapping.pairs.top - rows_node->data.mapping.pairs.start);
    t->row = calloc(nrows ? nrows : 1, sizeof *t->row);
    size_t cap = 64;
    t->entries = malloc(cap * sizeof *t->entries);
    for (yaml_node_pair_t *p = rows_node->data.mapping.pairs.start; p < rows_node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ac_yamldoc_node(l->d, p->key), *v = ac_yamldoc_node(l->d, p->value);
        const char *name;
        size_t len;
        if ((rc = ac_yaml_string(l->d, k, "rows", &name, &len, l->err)))
            return rc;
        char path[AC_ERROR_PATH_MAX];
        snprintf(path, sizeof path, "rows.%.*s", (int)(len > 64 ? 64 : len), name);
        if (ac_symtab_find(&t->rows, name, len) != AC_NO_ID)
            return ac_yaml_fail(l->d, k, path, l->err, "row listed twice");
        uint32_t r = ac_symtab_intern(&t->rows, name, len);
        if ((rc = ac_yaml_expect(l->d, v, YAML_MAPPING_NODE, path, l->err)))
            return rc;
        t->row[r].first = (uint32_t)t->n_entries;
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
            yaml_node_t *lk = ac_yamldoc_node(l->d, q->key), *lv = ac_yamldoc_node(l->d, q->value);
            bool is_cap = ac_yaml_is(lk, "caps");
            ac_section_t section = ac_yaml_is(lk, "derived") ? AC_DERIVED : AC_PRIMARY;
            if (!is_cap && !ac_yaml_is(lk, "primary") && !ac_yaml_is(lk, "derived"))
                return ac_yaml_fail(l->d, lk, path, l->err, "expected primary, derived or caps");
            char lpath[AC_ERROR_PATH_MAX];
            snprintf(lpath, sizeof lpath, "%s.%s", path, (const char *)lk->data.scalar.value);
            if ((rc = ac_yaml_expect(l->d, lv, YAML_SEQUENCE_NODE, lpath, l->err)))
                return rc;
            size_t idx = 0;
            for (yaml_node_item_t *e = lv->data.sequence.items.start; e < lv->data.sequence.items.top; e++, idx++) {
                if (t->n_entries == cap) {
                    cap *= 2;
                    t->entries = realloc(t->entries, cap * sizeof *t->entries);
                }
                char epath[AC_ERROR_PATH_MAX];
                snprintf(epath, sizeof epath, "%s[%zu]", lpath, idx);
                if ((rc = load_entry(l, t, ac_yamldoc_node(l->d, *e), is_cap, section, prio, epath,
                                     &t->entries[t->n_entries])))
                    return rc;
                t->n_entries++;
            }
        }
        t->row[r].count = (uint32_t)t->n_entries - t->row[r].first;
        /* Contributions first (Primary before Derived), caps after, each group in file
           order: apply_row appends each group in one piece. */
        entry_t *rows_e = t->entries + t->row[r].first;
        size_t cnt = t->row[r].count, at = 0;
        entry_t *tmp = malloc((cnt ? cnt : 1) * sizeof *tmp);
        for (int pass = 0; pass < 3; pass++)
            for (size_t i = 0; i < cnt; i++) {
                const entry_t *x = &rows_e[i];
                int group = x->is_cap ? 2 : x->section == AC_PRIMARY ? 0 : 1;
                if (group == pass)
                    tmp[at++] = *x;
            }
        memcpy(rows_e, tmp, cnt * sizeof *tmp);
        free(tmp);
        for (size_t i = 0; i < cnt; i++) {
            t->row[r].n_contrib += !rows_e[i].is_cap;
            t->row[r].n_primary += !rows_e[i].is_cap && rows_e[i].section == AC_PRIMARY;
        }
    }
    it->sub.contribute = table_contribute;
    it->sub.state = t;
    return 0;
}

static int cmp_terms(const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    return x->dim < y->dim ? -1 : x->dim > y->dim;
}

static int load_formulas(ld_t *l, item_t *it, yaml_node_t *n, int32_t prio)
{
    formulas_t *fs = &it->formulas;
    int rc = ac_yaml_expect(l->d, n, YAML_MAPPING_NODE, "formulas", l->err);
    if (rc)
        return rc;
    size_t nf = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start), nt = 0;
    fs->f = calloc(nf ? nf : 1, sizeof *fs->f);
    fs->terms = calloc(1, sizeof *fs->terms);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ac_yamldoc_node(l->d, p->key), *v = ac_yamldoc_node(l->d, p->value);
        char path[AC_ERROR_PATH_MAX], sub[AC_ERROR_PATH_MAX];
        snprintf(path, sizeof path, "formulas.%.64s",
                 k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?");
        formula_t *f = &fs->f[fs->n];
        f->priority = prio;
        f->first = (uint32_t)nt;
        if ((rc = dim_of(l, k, path, &f->dim)) || (rc = ac_yaml_expect(l->d, v, YAML_MAPPING_NODE, path, l->err)))
            return rc;
        bool have_terms = false;
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
            yaml_node_t *fk = ac_yamldoc_node(l->d, q->key), *fv = ac_yamldoc_node(l->d, q->value);
            snprintf(sub, sizeof sub, "%s.%.32s", path,
                     fk->type == YAML_SCALAR_NODE ? (const char *)fk->data.scalar.value : "?");
            if (ac_yaml_is(fk, "terms")) {
                if ((rc = ac_yaml_expect(l->d, fv, YAML_MAPPING_NODE, sub, l->err)))
                    return rc;
                for (yaml_node_pair_t *t = fv->data.mapping.pairs.start; t < fv->data.mapping.pairs.top; t++) {
                    yaml_node_t *tk = ac_yamldoc_node(l->d, t->key), *tv = ac_yamldoc_node(l->d, t->value);
                    char tpath[AC_ERROR_PATH_MAX];
                    snprintf(tpath, sizeof tpath, "%s.%.64s", sub,
                             tk->type == YAML_SCALAR_NODE ? (const char *)tk->data.scalar.value : "?");
                    fs->terms = realloc(fs->terms, (nt + 1) * sizeof *fs->terms);
                    if ((rc = dim_of(l, tk, tpath, &fs->terms[nt].dim)) ||
                        (rc = ac_yaml_double(l->d, tv, tpath, &fs->terms[nt].coef, l->err)))
                        return rc;
                    nt++;
                }
                have_terms = true;
            } else if (ac_yaml_is(fk, "constant")) {
                rc = ac_yaml_double(l->d, fv, sub, &f->constant, l->err);
            } else if (ac_yaml_is(fk, "bucket")) {
                int b = find_name(fv, s_buckets, 4);
                rc = b < 0 ? ac_yaml_fail(l->d, fv, sub, l->err, "unknown bucket") : 0;
                f->bucket = (uint8_t)(b < 0 ? 0 : b);
            } else if (ac_yaml_is(fk, "priority")) {
                long long pr;
                rc = ac_yaml_int(l->d, fv, sub, &pr, l->err);
                f->priority = (int32_t)pr;
            } else {
                rc = ac_yaml_fail(l->d, fk, path, l->err, "unknown field (expected terms, constant, bucket, priority)");
            }
            if (rc)
                return rc;
        }
        if (!have_terms)
            return ac_yaml_fail(l->d, v, path, l->err, "a formula needs terms");
        f->count = (uint32_t)nt - f->first;
        /* Terms in dimension order: the sum's order never depends on the file's. */
        qsort(fs->terms + f->first, f->count, sizeof *fs->terms, cmp_terms);
        fs->n++;
    }
    it->sub.contribute = formula_contribute;
    it->sub.state = fs;
    it->sub.stage = 2;
    return 0;
}

/* A YAML node as JSON (scalars that read as numbers or booleans become such). */
static json_t *yaml_to_json(ac_yamldoc_t *d, yaml_node_t *n, int depth)
{
    if (!n || depth > 32)
        return json_null();
    if (n->type == YAML_MAPPING_NODE) {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = ac_yamldoc_node(d, p->key);
            if (k && k->type == YAML_SCALAR_NODE)
                json_object_set_new(o, (const char *)k->data.scalar.value,
                                    yaml_to_json(d, ac_yamldoc_node(d, p->value), depth + 1));
        }
        return o;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
            json_array_append_new(a, yaml_to_json(d, ac_yamldoc_node(d, *i), depth + 1));
        return a;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        char *end;
        double v = strtod(s, &end);
        if (*s && !*end && isfinite(v))
            return strpbrk(s, ".eE") ? json_real(v) : json_integer((json_int_t)v);
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
            return json_boolean(strcmp(s, "true") == 0);
    }
    return json_string(s);
}

static int plugin_contribute(void *state, const ac_actor_t *a, ac_output_t *out, ac_error_t *err)
{
    const plugin_t *p = state;
    return p->vt->contribute(p->state, a, out, err);
}

static uint64_t hash_file(uint64_t h, const char *path)
{
    size_t len;
    ac_error_t err;
    char *bytes = ac_read_file(path, 1u << 30, &len, &err);
    if (bytes) {
        h = ac_hash_bytes(h, bytes, len);
        free(bytes);
    }
    return h;
}

static int load_plugin(ld_t *l, item_t *it, const char *dir, yaml_node_t *lib, yaml_node_t *cfg,
                       uint64_t *gen)
{
    const char *s;
    size_t len;
    int rc = ac_yaml_string(l->d, lib, "library", &s, &len, l->err);
    if (rc)
        return rc;
    char path[4096];
    if (s[0] == '/')
        snprintf(path, sizeof path, "%.*s", (int)len, s);
    else
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)len, s);
    plugin_t *p = &it->plugin;
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl)
        return ac_yaml_fail(l->d, lib, "library", l->err, "cannot load %s: %s", path, dlerror());
    ac_plugin_entry_t entry;
    *(void **)&entry = dlsym(p->dl, AC_PLUGIN_SYMBOL);
    if (!entry)
        return ac_yaml_fail(l->d, lib, "library", l->err, "%s exports no %s", path, AC_PLUGIN_SYMBOL);
    p->vt = entry();
    if (!p->vt || p->vt->abi != AC_SUBSYSTEM_ABI)
        return ac_yaml_fail(l->d, lib, "library", l->err, "%s speaks subsystem ABI %u, this build %u",
                            path, p->vt ? p->vt->abi : 0, AC_SUBSYSTEM_ABI);
    if (!p->vt->contribute)
        return ac_yaml_fail(l->d, lib, "library", l->err, "%s has no contribute", path);
    json_t *j = yaml_to_json(l->d, cfg, 0);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(j);
    ac_error_t perr;
    ac_error_clear(&perr);
    p->state = p->vt->create ? p->vt->create(text ? text : "null", &perr) : NULL;
    *gen = ac_hash_str(hash_file(*gen, path), text ? text : "", text ? strlen(text) : 0);
    free(text);
    if (p->vt->create && !p->state)
        return ac_yaml_fail(l->d, cfg ? cfg : lib, "config", l->err, "plugin %s refused its config: %s",
                            p->vt->name ? p->vt->name : "?", perr.message);
    it->sub.contribute = plugin_contribute;
    it->sub.state = p;
    return 0;
}

static int load_file(ac_subsystems_t *set, const ac_registry_t *reg, const char *dir,
                     const char *file, ac_error_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    char *text = ac_read_file(path, AC_CONFIG_MAX_BYTES, &len, err);
    if (!text)
        return err->code;
    set->generation = ac_hash_bytes(ac_hash_str(set->generation, file, strlen(file)), text, len);
    ac_yamldoc_t d;
    int rc = ac_yamldoc_parse(&d, path, text, len, err);
    item_t *it = &set->items[set->n];
    memset(it, 0, sizeof *it);
    ac_symtab_init(&it->table.rows);
    ld_t l = {&d, reg, err};
    yaml_node_t *root = rc ? NULL : ac_yamldoc_root(&d);
    if (!rc)
        rc = ac_yaml_expect(&d, root, YAML_MAPPING_NODE, "", err);
    yaml_node_t *id = NULL, *kind = NULL, *rows = NULL, *formulas = NULL, *lib = NULL, *cfg = NULL;
    long long prio = 0, budget = 0;
    bool optional = false;
    for (yaml_node_pair_t *p = rc ? NULL : root->data.mapping.pairs.start;
         p && p < root->data.mapping.pairs.top && !rc; p++) {
        yaml_node_t *k = ac_yamldoc_node(&d, p->key), *v = ac_yamldoc_node(&d, p->value);
        if (ac_yaml_is(k, "id"))
            id = v;
        else if (ac_yaml_is(k, "kind"))
            kind = v;
        else if (ac_yaml_is(k, "priority"))
            rc = ac_yaml_int(&d, v, "priority", &prio, err);
        else if (ac_yaml_is(k, "rows"))
            rows = v;
        else if (ac_yaml_is(k, "formulas"))
            formulas = v;
        else if (ac_yaml_is(k, "library"))
            lib = v;
        else if (ac_yaml_is(k, "config"))
            cfg = v;
        else if (ac_yaml_is(k, "optional"))
            rc = ac_yaml_bool(&d, v, "optional", &optional, err);
        else if (ac_yaml_is(k, "budget_us"))
            rc = ac_yaml_int(&d, v, "budget_us", &budget, err);
        else if (ac_yaml_is(k, "realm_from_key"))
            rc = ac_yaml_bool(&d, v, "realm_from_key", &it->table.realm_from_key, err);
        else if (ac_yaml_is(k, "key") || ac_yaml_is(k, "each")) {
            const char *s;
            size_t sl;
            const char *field = ac_yaml_is(k, "key") ? "key" : "each";
            rc = ac_yaml_string(&d, v, field, &s, &sl, err);
            if (!rc && field[0] == 'e') {
                if (strncmp(s, "data.", 5) != 0 || sl <= 5)
                    rc = ac_yaml_fail(&d, v, "each", err, "each names a list data.<field>");
                else
                    it->table.each_data = strndup(s + 5, sl - 5);
            } else if (!rc) {
                if (strcmp(s, "race") == 0)
                    it->table.key_src = SRC_RACE;
                else if (strcmp(s, "name") == 0)
                    it->table.key_src = SRC_NAME;
                else if (strcmp(s, "id") == 0)
                    it->table.key_src = SRC_ID;
                else if (strncmp(s, "data.", 5) == 0 && sl > 5) {
                    it->table.key_src = SRC_DATA;
                    it->table.key_data = strndup(s + 5, sl - 5);
                } else
                    rc = ac_yaml_fail(&d, v, "key", err, "key is race, name, id or data.<field>");
            }
        } else
            rc = ac_yaml_fail(&d, k, "", err, "unknown field");
    }
    const char *ids = NULL;
    size_t idlen = 0;
    if (!rc && !id)
        rc = ac_yaml_fail(&d, root, "id", err, "a subsystem needs an id");
    if (!rc)
        rc = ac_yaml_string(&d, id, "id", &ids, &idlen, err);
    if (!rc && (idlen == 0 || idlen > 128))
        rc = ac_yaml_fail(&d, id, "id", err, "an id has 1 to 128 bytes");
    for (size_t i = 0; !rc && i < set->n; i++)
        if (strlen(set->items[i].id) == idlen && memcmp(set->items[i].id, ids, idlen) == 0)
            rc = ac_yaml_fail(&d, id, "id", err, "subsystem id '%.*s' is used by another file too",
                              (int)idlen, ids);
    if (!rc && (prio < INT32_MIN || prio > INT32_MAX || budget < 0 || budget > 60000000))
        rc = ac_yaml_fail(&d, root, "priority", err, "priority or budget_us out of range");
    if (!rc) {
        it->id = strndup(ids, idlen);
        it->sub.system_id = it->id;
        it->sub.priority = (int32_t)prio;
        it->sub.optional = optional;
        it->sub.budget_us = (uint32_t)budget;
        it->sub.stage = 1;
        if (ac_yaml_is(kind, "table") && rows && (it->table.key_src || it->table.each_data)) {
            it->kind = 0;
            rc = load_table(&l, it, rows, (int32_t)prio);
        } else if (ac_yaml_is(kind, "table")) {
            rc = ac_yaml_fail(&d, root, "rows", err, "a table needs rows and a key or each");
        } else if (ac_yaml_is(kind, "formula") && formulas) {
            it->kind = 1;
            rc = load_formulas(&l, it, formulas, (int32_t)prio);
        } else if (ac_yaml_is(kind, "plugin") && lib) {
            it->kind = 2;
            rc = load_plugin(&l, it, dir, lib, cfg, &set->generation);
        } else {
            rc = ac_yaml_fail(&d, kind ? kind : root, "kind", err,
                              "kind is table (with rows), formula (with formulas) or plugin (with library)");
        }
    }
    set->n++; /* counted even when failed, so destroy frees what was built */
    ac_yamldoc_fini(&d);
    free(text);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ac_subsystems_t *ac_subsystems_load(const ac_registry_t *reg, const char *dir, ac_error_t *err)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        ac_error_set(err, AC_ESCHEMA, "", "%s: cannot open the subsystem folder", dir);
        return NULL;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dh));) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' ||
            !((len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) ||
              (len > 4 && strcmp(e->d_name + len - 4, ".yml") == 0)))
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof *names, cmp_str);
    ac_subsystems_t *set = calloc(1, sizeof *set);
    set->items = calloc(n ? n : 1, sizeof *set->items);
    set->generation = ac_hash_str(AC_HASH_INIT, "actorcore-subsystems-1", 22);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = load_file(set, reg, dir, names[i], err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    set->generation = ac_hash_finish(set->generation);
    if (rc)
        ac_subsystems_destroy(&set);
    return set;
}

void ac_subsystems_destroy(ac_subsystems_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_subsystems_t *s = *self_p;
    for (size_t i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        table_t *t = &it->table;
        ac_symtab_fini(&t->rows);
        free(t->row);
        free(t->entries);
        free(t->key_data);
        free(t->each_data);
        for (size_t k = 0; k < t->n_per; k++)
            free(t->per[k]);
        free(t->per);
        free(it->formulas.f);
        free(it->formulas.terms);
        if (it->plugin.vt && it->plugin.vt->destroy && it->plugin.state)
            it->plugin.vt->destroy(it->plugin.state);
        if (it->plugin.dl)
            dlclose(it->plugin.dl);
        free(it->id);
    }
    free(s->items);
    free(s);
    *self_p = NULL;
}

size_t ac_subsystems_count(const ac_subsystems_t *s)
{
    return s->n;
}

const ac_subsystem_t *ac_subsystems_get(const ac_subsystems_t *s, size_t i)
{
    return i < s->n ? &s->items[i].sub : NULL;
}

uint64_t ac_subsystems_generation(const ac_subsystems_t *s)
{
    return s->generation;
}

int ac_subsystems_install(const ac_subsystems_t *s, ac_resolver_t *r, ac_error_t *err)
{
    for (size_t i = 0; i < s->n; i++) {
        int rc = ac_resolver_add_subsystem(r, &s->items[i].sub, err);
        if (rc)
            return rc;
    }
    ac_resolver_mix_generation(r, s->generation);
    return 0;
}
