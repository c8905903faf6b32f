/*  subsystems.c - the set of subsystems loaded from a folder (see subsystems.h): every
    *.yaml / *.yml in name order, one subsystem per file. Reads each file's top-level
    fields (id, kind, priority, optional, budget_us and the kind's own), checks the id and
    ranges, then hands the file to the loader of its kind (tables.c, formulas.c,
    plugins.c). Hashes every file into the set's generation, frees the set, installs it in
    a resolver. The helpers every kind loader uses are in names.c.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "subsystems/compiled.h"

/* ---- loading one file ---- */

/* The top-level fields of a subsystem file (NULL or 0 when absent); a table's key, each
   and realm_from_key go straight into its table. */
typedef struct {
    yaml_node_t *id;       /* id */
    yaml_node_t *kind;     /* table, formula or plugin */
    yaml_node_t *rows;     /* a table's rows */
    yaml_node_t *formulas; /* a formula subsystem's formulas */
    yaml_node_t *lib;      /* a plugin's library */
    yaml_node_t *cfg;      /* a plugin's config */
    long long prio;        /* priority */
    long long budget;      /* budget_us */
    bool optional;         /* optional */
} fields_t;

/* Reads the fields of root (a mapping) into f and t; an unknown field fails. */
static int read_fields(ld_t *l, yaml_node_t *root, table_t *t, fields_t *f)
{
    int rc = 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top && !rc; p++) {
        yaml_node_t *k = ac_yamldoc_node(l->d, p->key), *v = ac_yamldoc_node(l->d, p->value);
        if (ac_yaml_is(k, "id"))
            f->id = v;
        else if (ac_yaml_is(k, "kind"))
            f->kind = v;
        else if (ac_yaml_is(k, "priority"))
            rc = ac_yaml_int(l->d, v, "priority", &f->prio, l->err);
        else if (ac_yaml_is(k, "rows"))
            f->rows = v;
        else if (ac_yaml_is(k, "formulas"))
            f->formulas = v;
        else if (ac_yaml_is(k, "library"))
            f->lib = v;
        else if (ac_yaml_is(k, "config"))
            f->cfg = v;
        else if (ac_yaml_is(k, "optional"))
            rc = ac_yaml_bool(l->d, v, "optional", &f->optional, l->err);
        else if (ac_yaml_is(k, "budget_us"))
            rc = ac_yaml_int(l->d, v, "budget_us", &f->budget, l->err);
        else if (ac_yaml_is(k, "realm_from_key"))
            rc = ac_yaml_bool(l->d, v, "realm_from_key", &t->realm_from_key, l->err);
        else if (ac_yaml_is(k, "key") || ac_yaml_is(k, "each"))
            rc = ac_sub_table_key(l, t, k, v);
        else
            rc = ac_yaml_fail(l->d, k, "", l->err, "unknown field");
    }
    return rc;
}

/* Checks the id (present, 1 to 128 bytes, not used by a file loaded before) and the
   ranges of priority and budget_us; *ids and *idlen give the id. */
static int check_fields(ld_t *l, const ac_subsystems_t *set, yaml_node_t *root, const fields_t *f,
                        const char **ids, size_t *idlen)
{
    if (!f->id)
        return ac_yaml_fail(l->d, root, "id", l->err, "a subsystem needs an id");
    int rc = ac_yaml_string(l->d, f->id, "id", ids, idlen, l->err);
    if (rc)
        return rc;
    if (*idlen == 0 || *idlen > 128)
        return ac_yaml_fail(l->d, f->id, "id", l->err, "an id has 1 to 128 bytes");
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->items[i].id) == *idlen && memcmp(set->items[i].id, *ids, *idlen) == 0)
            return ac_yaml_fail(l->d, f->id, "id", l->err,
                                "subsystem id '%.*s' is used by another file too", (int)*idlen,
                                *ids);
    if (f->prio < INT32_MIN || f->prio > INT32_MAX || f->budget < 0 || f->budget > 60000000)
        return ac_yaml_fail(l->d, root, "priority", l->err, "priority or budget_us out of range");
    return 0;
}

/* Fills the item's ac_subsystem_t and compiles the rest with the loader of its kind. */
static int compile_item(ld_t *l, item_t *it, yaml_node_t *root, const fields_t *f, const char *ids,
                        size_t idlen, const char *dir, uint64_t *gen)
{
    it->id = strndup(ids, idlen);
    if (!it->id)
        return ac_error_set(l->err, AC_ENOMEM, "id", "out of memory");
    it->sub.system_id = it->id;
    it->sub.priority = (int32_t)f->prio;
    it->sub.optional = f->optional;
    it->sub.budget_us = (uint32_t)f->budget;
    it->sub.stage = 1;
    if (ac_yaml_is(f->kind, "table") && f->rows && (it->table.key_src || it->table.each_data)) {
        it->kind = 0;
        return ac_sub_load_table(l, it, f->rows, (int32_t)f->prio);
    }
    if (ac_yaml_is(f->kind, "table"))
        return ac_yaml_fail(l->d, root, "rows", l->err, "a table needs rows and a key or each");
    if (ac_yaml_is(f->kind, "formula") && f->formulas) {
        it->kind = 1;
        return ac_sub_load_formulas(l, it, f->formulas, (int32_t)f->prio);
    }
    if (ac_yaml_is(f->kind, "plugin") && f->lib) {
        it->kind = 2;
        return ac_sub_load_plugin(l, it, dir, f->lib, f->cfg, gen);
    }
    return ac_yaml_fail(
        l->d, f->kind ? f->kind : root, "kind", l->err,
        "kind is table (with rows), formula (with formulas) or plugin (with library)");
}

/* Loads dir/file into the next item of set and mixes the file into its generation. */
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
    fields_t f = {0};
    const char *ids = NULL;
    size_t idlen = 0;
    if (!rc)
        rc = read_fields(&l, root, &it->table, &f);
    if (!rc)
        rc = check_fields(&l, set, root, &f, &ids, &idlen);
    if (!rc)
        rc = compile_item(&l, it, root, &f, ids, idlen, dir, &set->generation);
    set->n++; /* counted even when failed, so destroy frees what was built */
    ac_yamldoc_fini(&d);
    free(text);
    return rc;
}

/* ---- the set ---- */

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
    bool nomem = false;
    for (struct dirent *e; (e = readdir(dh));) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || !((len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) ||
                                     (len > 4 && strcmp(e->d_name + len - 4, ".yml") == 0)))
            continue;
        char **bigger = realloc(names, (n + 1) * sizeof *names);
        char *name = bigger ? strdup(e->d_name) : NULL;
        if (bigger)
            names = bigger;
        if (!name) {
            nomem = true;
            break;
        }
        names[n++] = name;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    ac_subsystems_t *set = nomem ? NULL : calloc(1, sizeof *set);
    if (set && !(set->items = calloc(n ? n : 1, sizeof *set->items)))
        ac_subsystems_destroy(&set);
    int rc = set ? 0 : ac_error_set(err, AC_ENOMEM, "", "%s: out of memory", dir);
    if (set)
        set->generation = ac_hash_str(AC_HASH_INIT, "actorcore-subsystems-1", 22);
    for (size_t i = 0; i < n && !rc; i++)
        rc = load_file(set, reg, dir, names[i], err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (set)
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
        ac_sub_table_fini(&it->table);
        ac_sub_formulas_fini(&it->formulas);
        ac_sub_plugin_fini(&it->plugin);
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
