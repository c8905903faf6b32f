/*  soak_load - the checked load of bench/soak.sh (issue 11, "Soak and faults").

    One client keeps a window of requests in flight against the broker for --seconds, at
    most one per actor at a time (so each actor's requests are ordered: a reply is always
    judged against everything that came before it for that actor), then drains. The mix,
    over --actors actors whose versions only grow:
      - resolve of a new version, or of the current one again, with `cache: use` or
        `bypass` (a fixed choice per actor and version, so the versions a store may hold
        are known), the request inline (actor {id, version} and outputs, no subsystems);
      - get; invalidate; and every second a few `stats`, whose per-worker L3 counters
        (by pid) show what the disk faults did.
    Every reply is checked. A resolve's snapshot must equal, value for value, the snapshot
    this program computes in-process with ac_resolve from the same msgpack bytes over the
    same registry files. A get that answers ok must return a version that was resolved
    with `cache: use` for that actor, equal to its in-process snapshot, and never one from
    before an acknowledged invalidate; not_found is allowed (counted). Counted: sent,
    answered ok, errors by code, lost (the client's synthesized `timeout` after its
    retries, or still pending when the drain ends), wrong, duplicated (a second answer to
    one id, tracked here as well as the library's `duplicates`). Prints one `RESULT` line
    that soak.sh reads; exit 1 on any lost, wrong or duplicated reply.
*/
#include <czmq.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actorcore/actorcore.h"
#include "actorcore/client.h"
#include "actorcore/wire.h"
#include "bench.h"
#include "keys.h"

#define RING 65536 /* request slots, indexed by id; far above any window */
#define MAX_ACTORS 65536
#define MAX_PIDS 256 /* workers seen by `stats` */
#define MAX_CODES 16 /* distinct error codes counted */
#define STATS_EVERY_MS 1000
#define STATS_PER_TICK 3

typedef enum { OP_RESOLVE, OP_GET, OP_INVALIDATE, OP_STATS } op_t;

static const char *const s_op_names[] = {"resolve", "get", "invalidate", "stats"};

/* One request in flight. */
typedef struct {
    uint64_t id;     /* 0: free */
    op_t op;         /* what was asked */
    int32_t actor;   /* actor index, -1 for stats */
    int64_t version; /* resolve: the version asked */
    bool use;        /* resolve: cache use (else bypass) */
} slot_t;

/* What this program knows of one actor. */
typedef struct {
    int64_t version;     /* highest version sent in a resolve (0: none yet) */
    int64_t inv_version; /* version current when the last acknowledged invalidate was sent */
    int64_t ok_version;  /* highest use-resolve answered ok */
    bool busy;           /* a request for it is in flight */
    bool bump;           /* an invalidate was acknowledged: the next resolve is a new version */
} actor_t;

/* The cache counters of one worker, the highest seen. */
typedef struct {
    int pid;               /* the worker's pid */
    uint64_t writes;       /* l3_writes */
    uint64_t write_errors; /* l3_write_errors */
    uint64_t dropped;      /* l3_dropped */
    uint64_t store_errors; /* store_errors */
    uint64_t stale;        /* stale */
    uint64_t l1_entries;   /* l1_entries */
} wstat_t;

typedef struct {
    uint64_t sent[4];               /* first attempts, by op */
    uint64_t ok[4];                 /* answered ok, by op */
    char codes[MAX_CODES][32];      /* error code names */
    uint64_t code_count[MAX_CODES]; /* answers with that code */
    int ncodes;                     /* entries used */
    uint64_t lost;                  /* no answer after the client's retries */
    uint64_t wrong;                 /* an answer that is not what it must be */
    uint64_t duplicated;            /* a second answer to one id */
    uint64_t not_found;             /* get: nothing stored (allowed, counted) */
    uint64_t get_older;             /* get: older than the last answered use-resolve */
    uint64_t cache[3];              /* resolve answers from l1, l3, miss */
    uint64_t checked;               /* snapshots compared with the in-process one */
} counts_t;

static struct {
    const char *broker, *combiner, *layers;
    double seconds;
    int actors, window, rate, timeout_ms, retries, drain_s;
    unsigned seed;
} s_opt = {NULL, "config/combiner.yaml", "config/cap_layers.yaml", 60, 3000, 64, 2000, 3000, 10, 60,
           1};

