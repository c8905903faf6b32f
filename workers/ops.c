/*  ops.c - the worker's answers to SPEC 8's ops: resolve, resolve_batch, get, invalidate,
    stats, ping. Every request gets exactly one reply; a bad request gets a structured
    error and the worker goes on.

    Cache path of a resolve with an actor (cache "use"): L1 by the full key, then L3 by the
    full key (a hit warms L1), else compute; a computed snapshot goes to L1 and is queued
    for L3. "bypass" neither reads nor writes; "refresh" computes and writes. A request
    without an actor is never cached (it has no key).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"
#include "core/hash.h"
#include "core/request_impl.h"
#include "service/mdp.h"
#include "service/notify.h"

enum { CACHE_USE, CACHE_BYPASS, CACHE_REFRESH };

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One generation of the configuration (worker.h): built whole before it replaces one. */
typedef struct {
    ac_registry_t *reg;      /* combiner + layers */
    ac_subsystems_t *subs;   /* NULL when none */
    ac_resolver_t *resolver; /* resolves with reg and subs */
    ac_request_t *req;       /* a request of reg */
} generation_t;

/* Frees g in the order the library asks: the resolver before the subsystems it runs. */
static void generation_free(generation_t *g)
{
    ac_request_destroy(&g->req);
    ac_resolver_destroy(&g->resolver);
    ac_subsystems_destroy(&g->subs);
    ac_registry_destroy(&g->reg);
}

/* The subsystem folder the settings name; the shipped tables go with the shipped
   registries, used by default only together. NULL: none. */
static const char *subsystems_dir(const worker_config_t *cfg)
{
    const char *dir = cfg->subsystems;
    if (!dir && !cfg->combiner && !cfg->layers && access("config/subsystems", R_OK) == 0)
        dir = "config/subsystems";
    return dir && strcmp(dir, "none") != 0 ? dir : NULL;
}

/* Loads every file of a generation into g (freed by the caller whatever happens). */
static int generation_load(const worker_t *w, generation_t *g, ac_error_t *err)
{
    memset(g, 0, sizeof *g);
    g->reg = worker_load_registry(&w->cfg, err);
    if (!g->reg)
        return err->code;
    g->resolver = ac_resolver_new(g->reg);
    g->req = ac_request_new(g->reg);
    if (!g->resolver || !g->req)
        return ac_error_set(err, AC_EINTERNAL, "", "out of memory");
    ac_request_set_limits(g->req, &w->limits);
    const char *dir = subsystems_dir(&w->cfg);
    if (dir) {
        g->subs = ac_subsystems_load(g->reg, dir, err);
        if (!g->subs || ac_subsystems_install(g->subs, g->resolver, err))
            return worker_setting_error(err, "subsystems");
    }
    return 0;
}

/* Makes g the worker's generation; *g is left holding the one it replaced. */
static void generation_swap(worker_t *w, generation_t *g)
{
    generation_t old = {w->reg, w->subs, w->resolver, w->req};
    w->reg = g->reg;
    w->subs = g->subs;
    w->resolver = g->resolver;
    w->req = g->req;
    *g = old;
}

static ac_l1_t *l1_new(const worker_config_t *cfg)
{
    ac_l1_config_t l1 = {(size_t)cfg->l1_entries, (size_t)cfg->l1_bytes, (uint64_t)cfg->l1_ttl_ms};
    return ac_l1_new(&l1);
}

int worker_init(worker_t *w, ac_error_t *err)
{
    /* First, so that worker_fini is safe whatever fails below. Large enough that a typical
       request tree needs no extra chunk (no malloc per request). */
    msgpack_zone_init(&w->zone, 1u << 20);
    msgpack_sbuffer_init(&w->snap);
    msgpack_sbuffer_init(&w->reply);
    ac_limits_default(&w->limits);
    w->limits.max_message_bytes = (size_t)w->cfg.max_message_bytes;
    w->limits.max_contributions = (size_t)w->cfg.max_contributions;
    w->limits.max_batch = (size_t)w->cfg.max_batch;
    generation_t g;
    int rc = generation_load(w, &g, err);
    generation_swap(w, &g); /* even a partial one: worker_fini frees it */
    if (rc)
        return rc;
    if (w->cfg.l1_entries > 0) {
        w->l1 = l1_new(&w->cfg);
        if (!w->l1)
            return ac_error_set(err, AC_EINTERNAL, "", "cannot create L1");
    }
    /* "none" or empty: no L3, on purpose. A store asked for that cannot be opened now is
       an error: an operator who meant durability must not silently get none. (A store
       that fails later is logged and counted; the worker goes on computing.) */
    if (w->cfg.store && *w->cfg.store && strcmp(w->cfg.store, "none") != 0) {
        if (strstr(w->cfg.store, "://"))
            return ac_error_set(err, AC_ESCHEMA, "store",
                                "--store: expected a SQLite file path or none, found '%.60s'",
                                w->cfg.store);
        if (strcmp(w->cfg.store, WORKER_DEFAULT_STORE) == 0)
            (void)mkdir("var", 0755); /* the default's folder; an error shows at the open */
        w->store = ac_store_open(w->cfg.store, (size_t)w->cfg.store_queue, err);
        if (!w->store) {
            worker_setting_error(err, "store");
            size_t len = strlen(err->message);
            snprintf(err->message + len, sizeof err->message - len,
                     " (--store none runs without L3)");
            return err->code ? err->code : AC_EUNAVAILABLE;
        }
    }
    w->pid = (int)getpid();
    return 0;
}

