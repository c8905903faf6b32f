/*  mmi.c - the Majordomo Management Interface (ZeroMQ RFC 8) of the broker: a client's
    request to a service named `mmi.*` is answered here, never queued: mmi.service says
    whether a service has workers ("200") or not ("404"), mmi.stats returns the broker's
    counters and the sizes of its tables as a msgpack map, anything else gets "501".
*/
#include <string.h>

#include "broker.h"

static void pack_counter(msgpack_packer *pk, const char *name, uint64_t v)
{
    ac_wire_pack_str(pk, name);
    msgpack_pack_uint64(pk, v);
}

/* Every counter and table size, by name. */
static void pack_stats(const broker_t *b, msgpack_packer *pk)
{
    const counters_t *n = &b->n;
    struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"requests", n->requests},
        {"replies", n->replies},
        {"malformed", n->malformed},
        {"stale_replies", n->stale_replies},
        {"requeued", n->requeued},
        {"timeouts", n->timeouts},
        {"too_large", n->too_large},
        {"queue_full", n->queue_full},
        {"queue_bytes_full", n->queue_bytes_full},
        {"client_queue_full", n->client_queue_full},
        {"workers_expired", n->workers_expired},
        {"workers_joined", n->workers_joined},
        {"workers_refused", n->workers_refused},
        {"workers_disconnected", n->workers_disconnected},
        {"services_evicted", n->services_evicted},
        {"services_refused", n->services_refused},
        {"lost", n->lost},
        {"unroutable", n->unroutable},
        {"affine_hits", n->affine_hits},
        {"affine_spills", n->affine_spills},
        {"least_loaded", n->least_loaded},
        {"owner_changes", n->owner_changes},
        {"load_bound_exceeded", n->load_bound_exceeded},
        {"auth_admitted", n->auth_admitted},
        {"auth_refused", n->auth_refused},
        {"fanouts", n->fanouts},
        {"fanout_lost", n->fanout_lost},
        {"replicas_replaced", n->replicas_replaced},
        {"invalidations", n->invalidations},
        {"floor_evictions", n->floor_evictions},
        {"takeovers", n->takeovers},
        {"floors_applied", n->floors_applied},
        {"ingest_received", n->ingest_received},
        {"ingest_malformed", n->ingest_malformed},
        {"ingest_coalesced", n->ingest_coalesced},
        {"ingest_stale", n->ingest_stale},
        {"ingest_queued", n->ingest_queued},
        {"ingest_resolved", n->ingest_resolved},
        {"ingest_failed", n->ingest_failed},
        {"ingest_dropped", n->ingest_dropped},
        {"ingest_published", n->ingest_published},
        {"ingest_actors", b->ingest.count},
        {"passive_refused", n->passive_refused},
        {"pair_state", (uint64_t)b->pair.state},
        {"pair_synced", b->pair.synced},
        /* table sizes */
        {"workers", b->nworkers},
        {"services", b->nservices},
        {"services_with_workers", b->served},
        {"client_queues", b->ncqs},
        {"requests_held", b->nrequests},
        {"bytes_held", b->held_bytes},
        {"request_slots", (uint64_t)b->requests.nchunks * SLAB_CHUNK},
    };
    size_t count = sizeof f / sizeof f[0];
    msgpack_pack_map(pk, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        pack_counter(pk, f[i].name, f[i].v);
}

void on_mmi(broker_t *b, const ident_t *client, const char *service, int body)
{
    mpart_t *m = &b->in;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const char *text = NULL;
    if (strcmp(service, "mmi.service") == 0) {
        zmq_msg_t *f = &m->f[body];
        service_t *s =
            service_find(b, zmq_msg_data(f), zmq_msg_size(f) > 255 ? 0 : zmq_msg_size(f));
        text = s && s->nmembers ? "200" : "404";
    } else if (strcmp(service, "mmi.stats") == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pack_stats(b, &pk);
    } else {
        text = "501";
    }
    size_t len = text ? strlen(text) : sb.size;
    mpart_t one;
    one.n = 1;
    if (zmq_msg_init_size(&one.f[0], len) == 0) {
        memcpy(zmq_msg_data(&one.f[0]), text ? text : sb.data, len);
        send_to_client(b, client, NULL, service, &one, 0);
        zmq_msg_close(&one.f[0]);
    }
    msgpack_sbuffer_destroy(&sb);
}
