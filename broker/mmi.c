/*  mmi.c - the Majordomo Management Interface (ZeroMQ RFC 8) of the broker: a client's
    request to a service named `mmi.*` is answered here, never queued: mmi.service says
    whether a service has workers ("200") or not ("404"), mmi.stats returns the broker's
    counters as a msgpack map, anything else gets "501".
*/
#include <string.h>

#include "broker.h"

static void pack_counter(msgpack_packer *pk, const char *name, uint64_t v)
{
    ac_wire_pack_str(pk, name);
    msgpack_pack_uint64(pk, v);
}

void on_mmi(broker_t *b, zframe_t *client, const char *service, zmsg_t *body)
{
    zmsg_t *reply = zmsg_new();
    if (strcmp(service, "mmi.service") == 0) {
        char *name = zmsg_popstr(body);
        service_t *s = name ? zhashx_lookup(b->services, name) : NULL;
        zmsg_addstr(reply, s && zlistx_size(s->workers) ? "200" : "404");
        zstr_free(&name);
    } else if (strcmp(service, "mmi.stats") == 0) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 14);
        pack_counter(&pk, "requests", b->n.requests);
        pack_counter(&pk, "replies", b->n.replies);
        pack_counter(&pk, "malformed", b->n.malformed);
        pack_counter(&pk, "stale_replies", b->n.stale_replies);
        pack_counter(&pk, "requeued", b->n.requeued);
        pack_counter(&pk, "timeouts", b->n.timeouts);
        pack_counter(&pk, "too_large", b->n.too_large);
        pack_counter(&pk, "queue_full", b->n.queue_full);
        pack_counter(&pk, "workers_expired", b->n.workers_expired);
        pack_counter(&pk, "workers_joined", b->n.workers_joined);
        pack_counter(&pk, "lost", b->n.lost);
        pack_counter(&pk, "unroutable", b->n.unroutable);
        pack_counter(&pk, "workers", zhashx_size(b->workers));
        pack_counter(&pk, "services", zhashx_size(b->services));
        zmsg_addmem(reply, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    } else {
        zmsg_addstr(reply, "501");
    }
    send_to_client(b, client, service, &reply);
}
