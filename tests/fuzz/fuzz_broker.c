/*  fuzz_broker - the broker's frame handling: messages as its two ROUTER sockets hand them
    to the loop (the peer's routing id first), read by on_client_message and
    on_worker_message (MDP and packed framing, MMI, admission, fair queues, dispatch,
    replies, fan-outs, floors), with the timers' expiry in between. The broker is made once
    by broker_setup, as the process makes it, on inproc endpoints; nothing is connected to
    them, so every send fails as to a peer that has left (router_mandatory). After each
    input every worker expires and every held request is answered, so an input starts from
    an empty broker whatever came before it.

    Input: records, each [kind][peer][frames] then per frame [length, 2 bytes LE][bytes]:
      kind % 3 == 0: a client message from client id `peer % 8`;
      kind % 3 == 1: a worker message from worker id `peer % 8`;
      kind % 3 == 2: the timers, `peer` x 100 ms later than now (heartbeats included);
      but kind >= 0xf0: an ingest change (its frames, [topic][body], as the PULL socket
      hands them, no routing id; `peer` unused), read by ingest_on_change.
    A record cut short ends the input.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static broker_t s_b;

static void make_broker(void)
{
    config_t *c = &s_b.cfg;
    broker_config_defaults(c);
    const struct {
        char **field;
        const char *value;
    } eps[] = {{&c->frontend, "inproc://fuzz-frontend"},
               {&c->backend, "inproc://fuzz-backend"},
               {&c->events_in, "inproc://fuzz-events-in"},
               {&c->events_out, "inproc://fuzz-events-out"},
               {&c->state, "none"},
               {&c->ingest_pull, "inproc://fuzz-ingest"}};
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        free(*eps[i].field);
        *eps[i].field = strdup(eps[i].value);
    }
    /* Small tables, so that an input can fill them: the bounds are part of what is
       fuzzed. */
    c->max_services = 4;
    c->max_workers = 8;
    c->queue_max = 16;
    c->client_queue_max = 8;
    c->queue_max_bytes = 1 << 20;
    c->max_message_bytes = 4096;
    c->replicas = 2;
    c->ingest_max_actors = 8;
    s_b.affine = true;
    zsys_init();
    zsys_set_logstream(NULL);
    if (broker_setup(&s_b) != 0) {
        fprintf(stderr, "fuzz: broker_setup failed\n");
        abort();
    }
}

/* Fills the broker's input message with the routing id (with_id) and the record's
   frames; the bytes used, or 0 when the record is cut short. */
static size_t read_message(const uint8_t *p, size_t n, uint8_t peer, bool with_id)
{
    if (n < 1)
        return 0;
    mpart_t *m = &s_b.in;
    const uint8_t id[5] = {0, 'f', 'z', 'z', (uint8_t)(peer % 8)}; /* a ROUTER's own form */
    m->n = 0;
    if (with_id) {
        zmq_msg_close(&m->f[0]);
        zmq_msg_init_size(&m->f[0], sizeof id);
        memcpy(zmq_msg_data(&m->f[0]), id, sizeof id);
        m->n = 1;
    }
    m->overflow = false;
    size_t frames = p[0], at = 1;
    for (size_t i = 0; i < frames; i++) {
        if (at + 2 > n)
            return 0;
        size_t len = (size_t)p[at] | (size_t)p[at + 1] << 8;
        at += 2;
        if (len > n - at)
            return 0;
        if (m->n < FRAMES_MAX) {
            zmq_msg_close(&m->f[m->n]);
            zmq_msg_init_size(&m->f[m->n], len);
            if (len)
                memcpy(zmq_msg_data(&m->f[m->n]), p + at, len);
            m->n++;
        } else {
            m->overflow = true;
        }
        at += len;
    }
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_b.fe)
        make_broker();
    size_t at = 0;
    while (at + 2 <= size) {
        uint8_t kind = data[at] >= 0xf0 ? 3 : data[at] % 3, peer = data[at + 1];
        at += 2;
        if (kind == 2) {
            int64_t now = zclock_mono() + (int64_t)peer * 100;
            expire_workers(&s_b, now, true);
            expire_requests(&s_b, now);
            continue;
        }
        size_t used = read_message(data + at, size - at, peer, kind != 3);
        if (used == 0) {
            frames_reset(&s_b.in);
            break;
        }
        at += used;
        if (kind == 0)
            on_client_message(&s_b);
        else if (kind == 1)
            on_worker_message(&s_b);
        else
            ingest_on_change(&s_b, &s_b.in);
        ingest_pump(&s_b);
        frames_reset(&s_b.in);
    }
    /* Back to an empty broker: every worker gone (their requests re-queued), then every
       request past its deadline, answered, and the ingest changes that waited behind them
       the same way. */
    int64_t later = zclock_mono() + 100000000;
    expire_workers(&s_b, later, true);
    expire_requests(&s_b, later);
    expire_workers(&s_b, later, true);
    while (s_b.ingest.nready) {
        ingest_pump(&s_b);
        expire_requests(&s_b, later);
    }
    if (s_b.ingest.count != 0) {
        fprintf(stderr, "fuzz: %u ingest entries left after the input\n", s_b.ingest.count);
        abort();
    }
    return 0;
}