/* Everything new is loaded first (and a fresh L1 made); only then is anything replaced, so
   a bad file, or memory running out, leaves the worker as it was. Requests are served one
   at a time: the one that asked (admin reload) or the last one before the signal finished
   on the old generation, and every later one runs on the new. The old L1 goes whole: its
   entries could never hit again (their key has the old generation) and would only hold
   memory. L3 rows of the old generation stay in the file, refused by the generation in
   their key (resolve) and in get. */
int worker_reload(worker_t *w, ac_error_t *err)
{
    ac_notify("RELOADING=1");
    generation_t g;
    int rc = generation_load(w, &g, err);
    ac_l1_t *l1 = NULL;
    if (!rc && w->cfg.l1_entries > 0 && !(l1 = l1_new(&w->cfg)))
        rc = ac_error_set(err, AC_EINTERNAL, "", "out of memory for a new L1");
    if (rc) {
        generation_free(&g);
        w->reload_errors++;
        ac_notify("READY=1"); /* still serving, on the old generation */
        return rc;
    }
    generation_swap(w, &g);
    generation_free(&g); /* the old one */
    if (l1) {
        ac_l1_destroy(&w->l1);
        w->l1 = l1;
    }
    w->reloads++;
    ac_notify("READY=1");
    return 0;
}

void worker_log_reload(const worker_t *w, uint64_t before, const ac_error_t *err)
{
    if (err) /* the old generation goes on serving */
        ac_log(AC_LOG_ERROR, "reload_refused", "code=%s path=%s generation=%016llx msg=%s",
               ac_code_name(err->code), *err->path ? err->path : "-", (unsigned long long)before,
               err->message);
    else
        ac_log(AC_LOG_INFO, "reloaded", "generation=%016llx previous=%016llx reloads=%llu",
               (unsigned long long)ac_resolver_generation(w->resolver), (unsigned long long)before,
               (unsigned long long)w->reloads);
}

void worker_fini(worker_t *w)
{
    ac_store_close(&w->store);
    ac_l1_destroy(&w->l1);
    generation_t g = {0};
    generation_swap(w, &g);
    generation_free(&g);
    msgpack_zone_destroy(&w->zone);
    msgpack_sbuffer_destroy(&w->snap);
    msgpack_sbuffer_destroy(&w->reply);
    ac_curve_keys_fini(&w->keys);
}

static void record_latency(worker_t *w, uint64_t us)
{
    int b = 0;
    if (us >= 8) {
        int log2 = 63 - __builtin_clzll(us);
        b = (log2 - 2) * 8 + (int)((us >> (log2 - 3)) & 7);
    } else {
        b = (int)us;
    }
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    w->hist[b]++;
}

/* Lower edge of histogram bucket b, in microseconds. */
static double bucket_us(int b)
{
    if (b < 8)
        return b;
    int log2 = b / 8 + 2;
    return (double)(1ull << log2) + (double)(b % 8) * (double)(1ull << (log2 - 3));
}

static double quantile(const worker_t *w, double q)
{
    uint64_t total = 0;
    for (int b = 0; b < HIST_BUCKETS; b++)
        total += w->hist[b];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += w->hist[b];
        if (seen >= want)
            return bucket_us(b);
    }
    return bucket_us(HIST_BUCKETS - 1);
}

/* ---- result writers ---- */

#define PK_STR(pk, s) ac_wire_pack_str(pk, s)

/* Writes {ok: true, snapshot: <bytes>, cache: tier} fields (3 pairs). */
static void pack_ok_snapshot(msgpack_packer *pk, const void *snap, size_t len, const char *tier)
{
    PK_STR(pk, "ok");
    msgpack_pack_true(pk);
    PK_STR(pk, "snapshot");
    msgpack_sbuffer_write(pk->data, snap, len); /* an encoded map, inserted as is */
    PK_STR(pk, "cache");
    PK_STR(pk, tier);
}

static void pack_error_fields(msgpack_packer *pk, const ac_error_t *err)
{
    PK_STR(pk, "ok");
    msgpack_pack_false(pk);
    PK_STR(pk, "error");
    msgpack_pack_map(pk, 3);
    PK_STR(pk, "code");
    PK_STR(pk, ac_code_name(err->code));
    PK_STR(pk, "message");
    PK_STR(pk, err->message);
    PK_STR(pk, "path");
    PK_STR(pk, err->path);
}

