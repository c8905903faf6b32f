/*  actorcore/store.h - L3: the durable snapshot store, one SQLite file per host.
    Layer: service (see src/service/README.md; scripts/check-layers.sh).

    One row per actor: its newest snapshot with the cache key it was computed under and its
    stamp (a row is replaced by one of a higher stamp, or of the same stamp and a version as high). The
    database runs in WAL mode with synchronous=NORMAL and a busy timeout, so the workers of
    a host share one file, readers never block the writer, and a snapshot survives a
    restart. The schema is versioned (PRAGMA user_version) and migrated on open.

    Writes are batched off the request path: ac_store_put copies the snapshot into a
    bounded queue that a writer thread flushes, many rows per transaction; a resolve never
    waits for the disk. When the queue is full the write is dropped and counted (the cache
    only ever saves work). A store that fails (broken, full, locked too long) returns
    errors that the worker counts and logs while it keeps answering from computation.
*/
#ifndef ACTORCORE_STORE_H
#define ACTORCORE_STORE_H

#include "actorcore/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actorcore/cache.h"
#include "actorcore/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_store ac_store_t;

typedef struct {
    uint64_t reads;        /* point gets */
    uint64_t read_hits;    /* gets that found a row */
    uint64_t read_errors;  /* gets that failed */
    uint64_t writes;       /* rows written */
    uint64_t write_errors; /* rows that failed to write */
    uint64_t dropped;      /* writes dropped: the queue was full, or out of memory */
    uint64_t transactions; /* write transactions committed */
    size_t queued;         /* writes waiting now */
} ac_store_stats_t;

/* A row read back: the bytes are malloc'd and belong to the caller (free). */
typedef struct {
    int64_t version;
    uint64_t generation;
    uint64_t outputs_hash;
    void *value;
    size_t value_len;
    uint64_t stamp; /* the invalidation floor it was computed under (cache.h) */
} ac_stored_t;

/* Opens (creating or migrating) the store at path. queue_max bounds pending writes. */
AC_API ac_store_t *ac_store_open(const char *path, size_t queue_max, ac_error_t *err);
/* Flushes pending writes, stops the writer, closes. */
AC_API void ac_store_close(ac_store_t **self_p);

/* Reads the actor's row: 1 found, 0 not found, negative on error (err filled). */
AC_API int ac_store_get(ac_store_t *self, const char *actor_id, size_t len, ac_stored_t *out,
                        ac_error_t *err);
/* Queues a write of value under key; never blocks on the disk. 0, or -1 when dropped. */
AC_API int ac_store_put(ac_store_t *self, const ac_cache_key_t *key, const void *value, size_t len);
/* Waits until every write queued so far is committed (or failed). */
AC_API void ac_store_flush(ac_store_t *self);
/* Deletes the actor's row after flushing queued writes: 1 deleted, 0 none, <0 error. */
AC_API int ac_store_delete(ac_store_t *self, const char *actor_id, size_t len, ac_error_t *err);
AC_API void ac_store_stats(ac_store_t *self, ac_store_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
