/*  l1mem.h - memory per cached L1 entry, shared by bench_cache and bench_resolve.

    Fills an L1 with `keys` entries whose values are `value_bytes` long (the size of one W1
    snapshot) and ids "actor-%06d", and measures the heap the cache holds (mallinfo2:
    allocated chunks, so malloc's own headers and rounding count) over its entries. Both
    programs report the same figure because both call this.
*/
#ifndef AC_BENCH_L1MEM_H
#define AC_BENCH_L1MEM_H

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorcore/cache.h"

static inline size_t l1mem_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Puts ids[0..keys) into a new L1 (values: `value` with the entry's index in its first 4
   bytes, so each differs) and returns it; *per_entry gets the heap bytes per entry. Exits
   when a put fails. */
static inline ac_l1_t *l1mem_fill(char (*ids)[24], int keys, char *value, size_t value_bytes,
                                  double *per_entry)
{
    ac_l1_config_t cfg = {(size_t)keys, (size_t)keys * 1024, 0};
    size_t heap0 = l1mem_heap_in_use();
    ac_l1_t *l1 = ac_l1_new(&cfg);
    for (int i = 0; l1 && i < keys; i++) {
        ac_cache_key_t k = {.actor_id = ids[i],
                            .actor_id_len = strlen(ids[i]),
                            .version = 1,
                            .generation = 2,
                            .outputs_hash = 3};
        memcpy(value, &i, sizeof i);
        if (ac_l1_put(l1, &k, value, value_bytes, 0)) {
            fprintf(stderr, "L1 put failed\n");
            exit(1);
        }
    }
    if (!l1) {
        fprintf(stderr, "L1: out of memory\n");
        exit(1);
    }
    *per_entry = (double)(l1mem_heap_in_use() - heap0) / keys;
    return l1;
}

/* The ids l1mem_fill stores: "actor-000000" ... (12 bytes each). */
static inline void l1mem_ids(char (*ids)[24], int keys)
{
    for (int i = 0; i < keys; i++)
        snprintf(ids[i], sizeof ids[i], "actor-%06d", i);
}

#endif
