/*  hash.h - the 64-bit hashes behind interning, generations and cache keys.

    FNV-1a for short keys (names), and a streaming form for canonical content. Not a
    cryptographic hash: generations and cache keys only need to change when content does.
*/
#ifndef AC_HASH_H
#define AC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AC_HASH_INIT 0xcbf29ce484222325ULL

static inline uint64_t ac_hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static inline uint64_t ac_hash_u64(uint64_t h, uint64_t v)
{
    return ac_hash_bytes(h, &v, sizeof v);
}

/* Hashes a length-prefixed string, so ("ab","c") and ("a","bc") differ. */
uint64_t ac_hash_str(uint64_t h, const char *s, size_t len);
/* A final avalanche, so close inputs give far-apart outputs. */
uint64_t ac_hash_finish(uint64_t h);

#endif
