/*  store.c - the SQLite L3 store (see store.h).

    Two connections: the caller's (point reads and deletes, prepared once) and the writer
    thread's (upserts). A row only moves forward: an upsert with a lower actor version than
    the stored one leaves the row alone, so a late write of an old snapshot cannot replace
    a newer one. Rows are ordered by (stamp, version): a higher stamp means the actor was
    invalidated in between, so the stored row is dead whatever its version, and a write of
    a lower stamp is itself dead.
*/
#include "actorcore/store.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/log.h"

#define SCHEMA_VERSION 2
#define BATCH_MAX 512

typedef struct job {
    struct job *next; /* queue link */
    int64_t version;  /* key parts */
    uint64_t generation;
    uint64_t outputs_hash;
    uint64_t stamp;
    size_t id_len;    /* bytes of the id at data */
    size_t value_len; /* bytes of the value after the id */
    char data[];      /* id, then value */
} job_t;

struct ac_store {
    sqlite3 *db;            /* the caller's connection */
    sqlite3_stmt *get_stmt; /* SELECT by actor id */
    sqlite3_stmt *del_stmt; /* DELETE by actor id */
    sqlite3 *wdb;           /* the writer thread's connection */
    sqlite3_stmt *put_stmt; /* the upsert */
    pthread_t writer;       /* flushes the queue */
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t wake;    /* signals the writer */
    pthread_cond_t drained; /* signals flush waiters */
    job_t *head, *tail;     /* pending writes */
    size_t queued;          /* jobs in the queue */
    size_t queue_max;       /* bound on queued */
    uint64_t enqueued;      /* jobs ever queued */
    uint64_t done;          /* jobs ever finished (written or failed) */
    bool stopping;          /* close in progress */
    ac_store_stats_t stats; /* counters */
    time_t warned_at;       /* the writer's last log line about failed writes */
    uint64_t unwarned;      /* failed writes since that line */
    char why[160];          /* the cause of the last failed batch, for that line */
};

/* The lock's discipline is checked in builds with assertions (the sanitizer build of
   `make test`): the mutex is an error-checking one, and every lock, unlock and wait must
   succeed, so a lock taken twice, an unlock of a lock not held, or a wait without it
   aborts where it happens instead of racing quietly. Release builds: a plain mutex. */
static void lock(ac_store_t *s)
{
    int rc = pthread_mutex_lock(&s->lock);
    assert(rc == 0);
    (void)rc;
}

static void unlock(ac_store_t *s)
{
    int rc = pthread_mutex_unlock(&s->lock);
    assert(rc == 0);
    (void)rc;
}

static void wait_on(ac_store_t *s, pthread_cond_t *c)
{
    int rc = pthread_cond_wait(c, &s->lock);
    assert(rc == 0);
    (void)rc;
}

static const char *const s_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE IF NOT EXISTS snapshots ("
    "  actor_id TEXT PRIMARY KEY,"
    "  version INTEGER NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  outputs_hash INTEGER NOT NULL,"
    "  snapshot BLOB NOT NULL,"
    "  updated_at INTEGER NOT NULL)",
    /* 1 -> 2: the invalidation floor a row was computed under */
    "ALTER TABLE snapshots ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0",
};

static int fail_db(ac_error_t *err, sqlite3 *db, const char *what)
{
    return ac_error_set(err, AC_EUNAVAILABLE, "", "store: %s: %s", what,
                        db ? sqlite3_errmsg(db) : "cannot open");
}

