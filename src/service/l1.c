/*  l1.c - the L1 snapshot cache (see cache.h).

    Entries live in a fixed array of max_entries slots; a chained hash index (bucket heads
    and per-entry next links, all int32 indices) finds them by actor id; a CLOCK hand over
    the slot array picks victims. Each entry owns one malloc'd block holding its id and
    value, so a put is one allocation and a remove one free.

    A get must touch as little memory as possible (100 000 actors do not fit in cache): a
    slot is 128-byte aligned, so the hardware fetches it as one pair of lines, and holds
    ids of up to 40 bytes inline, so comparing the key never touches the block.
*/
#include "actorcore/cache.h"

#include <stdlib.h>
#include <string.h>

#define NIL (-1)

#define INLINE_ID 40

typedef struct {
    uint32_t hash;      /* hash of the id */
    int32_t next;       /* next entry in the bucket chain */
    uint32_t id_len;    /* bytes of the id */
    uint8_t ref;        /* CLOCK reference bit */
    char id[INLINE_ID]; /* the id when id_len <= INLINE_ID */
    uint64_t stored_ms; /* when it was put, for the TTL */
    char *block;        /* id bytes, then value bytes; NULL when the slot is free */
    ac_l1_entry_t view; /* what lookups return */
} __attribute__((aligned(128))) slot_t;

struct ac_l1 {
    ac_l1_config_t cfg;  /* bounds */
    slot_t *slots;       /* [max_entries] */
    int32_t *buckets;    /* chain heads, power-of-two count */
    uint32_t mask;       /* bucket count - 1 */
    int32_t free_head;   /* free slots chained through next */
    size_t hand;         /* CLOCK hand */
    ac_l1_stats_t stats; /* counters */
};

/* A word-at-a-time hash of the id (the byte loop of FNV dominated short-id gets). */
static uint32_t id_hash(const char *s, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return (uint32_t)h;
}

/* The slot's id bytes: inline when short, else the block. */
static inline const char *slot_id(const slot_t *s)
{
    return s->id_len <= INLINE_ID ? s->id : s->block;
}

ac_l1_t *ac_l1_new(const ac_l1_config_t *config)
{
    if (!config || config->max_entries < 1 || config->max_entries > (1u << 30))
        return NULL;
    ac_l1_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = *config;
    size_t nb = 16;
    while (nb < config->max_entries * 2)
        nb *= 2;
    c->slots = aligned_alloc(128, config->max_entries * sizeof *c->slots);
    if (c->slots)
        memset(c->slots, 0, config->max_entries * sizeof *c->slots);
    c->buckets = malloc(nb * sizeof *c->buckets);
    if (!c->slots || !c->buckets) {
        ac_l1_destroy(&c);
        return NULL;
    }
    c->mask = (uint32_t)(nb - 1);
    for (size_t i = 0; i < nb; i++)
        c->buckets[i] = NIL;
    for (size_t i = 0; i < config->max_entries; i++)
        c->slots[i].next = i + 1 < config->max_entries ? (int32_t)(i + 1) : NIL;
    c->free_head = 0;
    return c;
}

void ac_l1_destroy(ac_l1_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ac_l1_t *c = *self_p;
    if (c->slots)
        for (size_t i = 0; i < c->cfg.max_entries; i++)
            free(c->slots[i].block);
    free(c->slots);
    free(c->buckets);
    free(c);
    *self_p = NULL;
}

/* Index of the actor's slot, or NIL; *link receives the pointer that refers to it. */
static int32_t find(ac_l1_t *c, const char *id, size_t len, uint32_t h, int32_t **link)
{
    int32_t *l = &c->buckets[h & c->mask];
    while (*l != NIL) {
        slot_t *s = &c->slots[*l];
        if (s->hash == h && s->id_len == len && memcmp(slot_id(s), id, len) == 0) {
            if (link)
                *link = l;
            return *l;
        }
        l = &s->next;
    }
    if (link)
        *link = l;
    return NIL;
}

/* Unlinks and frees slot i (which must be in use). */
static void drop(ac_l1_t *c, int32_t i)
{
    slot_t *s = &c->slots[i];
    int32_t *link;
    find(c, slot_id(s), s->id_len, s->hash, &link);
    *link = s->next;
    c->stats.entries--;
    c->stats.bytes -= s->id_len + s->view.value_len;
    free(s->block);
    s->block = NULL;
    s->next = c->free_head;
    c->free_head = i;
}

