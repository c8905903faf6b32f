/*  mdp.h - framing of MDP/0.1 worker commands, shared by the broker and workers. */
#ifndef AC_MDP_H
#define AC_MDP_H

#include <czmq.h>

#include "actorcore/wire.h"

/* Prepends [empty][MDPW01][command] to msg (a new message when NULL) and returns it. */
static inline zmsg_t *ac_mdp_worker_frames(zmsg_t *msg, int command)
{
    if (!msg)
        msg = zmsg_new();
    unsigned char cmd = (unsigned char)command;
    zmsg_pushmem(msg, &cmd, 1);
    zmsg_pushstr(msg, AC_MDPW);
    zmsg_pushmem(msg, NULL, 0);
    return msg;
}

/* Coherence: the broker appends a floors frame after a request's body, the last frame of
   the REQUEST: "acF1", the global floor (8 bytes), a count n (4), then n pairs (the hash of
   an actor id the body names, its floor; 8 bytes each), integers little-endian. A worker
   serves a cached snapshot of an actor only when its stamp is at least the actor's floor
   (the global floor when the actor is not listed) and stores what it computes with the
   actor's listed floor (nothing when it is not listed). See broker/floors.c. */
#define AC_FLOORS_MAGIC "acF1"
#define AC_FLOORS_HEAD 16
#define AC_FLOORS_IDS_MAX 1024
#define AC_FLOORS_FRAME_MAX (AC_FLOORS_HEAD + 16 * AC_FLOORS_IDS_MAX)

static inline void ac_le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t ac_le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Packed framing between the broker and its own workers (a worker says READY with a last
   frame "packed"; any other MDP worker is sent plain MDP/0.1): a request is ONE frame, and
   so is a reply, instead of MDP's six or seven. Each frame is one CURVE message (one
   encryption and one MAC each way), so fewer frames is most of CURVE's cost.
   A request: "acP1" | REQUEST (1 byte) | envelope length (2, little-endian) | envelope |
   floors length (2) | the floors frame's bytes | the body. A reply: "acP1" | REPLY |
   envelope length (2) | envelope | the body. Heartbeats and DISCONNECT stay plain MDP.
   Clients of the C library speak it too: a request is one frame, "acP1" | 'C' | service
   length (2) | service | the body, and the broker answers such a request with one frame
   of the same form with 'R' in place of 'C' (its other answers, errors and MMI, are plain
   MDP, which the client reads as well). */
#define AC_PACKED_CLIENT 'C'
#define AC_PACKED_ANSWER 'R'
#define AC_PACKED_MAGIC "acP1"
#define AC_PACKED_HEAD 7
#define AC_PACKED_OPTION "packed"

/* Writes a packed head of `kind` whose data is len bytes (copied from data unless NULL:
   then the caller fills them); returns the bytes written, AC_PACKED_HEAD + len. */
static inline size_t ac_packed_put(uint8_t *h, int kind, const void *data, size_t len)
{
    memcpy(h, AC_PACKED_MAGIC, 4);
    h[4] = (uint8_t)kind;
    h[5] = (uint8_t)len;
    h[6] = (uint8_t)(len >> 8);
    if (data && len)
        memcpy(h + AC_PACKED_HEAD, data, len);
    return AC_PACKED_HEAD + len;
}

/* The data length of a packed head of `kind` at the start of a frame of n bytes, or -1
   when the frame holds no such head or its data runs past the frame. */
static inline long ac_packed_get(const uint8_t *h, size_t n, int kind)
{
    if (n < AC_PACKED_HEAD || memcmp(h, AC_PACKED_MAGIC, 4) != 0 || h[4] != (uint8_t)kind)
        return -1;
    size_t len = (size_t)h[5] | (size_t)h[6] << 8;
    return AC_PACKED_HEAD + len <= n ? (long)len : -1;
}

#endif