static void publish(worker_t *w, const ac_actor_t *actor, const void *snap, size_t len)
{
    if (!w->pub)
        return;
    char topic[160];
    int n = snprintf(topic, sizeof topic, "snap/%.*s", (int)actor->id_len, actor->id);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, topic, (size_t)n);
    zmsg_addmem(msg, snap, len);
    if (zmsg_send(&msg, w->pub) == 0)
        w->published++;
    zmsg_destroy(&msg);
}

/* Checks that map has only the given keys; fills err at prefix.key otherwise. */
static int only_keys(const msgpack_object *map, const char *const *keys, const char *prefix,
                     ac_error_t *err)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        bool known = false;
        for (int j = 0; keys[j] && !known; j++)
            known = k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(keys[j]) &&
                    memcmp(k->via.str.ptr, keys[j], k->via.str.size) == 0;
        if (!known) {
            if (k->type != MSGPACK_OBJECT_STR)
                return ac_error_set(err, AC_ESCHEMA, prefix, "map keys must be strings");
            char path[AC_ERROR_PATH_MAX];
            snprintf(path, sizeof path, "%s%s%.*s", prefix, *prefix ? "." : "",
                     (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr);
            return ac_error_set(err, AC_ESCHEMA, path, "unknown field");
        }
    }
    return 0;
}

/* Renders "<prefix>.<key>" / "<key>" for paths. */
static void join(char *buf, size_t size, const char *prefix, const char *key)
{
    snprintf(buf, size, "%s%s%s", prefix, *prefix ? "." : "", key);
}

/* Reads an item's options (cache, publish) and decodes its actor and outputs into w->req,
   which it resets first. */
static int decode_item(worker_t *w, const msgpack_object *item, const char *prefix, int *mode,
                       bool *want_publish, ac_error_t *err)
{
    char path[96];
    const msgpack_object *actor = ac_wire_get(item, "actor");
    const msgpack_object *outputs = ac_wire_get(item, "outputs");
    const msgpack_object *cache = ac_wire_get(item, "cache");
    const msgpack_object *pub = ac_wire_get(item, "publish");
    ac_request_reset(w->req);
    int rc = 0;
    if (cache) {
        join(path, sizeof path, prefix, "cache");
        if (cache->type == MSGPACK_OBJECT_STR && cache->via.str.size == 3 &&
            memcmp(cache->via.str.ptr, "use", 3) == 0)
            *mode = CACHE_USE;
        else if (cache->type == MSGPACK_OBJECT_STR && cache->via.str.size == 6 &&
                 memcmp(cache->via.str.ptr, "bypass", 6) == 0)
            *mode = CACHE_BYPASS;
        else if (cache->type == MSGPACK_OBJECT_STR && cache->via.str.size == 7 &&
                 memcmp(cache->via.str.ptr, "refresh", 7) == 0)
            *mode = CACHE_REFRESH;
        else
            rc = ac_error_set(err, AC_ESCHEMA, path, "cache is one of use, bypass, refresh");
    }
    if (!rc && pub) {
        join(path, sizeof path, prefix, "publish");
        if (pub->type != MSGPACK_OBJECT_BOOLEAN)
            rc = ac_error_set(err, AC_ESCHEMA, path, "publish is a boolean");
        else
            *want_publish = pub->via.boolean || w->cfg.publish;
    }
    if (!rc && actor) {
        join(path, sizeof path, prefix, "actor");
        rc = ac_decode_actor(w->req, actor, path, err);
    }
    if (!rc && outputs) {
        join(path, sizeof path, prefix, "outputs");
        rc = ac_decode_outputs(w->req, outputs, path, err);
    }
    return rc;
}

/* ---- coherence: the floors of the request being served (service/mdp.h) ---- */

/* Reads the floors frame of a request; a frame that is not one is ignored (every floor
   then 0, as with a broker that sends none). */
static void floors_read(worker_t *w, const uint8_t *f, size_t len)
{
    w->floor_count = 0;
    w->floor_global = 0;
    w->floor_pairs = NULL;
    if (!f || len < AC_FLOORS_HEAD || memcmp(f, AC_FLOORS_MAGIC, 4) != 0)
        return;
    uint32_t n =
        (uint32_t)f[12] | (uint32_t)f[13] << 8 | (uint32_t)f[14] << 16 | (uint32_t)f[15] << 24;
    if (n > AC_FLOORS_IDS_MAX || len != AC_FLOORS_HEAD + 16 * (size_t)n)
        return;
    w->floor_global = ac_le64_get(f + 4);
    w->floor_count = n;
    w->floor_pairs = f + AC_FLOORS_HEAD;
}

/* The floor of an actor: the broker's for it when listed (*exact), else the global floor
   (every floor is at most that: safe for reads, but nothing computed is stored under it). */
