/*  tables.c - lookup tables: a subsystem whose YAML `rows` are compiled at load into
    ready-made contributions and caps (dimension names to registry ids, layer names to
    positions, entries grouped so a row is appended in one piece). At resolve time the
    actor's key field (`key: race`, `key: data.realm`), or each element of a list in its
    data (`each: data.items`), picks rows; an entry may scale by a numeric actor field
    (`per: data.level`) and by an element's `stacks`. The YAML is not read again after
    loading: a row is one symbol-table lookup and a copy of its entries.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/request_impl.h"
#include "subsystems/compiled.h"

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
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *v = (double)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = (double)o->via.i64;
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *v = o->via.f64;
        return true;
    default:
        return false;
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
    ac_contribution_t *c =
        r->n_contrib ? ac_req_append_contributions(req, r->n_contrib, err) : NULL;
    if (r->n_contrib && !c)
        return err->code;
    const bool copy = r->n_contrib && r->plain && mult == 1;
    if (copy) {
        /* value * 1 * 1 is value, bit for bit: the compiled contributions as they are. */
        memcpy(c, &t->ready[r->first], r->n_contrib * sizeof *c);
        for (uint32_t i = 0; i < r->n_contrib; i++)
            c[i].system = out->system;
        e += r->n_contrib;
    }
    for (uint32_t i = copy ? r->n_contrib : 0; i < r->n_contrib; i++, e++) {
        double v = e->value * mult * (e->per >= 0 ? per[e->per] : 1);
        if (!isfinite(v))
            return ac_error_set(err, AC_ENON_FINITE, "", "row '%s' overflows when scaled",
                                row_name);
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
            return ac_error_set(err, AC_ENON_FINITE, "", "row '%s' overflows when scaled",
                                row_name);
        uint32_t realm = key_realm;
        if (e->realm &&
            ac_req_string(req, e->realm, strlen(e->realm), AC_LPATH_STR("realm"), &realm, err))
            return err->code;
        k[i] = (ac_cap_t){.value = v,
                          .dim = e->dim,
                          .system = out->system,
                          .priority = e->priority,
                          .realm = realm,
                          .mode = e->mode,
                          .kind = e->kind,
                          .layer = e->layer};
    }
    return 0;
}

static int row_of(const table_t *t, const char *name, size_t len, uint32_t *row, ac_error_t *err)
{
    *row = ac_symtab_find(&t->rows, name, len);
    if (*row == AC_NO_ID)
        return ac_error_set(err, AC_ESCHEMA, "", "no row '%.*s' in the table",
                            (int)(len > 64 ? 64 : len), name);
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
                        return ac_error_set(err, AC_ESCHEMA, "",
                                            "data.%s[%u].stacks is not a count", t->each_data, i);
                }
            }
            if (!name || name->type != MSGPACK_OBJECT_STR)
                return ac_error_set(err, AC_ESCHEMA, "", "data.%s[%u] names no row", t->each_data,
                                    i);
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

/* ---- loading ---- */

static const char *const s_modes[] = {"BASELINE", "ADDITIVE", "OVERRIDE", "HARD_MAX", "HARD_MIN"};

