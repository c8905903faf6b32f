/*  mmi_stat.h - one counter of a broker's mmi.stats (MDP's MMI, a REQ socket), for the
    benchmark programs; exits when the broker does not answer or has no such counter. */
#ifndef AC_BENCH_MMI_STAT_H
#define AC_BENCH_MMI_STAT_H

#include <czmq.h>

#include "actorcore/codec.h"
#include "actorcore/wire.h"

static inline double broker_counter(const char *fe, const char *name)
{
    zsock_t *req = zsock_new_req(fe);
    zsock_set_rcvtimeo(req, 5000);
    zstr_sendm(req, AC_MDPC);
    zstr_sendm(req, "mmi.stats");
    zstr_send(req, "");
    zmsg_t *m = zmsg_recv(req);
    zsock_destroy(&req);
    zframe_t *body = m && zmsg_size(m) == 3 ? zmsg_last(m) : NULL;
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object o;
    ac_error_t err;
    const msgpack_object *v = NULL;
    if (body &&
        ac_msgpack_parse((const char *)zframe_data(body), zframe_size(body), zone, &o, &err) == 0)
        v = ac_wire_get(&o, name);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        fprintf(stderr, "bench: mmi.stats has no %s\n", name);
        exit(1);
    }
    double r = (double)v->via.u64;
    msgpack_zone_free(zone);
    zmsg_destroy(&m);
    return r;
}

#endif