static slot_t s_ring[RING];
static actor_t *s_act;
static wstat_t s_ws[MAX_PIDS];
static int s_nws;
static counts_t s_n;
static ac_registry_t *s_reg;
static ac_resolver_t *s_res;
static ac_request_t *s_req;
static msgpack_sbuffer s_body, s_want, s_snap; /* request, expected item, expected snapshot */
static msgpack_zone s_zone, s_wzone;
static uint64_t s_rng = 0x9e3779b97f4a7c15ull;
static volatile sig_atomic_t s_stop;

static void on_term(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* The next draw of the load's fixed-seed sequence. */
static uint64_t rnd(void)
{
    return splitmix64(&s_rng);
}

/* A hash of key: the same value for the same key, every run. */
static uint64_t mix(uint64_t key)
{
    return splitmix64(&key);
}

/* A version is resolved with `cache: use` unless this says bypass: fixed per (actor,
   version), so the versions a store may hold are known without remembering them. */
static bool uses_cache(int a, int64_t v)
{
    return mix(((uint64_t)a << 32) ^ (uint64_t)v ^ 0x5eed) % 4 != 0;
}

static void actor_id(int a, char *buf, size_t size)
{
    snprintf(buf, size, "soak-%05d", a);
}

static void pack_contrib(msgpack_packer *pk, const char *dim, const char *bucket, double v,
                         const char *sys, int prio)
{
    msgpack_pack_map(pk, prio ? 5 : 4);
    ac_wire_pack_str(pk, "dimension");
    ac_wire_pack_str(pk, dim);
    ac_wire_pack_str(pk, "bucket");
    ac_wire_pack_str(pk, bucket);
    ac_wire_pack_str(pk, "value");
    msgpack_pack_double(pk, v);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, sys);
    if (prio) {
        ac_wire_pack_str(pk, "priority");
        msgpack_pack_int(pk, prio);
    }
}

static void pack_cap(msgpack_packer *pk, const char *dim, const char *mode, const char *kind,
                     double v, const char *sys, const char *scope)
{
    msgpack_pack_map(pk, 6);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, sys);
    ac_wire_pack_str(pk, "dimension");
    ac_wire_pack_str(pk, dim);
    ac_wire_pack_str(pk, "mode");
    ac_wire_pack_str(pk, mode);
    ac_wire_pack_str(pk, "kind");
    ac_wire_pack_str(pk, kind);
    ac_wire_pack_str(pk, "value");
    msgpack_pack_double(pk, v);
    ac_wire_pack_str(pk, "scope");
    ac_wire_pack_str(pk, scope);
}

static void pack_meta(msgpack_packer *pk, const char *sys)
{
    ac_wire_pack_str(pk, "meta");
    msgpack_pack_map(pk, 1);
    ac_wire_pack_str(pk, "system");
    ac_wire_pack_str(pk, sys);
}

/* The actor and outputs of (a, v), two key/value pairs: a pure function of (a, v), so
   every resolve of one version is the same request and has one right snapshot. */
