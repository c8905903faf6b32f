/*  frames.c - multipart messages as libzmq frames: one whole message received into the
    broker's reused array of zmq_msg_t without waiting, frames sent from bytes (small ones
    live inside the message, no allocation) or moved from a received message, and a shared
    copy (zmq_msg_copy: the buffer is shared, not copied) where a body must be kept for
    re-queue. Routing ids are copied out as bytes.
*/
#include <string.h>

#include "broker.h"

bool frames_recv(void *sock, mpart_t *m)
{
    m->n = 0;
    m->overflow = false;
    for (;;) {
        zmq_msg_t *f = m->n < FRAMES_MAX ? &m->f[m->n] : NULL;
        zmq_msg_t spill;
        if (!f) {
            zmq_msg_init(&spill);
            f = &spill;
        }
        if (zmq_msg_recv(f, sock, m->n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            if (f == &spill)
                zmq_msg_close(&spill);
            /* Only the first frame can be missing (EAGAIN); the rest of a message is
               delivered with it. */
            return m->n > 0;
        }
        bool more = zmq_msg_more(f);
        if (f == &spill) {
            zmq_msg_close(&spill);
            m->overflow = true;
        } else {
            m->n++;
        }
        if (!more)
            return true;
    }
}

void frames_reset(mpart_t *m)
{
    /* A frame that was moved is already empty; closing and re-initialising an empty
       message costs nothing, and drops what a handler did not take. */
    for (int i = 0; i < m->n; i++) {
        zmq_msg_close(&m->f[i]);
        zmq_msg_init(&m->f[i]);
    }
    m->n = 0;
}

int frame_send(void *sock, const void *data, size_t len, bool more)
{
    return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

int frame_send_msg(void *sock, zmq_msg_t *msg, bool keep, bool more)
{
    int flags = more ? ZMQ_SNDMORE : 0;
    if (!keep)
        return zmq_msg_send(msg, sock, flags) < 0 ? -1 : 0;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, msg);
    if (zmq_msg_send(&copy, sock, flags) < 0) {
        zmq_msg_close(&copy);
        return -1;
    }
    return 0;
}

bool frame_is(const mpart_t *m, int f, const char *s)
{
    size_t len = strlen(s);
    return f < m->n && zmq_msg_size((zmq_msg_t *)&m->f[f]) == len &&
           memcmp(zmq_msg_data((zmq_msg_t *)&m->f[f]), s, len) == 0;
}

bool ident_from(ident_t *id, const zmq_msg_t *frame)
{
    size_t len = zmq_msg_size((zmq_msg_t *)frame);
    if (len < 1 || len > IDENT_MAX)
        return false;
    id->len = (uint8_t)len;
    memcpy(id->b, zmq_msg_data((zmq_msg_t *)frame), len);
    return true;
}
