/*  test_l1.c - the L1 cache: keys, bounds, TTL, CLOCK eviction. */
#include "actorcore/cache.h"
#include "testutil.h"

static ac_cache_key_t key(const char *id, int64_t version, uint64_t gen, uint64_t hash)
{
    return (ac_cache_key_t){id, strlen(id), version, gen, hash, 0};
}

static void a_lookup_hits_only_on_the_full_key(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {16, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    ac_cache_key_t k = key("hero", 3, 7, 99);
    assert_int_equal(ac_l1_put(c, &k, "snap", 4, 0), 0);
    const ac_l1_entry_t *e = ac_l1_lookup(c, &k, 0);
    assert_non_null(e);
    assert_memory_equal(e->value, "snap", 4);
    ac_cache_key_t other[] = {key("hero", 4, 7, 99), key("hero", 3, 8, 99), key("hero", 3, 7, 98),
                              key("hera", 3, 7, 99)};
    for (int i = 0; i < 4; i++)
        assert_null(ac_l1_lookup(c, &other[i], 0));
    ac_l1_stats_t st;
    ac_l1_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 4);
    ac_l1_destroy(&c);
    ac_l1_destroy(&c);
}

/* Two ids with the same 32-bit index hash (found by search for l1.c's id_hash; if the hash
   changes they merely stop colliding) and an id that is a prefix of another: each keeps its
   own entry, because a slot matches on hash, length and bytes together. */
static void ids_that_share_a_hash_or_a_prefix_keep_their_own_entries(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {16, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    const char *ids[] = {"hero-0011508", "hero-0059424", "hero-00", "hero-0"};
    const char *vals[] = {"first", "second", "prefix", "shorter"};
    for (int i = 0; i < 4; i++) {
        ac_cache_key_t k = key(ids[i], 1, 1, 1);
        assert_int_equal(ac_l1_put(c, &k, vals[i], strlen(vals[i]), 0), 0);
    }
    for (int i = 0; i < 4; i++) {
        const ac_l1_entry_t *e = ac_l1_get(c, ids[i], strlen(ids[i]), 0);
        assert_non_null(e);
        assert_int_equal(e->value_len, strlen(vals[i]));
        assert_memory_equal(e->value, vals[i], e->value_len);
    }
    assert_null(ac_l1_get(c, "hero-", 5, 0));
    assert_null(ac_l1_get(c, "hero-001150", 11, 0));
    ac_l1_stats_t st;
    ac_l1_stats(c, &st);
    assert_int_equal(st.entries, 4);
    ac_l1_destroy(&c);
}

/* Ids short enough to sit in the slot (up to 40 bytes) and longer ones kept only in the
   block: each length around the bound is found, removed and gone; a cache needs 1 to 2^30
   entries. */
static void ids_on_both_sides_of_the_inline_bound_are_found_and_removed(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {16, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    const size_t lens[] = {1, 8, 39, 40, 41, 64, 200};
    char ids[7][201];
    for (int i = 0; i < 7; i++) {
        memset(ids[i], 'a' + i, lens[i]);
        ids[i][lens[i]] = '\0';
        ac_cache_key_t k = key(ids[i], 1, 1, 1);
        assert_int_equal(ac_l1_put(c, &k, ids[i], lens[i], 0), 0);
    }
    for (int i = 0; i < 7; i++) {
        const ac_l1_entry_t *e = ac_l1_get(c, ids[i], lens[i], 0);
        if (!e)
            fail_msg("an id of %zu bytes is not found", lens[i]);
        assert_int_equal(e->value_len, lens[i]);
        assert_memory_equal(e->value, ids[i], lens[i]);
    }
    for (int i = 0; i < 7; i++) {
        assert_true(ac_l1_remove(c, ids[i], lens[i]));
        assert_null(ac_l1_get(c, ids[i], lens[i], 0));
    }
    ac_l1_stats_t st;
    ac_l1_stats(c, &st);
    assert_int_equal(st.entries, 0);
    ac_l1_destroy(&c);
    ac_l1_config_t none = {0, 1 << 20, 0}, too_many = {(1u << 30) + 1, 1 << 20, 0};
    assert_null(ac_l1_new(&none));
    assert_null(ac_l1_new(&too_many));
    assert_null(ac_l1_new(NULL));
}

static void an_older_version_never_replaces_a_newer_one(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {16, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    ac_cache_key_t v5 = key("hero", 5, 1, 1), v3 = key("hero", 3, 1, 1), v6 = key("hero", 6, 1, 1);
    ac_l1_put(c, &v5, "five", 4, 0);
    ac_l1_put(c, &v3, "three", 5, 0);
    assert_memory_equal(ac_l1_get(c, "hero", 4, 0)->value, "five", 4);
    ac_l1_put(c, &v6, "six", 3, 0);
    assert_memory_equal(ac_l1_get(c, "hero", 4, 0)->value, "six", 3);
    assert_true(ac_l1_remove(c, "hero", 4));
    assert_false(ac_l1_remove(c, "hero", 4));
    assert_null(ac_l1_get(c, "hero", 4, 0));
    ac_l1_destroy(&c);
}

static void entries_bound_evicts_unreferenced_first(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {4, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    char id[16];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "a%d", i);
        ac_cache_key_t k = key(id, 1, 1, 1);
        ac_l1_put(c, &k, "v", 1, 0);
    }
    /* Touch a0: its reference bit gives it a second chance. */
    assert_non_null(ac_l1_get(c, "a0", 2, 0));
    ac_cache_key_t k = key("a4", 1, 1, 1);
    ac_l1_put(c, &k, "v", 1, 0);
    ac_l1_stats_t st;
    ac_l1_stats(c, &st);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.evictions, 1);
    assert_non_null(ac_l1_get(c, "a0", 2, 0));
    assert_null(ac_l1_get(c, "a1", 2, 0));
    ac_l1_destroy(&c);
}

static void bytes_bound_is_kept(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {1000, 100, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    char id[16], val[40];
    memset(val, 'x', sizeof val);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "b%02d", i);
        ac_cache_key_t k = key(id, 1, 1, 1);
        assert_int_equal(ac_l1_put(c, &k, val, sizeof val, 0), 0);
        ac_l1_stats_t st;
        ac_l1_stats(c, &st);
        assert_true(st.bytes <= 100);
    }
    ac_cache_key_t big = key("big", 1, 1, 1);
    char huge[200] = {0};
    assert_int_equal(ac_l1_put(c, &big, huge, sizeof huge, 0), -1);
    ac_l1_destroy(&c);
}