static void pack_item(msgpack_packer *pk, int a, int64_t v)
{
    static const char *const prim[] = {"strength",     "agility", "vitality",
                                       "intelligence", "spirit",  "luck"};
    static const char *const der[] = {"hp_max",  "mp_max",    "attack_power",
                                      "defense", "crit_rate", "evasion"};
    char id[32];
    actor_id(a, id, sizeof id);
    uint64_t h = mix(((uint64_t)a << 32) ^ (uint64_t)v);
    double base = 10 + (double)(h % 1000) / 8.0;
    ac_wire_pack_str(pk, "actor");
    msgpack_pack_map(pk, 2);
    ac_wire_pack_str(pk, "id");
    ac_wire_pack_str(pk, id);
    ac_wire_pack_str(pk, "version");
    msgpack_pack_int64(pk, v);
    ac_wire_pack_str(pk, "outputs");
    msgpack_pack_array(pk, 3);
    /* gear: flat primaries and a cap */
    msgpack_pack_map(pk, 3);
    pack_meta(pk, "gear");
    ac_wire_pack_str(pk, "primary");
    msgpack_pack_array(pk, 6);
    for (int i = 0; i < 6; i++)
        pack_contrib(pk, prim[i], "FLAT", base + i * 3.25 + (double)((h >> (i * 4)) & 15), "gear",
                     0);
    ac_wire_pack_str(pk, "caps");
    msgpack_pack_array(pk, 2);
    pack_cap(pk, "strength", "BASELINE", "max", 150 + (double)(h % 97), "gear", "TOTAL");
    pack_cap(pk, "luck", "HARD_MAX", "max", 60 + (double)(h % 41), "gear", "WORLD");
    /* buff: multipliers, a post-add, derived values */
    msgpack_pack_map(pk, 3);
    pack_meta(pk, "buff");
    ac_wire_pack_str(pk, "primary");
    msgpack_pack_array(pk, 3);
    pack_contrib(pk, "strength", "MULT", 0.05 * (double)(h % 7), "buff", 0);
    pack_contrib(pk, "agility", "MULT", 0.1, "buff", 2);
    pack_contrib(pk, "vitality", "POST_ADD", (double)(h % 13), "buff", 0);
    ac_wire_pack_str(pk, "derived");
    msgpack_pack_array(pk, 6);
    for (int i = 0; i < 6; i++)
        pack_contrib(pk, der[i], "FLAT", i >= 4 ? 0.01 * (double)((h >> i) % 50) : base * (i + 1),
                     "buff", 0);
    /* event: an override now and then, an event-layer cap, a context pack */
    msgpack_pack_map(pk, h % 5 == 0 ? 4 : 3);
    pack_meta(pk, "event");
    ac_wire_pack_str(pk, "derived");
    msgpack_pack_array(pk, 1);
    pack_contrib(pk, "hp_max", h % 3 == 0 ? "OVERRIDE" : "MULT", h % 3 == 0 ? 5000 : 0.25, "event",
                 1);
    ac_wire_pack_str(pk, "caps");
    msgpack_pack_array(pk, 1);
    pack_cap(pk, "hp_max", "HARD_MIN", "min", 50, "event", "EVENT");
    if (h % 5 == 0) {
        ac_wire_pack_str(pk, "context");
        msgpack_pack_map(pk, 1);
        ac_wire_pack_str(pk, "pvp");
        msgpack_pack_map(pk, 3);
        ac_wire_pack_str(pk, "additive_percent");
        msgpack_pack_double(pk, 0.2);
        ac_wire_pack_str(pk, "multipliers");
        msgpack_pack_array(pk, 2);
        msgpack_pack_double(pk, 1.5);
        msgpack_pack_double(pk, 1.0 + (double)(h % 4) / 10.0);
        ac_wire_pack_str(pk, "post_add");
        msgpack_pack_double(pk, 50);
    }
}

/* The snapshot the service must answer for (a, v), packed as the worker packs it, parsed
   into *out (in s_wzone). 0, or -1 when the in-process resolve itself failed. */
static int expected(int a, int64_t v, msgpack_object *out)
{
    msgpack_sbuffer_clear(&s_want);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s_want, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_item(&pk, a, v);
    msgpack_zone_clear(&s_wzone);
    msgpack_object item;
    ac_error_t err;
    ac_request_reset(s_req);
    const ac_snapshot_t *sn;
    if (ac_msgpack_parse(s_want.data, s_want.size, &s_wzone, &item, &err) ||
        ac_decode_actor(s_req, ac_wire_get(&item, "actor"), "actor", &err) ||
        ac_decode_outputs(s_req, ac_wire_get(&item, "outputs"), "outputs", &err) ||
        ac_resolve(s_res, s_req, &sn, &err)) {
        fprintf(stderr, "soak_load: in-process resolve of (%d, %lld) failed: %s at %s\n", a,
                (long long)v, err.message, err.path);
        return -1;
    }
    char id[32];
    actor_id(a, id, sizeof id);
    msgpack_sbuffer_clear(&s_snap);
    if (ac_snapshot_pack_buffer(&s_snap, sn, s_reg, id, strlen(id)) ||
        ac_msgpack_parse(s_snap.data, s_snap.size, &s_wzone, out, &err))
        return -1;
    return 0;
}

static const msgpack_object *get_key(const msgpack_object *map, const char *key)
{
    return map && map->type == MSGPACK_OBJECT_MAP ? ac_wire_get(map, key) : NULL;
}