static int32_t per_index(table_t *t, const char *field)
{
    for (size_t i = 0; i < t->n_per; i++)
        if (strcmp(t->per[i], field) == 0)
            return (int32_t)i;
    if (t->n_per >= 16)
        return -1;
    char **bigger = realloc(t->per, (t->n_per + 1) * sizeof *t->per);
    if (!bigger)
        return -2; /* t->per is still valid and freed by ac_sub_table_fini */
    t->per = bigger;
    if (!(t->per[t->n_per] = strdup(field)))
        return -2;
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
    bool have_dim = false, have_value = false, have_bucket = false, have_mode = false,
         have_kind = false;
    int layer = ac_registry_layer_id(l->reg, "TOTAL", 5);
    yaml_node_t *realm_node = NULL;
    char sub[AC_ERROR_PATH_MAX];
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = ac_yamldoc_node(l->d, p->key), *v = ac_yamldoc_node(l->d, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?";
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        if (ac_yaml_is(k, "dimension")) {
            rc = ac_sub_dim_of(l, v, sub, &e->dim);
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
                  (strncmp((const char *)v->data.scalar.value, "data.", 5) == 0 ||
                   ac_yaml_is(v, "age") || ac_yaml_is(v, "lifespan"))))
                rc = ac_yaml_fail(l->d, v, sub, l->err, "per names data.<field>, age or lifespan");
            else if ((e->per = per_index(t, (const char *)v->data.scalar.value)) == -2)
                rc = ac_error_set(l->err, AC_ENOMEM, sub, "out of memory");
            else if (e->per < 0)
                rc = ac_yaml_fail(l->d, v, sub, l->err, "at most 16 scaling fields per table");
        } else if (!is_cap && ac_yaml_is(k, "bucket")) {
            int b = ac_sub_bucket_of(v);
            rc = b < 0 ? ac_yaml_fail(l->d, v, sub, l->err, "unknown bucket") : 0;
            e->bucket = (uint8_t)(b < 0 ? 0 : b);
            have_bucket = true;
        } else if (is_cap && ac_yaml_is(k, "mode")) {
            int m = ac_sub_find_name(v, s_modes, 5);
            rc = m < 0 ? ac_yaml_fail(l->d, v, sub, l->err, "unknown mode") : 0;
            e->mode = (uint8_t)(m < 0 ? 0 : m);
            have_mode = true;
        } else if (is_cap && ac_yaml_is(k, "kind")) {
            static const char *const kinds[] = {"max", "min"};
            int kd = ac_sub_find_name(v, kinds, 2);
            rc = kd < 0 ? ac_yaml_fail(l->d, v, sub, l->err, "kind is max or min") : 0;
            e->kind = (uint8_t)(kd < 0 ? 0 : kd);
            have_kind = true;
        } else if (is_cap && ac_yaml_is(k, "scope")) {
            const char *s;
            size_t len;
            rc = ac_yaml_string(l->d, v, sub, &s, &len, l->err);
            if (!rc && (layer = ac_registry_layer_id(l->reg, s, len)) < 0)
                rc = ac_yaml_fail(l->d, v, sub, l->err,
                                  "layer '%.*s' is not in the cap layer registry", (int)len, s);
        } else if (is_cap && ac_yaml_is(k, "realm")) {
            realm_node = v;
        } else {
            rc = ac_yaml_fail(l->d, k, path, l->err, "unknown field");
        }
        if (rc)
            return rc;
    }
    if (!have_dim || !have_value || (!is_cap && !have_bucket) ||
        (is_cap && (!have_mode || !have_kind)))
        return ac_yaml_fail(l->d, n, path, l->err,
                            is_cap ? "needs dimension, mode, kind and value"
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
        if (!(e->realm = ac_arena_strdup(&t->rows.arena, s, len)))
            return ac_error_set(l->err, AC_ENOMEM, sub, "out of memory");
    }
    if (is_cap && !e->realm && !t->realm_from_key &&
        strcmp(ac_registry_layer_name(l->reg, e->layer), "REALM") == 0)
        return ac_yaml_fail(l->d, n, path, l->err, "scope REALM needs realm (or realm_from_key)");
    return 0;
}

/* Contributions first (Primary before Derived), caps after, each group in file order:
   apply_row appends each group in one piece. Counts the row's contributions. -1 when out
   of memory (the row is left as it was). */
static int group_row(table_t *t, uint32_t r)
{
    entry_t *rows_e = t->entries + t->row[r].first;
    size_t cnt = t->row[r].count, at = 0;
    entry_t *tmp = malloc((cnt ? cnt : 1) * sizeof *tmp);
    if (!tmp)
        return -1;
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
    return 0;
}

