/*  arena.c - see arena.h. */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

struct ac_chunk {
    ac_chunk_t *next;   /* next chunk in the list */
    size_t size;        /* usable bytes in data */
    max_align_t data[]; /* the memory handed out */
};

void ac_arena_init(ac_arena_t *a, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : 16384;
    a->retain = 1u << 20;
}

void *ac_arena_alloc(ac_arena_t *a, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (a->cur && a->used + size <= a->cur->size) {
        void *p = (char *)a->cur->data + a->used;
        a->used += size;
        return p;
    }
    /* Move to the next retained chunk that fits, else append a new one. */
    ac_chunk_t *prev = a->cur;
    ac_chunk_t *c = a->cur ? a->cur->next : a->head;
    while (c && c->size < size) {
        prev = c;
        c = c->next;
    }
    if (!c) {
        size_t want = size > a->chunk_size ? size : a->chunk_size;
        c = malloc(sizeof *c + want);
        if (!c)
            return NULL;
        c->size = want;
        c->next = NULL;
        if (prev) {
            c->next = prev->next;
            prev->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    a->cur = c;
    a->used = size;
    return c->data;
}

char *ac_arena_strdup(ac_arena_t *a, const char *s, size_t len)
{
    char *p = ac_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void ac_arena_reset(ac_arena_t *a)
{
    size_t kept = 0;
    ac_chunk_t **link = &a->head;
    while (*link) {
        ac_chunk_t *c = *link;
        if (kept + c->size > a->retain && kept > 0) {
            *link = c->next;
            free(c);
            continue;
        }
        kept += c->size;
        link = &c->next;
    }
    a->cur = NULL;
    a->used = 0;
}

void ac_arena_fini(ac_arena_t *a)
{
    ac_chunk_t *c = a->head;
    while (c) {
        ac_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    memset(a, 0, sizeof *a);
}