static bool get_int(const msgpack_object *o, int64_t *out)
{
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static void wrong(const slot_t *sl, const char *why)
{
    s_n.wrong++;
    if (s_n.wrong <= 20)
        fprintf(stderr, "soak_load: WRONG %s id %llu actor %d version %lld: %s\n",
                s_op_names[sl->op], (unsigned long long)sl->id, sl->actor, (long long)sl->version,
                why);
}

/* Compares a reply's snapshot with the in-process one of (a, v). */
static void check_snapshot(const slot_t *sl, const msgpack_object *snap, int64_t v)
{
    msgpack_object want;
    if (expected(sl->actor, v, &want) != 0) {
        wrong(sl, "the in-process resolve failed");
        return;
    }
    s_n.checked++;
    if (!snap || !msgpack_object_equal(*snap, want))
        wrong(sl, "the snapshot differs from the in-process one");
}

static void count_code(const char *code, size_t len)
{
    int i = 0;
    while (i < s_n.ncodes && (strlen(s_n.codes[i]) != len || memcmp(s_n.codes[i], code, len)))
        i++;
    if (i == s_n.ncodes) {
        if (s_n.ncodes == MAX_CODES)
            i = MAX_CODES - 1; /* the last entry collects the rest */
        else
            snprintf(s_n.codes[s_n.ncodes++], sizeof s_n.codes[0], "%.*s", (int)len, code);
    }
    s_n.code_count[i]++;
}

static void note_stats(const msgpack_object *reply)
{
    int64_t pid;
    const msgpack_object *st = get_key(reply, "stats");
    if (!get_int(get_key(reply, "worker"), &pid) || !st)
        return;
    int i = 0;
    while (i < s_nws && s_ws[i].pid != (int)pid)
        i++;
    if (i == s_nws) {
        if (s_nws == MAX_PIDS)
            return;
        s_ws[s_nws++].pid = (int)pid;
    }
    struct {
        const char *key;
        uint64_t *into;
    } f[] = {{"l3_writes", &s_ws[i].writes},   {"l3_write_errors", &s_ws[i].write_errors},
             {"l3_dropped", &s_ws[i].dropped}, {"store_errors", &s_ws[i].store_errors},
             {"stale", &s_ws[i].stale},        {"l1_entries", &s_ws[i].l1_entries}};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        int64_t v;
        if (get_int(get_key(st, f[k].key), &v) && (uint64_t)v > *f[k].into)
            *f[k].into = (uint64_t)v;
    }
}

static void judge_ok(slot_t *sl, const msgpack_object *reply)
{
    actor_t *ac = sl->actor >= 0 ? &s_act[sl->actor] : NULL;
    const msgpack_object *snap = get_key(reply, "snapshot");
    int64_t v;
    switch (sl->op) {
    case OP_RESOLVE: {
        const msgpack_object *c = get_key(reply, "cache");
        if (str_is(c, "l1"))
            s_n.cache[0]++;
        else if (str_is(c, "l3"))
            s_n.cache[1]++;
        else if (str_is(c, "miss"))
            s_n.cache[2]++;
        else
            wrong(sl, "no cache field");
        if (!sl->use && !str_is(c, "miss"))
            wrong(sl, "a bypass resolve was served from a cache");
        check_snapshot(sl, snap, sl->version);
        if (sl->use && sl->version > ac->ok_version)
            ac->ok_version = sl->version;
        break;
    }
    case OP_GET:
        if (!get_int(get_key(snap, "Version"), &v)) {
            wrong(sl, "a get snapshot without a Version");
            break;
        }
        if (v < 1 || v > ac->version || !uses_cache(sl->actor, v)) {
            wrong(sl, "get returned a version never resolved with cache: use");
            break;
        }
        if (v <= ac->inv_version) {
            wrong(sl, "get returned a snapshot from before an acknowledged invalidate");
            break;
        }
        if (v < ac->ok_version)
            s_n.get_older++;
        sl->version = v;
        check_snapshot(sl, snap, v);
        break;
    case OP_INVALIDATE:
        ac->inv_version = ac->version;
        ac->ok_version = 0;
        ac->bump = true;
        break;
    case OP_STATS:
        note_stats(reply);
        break;
    }
}

