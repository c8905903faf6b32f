/*  compiled.h - what the files of the subsystem loader share (see subsystems.h).

    A loaded set is an array of items, one per YAML file; an item is a table, a set of
    formulas or a plugin, compiled into the flat form that its contribute reads on the hot
    path. subsystems.c reads a folder and each file's top-level fields, then hands the rest
    of the file to the loader of its kind: tables.c, formulas.c or plugins.c. Each kind
    frees what its loader built; the set frees the items.
*/
#ifndef AC_SUBSYSTEMS_COMPILED_H
#define AC_SUBSYSTEMS_COMPILED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actorcore/subsystems.h"
#include "core/symtab.h"
#include "core/yamldoc.h"

/* ---- compiled forms ---- */

typedef struct {
    uint8_t is_cap;    /* 1: a cap contribution */
    uint8_t section;   /* ac_section_t (contributions) */
    uint8_t bucket;    /* ac_bucket_t (contributions) */
    uint8_t mode;      /* ac_cap_mode_t (caps) */
    uint8_t kind;      /* ac_cap_kind_t (caps) */
    uint8_t layer;     /* position in the layer order (caps) */
    uint32_t dim;      /* registry id */
    int32_t priority;  /* the entry's, else the subsystem's */
    int32_t per;       /* index of the actor field it scales by, -1 for none */
    double value;      /* before scaling */
    const char *realm; /* fixed realm of a REALM cap, or NULL */
} entry_t;

typedef struct {
    uint32_t first, count; /* its entries in the table's entry array: contributions first */
    uint32_t n_contrib;    /* how many of them are contributions (the rest are caps) */
    uint32_t n_primary;    /* how many contributions are Primary */
    bool plain;            /* no contribution scales by an actor field: `ready` holds them */
} row_t;

enum { SRC_NONE, SRC_ID, SRC_NAME, SRC_RACE, SRC_DATA };

typedef struct {
    int key_src;         /* where the row name comes from (SRC_*) */
    char *key_data;      /* data.<key_data> */
    char *each_data;     /* each element of data.<each_data>, when set */
    bool realm_from_key; /* REALM caps take the row name as realm */
    ac_symtab_t rows;    /* row name -> index */
    row_t *row;          /* [rows.count] */
    entry_t *entries;    /* all rows' entries */
    size_t n_entries;
    ac_contribution_t *ready; /* [n_entries]: each contribution entry compiled into the
                                 request's form (system 0, patched per request), so a plain
                                 row without stacks is one copy */
    char **per;               /* actor fields entries scale by ("data.level", "age") */
    size_t n_per;
} table_t;

typedef struct {
    uint32_t dim;          /* derived dimension */
    uint8_t bucket;        /* its bucket */
    int32_t priority;      /* its priority */
    double constant;       /* added to the terms */
    uint32_t first, count; /* its terms */
} formula_t;

typedef struct {
    uint32_t dim; /* Primary dimension read */
    double coef;  /* its coefficient */
} term_t;

typedef struct {
    formula_t *f;
    size_t n;
    term_t *terms;
} formulas_t;

typedef struct {
    void *dl;              /* dlopen handle */
    const ac_plugin_t *vt; /* its vtable */
    void *state;           /* from create */
} plugin_t;

typedef struct {
    int kind;           /* 0 table, 1 formula, 2 plugin */
    ac_subsystem_t sub; /* what resolvers register */
    char *id;           /* owned id string */
    table_t table;
    formulas_t formulas;
    plugin_t plugin;
} item_t;

struct ac_subsystems {
    item_t *items;
    size_t n;
    uint64_t generation;
};

/* ---- loading (subsystems.c) ---- */

/* One file being loaded: its document, the registry names resolve against, the error. */
typedef struct {
    ac_yamldoc_t *d;
    const ac_registry_t *reg;
    ac_error_t *err;
} ld_t;

/* Index of the name v spells in names[0..n), -1 when none. */
int ac_sub_find_name(yaml_node_t *v, const char *const *names, int n);
/* Index of the bucket v names (FLAT, MULT, POST_ADD, OVERRIDE), -1 when none. */
int ac_sub_bucket_of(yaml_node_t *v);
/* Reads the dimension name v as its registry id; an unknown name fails at path. */
int ac_sub_dim_of(ld_t *l, yaml_node_t *v, const char *path, uint32_t *dim);

/* ---- tables (tables.c) ---- */

/* Reads a table's `key` or `each` field (k names which) into t. */
int ac_sub_table_key(ld_t *l, table_t *t, yaml_node_t *k, yaml_node_t *v);
/* Compiles `rows` into the item's table; entries without a priority get prio. */
int ac_sub_load_table(ld_t *l, item_t *it, yaml_node_t *rows_node, int32_t prio);
void ac_sub_table_fini(table_t *t);

/* ---- formulas (formulas.c) ---- */

/* Compiles `formulas` into the item's stage-2 formulas; those without a priority get prio. */
int ac_sub_load_formulas(ld_t *l, item_t *it, yaml_node_t *n, int32_t prio);
void ac_sub_formulas_fini(formulas_t *fs);

/* ---- plugins (plugins.c) ---- */

/* Opens `library` (relative to dir) and creates its state from `config`; mixes the
   library's bytes and the config into *gen. */
int ac_sub_load_plugin(ld_t *l, item_t *it, const char *dir, yaml_node_t *lib, yaml_node_t *cfg,
                       uint64_t *gen);
void ac_sub_plugin_fini(plugin_t *p);

#endif