static uint64_t floor_of(const worker_t *w, const char *id, size_t len, bool *exact)
{
    *exact = true;
    if (!w->floor_pairs)
        return 0;
    uint64_t h = ac_hash_finish(ac_hash_bytes(AC_HASH_INIT, id, len));
    for (uint32_t i = 0; i < w->floor_count; i++)
        if (ac_le64_get(w->floor_pairs + 16 * i) == h)
            return ac_le64_get(w->floor_pairs + 16 * i + 8);
    *exact = false;
    return w->floor_global;
}

/* An L1 entry computed before the actor's floor: dropped, and counted. */
static const ac_l1_entry_t *fresh_l1(worker_t *w, const ac_l1_entry_t *e, const char *id,
                                     size_t len, uint64_t floor)
{
    if (!e || e->stamp >= floor)
        return e;
    w->stale++;
    ac_l1_remove(w->l1, id, len);
    return NULL;
}

/* The actor's L3 row when it has one computed at or after its floor: 1 (row filled; the
   caller frees its value), else 0; a store error or a stale row is counted. */
static int fresh_l3(worker_t *w, const char *id, size_t len, uint64_t floor, ac_stored_t *row)
{
    ac_error_t err;
    int got = ac_store_get(w->store, id, len, row, &err);
    if (got < 0)
        w->store_errors++;
    if (got == 1 && row->stamp < floor) {
        w->stale++;
        free(row->value);
        got = 0;
    }
    return got == 1;
}

/* Puts an L3 row into L1 under the key it was stored with. */
static void warm_l1(worker_t *w, const char *id, size_t len, const ac_stored_t *row)
{
    if (!w->l1)
        return;
    ac_cache_key_t key = {id, len, row->version, row->generation, row->outputs_hash, row->stamp};
    ac_l1_put(w->l1, &key, row->value, row->value_len, now_ms());
}

/* Looks the snapshot up in L1, then in L3 (a hit warms L1); on a hit writes the result
   fields (3) and returns true. */
static bool reply_from_cache(worker_t *w, const ac_actor_t *a, const ac_cache_key_t *key,
                             uint64_t floor, bool want_publish, msgpack_packer *pk)
{
    const ac_l1_entry_t *hit = w->l1 ? ac_l1_lookup(w->l1, key, now_ms()) : NULL;
    hit = fresh_l1(w, hit, a->id, a->id_len, floor);
    if (hit) {
        w->l1_hits++;
        pack_ok_snapshot(pk, hit->value, hit->value_len, "l1");
        if (want_publish)
            publish(w, a, hit->value, hit->value_len);
        return true;
    }
    w->l1_misses++;
    if (w->store) {
        ac_stored_t row;
        int got = fresh_l3(w, a->id, a->id_len, floor, &row);
        if (got && row.version == key->version && row.generation == key->generation &&
            row.outputs_hash == key->outputs_hash) {
            w->l3_hits++;
            warm_l1(w, a->id, a->id_len, &row);
            pack_ok_snapshot(pk, row.value, row.value_len, "l3");
            if (want_publish)
                publish(w, a, row.value, row.value_len);
            free(row.value);
            return true;
        }
        if (got && row.generation != key->generation)
            w->old_generation++;
        if (got)
            free(row.value);
        w->l3_misses++;
    }
    return false;
}

/* Encodes a computed snapshot, writes it to the cache tiers when key is not NULL, and
   writes the result fields. Returns the number of fields written. */
static int reply_computed(worker_t *w, const ac_actor_t *a, const ac_snapshot_t *snap,
                          const ac_cache_key_t *key, bool want_publish, msgpack_packer *pk)
{
    w->resolves++;
    msgpack_sbuffer_clear(&w->snap);
    if (ac_snapshot_pack_buffer(&w->snap, snap, w->reg, a ? a->id : NULL, a ? a->id_len : 0)) {
        ac_error_t err;
        ac_error_clear(&err);
        ac_error_set(&err, AC_EINTERNAL, "", "out of memory");
        w->errors++;
        w->item_code = err.code;
        pack_error_fields(pk, &err);
        return 2;
    }
    if (key) {
        if (w->l1)
            ac_l1_put(w->l1, key, w->snap.data, w->snap.size, now_ms());
        if (w->store && ac_store_put(w->store, key, w->snap.data, w->snap.size))
            w->store_errors++;
        else if (w->store)
            w->wrote_store = true;
    }
    pack_ok_snapshot(pk, w->snap.data, w->snap.size, "miss");
    if (want_publish && a)
        publish(w, a, w->snap.data, w->snap.size);
    return 3;
}

/* Resolves one item ({actor?, outputs?, cache?, publish?} in a request or a batch) and
   writes its result fields (ok, snapshot, cache | ok, error) into pk. Returns the number
   of fields written. */
