/*  itab.c - the open-addressing index behind the broker's lookup tables (services by name,
    workers by routing id, client queues by service and client): linear probing over slots
    that hold a 32-bit hash and a pool index, deletion by backward shift (no tombstones, so
    a table that churns never degrades), grown to stay at most half full. Keys live in the
    pools; the caller's eq function compares them, so one table serves every kind of key.
*/
#include <stdlib.h>

#include "broker.h"
#include "core/hash.h"

#define SLOT(hash, index) (((uint64_t)(hash) << 32) | ((uint64_t)(index) + 1))
#define SLOT_HASH(s) ((uint32_t)((s) >> 32))
#define SLOT_INDEX(s) ((uint32_t)(s)-1)

int itab_init(itab_t *t, uint32_t capacity)
{
    uint32_t n = 16;
    while (n < 2 * capacity)
        n *= 2;
    t->slots = calloc(n, sizeof *t->slots);
    t->mask = n - 1;
    t->count = 0;
    return t->slots ? 0 : -1;
}

void itab_fini(itab_t *t)
{
    free(t->slots);
    t->slots = NULL;
}

int64_t itab_find(const itab_t *t, uint32_t hash, itab_eq_fn eq, const void *ctx, const void *key)
{
    for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (!s)
            return -1;
        if (SLOT_HASH(s) == hash && eq(ctx, SLOT_INDEX(s), key))
            return SLOT_INDEX(s);
    }
}

static void place(itab_t *t, uint64_t s)
{
    uint32_t i = SLOT_HASH(s) & t->mask;
    while (t->slots[i])
        i = (i + 1) & t->mask;
    t->slots[i] = s;
}

int itab_insert(itab_t *t, uint32_t hash, uint32_t index)
{
    if (2 * (t->count + 1) > t->mask + 1) {
        uint32_t n = 2 * (t->mask + 1);
        uint64_t *old = t->slots, *slots = calloc(n, sizeof *slots);
        if (!slots)
            return -1;
        uint32_t oldn = t->mask + 1;
        t->slots = slots;
        t->mask = n - 1;
        for (uint32_t i = 0; i < oldn; i++)
            if (old[i])
                place(t, old[i]);
        free(old);
    }
    place(t, SLOT(hash, index));
    t->count++;
    return 0;
}

void itab_remove(itab_t *t, uint32_t hash, uint32_t index)
{
    uint64_t want = SLOT(hash, index);
    uint32_t i = hash & t->mask;
    while (t->slots[i] != want) {
        if (!t->slots[i])
            return; /* not there */
        i = (i + 1) & t->mask;
    }
    /* Backward shift: pull later entries of the run into the hole when their home allows. */
    for (uint32_t j = (i + 1) & t->mask;; j = (j + 1) & t->mask) {
        uint64_t s = t->slots[j];
        if (!s)
            break;
        uint32_t home = SLOT_HASH(s) & t->mask;
        /* s may move to i when i lies cyclically in [home, j). */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = s;
            i = j;
        }
    }
    t->slots[i] = 0;
    t->count--;
}

uint32_t ident_hash(const ident_t *id, uint32_t salt)
{
    uint64_t h = ac_hash_finish(ac_hash_bytes(AC_HASH_INIT ^ salt, id->b, id->len));
    return (uint32_t)(h ^ (h >> 32));
}