int ac_sub_load_table(ld_t *l, item_t *it, yaml_node_t *rows_node, int32_t prio)
{
    table_t *t = &it->table;
    int rc = ac_yaml_expect(l->d, rows_node, YAML_MAPPING_NODE, "rows", l->err);
    if (rc)
        return rc;
    size_t nrows =
        (size_t)(rows_node->data.mapping.pairs.top - rows_node->data.mapping.pairs.start);
    t->row = calloc(nrows ? nrows : 1, sizeof *t->row);
    size_t cap = 64;
    t->entries = malloc(cap * sizeof *t->entries);
    if (!t->row || !t->entries) /* both freed by ac_sub_table_fini */
        return ac_error_set(l->err, AC_ENOMEM, "rows", "out of memory");
    for (yaml_node_pair_t *p = rows_node->data.mapping.pairs.start;
         p < rows_node->data.mapping.pairs.top; p++) {
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
        if (r == AC_NO_ID)
            return ac_error_set(l->err, AC_ENOMEM, path, "out of memory");
        if ((rc = ac_yaml_expect(l->d, v, YAML_MAPPING_NODE, path, l->err)))
            return rc;
        t->row[r].first = (uint32_t)t->n_entries;
        for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
             q++) {
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
            for (yaml_node_item_t *e = lv->data.sequence.items.start;
                 e < lv->data.sequence.items.top; e++, idx++) {
                if (t->n_entries == cap) {
                    entry_t *bigger = realloc(t->entries, cap * 2 * sizeof *t->entries);
                    if (!bigger) /* t->entries is still valid and freed by ac_sub_table_fini */
                        return ac_error_set(l->err, AC_ENOMEM, lpath, "out of memory");
                    t->entries = bigger;
                    cap *= 2;
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
        if (group_row(t, r))
            return ac_error_set(l->err, AC_ENOMEM, path, "out of memory");
    }
    if (!(t->ready = calloc(t->n_entries ? t->n_entries : 1, sizeof *t->ready)))
        return ac_error_set(l->err, AC_ENOMEM, "rows", "out of memory");
    for (size_t r = 0; r < nrows; r++) {
        row_t *row = &t->row[r];
        row->plain = true;
        for (uint32_t i = 0; i < row->n_contrib; i++) {
            const entry_t *e = &t->entries[row->first + i];
            row->plain &= e->per < 0;
            t->ready[row->first + i] = (ac_contribution_t){.value = e->value,
                                                           .dim = e->dim,
                                                           .priority = e->priority,
                                                           .bucket = e->bucket,
                                                           .section = e->section};
        }
    }
    it->sub.contribute = table_contribute;
    it->sub.state = t;
    return 0;
}

int ac_sub_table_key(ld_t *l, table_t *t, yaml_node_t *k, yaml_node_t *v)
{
    const char *s;
    size_t sl;
    const char *field = ac_yaml_is(k, "key") ? "key" : "each";
    int rc = ac_yaml_string(l->d, v, field, &s, &sl, l->err);
    if (!rc && field[0] == 'e') {
        if (t->each_data)
            rc = ac_yaml_fail(l->d, v, "each", l->err, "each is given twice");
        else if (strncmp(s, "data.", 5) != 0 || sl <= 5)
            rc = ac_yaml_fail(l->d, v, "each", l->err, "each names a list data.<field>");
        else if (!(t->each_data = strndup(s + 5, sl - 5)))
            rc = ac_error_set(l->err, AC_ENOMEM, "each", "out of memory");
    } else if (!rc) {
        if (strcmp(s, "race") == 0)
            t->key_src = SRC_RACE;
        else if (strcmp(s, "name") == 0)
            t->key_src = SRC_NAME;
        else if (strcmp(s, "id") == 0)
            t->key_src = SRC_ID;
        else if (strncmp(s, "data.", 5) == 0 && sl > 5) {
            t->key_src = SRC_DATA;
            if (!(t->key_data = strndup(s + 5, sl - 5)))
                rc = ac_error_set(l->err, AC_ENOMEM, "key", "out of memory");
        } else
            rc = ac_yaml_fail(l->d, v, "key", l->err, "key is race, name, id or data.<field>");
    }
    return rc;
}

void ac_sub_table_fini(table_t *t)
{
    ac_symtab_fini(&t->rows);
    free(t->row);
    free(t->entries);
    free(t->ready);
    free(t->key_data);
    free(t->each_data);
    for (size_t k = 0; k < t->n_per; k++)
        free(t->per[k]);
    free(t->per);
}
