/*  hash.c - see hash.h. */
#include "core/hash.h"

uint64_t ac_hash_str(uint64_t h, const char *s, size_t len)
{
    h = ac_hash_u64(h, (uint64_t)len);
    return ac_hash_bytes(h, s, len);
}

uint64_t ac_hash_finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
