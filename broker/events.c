/*  events.c - the broker's snapshot event forwarder: an XSUB socket where workers publish
    (events_in) and an XPUB socket where subscribers connect (events_out), joined by
    zmq_proxy_steerable in a thread of its own beside the broker's poll loop.

    Not CZMQ's zproxy: it binds inside its actor and asserts when a bind fails, so a typo
    in a setting or a port in use would abort the process. Here the main thread binds
    (an error names the setting and the system's reason) and only then hands the sockets
    to the thread (libzmq allows that across a full memory barrier: pthread_create).
*/
#include <signal.h>
#include <stdio.h>

#include "broker.h"

/* A bound socket of `type`; NULL with the reason on stderr. */
static zsock_t *bound(broker_t *b, int type, const char *setting, const char *endpoint,
                      const char *domain)
{
    zsock_t *s = zsock_new(type);
    if (!s) {
        fprintf(stderr, "actorcore-broker: --%s: cannot make a socket: %s\n", setting,
                zmq_strerror(zmq_errno()));
        return NULL;
    }
    auth_secure(b, s, domain);
    /* Events are at most once: past this many per peer, libzmq drops. */
    zsock_set_sndhwm(s, (int)b->cfg.events_hwm);
    zsock_set_rcvhwm(s, (int)b->cfg.events_hwm);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        fprintf(stderr, "actorcore-broker: --%s: cannot bind %s: %s\n", setting, endpoint,
                zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
    }
    return s;
}

static void *proxy_main(void *arg)
{
    events_t *e = arg;
    /* Signals go to the main thread: an EINTR here would end the proxy early. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* Returns when TERMINATE arrives on ctl_peer (or the context ends). */
    zmq_proxy_steerable(zsock_resolve(e->xsub), zsock_resolve(e->xpub), NULL,
                        zsock_resolve(e->ctl_peer));
    return NULL;
}

void events_own_endpoint(const broker_t *b, char *buf, size_t size)
{
    snprintf(buf, size, "inproc://ac-broker-publish-%p", (const void *)b);
}

int events_start(broker_t *b)
{
    static unsigned s_n; /* one control endpoint per start, never reused */
    events_t *e = &b->events;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ac-broker-events-%u", s_n++);
    e->xsub = bound(b, ZMQ_XSUB, "events-in", b->cfg.events_in, AC_ZAP_WORKERS);
    e->xpub = e->xsub ? bound(b, ZMQ_XPUB, "events-out", b->cfg.events_out, AC_ZAP_CLIENTS) : NULL;
    if (!e->xpub)
        return -1;
    /* The broker's own publisher (ingest.c) reaches the forwarder in-process too. */
    char own[64];
    events_own_endpoint(b, own, sizeof own);
    if (zsock_bind(e->xsub, "%s", own) < 0) {
        fprintf(stderr, "actorcore-broker: cannot bind %s: %s\n", own, zmq_strerror(zmq_errno()));
        return -1;
    }
    e->ctl = zsock_new(ZMQ_PAIR);
    e->ctl_peer = zsock_new(ZMQ_PAIR);
    if (!e->ctl || !e->ctl_peer || zsock_bind(e->ctl, "%s", ep) < 0 ||
        zsock_connect(e->ctl_peer, "%s", ep) != 0 ||
        pthread_create(&e->thread, NULL, proxy_main, e) != 0) {
        fprintf(stderr, "actorcore-broker: cannot start the event forwarder: %s\n",
                zmq_strerror(zmq_errno()));
        return -1;
    }
    e->running = true;
    return 0;
}

void events_stop(broker_t *b)
{
    events_t *e = &b->events;
    if (e->running) {
        zstr_send(e->ctl, "TERMINATE");
        pthread_join(e->thread, NULL);
        e->running = false;
    }
    zsock_destroy(&e->ctl);
    zsock_destroy(&e->ctl_peer);
    zsock_destroy(&e->xsub);
    zsock_destroy(&e->xpub);
}
