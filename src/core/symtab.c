/*  symtab.c - see symtab.h. */
#include "core/symtab.h"

#include <stdlib.h>
#include <string.h>

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

void ac_symtab_init(ac_symtab_t *t)
{
    memset(t, 0, sizeof *t);
    ac_arena_init(&t->arena, 4096);
}

void ac_symtab_fini(ac_symtab_t *t)
{
    ac_arena_fini(&t->arena);
    free(t->syms);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

void ac_symtab_reset(ac_symtab_t *t)
{
    if (t->count && t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
    t->count = 0;
    ac_arena_reset(&t->arena);
}

static uint32_t lookup(const ac_symtab_t *t, const char *s, size_t len, uint32_t h, uint32_t *slot)
{
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (v == 0) {
            *slot = i;
            return AC_NO_ID;
        }
        const ac_sym_t *sym = &t->syms[v - 1];
        if (sym->hash == h && sym->len == len && memcmp(sym->str, s, len) == 0)
            return v - 1;
    }
}

uint32_t ac_symtab_find(const ac_symtab_t *t, const char *s, size_t len)
{
    if (!t->nslots || len > UINT32_MAX)
        return AC_NO_ID;
    uint32_t slot;
    return lookup(t, s, len, name_hash(s, len), &slot);
}

/* Doubles the slot table; keeps load under one half. */
static int grow_slots(ac_symtab_t *t)
{
    uint32_t n = t->nslots ? t->nslots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (uint32_t id = 0; id < t->count; id++) {
        uint32_t i = t->syms[id].hash & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

uint32_t ac_symtab_intern(ac_symtab_t *t, const char *s, size_t len)
{
    if (len > UINT32_MAX - 1 || t->count >= UINT32_MAX - 1)
        return AC_NO_ID;
    if ((t->count + 1) * 2 > t->nslots && grow_slots(t) != 0)
        return AC_NO_ID;
    uint32_t h = name_hash(s, len);
    uint32_t slot;
    uint32_t id = lookup(t, s, len, h, &slot);
    if (id != AC_NO_ID)
        return id;
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 32;
        ac_sym_t *syms = realloc(t->syms, cap * sizeof *syms);
        if (!syms)
            return AC_NO_ID;
        t->syms = syms;
        t->cap = cap;
    }
    char *copy = ac_arena_strdup(&t->arena, s, len);
    if (!copy)
        return AC_NO_ID;
    id = t->count++;
    t->syms[id] = (ac_sym_t){copy, (uint32_t)len, h};
    t->slots[slot] = id + 1;
    return id;
}

int ac_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}