/* Opens one connection with the pragmas every connection needs. */
static sqlite3 *open_conn(const char *path, ac_error_t *err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fail_db(err, db, path);
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                          "PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY;";
    /* Two processes opening a new file at once race to switch it to WAL; the loser gets
       SQLITE_BUSY at once (the busy handler is not called there, to avoid a deadlock), so
       retry for as long as the busy timeout would have waited. */
    int rc = SQLITE_BUSY;
    for (int tries = 0; tries < 250; tries++) {
        rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        sqlite3_sleep(20);
    }
    if (rc != SQLITE_OK) {
        fail_db(err, db, "pragmas");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int migrate(sqlite3 *db, ac_error_t *err)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return fail_db(err, db, "schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION)
        return ac_error_set(err, AC_EUNAVAILABLE, "",
                            "store: schema version %d is newer than this build's %d", version,
                            SCHEMA_VERSION);
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return fail_db(err, db, "migration");
        /* Another process may have migrated the file since it was read: read it again
           under the write lock. */
        int now = v;
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                now = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        if ((now <= v && (sqlite3_exec(db, s_migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
                          sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)) ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            int rc = fail_db(err, db, "migration");
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return 0;
}

/* Takes up to BATCH_MAX jobs and writes them in one transaction. */
static void write_batch(ac_store_t *s, job_t *jobs)
{
    size_t ok = 0, failed = 0;
    char why[160] = ""; /* the first failure's message: a later ROLLBACK would replace it */
    bool in_tx = sqlite3_exec(s->wdb, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    if (!in_tx)
        snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->wdb));
    for (job_t *j = jobs; j; j = j->next) {
        sqlite3_stmt *st = s->put_stmt;
        sqlite3_bind_text(st, 1, j->data, (int)j->id_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, j->version);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)j->generation);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)j->outputs_hash);
        sqlite3_bind_blob(st, 5, j->data + j->id_len, (int)j->value_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)j->stamp);
        if (sqlite3_step(st) == SQLITE_DONE)
            ok++;
        else if (failed++ == 0 && !why[0])
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->wdb));
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (in_tx && sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (!why[0])
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(s->wdb));
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        failed += ok;
        ok = 0;
    }
    /* At most one line a second, with the failures since the last one: a full disk fails
       every batch. */
    if (failed)
        snprintf(s->why, sizeof s->why, "%s", why);
    s->unwarned += failed;
    time_t now = time(NULL);
    if (s->unwarned && now != s->warned_at) {
        ac_log(AC_LOG_WARN, "store_write_failed",
               "code=internal path=%s failed=%" PRIu64 " error=%s",
               sqlite3_db_filename(s->wdb, "main"), s->unwarned, s->why);
        s->warned_at = now;
        s->unwarned = 0;
    }
    lock(s);
    s->stats.writes += ok;
    s->stats.write_errors += failed;
    s->stats.transactions += in_tx;
    unlock(s);
}

static void *writer_main(void *arg)
{
    ac_store_t *s = arg;
    lock(s);
    for (;;) {
        while (!s->head && !s->stopping)
            wait_on(s, &s->wake);
        if (!s->head && s->stopping)
            break;
        job_t *batch = s->head, *last = s->head;
        size_t n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        s->queued -= n;
        unlock(s);
        write_batch(s, batch);
        while (batch) {
            job_t *next = batch->next;
            free(batch);
            batch = next;
        }
        lock(s);
        s->done += n;
        pthread_cond_broadcast(&s->drained);
    }
    unlock(s);
    return NULL;
}

/* Frees what open created (the writer thread, if any, has been joined). */
static void release(ac_store_t *s)
{
    sqlite3_finalize(s->get_stmt);
    sqlite3_finalize(s->del_stmt);
    sqlite3_finalize(s->put_stmt);
    sqlite3_close(s->db);
    sqlite3_close(s->wdb);
    int rc = pthread_mutex_destroy(&s->lock); /* EBUSY: a thread left it locked */
    assert(rc == 0);
    (void)rc;
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->drained);
    free(s);
}

ac_store_t *ac_store_open(const char *path, size_t queue_max, ac_error_t *err)
{
    ac_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        ac_error_set(err, AC_ENOMEM, "", "out of memory");
        return NULL;
    }
    s->queue_max = queue_max ? queue_max : 65536;
#ifdef NDEBUG
    pthread_mutex_init(&s->lock, NULL);
#else
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&s->lock, &attr);
    pthread_mutexattr_destroy(&attr);