static int resolve_item(worker_t *w, const msgpack_object *item, const char *prefix,
                        msgpack_packer *pk)
{
    ac_error_t err;
    ac_error_clear(&err);
    int mode = CACHE_USE;
    bool want_publish = w->cfg.publish;
    int rc = decode_item(w, item, prefix, &mode, &want_publish, &err);
    const ac_actor_t *a = ac_request_actor(w->req);
    ac_cache_key_t key = {0};
    /* The key (a hash over the whole actor) is only worth computing when a tier will be
       read or written. */
    bool cached = a && mode != CACHE_BYPASS && (w->l1 || w->store);
    uint64_t floor = 0;
    bool exact = true;
    if (!rc && cached) {
        floor = floor_of(w, a->id, a->id_len, &exact);
        key = (ac_cache_key_t){a->id,
                               a->id_len,
                               a->version,
                               ac_resolver_generation(w->resolver),
                               ac_request_content_hash(w->req),
                               floor};
    }
    if (!rc && cached && mode == CACHE_USE && reply_from_cache(w, a, &key, floor, want_publish, pk))
        return 3;
    /* Computed under a floor that is not the actor's own: not stored (it could look newer
       than an invalidate it never saw). */
    cached = cached && exact;
    const ac_snapshot_t *snap = NULL;
    if (!rc)
        rc = ac_resolve(w->resolver, w->req, &snap, &err);
    if (rc) {
        w->errors++;
        w->item_code = err.code;
        pack_error_fields(pk, &err);
        return 2;
    }
    return reply_computed(w, a, snap, cached ? &key : NULL, want_publish, pk);
}

/* Reads a required actor_id string. */
static int actor_id_of(const msgpack_object *body, const char **id, size_t *len, ac_error_t *err)
{
    const msgpack_object *o = ac_wire_get(body, "actor_id");
    if (!o)
        return ac_error_set(err, AC_ESCHEMA, "actor_id", "required field is missing");
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size < 1 || o->via.str.size > 128)
        return ac_error_set(err, AC_ESCHEMA, "actor_id", "expected a string of 1 to 128 bytes");
    *id = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

static void op_get(worker_t *w, const msgpack_object *body, const msgpack_object *id,
                   msgpack_packer *pk)
{
    ac_error_t err;
    const char *aid;
    size_t alen;
    w->gets++;
    if (actor_id_of(body, &aid, &alen, &err)) {
        w->reply_code = err.code;
        ac_wire_pack_error(pk, id, &err);
        return;
    }
    /* The newest of L1's and L3's copies: the host's L3 may hold a version another worker
       of the host computed since this one cached its own. */
    bool exact;
    uint64_t floor = floor_of(w, aid, alen, &exact);
    const ac_l1_entry_t *e = w->l1 ? ac_l1_get(w->l1, aid, alen, now_ms()) : NULL;
    e = fresh_l1(w, e, aid, alen, floor);
    /* Only snapshots of the generation in force: after a reload, none of the old tables'
       (L1 was emptied; another worker of the host may still write old rows to L3). */
    uint64_t gen = ac_resolver_generation(w->resolver);
    if (e && e->generation != gen)
        e = NULL;
    ac_stored_t row;
    int got = w->store ? fresh_l3(w, aid, alen, floor, &row) : 0;
    if (got && row.generation != gen) {
        w->old_generation++;
        free(row.value);
        got = 0;
    }
    if (got && e && e->version >= row.version) { /* L1's is as new */
        free(row.value);
        got = 0;
    }
    if (got) {
        msgpack_pack_map(pk, 4);
        PK_STR(pk, "id");
        ac_wire_pack_id(pk, id);
        pack_ok_snapshot(pk, row.value, row.value_len, "l3");
        warm_l1(w, aid, alen, &row);
        free(row.value);
        return;
    }
    if (e) {
        msgpack_pack_map(pk, 4);
        PK_STR(pk, "id");
        ac_wire_pack_id(pk, id);
        pack_ok_snapshot(pk, e->value, e->value_len, "l1");
        return;
    }
    ac_error_set(&err, AC_ENOT_FOUND, "actor_id", "no snapshot is stored for '%.*s'", (int)alen,
                 aid);
    w->reply_code = err.code;
    ac_wire_pack_error(pk, id, &err);
}

