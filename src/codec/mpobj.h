/*  mpobj.h - reading msgpack bytes and building msgpack_object trees the way msgpack-c
    does, for our decoders. */
#ifndef AC_MPOBJ_H
#define AC_MPOBJ_H

#include <msgpack.h>
#include <stdint.h>

/* The n-byte big-endian unsigned integer at p (msgpack's byte order). */
static inline uint64_t ac_be_read(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

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
