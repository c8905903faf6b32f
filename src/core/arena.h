/*  arena.h - a bump allocator whose memory is reused across requests.

    Per-request memory (decoded strings, actor data) comes from an arena that is reset
    rather than freed, so that after warm-up a request allocates nothing from the heap.
    Chunks are kept across resets up to `retain` bytes; a single huge request does not
    pin its memory forever.
*/
#ifndef AC_ARENA_H
#define AC_ARENA_H

#include <stddef.h>

typedef struct ac_chunk ac_chunk_t;

typedef struct {
    ac_chunk_t *head;  /* first chunk; chunks form a list in allocation order */
    ac_chunk_t *cur;   /* chunk being bumped */
    size_t used;       /* bytes used in cur */
    size_t chunk_size; /* size of a new ordinary chunk */
    size_t retain;     /* bytes of chunks kept by a reset */
} ac_arena_t;

void ac_arena_init(ac_arena_t *a, size_t chunk_size);
/* Returns 8-aligned memory, NULL when out of memory. Never fails for size 0. */
void *ac_arena_alloc(ac_arena_t *a, size_t size);
/* Copies s[0..len) and a NUL; NULL when out of memory. */
char *ac_arena_strdup(ac_arena_t *a, const char *s, size_t len);
void ac_arena_reset(ac_arena_t *a);
void ac_arena_fini(ac_arena_t *a);

#endif
