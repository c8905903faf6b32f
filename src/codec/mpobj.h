/*  mpobj.h - reading msgpack bytes and building msgpack_object trees the way msgpack-c
    does, for our decoders. */
#ifndef AC_MPOBJ_H
#define AC_MPOBJ_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* The n-byte big-endian unsigned integer at p (msgpack's byte order). */
static inline uint64_t ac_be_read(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The position after the msgpack object that starts at pos in b[0..len), or SIZE_MAX when
   it runs past len or holds a type byte msgpack never uses (0xc1). Every form is read, the
   nested objects too, and nothing is allocated: a whole-body check costs one walk. */
size_t ac_wire_skip(const unsigned char *b, size_t len, size_t pos);

/* A signed integer, normalised as msgpack-c does: non-negative values are
   POSITIVE_INTEGER, so readers need to check one type for ids and counts. */
static inline void ac_mpobj_set_int(msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

#endif