static void on_reply(const ac_reply_t *r)
{
    slot_t *sl = &s_ring[r->id % RING];
    if (sl->id != r->id) {
        s_n.duplicated++;
        fprintf(stderr, "soak_load: DUPLICATE answer to id %llu\n", (unsigned long long)r->id);
        return;
    }
    msgpack_zone_clear(&s_zone);
    msgpack_object o;
    ac_error_t err;
    if (ac_msgpack_parse(r->body, r->len, &s_zone, &o, &err) != 0 || o.type != MSGPACK_OBJECT_MAP) {
        wrong(sl, "an unreadable reply");
    } else {
        const msgpack_object *ok = get_key(&o, "ok");
        int64_t rid;
        if (!get_int(get_key(&o, "id"), &rid) || (uint64_t)rid != r->id)
            wrong(sl, "the reply's id is not the request's");
        else if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
            s_n.ok[sl->op]++;
            judge_ok(sl, &o);
        } else {
            const msgpack_object *code = get_key(get_key(&o, "error"), "code");
            if (!code || code->type != MSGPACK_OBJECT_STR)
                wrong(sl, "an error reply without a code");
            else {
                count_code(code->via.str.ptr, code->via.str.size);
                if (str_is(code, "timeout"))
                    s_n.lost++; /* the client gave up after its retries */
                else if (str_is(code, "not_found") && sl->op == OP_GET)
                    s_n.not_found++;
            }
        }
    }
    if (sl->actor >= 0)
        s_act[sl->actor].busy = false;
    sl->id = 0;
}

static int send_op(ac_client_t *cl, op_t op, int a)
{
    uint64_t id = ac_client_next_id(cl);
    slot_t *sl = &s_ring[id % RING];
    if (sl->id) {
        fprintf(stderr, "soak_load: request slot %llu still held\n", (unsigned long long)id);
        return -1;
    }
    *sl = (slot_t){id, op, a, 0, false};
    char aid[32];
    msgpack_sbuffer_clear(&s_body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s_body, msgpack_sbuffer_write);
    if (op == OP_RESOLVE) {
        actor_t *ac = &s_act[a];
        if (ac->version == 0 || ac->bump || rnd() % 100 < 60) {
            ac->version++;
            ac->bump = false;
        }
        sl->version = ac->version;
        sl->use = uses_cache(a, ac->version);
        msgpack_pack_map(&pk, 5);
        ac_wire_pack_str(&pk, "op");
        ac_wire_pack_str(&pk, "resolve");
        ac_wire_pack_str(&pk, "id");
        msgpack_pack_uint64(&pk, id);
        pack_item(&pk, a, ac->version); /* the actor first: the broker skims it (affinity) */
        ac_wire_pack_str(&pk, "cache");
        ac_wire_pack_str(&pk, sl->use ? "use" : "bypass");
    } else {
        msgpack_pack_map(&pk, op == OP_STATS ? 2 : 3);
        ac_wire_pack_str(&pk, "op");
        ac_wire_pack_str(&pk, s_op_names[op]);
        ac_wire_pack_str(&pk, "id");
        msgpack_pack_uint64(&pk, id);
        if (op != OP_STATS) {
            actor_id(a, aid, sizeof aid);
            ac_wire_pack_str(&pk, "actor_id");
            ac_wire_pack_str(&pk, aid);
        }
    }
    if (ac_client_send_raw(cl, id, s_body.data, s_body.size) != 0) {
        fprintf(stderr, "soak_load: a request could not be queued\n");
        sl->id = 0;
        return -1;
    }
    if (a >= 0)
        s_act[a].busy = true;
    s_n.sent[op]++;
    return 0;
}

/* A random actor with nothing in flight (the window is far below the actor count). */
static int pick_actor(void)
{
    for (;;) {
        int a = (int)(rnd() % (uint64_t)s_opt.actors);
        if (!s_act[a].busy)
            return a;
    }
}

static op_t pick_op(void)
{
    unsigned r = (unsigned)(rnd() % 100);
    return r < 68 ? OP_RESOLVE : r < 94 ? OP_GET : OP_INVALIDATE;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: soak_load --broker EP [--combiner FILE] [--layers FILE] [--seconds S]\n"
               "         [--actors N] [--window N] [--rate REQ_PER_S] [--timeout-ms MS]\n"
               "         [--retries N] [--drain-s S] [--seed N]\n");
}