static void entries_expire_after_the_ttl(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {8, 1 << 20, 1000};
    ac_l1_t *c = ac_l1_new(&cfg);
    ac_cache_key_t k = key("t", 1, 1, 1);
    ac_l1_put(c, &k, "v", 1, 5000);
    assert_non_null(ac_l1_lookup(c, &k, 5999));
    assert_null(ac_l1_lookup(c, &k, 6000));
    ac_l1_stats_t st;
    ac_l1_stats(c, &st);
    assert_int_equal(st.expirations, 1);
    assert_int_equal(st.entries, 0);
    ac_l1_destroy(&c);
}

static void many_keys_churn_without_losing_consistency(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {1000, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "actor-%d", i % 3000);
        ac_cache_key_t k = key(id, i, 1, 1);
        assert_int_equal(ac_l1_put(c, &k, id, strlen(id), 0), 0);
        const ac_l1_entry_t *e = ac_l1_lookup(c, &k, 0);
        assert_non_null(e);
        assert_memory_equal(e->value, id, strlen(id));
        if (i % 7 == 0)
            ac_l1_remove(c, id, strlen(id));
    }
    ac_l1_stats_t st;
    ac_l1_stats(c, &st);
    assert_true(st.entries <= 1000);
    ac_l1_destroy(&c);
}

/* Entries are ordered by (stamp, version): a higher stamp (the actor was invalidated since)
   replaces a higher version; a lower stamp never replaces anything. */
static void a_higher_stamp_replaces_a_higher_version_and_a_lower_one_never_does(void **state)
{
    (void)state;
    ac_l1_config_t cfg = {16, 1 << 20, 0};
    ac_l1_t *c = ac_l1_new(&cfg);
    ac_cache_key_t v5 = key("hero", 5, 1, 1), v3 = key("hero", 3, 1, 1);
    v5.stamp = 100;
    v3.stamp = 200;
    assert_int_equal(ac_l1_put(c, &v5, "five", 4, 0), 0);
    assert_int_equal(ac_l1_put(c, &v3, "three", 5, 0), 0);
    const ac_l1_entry_t *e = ac_l1_get(c, "hero", 4, 0);
    assert_int_equal(e->version, 3);
    assert_true(e->stamp == 200);
    assert_int_equal(ac_l1_put(c, &v5, "five", 4, 0), 0); /* stamp 100: dead, kept out */
    e = ac_l1_get(c, "hero", 4, 0);
    assert_int_equal(e->version, 3);
    ac_cache_key_t v4 = key("hero", 4, 1, 1);
    v4.stamp = 200;
    assert_int_equal(ac_l1_put(c, &v4, "four", 4, 0), 0); /* same stamp: by version */
    assert_int_equal(ac_l1_get(c, "hero", 4, 0)->version, 4);
    assert_int_equal(ac_l1_put(c, &v3, "three", 5, 0), 0);
    assert_int_equal(ac_l1_get(c, "hero", 4, 0)->version, 4);
    ac_l1_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_lookup_hits_only_on_the_full_key),
        cmocka_unit_test(ids_that_share_a_hash_or_a_prefix_keep_their_own_entries),
        cmocka_unit_test(ids_on_both_sides_of_the_inline_bound_are_found_and_removed),
        cmocka_unit_test(an_older_version_never_replaces_a_newer_one),
        cmocka_unit_test(a_higher_stamp_replaces_a_higher_version_and_a_lower_one_never_does),
        cmocka_unit_test(entries_bound_evicts_unreferenced_first),
        cmocka_unit_test(bytes_bound_is_kept),
        cmocka_unit_test(entries_expire_after_the_ttl),
        cmocka_unit_test(many_keys_churn_without_losing_consistency),
    };
    return cmocka_run_group_tests_name("l1", tests, NULL, NULL);
}