static void op_invalidate(worker_t *w, const msgpack_object *body, const msgpack_object *id,
                          msgpack_packer *pk)
{
    ac_error_t err;
    const char *aid;
    size_t alen;
    w->invalidates++;
    if (actor_id_of(body, &aid, &alen, &err)) {
        w->reply_code = err.code;
        ac_wire_pack_error(pk, id, &err);
        return;
    }
    bool removed = w->l1 && ac_l1_remove(w->l1, aid, alen);
    if (w->store) {
        int rc = ac_store_delete(w->store, aid, alen, &err);
        if (rc < 0) {
            w->store_errors++;
            w->reply_code = err.code;
            ac_wire_pack_error(pk, id, &err);
            return;
        }
        removed = removed || rc == 1;
    }
    msgpack_pack_map(pk, 3);
    PK_STR(pk, "id");
    ac_wire_pack_id(pk, id);
    PK_STR(pk, "ok");
    msgpack_pack_true(pk);
    PK_STR(pk, "removed");
    if (removed)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void pack_counter(msgpack_packer *pk, const char *name, uint64_t v)
{
    PK_STR(pk, name);
    msgpack_pack_uint64(pk, v);
}

static void op_stats(worker_t *w, const msgpack_object *id, msgpack_packer *pk)
{
    ac_l1_stats_t l1 = {0};
    ac_store_stats_t l3 = {0};
    if (w->l1)
        ac_l1_stats(w->l1, &l1);
    if (w->store)
        ac_store_stats(w->store, &l3);
    msgpack_pack_map(pk, 5);
    PK_STR(pk, "id");
    ac_wire_pack_id(pk, id);
    PK_STR(pk, "ok");
    msgpack_pack_true(pk);
    PK_STR(pk, "worker");
    msgpack_pack_int(pk, w->pid);
    PK_STR(pk, "stats");
    msgpack_pack_map(pk, 24);
    pack_counter(pk, "requests", w->requests);
    pack_counter(pk, "errors", w->errors);
    pack_counter(pk, "resolves", w->resolves);
    pack_counter(pk, "batch_items", w->batch_items);
    pack_counter(pk, "gets", w->gets);
    pack_counter(pk, "invalidates", w->invalidates);
    pack_counter(pk, "published", w->published);
    pack_counter(pk, "l1_hits", w->l1_hits);
    pack_counter(pk, "l1_misses", w->l1_misses);
    pack_counter(pk, "l1_evictions", l1.evictions + l1.expirations);
    pack_counter(pk, "l1_entries", l1.entries);
    pack_counter(pk, "l1_bytes", l1.bytes);
    pack_counter(pk, "l3_hits", w->l3_hits);
    pack_counter(pk, "l3_misses", w->l3_misses);
    pack_counter(pk, "l3_writes", l3.writes);
    pack_counter(pk, "l3_write_errors", l3.write_errors);
    pack_counter(pk, "l3_dropped", l3.dropped);
    pack_counter(pk, "store_errors", w->store_errors);
    pack_counter(pk, "stale", w->stale);
    pack_counter(pk, "l3_enabled", w->store != NULL);
    pack_counter(pk, "generation", ac_resolver_generation(w->resolver));
    pack_counter(pk, "old_generation", w->old_generation);
    pack_counter(pk, "reloads", w->reloads);
    pack_counter(pk, "reload_errors", w->reload_errors);
    PK_STR(pk, "latency_us");
    msgpack_pack_map(pk, 4);
    const char *names[] = {"p50", "p90", "p99", "p999"};
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        PK_STR(pk, names[i]);
        msgpack_pack_double(pk, quantile(w, qs[i]));
    }
}

/* ---- the request envelope and dispatch ---- */

/* Parses body into a map *req with a valid id (*id, left NULL when absent or invalid) and
   copies its op into name. */
static int read_envelope(worker_t *w, const char *body, size_t len, msgpack_object *req,
                         const msgpack_object **id, char *name, size_t name_size, ac_error_t *err)
{
    if (len > w->limits.max_message_bytes)
        return ac_error_set(err, AC_ETOO_LARGE, "", "request is %zu bytes, the limit is %zu", len,
                            w->limits.max_message_bytes);
    int rc = ac_msgpack_parse(body, len, &w->zone, req, err);
    if (rc)
        return rc;
    if (req->type != MSGPACK_OBJECT_MAP)
        return ac_error_set(err, AC_ESCHEMA, "", "a request is a msgpack map");
    const msgpack_object *got = ac_wire_get(req, "id");
    if (got && !ac_wire_id_ok(got))
        return ac_error_set(err, AC_ESCHEMA, "id",
                            "id is an integer or a string of at most 256 bytes");
    *id = got;
    const msgpack_object *op = ac_wire_get(req, "op");
    if (!op || op->type != MSGPACK_OBJECT_STR)
        return ac_error_set(err, AC_ESCHEMA, "op", "op is a required string");
    snprintf(name, name_size, "%.*s", (int)(op->via.str.size < 31 ? op->via.str.size : 31),
             op->via.str.ptr);
    return 0;
}

