/*  events.c - the broker's snapshot event forwarder: a zproxy actor binding an XSUB socket
    where workers publish (events_in) and an XPUB socket where subscribers connect
    (events_out), running in its own thread beside the broker's poll loop.
*/
#include "broker.h"

void events_start(broker_t *b)
{
    b->proxy = zactor_new(zproxy, NULL);
    zstr_sendx(b->proxy, "FRONTEND", "XSUB", b->cfg.events_in, NULL);
    zsock_wait(b->proxy);
    zstr_sendx(b->proxy, "BACKEND", "XPUB", b->cfg.events_out, NULL);
    zsock_wait(b->proxy);
}

void events_stop(broker_t *b)
{
    zactor_destroy(&b->proxy);
}