static bool expired(const ac_l1_t *c, const slot_t *s, uint64_t now_ms)
{
    return c->cfg.ttl_ms && now_ms - s->stored_ms >= c->cfg.ttl_ms;
}

const ac_l1_entry_t *ac_l1_get(ac_l1_t *c, const char *id, size_t len, uint64_t now_ms)
{
    int32_t i = find(c, id, len, id_hash(id, len), NULL);
    if (i == NIL)
        return NULL;
    slot_t *s = &c->slots[i];
    if (expired(c, s, now_ms)) {
        drop(c, i);
        c->stats.expirations++;
        return NULL;
    }
    s->ref = 1;
    return &s->view;
}

const ac_l1_entry_t *ac_l1_lookup(ac_l1_t *c, const ac_cache_key_t *key, uint64_t now_ms)
{
    const ac_l1_entry_t *e = ac_l1_get(c, key->actor_id, key->actor_id_len, now_ms);
    if (e && e->version == key->version && e->generation == key->generation &&
        e->outputs_hash == key->outputs_hash) {
        c->stats.hits++;
        return e;
    }
    c->stats.misses++;
    return NULL;
}

/* Frees one slot with the CLOCK hand (second chance for referenced entries). */
static void evict_one(ac_l1_t *c, uint64_t now_ms)
{
    for (;;) {
        slot_t *s = &c->slots[c->hand];
        int32_t i = (int32_t)c->hand;
        c->hand = (c->hand + 1) % c->cfg.max_entries;
        if (!s->block)
            continue;
        if (expired(c, s, now_ms)) {
            drop(c, i);
            c->stats.expirations++;
            return;
        }
        if (s->ref) {
            s->ref = 0;
            continue;
        }
        drop(c, i);
        c->stats.evictions++;
        return;
    }
}

int ac_l1_put(ac_l1_t *c, const ac_cache_key_t *key, const void *value, size_t len, uint64_t now_ms)
{
    size_t need = key->actor_id_len + len;
    if (need > c->cfg.max_bytes || key->actor_id_len > UINT32_MAX)
        return -1;
    uint32_t h = id_hash(key->actor_id, key->actor_id_len);
    int32_t old = find(c, key->actor_id, key->actor_id_len, h, NULL);
    if (old != NIL) {
        const ac_l1_entry_t *e = &c->slots[old].view;
        bool newer = e->stamp > key->stamp || (e->stamp == key->stamp && e->version > key->version);
        if (newer && !expired(c, &c->slots[old], now_ms))
            return 0; /* keep the newer snapshot */
        drop(c, old);
    }
    char *block = malloc(need ? need : 1);
    if (!block)
        return -1;
    while (c->free_head == NIL || c->stats.bytes + need > c->cfg.max_bytes)
        evict_one(c, now_ms);
    int32_t i = c->free_head;
    slot_t *s = &c->slots[i];
    c->free_head = s->next;
    memcpy(block, key->actor_id, key->actor_id_len);
    memcpy(block + key->actor_id_len, value, len);
    s->block = block;
    s->id_len = (uint32_t)key->actor_id_len;
    if (s->id_len <= INLINE_ID)
        memcpy(s->id, key->actor_id, s->id_len);
    s->hash = h;
    s->ref = 0;
    s->stored_ms = now_ms;
    s->view =
        (ac_l1_entry_t){key->version, key->generation, key->outputs_hash, block + key->actor_id_len,
                        len,          key->stamp};
    int32_t *head = &c->buckets[h & c->mask];
    s->next = *head;
    *head = i;
    c->stats.entries++;
    c->stats.bytes += need;
    return 0;
}

bool ac_l1_remove(ac_l1_t *c, const char *id, size_t len)
{
    int32_t i = find(c, id, len, id_hash(id, len), NULL);
    if (i == NIL)
        return false;
    drop(c, i);
    return true;
}

void ac_l1_stats(const ac_l1_t *c, ac_l1_stats_t *stats)
{
    *stats = c->stats;
}