static int parse_args(int argc, char **argv)
{
    static const struct option opts[] = {{"broker", 1, 0, 'b'},
                                         {"combiner", 1, 0, 'c'},
                                         {"layers", 1, 0, 'l'},
                                         {"seconds", 1, 0, 's'},
                                         {"actors", 1, 0, 'a'},
                                         {"window", 1, 0, 'w'},
                                         {"rate", 1, 0, 'r'},
                                         {"timeout-ms", 1, 0, 't'},
                                         {"retries", 1, 0, 'R'},
                                         {"drain-s", 1, 0, 'd'},
                                         {"seed", 1, 0, 'S'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            s_opt.broker = optarg;
            break;
        case 'c':
            s_opt.combiner = optarg;
            break;
        case 'l':
            s_opt.layers = optarg;
            break;
        case 's':
            s_opt.seconds = atof(optarg);
            break;
        case 'a':
            s_opt.actors = atoi(optarg);
            break;
        case 'w':
            s_opt.window = atoi(optarg);
            break;
        case 'r':
            s_opt.rate = atoi(optarg);
            break;
        case 't':
            s_opt.timeout_ms = atoi(optarg);
            break;
        case 'R':
            s_opt.retries = atoi(optarg);
            break;
        case 'd':
            s_opt.drain_s = atoi(optarg);
            break;
        case 'S':
            s_opt.seed = (unsigned)atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!s_opt.broker || s_opt.actors < 1 || s_opt.actors > MAX_ACTORS || s_opt.window < 1 ||
        s_opt.window * 4 > s_opt.actors || s_opt.rate < 1 || s_opt.seconds <= 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void report(const ac_client_stats_t *cs, uint64_t pending)
{
    uint64_t sent = 0, ok = 0;
    for (int i = 0; i < 4; i++) {
        sent += s_n.sent[i];
        ok += s_n.ok[i];
    }
    printf("soak_load: by op (sent / ok):");
    for (int i = 0; i < 4; i++)
        printf(" %s %llu / %llu", s_op_names[i], (unsigned long long)s_n.sent[i],
               (unsigned long long)s_n.ok[i]);
    printf("\nsoak_load: resolve answers l1 %llu, l3 %llu, miss %llu; snapshots checked %llu\n",
           (unsigned long long)s_n.cache[0], (unsigned long long)s_n.cache[1],
           (unsigned long long)s_n.cache[2], (unsigned long long)s_n.checked);
    printf("soak_load: errors by code:");
    if (!s_n.ncodes)
        printf(" none");
    for (int i = 0; i < s_n.ncodes; i++)
        printf(" %s %llu", s_n.codes[i], (unsigned long long)s_n.code_count[i]);
    printf("\nsoak_load: get not_found %llu, get older than the last ok resolve %llu\n",
           (unsigned long long)s_n.not_found, (unsigned long long)s_n.get_older);
    printf("soak_load: client: retried %llu, resent %llu, late replies dropped (duplicates) "
           "%llu, timed out %llu\n",
           (unsigned long long)cs->retried, (unsigned long long)cs->resent,
           (unsigned long long)cs->duplicates, (unsigned long long)cs->timed_out);
    uint64_t werr = 0, serr = 0, drop = 0, writes = 0;
    for (int i = 0; i < s_nws; i++) {
        printf("soak_load: worker %d: l3_writes %llu l3_write_errors %llu l3_dropped %llu "
               "store_errors %llu stale %llu l1_entries %llu\n",
               s_ws[i].pid, (unsigned long long)s_ws[i].writes,
               (unsigned long long)s_ws[i].write_errors, (unsigned long long)s_ws[i].dropped,
               (unsigned long long)s_ws[i].store_errors, (unsigned long long)s_ws[i].stale,
               (unsigned long long)s_ws[i].l1_entries);
        writes += s_ws[i].writes;
        werr += s_ws[i].write_errors;
        serr += s_ws[i].store_errors;
        drop += s_ws[i].dropped;
    }
    printf("RESULT sent=%llu ok=%llu errors=%llu lost=%llu wrong=%llu duplicated=%llu "
           "not_found=%llu lib_duplicates=%llu workers_seen=%d l3_writes=%llu "
           "l3_write_errors=%llu l3_dropped=%llu store_errors=%llu\n",
           (unsigned long long)sent, (unsigned long long)ok,
           (unsigned long long)(sent - ok - pending), (unsigned long long)(s_n.lost + pending),
           (unsigned long long)s_n.wrong, (unsigned long long)s_n.duplicated,
           (unsigned long long)s_n.not_found, (unsigned long long)cs->duplicates, s_nws,
           (unsigned long long)writes, (unsigned long long)werr, (unsigned long long)drop,
           (unsigned long long)serr);
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    s_rng ^= (uint64_t)s_opt.seed * 0x2545f4914f6cdd1dull;
    ac_error_t err;
    s_reg = ac_registry_load(s_opt.combiner, s_opt.layers, &err);
    if (!s_reg) {
        fprintf(stderr, "soak_load: %s\n", err.message);
        return 2;
    }
    s_res = ac_resolver_new(s_reg);
    s_req = ac_request_new(s_reg);
    s_act = calloc((size_t)s_opt.actors, sizeof *s_act);
    msgpack_sbuffer_init(&s_body);
    msgpack_sbuffer_init(&s_want);
    msgpack_sbuffer_init(&s_snap);
    msgpack_zone_init(&s_zone, 16384);
    msgpack_zone_init(&s_wzone, 16384);
    /* Touch every slot and actor now: memory that first fills as ids advance would read
       as RSS growth during the soak's window. */
    memset(s_ring, 0, sizeof s_ring);
    memset(s_act, 0, (size_t)s_opt.actors * sizeof *s_act);
    ac_client_config_t cfg = {.timeout_ms = s_opt.timeout_ms, .retries = s_opt.retries};
    ac_client_t *cl = ac_client_new(s_opt.broker, &cfg);
    if (!s_res || !s_req || !s_act || !cl) {
        fprintf(stderr, "soak_load: cannot start (bad endpoint or out of memory)\n");
        return 2;
    }
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(s_opt.seconds * 1e9);
    uint64_t next_stats = t0, allowed = 0;
    uint64_t drain_end = 0;
    ac_reply_t r;
    for (;;) {
        uint64_t now = now_ns();
        bool running = now < end && !s_stop;
        if (running) {
            /* Paced: the requests allowed so far at --rate, the window permitting. */
            uint64_t due = (now - t0) / 1000 * (uint64_t)s_opt.rate / 1000000;
            while (allowed < due && ac_client_pending(cl) < (size_t)s_opt.window) {
                if (send_op(cl, pick_op(), pick_actor()) != 0)
                    break;
                allowed++;
            }
            if (allowed < due && ac_client_pending(cl) >= (size_t)s_opt.window)
                allowed = due; /* behind: do not burst later */
            if (now >= next_stats) {
                for (int i = 0; i < STATS_PER_TICK; i++)
                    send_op(cl, OP_STATS, -1);
                next_stats = now + STATS_EVERY_MS * 1000000ull;
            }
        } else {
            if (!drain_end)
                drain_end = now + (uint64_t)s_opt.drain_s * 1000000000ull;
            if (ac_client_pending(cl) == 0 || now >= drain_end)
                break;
        }
        if (ac_client_recv(cl, &r, running ? 2 : 100) == 1) {
            on_reply(&r);
            while (ac_client_recv(cl, &r, 0) == 1)
                on_reply(&r);
        }
    }
    ac_client_stats_t cs;
    ac_client_stats(cl, &cs);
    uint64_t pending = ac_client_pending(cl);
    report(&cs, pending);
    ac_client_destroy(&cl);
    msgpack_zone_destroy(&s_zone);
    msgpack_zone_destroy(&s_wzone);
    msgpack_sbuffer_destroy(&s_body);
    msgpack_sbuffer_destroy(&s_want);
    msgpack_sbuffer_destroy(&s_snap);
    free(s_act);
    ac_request_destroy(&s_req);
    ac_resolver_destroy(&s_res);
    ac_registry_destroy(&s_reg);
    return s_n.lost + pending + s_n.wrong + s_n.duplicated ? 1 : 0;
}
