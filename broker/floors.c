/*  floors.c - coherence across workers and hosts: every actor's invalidation floor.

    An `invalidate X` raises X's floor to a fresh stamp (microseconds since the epoch, and
    always above every stamp given before, so stamps only grow, across restarts too). Every
    request the broker sends a worker carries the floors of the actors its body names (a
    frame after the body, service/mdp.h); the worker serves a cached snapshot of X (L1 or
    L3, on any host, whenever it was written) only when the floor it was computed under is
    at least X's floor now, and stores what it computes with the floor it was given. So once
    an invalidate is answered, no snapshot computed before it is served anywhere, including
    by a worker that was down at the time and comes back with an old L3 file: the check
    needs no replay, the floors travel with the requests.

    The table is bounded: FLOOR_SETS sets of FLOOR_WAYS actors, each actor's floor kept
    exactly by the hash of its id. An actor that finds its set full takes the place of the
    set's oldest floor, which is folded into the set's `evicted` floor, the floor of every
    actor of the set not kept exactly. So an eviction can only make more snapshots stale
    (extra misses), never serve a stale one. The table lives in the `state` file, mapped
    shared: a floor raised is in the file the moment it is stored (the kernel writes it
    back even when the broker is killed), so a restarted broker knows every floor.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

#define FLOOR_MAGIC "acfloor1"

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static size_t table_bytes(void)
{
    return sizeof(floor_file_t) + (size_t)FLOOR_SETS * sizeof(floor_set_t);
}

/* A fresh table: every floor is now, so nothing computed before counts. */
static void table_reset(floor_file_t *t)
{
    memset(t, 0, table_bytes());
    memcpy(t->magic, FLOOR_MAGIC, 8);
    t->sets = FLOOR_SETS;
    t->ways = FLOOR_WAYS;
    t->global = now_us();
    for (uint32_t i = 0; i < FLOOR_SETS; i++)
        t->set[i].evicted = t->global;
}

static bool table_valid(const floor_file_t *t)
{
    return memcmp(t->magic, FLOOR_MAGIC, 8) == 0 && t->sets == FLOOR_SETS && t->ways == FLOOR_WAYS;
}