#endif
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->drained, NULL);
    s->db = open_conn(path, err);
    if (!s->db || migrate(s->db, err))
        goto fail;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT version, generation, outputs_hash, snapshot, stamp FROM snapshots "
            "WHERE actor_id = ?1",
            -1, &s->get_stmt, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM snapshots WHERE actor_id = ?1", -1, &s->del_stmt,
                           NULL) != SQLITE_OK) {
        fail_db(err, s->db, "prepare");
        goto fail;
    }
    s->wdb = open_conn(path, err);
    if (!s->wdb)
        goto fail;
    if (sqlite3_prepare_v2(
            s->wdb,
            "INSERT INTO snapshots (actor_id, version, generation, outputs_hash, "
            "snapshot, updated_at, stamp) VALUES (?1, ?2, ?3, ?4, ?5, "
            "CAST(strftime('%s','now') AS INTEGER), ?6) "
            "ON CONFLICT(actor_id) DO UPDATE SET version = excluded.version, "
            "generation = excluded.generation, outputs_hash = excluded.outputs_hash, "
            "snapshot = excluded.snapshot, updated_at = excluded.updated_at, "
            "stamp = excluded.stamp "
            "WHERE excluded.stamp > snapshots.stamp OR "
            "(excluded.stamp = snapshots.stamp AND excluded.version >= snapshots.version)",
            -1, &s->put_stmt, NULL) != SQLITE_OK) {
        fail_db(err, s->wdb, "prepare");
        goto fail;
    }
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        ac_error_set(err, AC_EINTERNAL, "", "store: cannot start the writer thread");
        goto fail;
    }
    return s;
fail:
    release(s);
    return NULL;
}

void ac_store_close(ac_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_store_t *s = *self_p;
    lock(s);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    unlock(s);
    pthread_join(s->writer, NULL);
    release(s);
    *self_p = NULL;
}

int ac_store_get(ac_store_t *s, const char *actor_id, size_t len, ac_stored_t *out, ac_error_t *err)
{
    sqlite3_stmt *st = s->get_stmt;
    sqlite3_bind_text(st, 1, actor_id, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st), result = 0;
    if (rc == SQLITE_ROW) {
        out->version = sqlite3_column_int64(st, 0);
        out->generation = (uint64_t)sqlite3_column_int64(st, 1);
        out->outputs_hash = (uint64_t)sqlite3_column_int64(st, 2);
        out->stamp = (uint64_t)sqlite3_column_int64(st, 4);
        const void *blob = sqlite3_column_blob(st, 3);
        out->value_len = (size_t)sqlite3_column_bytes(st, 3);
        out->value = malloc(out->value_len ? out->value_len : 1);
        if (!out->value)
            result = ac_error_set(err, AC_ENOMEM, "", "out of memory");
        else {
            if (out->value_len)
                memcpy(out->value, blob, out->value_len);
            result = 1;
        }
    } else if (rc != SQLITE_DONE) {
        result = fail_db(err, s->db, "read");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    lock(s);
    s->stats.reads++;
    s->stats.read_hits += result == 1;
    s->stats.read_errors += result < 0;
    unlock(s);
    return result;
}

int ac_store_put(ac_store_t *s, const ac_cache_key_t *key, const void *value, size_t len)
{
    job_t *j = malloc(sizeof *j + key->actor_id_len + len);
    if (!j) { /* out of memory: dropped and counted like a full queue (the cache only saves work) */
        lock(s);
        s->stats.dropped++;
        unlock(s);
        return -1;
    }
    j->next = NULL;
    j->version = key->version;
    j->generation = key->generation;
    j->outputs_hash = key->outputs_hash;
    j->stamp = key->stamp;
    j->id_len = key->actor_id_len;
    j->value_len = len;
    memcpy(j->data, key->actor_id, key->actor_id_len);
    memcpy(j->data + key->actor_id_len, value, len);
    lock(s);
    if (s->queued >= s->queue_max) {
        s->stats.dropped++;
        unlock(s);
        free(j);
        return -1;
    }
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    s->enqueued++;
    pthread_cond_signal(&s->wake);
    unlock(s);
    return 0;
}

void ac_store_flush(ac_store_t *s)
{
    lock(s);
    uint64_t target = s->enqueued;
    while (s->done < target)
        wait_on(s, &s->drained);
    unlock(s);
}

int ac_store_delete(ac_store_t *s, const char *actor_id, size_t len, ac_error_t *err)
{
    ac_store_flush(s);
    sqlite3_stmt *st = s->del_stmt;
    sqlite3_bind_text(st, 1, actor_id, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return fail_db(err, s->db, "delete");
    return sqlite3_changes(s->db) > 0;
}

void ac_store_stats(ac_store_t *s, ac_store_stats_t *stats)
{
    lock(s);
    *stats = s->stats;
    stats->queued = s->queued;
    unlock(s);
}
