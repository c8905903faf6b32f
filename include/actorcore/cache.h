/*  actorcore/cache.h - L1: the bounded in-memory snapshot cache of a worker.
    Layer: service (see src/service/README.md; scripts/check-layers.sh).

    One entry per actor: the newest snapshot stored for it, with the full cache key it was
    computed under (actor version, registry generation, hash of the request's inline
    outputs) and its stamp (the invalidation floor it was computed under, which the worker
    compares with the actor's floor now). A lookup hits only when every part of the key matches, so a new actor
    version or a new configuration can never be served a stale snapshot. `get` by actor id
    alone answers the `get` op: the newest snapshot, whatever produced it.

    Bounded by entries and by bytes, entries expire after a TTL, and eviction is CLOCK
    (second chance): a hit sets a reference bit instead of moving list nodes, so gets are
    O(1) and write nothing but one byte. The cache stores opaque bytes (the worker keeps
    the encoded msgpack snapshot, so a hit costs no re-encoding). Not thread-safe: one per
    worker thread.
*/
#ifndef ACTORCORE_CACHE_H
#define ACTORCORE_CACHE_H

#include "actorcore/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a snapshot was computed from. */
typedef struct {
    const char *actor_id;  /* 1..128 bytes */
    size_t actor_id_len;   /* bytes of actor_id */
    int64_t version;       /* the actor's version */
    uint64_t generation;   /* registry (and subsystem) generation */
    uint64_t outputs_hash; /* ac_request_outputs_hash of the inline outputs */
    uint64_t stamp;        /* the actor's invalidation floor it was computed under (0: none) */
} ac_cache_key_t;

typedef struct {
    size_t max_entries; /* at most this many actors (>= 1) */
    size_t max_bytes;   /* at most this many bytes of ids + values */
    uint64_t ttl_ms;    /* entries older than this miss; 0 = no expiry */
} ac_l1_config_t;

typedef struct {
    uint64_t hits;        /* lookups that matched */
    uint64_t misses;      /* lookups that did not */
    uint64_t evictions;   /* entries dropped for room */
    uint64_t expirations; /* entries dropped for age */
    size_t entries;       /* entries now */
    size_t bytes;         /* bytes now */
} ac_l1_stats_t;

/* A found entry; pointers valid until the next put or remove on the cache. */
typedef struct {
    int64_t version;
    uint64_t generation;
    uint64_t outputs_hash;
    const void *value;
    size_t value_len;
    uint64_t stamp; /* the key's stamp */
} ac_l1_entry_t;

typedef struct ac_l1 ac_l1_t;

AC_API ac_l1_t *ac_l1_new(const ac_l1_config_t *config);
AC_API void ac_l1_destroy(ac_l1_t **self_p);

/* The entry whose key matches exactly; NULL (a miss) otherwise. */
AC_API const ac_l1_entry_t *ac_l1_lookup(ac_l1_t *self, const ac_cache_key_t *key, uint64_t now_ms);
/* The newest entry stored for an actor, whatever its key; NULL when none. */
AC_API const ac_l1_entry_t *ac_l1_get(ac_l1_t *self, const char *actor_id, size_t len,
                                      uint64_t now_ms);
/* Stores value under key, replacing the actor's entry unless that one is newer: entries
   are ordered by (stamp, version), since a higher stamp means the actor was invalidated in
   between and the older entry is dead whatever its version. Returns 0, or -1 when out of
   memory or the value alone exceeds max_bytes. */
AC_API int ac_l1_put(ac_l1_t *self, const ac_cache_key_t *key, const void *value, size_t len,
                     uint64_t now_ms);
/* Drops the actor's entry; true when there was one. */
AC_API bool ac_l1_remove(ac_l1_t *self, const char *actor_id, size_t len);
AC_API void ac_l1_stats(const ac_l1_t *self, ac_l1_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