static int op_resolve(worker_t *w, const msgpack_object *req, const msgpack_object *id,
                      msgpack_packer *pk, ac_error_t *err)
{
    static const char *const keys[] = {"op", "id", "actor", "outputs", "cache", "publish", NULL};
    int rc = only_keys(req, keys, "", err);
    if (rc)
        return rc;
    msgpack_pack_map(pk, 4);
    PK_STR(pk, "id");
    ac_wire_pack_id(pk, id);
    /* resolve_item writes 3 fields on success, 2 on failure: fix the map header. */
    int fields = resolve_item(w, req, "", pk);
    if (fields == 2) {
        w->reply.data[0] = (char)0x83; /* fixmap of 3: id, ok, error */
        w->reply_code = w->item_code;
    } else {
        PK_STR(pk, "worker");
        msgpack_pack_int(pk, w->pid);
        w->reply.data[0] = (char)0x85;
    }
    return 0;
}

/* Resolves item i of a batch into its result map; a malformed item gets an error map. */
static void resolve_batch_item(worker_t *w, const msgpack_object *item, uint32_t i,
                               msgpack_packer *pk)
{
    static const char *const item_keys[] = {"actor", "outputs", "cache", "publish", NULL};
    char prefix[32];
    snprintf(prefix, sizeof prefix, "items[%u]", i);
    w->batch_items++;
    ac_error_t ierr;
    ac_error_clear(&ierr);
    if (item->type != MSGPACK_OBJECT_MAP)
        ac_error_set(&ierr, AC_ESCHEMA, prefix, "an item is a map");
    else
        only_keys(item, item_keys, prefix, &ierr);
    if (ierr.code) {
        w->errors++;
        w->item_errors[-ierr.code & (WORKER_CODES - 1)]++;
        msgpack_pack_map(pk, 2);
        pack_error_fields(pk, &ierr);
        return;
    }
    /* The map header is fixed up once resolve_item has said how many fields. */
    size_t at = w->reply.size;
    msgpack_pack_map(pk, 3);
    if (resolve_item(w, item, prefix, pk) == 2) {
        w->reply.data[at] = (char)0x82;
        w->item_errors[-w->item_code & (WORKER_CODES - 1)]++;
    }
}

static int op_resolve_batch(worker_t *w, const msgpack_object *req, const msgpack_object *id,
                            msgpack_packer *pk, ac_error_t *err)
{
    static const char *const keys[] = {"op", "id", "items", NULL};
    int rc = only_keys(req, keys, "", err);
    if (rc)
        return rc;
    const msgpack_object *items = ac_wire_get(req, "items");
    if (!items || items->type != MSGPACK_OBJECT_ARRAY)
        return ac_error_set(err, AC_ESCHEMA, "items", "items is a required array");
    if (items->via.array.size > w->limits.max_batch)
        return ac_error_set(err, AC_ETOO_LARGE, "items", "%u items, the limit is %zu",
                            items->via.array.size, w->limits.max_batch);
    msgpack_pack_map(pk, 3);
    PK_STR(pk, "id");
    ac_wire_pack_id(pk, id);
    PK_STR(pk, "ok");
    msgpack_pack_true(pk);
    PK_STR(pk, "results");
    msgpack_pack_array(pk, items->via.array.size);
    for (uint32_t i = 0; i < items->via.array.size; i++)
        resolve_batch_item(w, &items->via.array.ptr[i], i, pk);
    return 0;
}

static void op_ping(worker_t *w, const msgpack_object *id, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    PK_STR(pk, "id");
    ac_wire_pack_id(pk, id);
    PK_STR(pk, "ok");
    msgpack_pack_true(pk);
    PK_STR(pk, "pong");
    msgpack_pack_true(pk);
    PK_STR(pk, "worker");
    msgpack_pack_int(pk, w->pid);
}

/* {op: admin, action: reload}: worker_reload; answered with the generation now in force
   and the one before, or with the loader's error (file:line in the message, the setting
   or field in path) while the old generation goes on serving. */
static void op_admin(worker_t *w, const msgpack_object *body, const msgpack_object *id,
                     msgpack_packer *pk)
{
    static const char *const keys[] = {"op", "id", "action", NULL};
    ac_error_t err;
    ac_error_clear(&err);
    const msgpack_object *a = ac_wire_get(body, "action");
    if (only_keys(body, keys, "", &err) == 0 &&
        (!a || a->type != MSGPACK_OBJECT_STR || a->via.str.size != 6 ||
         memcmp(a->via.str.ptr, "reload", 6) != 0))
        ac_error_set(&err, AC_ESCHEMA, "action", "expected action: reload");
    uint64_t before = ac_resolver_generation(w->resolver);
    if (!err.code && worker_reload(w, &err) == 0)
        w->reloaded = true;
    if (err.code) {
        w->errors++;
        worker_log_reload(w, before, &err);
        ac_wire_pack_error(pk, id, &err);
        return;
    }
    worker_log_reload(w, before, NULL);
    msgpack_pack_map(pk, 7);
    PK_STR(pk, "id");
    ac_wire_pack_id(pk, id);
    PK_STR(pk, "ok");
    msgpack_pack_true(pk);
    PK_STR(pk, "action");
    PK_STR(pk, "reload");
    pack_counter(pk, "generation", ac_resolver_generation(w->resolver));
    pack_counter(pk, "previous", before);
    pack_counter(pk, "reloads", w->reloads);
    PK_STR(pk, "worker");
    msgpack_pack_int(pk, w->pid);
}

