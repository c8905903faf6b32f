/*  events.c - the broker's snapshot event forwarder: an XSUB socket where workers publish
    (events_in) and an XPUB socket where subscribers connect (events_out), forwarded by the
    broker's poll loop itself (events one way, subscriptions the other), so that the broker
    can publish on the XPUB too (ingest.c: the snapshots of changes) with no extra hop.

    Not CZMQ's zproxy: it binds inside its actor and asserts when a bind fails, so a typo
    in a setting or a port in use would abort the process; here a bind that fails names
    the setting and the system's reason.
*/
#include <stdio.h>

#include "broker.h"

/* A bound socket of `type`; NULL with the reason on stderr. */
static zsock_t *bound(broker_t *b, int type, const char *setting, const char *endpoint,
                      const char *domain)
{
    zsock_t *s = zsock_new(type);
    if (!s) {
        ac_log_bad_setting(setting, "cannot make a socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    auth_secure(b, s, domain);
    /* Events are at most once: past this many per peer, libzmq drops. */
    zsock_set_sndhwm(s, (int)b->cfg.events_hwm);
    zsock_set_rcvhwm(s, (int)b->cfg.events_hwm);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        ac_log_bad_setting(setting, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
    }
    return s;
}

int events_start(broker_t *b)
{
    events_t *e = &b->events;
    e->xsub = bound(b, ZMQ_XSUB, "events-in", b->cfg.events_in, AC_ZAP_WORKERS);
    e->xpub = e->xsub ? bound(b, ZMQ_XPUB, "events-out", b->cfg.events_out, AC_ZAP_CLIENTS) : NULL;
    return e->xpub ? 0 : -1;
}

/* Moves up to 256 whole messages from one socket to the other without waiting. */
static void forward(void *from, void *to)
{
    zmq_msg_t f;
    zmq_msg_init(&f);
    for (int n = 0; n < 256; n++) {
        if (zmq_msg_recv(&f, from, ZMQ_DONTWAIT) < 0)
            break;
        for (;;) {
            bool more = zmq_msg_more(&f);
            zmq_msg_send(&f, to, more ? ZMQ_SNDMORE : 0);
            if (!more || zmq_msg_recv(&f, from, 0) < 0)
                break;
        }
    }
    zmq_msg_close(&f);
}

void events_on_readable(broker_t *b, bool xsub, bool xpub)
{
    events_t *e = &b->events;
    if (xsub) /* events from workers */
        forward(zsock_resolve(e->xsub), zsock_resolve(e->xpub));
    if (xpub) /* subscriptions from subscribers, up to the publishers */
        forward(zsock_resolve(e->xpub), zsock_resolve(e->xsub));
}

int events_publish(broker_t *b, const void *topic, size_t topic_len, const void *body, size_t len)
{
    void *xpub = zsock_resolve(b->events.xpub);
    if (zmq_send(xpub, topic, topic_len, ZMQ_SNDMORE) < 0 || zmq_send(xpub, body, len, 0) < 0)
        return -1;
    return 0;
}

void events_stop(broker_t *b)
{
    events_t *e = &b->events;
    zsock_destroy(&e->xsub);
    zsock_destroy(&e->xpub);
}
