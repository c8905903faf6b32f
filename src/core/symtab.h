/*  symtab.h - interning of names to dense small integer ids.

    Dimension, system, layer and context names are interned once when a registry or a
    message is loaded; everything downstream compares integers. Ids are dense (0, 1, 2...)
    in first-seen order. Strings live in an arena, so a returned name pointer stays valid
    until the table is reset. Reset keeps the memory, so re-filling allocates nothing.
*/
#ifndef AC_SYMTAB_H
#define AC_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define AC_NO_ID UINT32_MAX

typedef struct {
    const char *str; /* NUL-terminated, in the arena */
    uint32_t len;    /* bytes, without the NUL */
    uint32_t hash;   /* cached hash of the name */
} ac_sym_t;

typedef struct {
    ac_arena_t arena; /* string storage */
    ac_sym_t *syms;   /* id -> name */
    uint32_t count;   /* ids in use */
    uint32_t cap;     /* capacity of syms */
    uint32_t *slots;  /* open-addressing table of id + 1 (0 = empty) */
    uint32_t nslots;  /* power of two */
} ac_symtab_t;

void ac_symtab_init(ac_symtab_t *t);
void ac_symtab_fini(ac_symtab_t *t);
void ac_symtab_reset(ac_symtab_t *t);
/* Id of s, adding it when new; AC_NO_ID when out of memory. */
uint32_t ac_symtab_intern(ac_symtab_t *t, const char *s, size_t len);
/* Id of s, or AC_NO_ID when absent. */
uint32_t ac_symtab_find(const ac_symtab_t *t, const char *s, size_t len);

static inline const char *ac_symtab_str(const ac_symtab_t *t, uint32_t id)
{
    return t->syms[id].str;
}

static inline uint32_t ac_symtab_len(const ac_symtab_t *t, uint32_t id)
{
    return t->syms[id].len;
}

/* Byte-order comparison of two names (memcmp, then the shorter first). */
int ac_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