/* The op's index (WOP_*) from its name. */
static int op_index(const char *name)
{
    static const char *const names[] = {"resolve", "resolve_batch", "get",  "invalidate",
                                        "stats",   "ping",          "admin"};
    for (int i = 0; i < WOP_OTHER; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return WOP_OTHER;
}

/* Runs op (WOP_*, name its name); fails (nothing written) for an unknown op or a bad
   request of resolve or resolve_batch. The other ops write their own errors. */
static int dispatch(worker_t *w, int op, const char *name, const msgpack_object *req,
                    const msgpack_object *id, msgpack_packer *pk, ac_error_t *err)
{
    switch (op) {
    case WOP_RESOLVE:
        return op_resolve(w, req, id, pk, err);
    case WOP_BATCH:
        return op_resolve_batch(w, req, id, pk, err);
    case WOP_GET:
        op_get(w, req, id, pk);
        return 0;
    case WOP_INVALIDATE:
        op_invalidate(w, req, id, pk);
        return 0;
    case WOP_STATS:
        op_stats(w, id, pk);
        return 0;
    case WOP_PING:
        op_ping(w, id, pk);
        return 0;
    case WOP_ADMIN:
        op_admin(w, req, id, pk);
        return 0;
    default:
        return ac_error_set(err, AC_EUNKNOWN_OP, "op",
                            "unknown op '%s' (expected resolve, "
                            "resolve_batch, get, invalidate, stats, ping, admin)",
                            name);
    }
}

/* At debug only: one line per request, with its id, and the code and path of an error
   (read back from the reply: every op packs its own). */
static void log_request(worker_t *w, const char *op, const msgpack_object *id, uint64_t took_us)
{
    char rid[72] = "";
    if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(rid, sizeof rid, "%" PRIu64, id->via.u64);
    else if (id && id->type == MSGPACK_OBJECT_STR)
        snprintf(rid, sizeof rid, "%.*s", (int)(id->via.str.size < 64 ? id->via.str.size : 64),
                 id->via.str.ptr);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    const msgpack_object *e = NULL;
    if (msgpack_unpack_next(&u, w->reply.data, w->reply.size, NULL) == MSGPACK_UNPACK_SUCCESS)
        e = ac_wire_get(&u.data, "error");
    const msgpack_object *code = e ? ac_wire_get(e, "code") : NULL,
                         *path = e ? ac_wire_get(e, "path") : NULL,
                         *msg = e ? ac_wire_get(e, "message") : NULL;
#define STR_OF(o)                                                        \
    (o) && (o)->type == MSGPACK_OBJECT_STR ? (int)(o)->via.str.size : 0, \
        (o) && (o)->type == MSGPACK_OBJECT_STR ? (o)->via.str.ptr : ""
    if (e)
        ac_log(AC_LOG_DEBUG, "request",
               "op=%s req_id=%s code=%.*s path=%.*s took_us=%" PRIu64 " msg=%.*s", op, rid,
               STR_OF(code), STR_OF(path), took_us, STR_OF(msg));
    else
        ac_log(AC_LOG_DEBUG, "request", "op=%s req_id=%s code=ok took_us=%" PRIu64, op, rid,
               took_us);
#undef STR_OF
    msgpack_unpacked_destroy(&u);
}

void worker_handle(worker_t *w, const char *body, size_t len, const uint8_t *floors,
                   size_t floors_len)
{
    floors_read(w, floors, floors_len);
    w->wrote_store = false;
    uint64_t t0 = now_us();
    msgpack_sbuffer_clear(&w->reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w->reply, msgpack_sbuffer_write);
    msgpack_zone_clear(&w->zone);
    w->requests++;
    w->reply_code = 0;
    ac_error_t err;
    ac_error_clear(&err);
    msgpack_object req;
    const msgpack_object *id = NULL;
    char name[32];
    int op = WOP_OTHER;
    int rc = read_envelope(w, body, len, &req, &id, name, sizeof name, &err);
    if (!rc) {
        op = op_index(name);
        rc = dispatch(w, op, name, &req, id, &pk, &err);
    }
    if (rc) {
        w->errors++;
        w->reply_code = err.code;
        msgpack_sbuffer_clear(&w->reply);
        ac_wire_pack_error(&pk, id, &err);
    }
    uint64_t us = now_us() - t0;
    record_latency(w, us);
    w->op_requests[op]++;
    if (w->reply_code)
        w->op_errors[op][-w->reply_code & (WORKER_CODES - 1)]++;
    ac_hist_add(&w->op_latency[op], us);
    if (ac_log_on(AC_LOG_DEBUG))
        log_request(w, name[0] ? name : "?", id, us);
}