int floors_open(broker_t *b)
{
    floors_t *f = &b->floors;
    f->bytes = table_bytes();
    const char *path = b->cfg.state;
    if (!path || !*path || strcmp(path, "none") == 0) {
        void *m = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            ac_log(AC_LOG_ERROR, "start_failed", "code=out_of_memory path=--state msg=%s",
                   "no memory for the floor table");
            return -1;
        }
        f->map = m;
        table_reset(f->map);
        return 0;
    }
    if (strcmp(path, BROKER_DEFAULT_STATE) == 0)
        (void)mkdir("var", 0755); /* the default's folder; an error shows at the open */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ac_log_bad_setting("state", "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    bool fresh = st.st_size == 0;
    if (!fresh && (size_t)st.st_size != f->bytes) {
        ac_log_bad_setting("state",
                           "%s is not a broker state file (%lld bytes, expected %zu); move it "
                           "away or set state: none",
                           path, (long long)st.st_size, f->bytes);
        close(fd);
        return -1;
    }
    if (fresh && ftruncate(fd, (off_t)f->bytes) != 0) {
        ac_log_bad_setting("state", "cannot size %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    void *m = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        ac_log_bad_setting("state", "cannot map %s: %s", path, strerror(errno));
        return -1;
    }
    f->map = m;
    f->file = true;
    if (fresh) {
        table_reset(f->map);
    } else if (!table_valid(f->map)) {
        ac_log_bad_setting("state",
                           "%s is not a broker state file (bad header); move it away or set "
                           "state: none",
                           path);
        munmap(m, f->bytes);
        f->map = NULL;
        return -1;
    }
    return 0;
}

void floors_close(broker_t *b)
{
    floors_t *f = &b->floors;
    if (!f->map)
        return;
    if (f->file)
        msync(f->map, f->bytes, MS_SYNC);
    munmap(f->map, f->bytes);
    f->map = NULL;
}

/* 0 marks an empty way: an id hashing to 0 is kept as 1 (a shared floor at worst). */
static uint64_t way_hash(uint64_t h)
{
    return h ? h : 1;
}

static floor_set_t *set_of(const broker_t *b, uint64_t h)
{
    return &b->floors.map->set[(h >> 20) % FLOOR_SETS];
}

uint64_t floors_of(const broker_t *b, uint64_t h)
{
    const floor_set_t *s = set_of(b, h);
    uint64_t key = way_hash(h);
    for (int i = 0; i < FLOOR_WAYS; i++)
        if (s->way[i].hash == key)
            return s->way[i].floor > s->evicted ? s->way[i].floor : s->evicted;
    return s->evicted;
}

/* Sets the floor of key in s to at least floor, taking a free way or, the set full, the way
   of its oldest floor, which becomes the floor of every actor the set does not keep. */
static void set_apply(broker_t *b, floor_set_t *s, uint64_t key, uint64_t floor)
{
    int at = -1, oldest = 0;
    for (int i = 0; i < FLOOR_WAYS && at < 0; i++) {
        if (s->way[i].hash == key || s->way[i].hash == 0)
            at = i;
        else if (s->way[i].floor < s->way[oldest].floor)
            oldest = i;
    }
    if (at < 0) {
        at = oldest;
        if (s->way[at].floor > s->evicted)
            s->evicted = s->way[at].floor;
        b->n.floor_evictions++;
        s->way[at].floor = 0;
    }
    if (s->way[at].hash != key)
        s->way[at].floor = 0;
    s->way[at].hash = key;
    if (floor > s->way[at].floor)
        s->way[at].floor = floor;
}

uint64_t floors_raise(broker_t *b, uint64_t h)
{
    floor_file_t *t = b->floors.map;
    uint64_t stamp = now_us();
    if (stamp <= t->global)
        stamp = t->global + 1;
    set_apply(b, set_of(b, h), way_hash(h), stamp);
    t->global = stamp;
    b->n.invalidations++;
    return stamp;
}

void floors_apply(broker_t *b, uint64_t h, uint64_t floor)
{
    floor_file_t *t = b->floors.map;
    if (h) {
        set_apply(b, set_of(b, h), way_hash(h), floor);
        b->n.floors_applied++;
    }
    if (floor > t->global)
        t->global = floor;
}

void floors_apply_sets(broker_t *b, uint32_t first, const floor_set_t *sets, uint32_t n)
{
    floor_file_t *t = b->floors.map;
    for (uint32_t i = 0; i < n && first + i < FLOOR_SETS; i++) {
        floor_set_t *s = &t->set[first + i];
        const floor_set_t *in = &sets[i];
        if (in->evicted > s->evicted)
            s->evicted = in->evicted;
        for (int w = 0; w < FLOOR_WAYS; w++)
            if (in->way[w].hash)
                set_apply(b, s, in->way[w].hash, in->way[w].floor);
    }
}

void floors_raise_all(broker_t *b)
{
    floor_file_t *t = b->floors.map;
    uint64_t stamp = now_us();
    if (stamp <= t->global)
        stamp = t->global + 1;
    for (uint32_t i = 0; i < FLOOR_SETS; i++)
        t->set[i].evicted = stamp;
    t->global = stamp;
}

size_t floors_frame(broker_t *b, const request_t *r, uint8_t *out)
{
    uint32_t n = 0;
    const uint64_t *ids = &r->key;
    if (r->has_key) {
        n = 1;
    } else {
        /* Several actors (a batch), or none: the body is read again for each of them. */
        skim_info_t info = {.ids = b->ids, .cap = FLOOR_IDS_MAX};
        size_t len = zmq_msg_size((zmq_msg_t *)&r->body[0]);
        skim_body(zmq_msg_data((zmq_msg_t *)&r->body[0]), len, (int)len + 1, &info);
        n = info.nids < FLOOR_IDS_MAX ? info.nids : FLOOR_IDS_MAX;
        ids = b->ids;
    }
    memcpy(out, AC_FLOORS_MAGIC, 4);
    ac_le64_put(out + 4, b->floors.map->global);
    for (int i = 0; i < 4; i++)
        out[12 + i] = (uint8_t)(n >> (8 * i));
    uint8_t *p = out + AC_FLOORS_HEAD;
    for (uint32_t i = 0; i < n; i++, p += 16) {
        ac_le64_put(p, ids[i]);
        ac_le64_put(p + 8, floors_of(b, ids[i]));
    }
    return (size_t)(p - out);
}
