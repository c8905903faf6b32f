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

#endif
