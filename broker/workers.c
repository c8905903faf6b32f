/*  workers.c - the broker's workers: a READY registers a worker (with its credit) at its
    service, any message from it renews its expiry, heartbeats go out on the broker's beat,
    a worker that stops talking or disconnects is deleted and every request it held goes
    back to its queue; the backend's (workers') messages, replies included, arrive here.
*/
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* Sends a worker command to the peer with that routing id. */
static void send_to_identity(broker_t *b, zframe_t *identity, int command, zmsg_t *msg)
{
    msg = ac_mdp_worker_frames(msg, command);
    zmsg_prepend(msg, &(zframe_t *){zframe_dup(identity)});
    if (zmsg_send(&msg, b->backend) != 0)
        b->n.unroutable++;
    zmsg_destroy(&msg);
}

void send_to_worker(broker_t *b, worker_t *w, int command, zmsg_t *msg)
{
    send_to_identity(b, w->identity, command, msg);
}

/* Removes a worker; every request it held goes back to the front of its queue. */
static void worker_delete(broker_t *b, worker_t *w, bool send_disconnect)
{
    if (send_disconnect)
        send_to_worker(b, w, AC_MDPW_DISCONNECT, NULL);
    service_t *s = w->service;
    requeue_held(b, w);
    void *handle = zlistx_find(s->workers, w);
    if (handle)
        zlistx_delete(s->workers, handle);
    zhashx_delete(b->workers, w->key);
    zframe_destroy(&w->identity);
    free(w->key);
    free(w);
    dispatch(b, s);
}

/* ---- backend ---- */

/* A READY: a new worker joins its service with its credit; a bad READY, or one from a
   worker already known, is counted malformed and the worker told to disconnect. */
static void on_ready(broker_t *b, zframe_t *identity, const char *key, worker_t *w, zmsg_t *msg)
{
    char *name = zmsg_popstr(msg), *credit = zmsg_popstr(msg);
    long c = credit ? strtol(credit, NULL, 10) : 1;
    if (w || !name || !*name || strlen(name) > 255 || strncmp(name, "mmi.", 4) == 0 || c < 1 ||
        c > 100000) {
        b->n.malformed++;
        if (w)
            worker_delete(b, w, true);
        else
            send_to_identity(b, identity, AC_MDPW_DISCONNECT, NULL);
    } else {
        service_t *s = service_require(b, name);
        if (!s) {
            b->n.malformed++;
            send_to_identity(b, identity, AC_MDPW_DISCONNECT, NULL);
        } else {
            w = calloc(1, sizeof *w);
            w->key = strdup(key);
            w->identity = zframe_dup(identity);
            w->service = s;
            w->credit = (int)c;
            w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
            zhashx_insert(b->workers, key, w);
            zlistx_add_end(s->workers, w);
            b->n.workers_joined++;
            if (b->cfg.verbose)
                zsys_info("broker: worker %s joined %s with credit %ld", key, name, c);
            dispatch(b, s);
        }
    }
    zstr_free(&name);
    zstr_free(&credit);
}

/* A reply from w: forwarded to its client (consuming *msg_p) when w holds its tag, else
   dropped and counted. */
static void on_reply(broker_t *b, worker_t *w, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    zframe_t *env = zmsg_pop(msg), *delim = zmsg_pop(msg);
    request_t *r = NULL;
    if (env && zframe_size(env) >= 8 && delim && zframe_size(delim) == 0 && zmsg_size(msg) > 0) {
        uint64_t tag;
        memcpy(&tag, zframe_data(env), 8);
        r = request_by_tag(b, tag);
    } else {
        b->n.malformed++;
    }
    if (r && r->worker == w) {
        list_remove(&w->head, &w->tail, r);
        w->inflight--;
        b->n.replies++;
        send_to_client(b, r->client, w->service->name, msg_p);
        request_free(b, r);
        dispatch(b, w->service);
    } else if (env && delim) {
        b->n.stale_replies++;
    }
    zframe_destroy(&env);
    zframe_destroy(&delim);
}

void on_worker_message(broker_t *b, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop(msg), *empty = zmsg_pop(msg), *proto = zmsg_pop(msg),
             *cmd = zmsg_pop(msg);
    if (!identity || !empty || zframe_size(empty) != 0 || !proto || !zframe_streq(proto, AC_MDPW) ||
        !cmd || zframe_size(cmd) != 1) {
        b->n.malformed++;
        goto done;
    }
    char *key = zframe_strhex(identity);
    worker_t *w = zhashx_lookup(b->workers, key);
    int command = zframe_data(cmd)[0];
    if (w)
        w->expiry = zclock_mono() + b->cfg.heartbeat_ms * b->cfg.liveness;
    if (command == AC_MDPW_READY) {
        on_ready(b, identity, key, w, msg);
    } else if (!w) {
        /* Not a worker we know (e.g. we restarted): tell it to reconnect. */
        b->n.malformed += command != AC_MDPW_HEARTBEAT && command != AC_MDPW_DISCONNECT;
        if (command != AC_MDPW_DISCONNECT)
            send_to_identity(b, identity, AC_MDPW_DISCONNECT, NULL);
    } else if (command == AC_MDPW_REPLY) {
        on_reply(b, w, &msg);
    } else if (command == AC_MDPW_DISCONNECT) {
        worker_delete(b, w, false);
    } else if (command != AC_MDPW_HEARTBEAT) {
        b->n.malformed++;
    }
    free(key);
done:
    zframe_destroy(&identity);
    zframe_destroy(&empty);
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    zmsg_destroy(&msg);
}

/* Workers that stopped talking. */
void expire_workers(broker_t *b, int64_t now, bool heartbeat)
{
    zlistx_t *dead = zlistx_new();
    for (worker_t *w = zhashx_first(b->workers); w; w = zhashx_next(b->workers)) {
        if (w->expiry < now)
            zlistx_add_end(dead, w);
        else if (heartbeat)
            send_to_worker(b, w, AC_MDPW_HEARTBEAT, NULL);
    }
    for (worker_t *w = zlistx_first(dead); w; w = zlistx_next(dead)) {
        b->n.workers_expired++;
        if (b->cfg.verbose)
            zsys_info("broker: worker %s expired", w->key);
        worker_delete(b, w, false);
    }
    zlistx_destroy(&dead);
}
