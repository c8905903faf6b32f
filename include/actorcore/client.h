/*  actorcore/client.h - an asynchronous MDP/0.1 client for the actorcore service.
    Layer: service (see src/service/README.md; scripts/check-layers.sh).

    Send many requests without waiting; receive replies as they come, matched to requests
    by the `id` the client assigned. Each request has a per-attempt timeout; when it passes
    without a reply the request is sent again (the broker gives it to whichever worker is
    free), up to `retries` times, after which the caller receives a synthesized `timeout`
    error reply. A late reply to an attempt already answered is dropped, so the caller sees
    exactly one reply per request. Not thread-safe: one client per thread.
*/
#ifndef ACTORCORE_CLIENT_H
#define ACTORCORE_CLIENT_H

#include "actorcore/export.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_client ac_client_t;

typedef struct {
    int timeout_ms; /* per attempt; default 5000 */
    int retries;    /* further attempts after a timeout; default 2 */
    /* CURVE (the broker runs `security: curve`): this client's key pair NAME (NAME_secret is
       read, as `actorcore keygen NAME` writes it) and the broker's public certificate file.
       Both NULL: plain text. One without the other, or a file that holds no valid key,
       makes ac_client_new fail. */
    const char *curve_cert;
    const char *curve_server;
    /* Requests go to actorcore-broker in its packed framing (two frames instead of four,
       each frame being one CURVE message); set plain_mdp to speak plain MDP/0.1 to another
       MDP broker. */
    int plain_mdp;
    /* The broker's ingest.pull endpoint, for ac_client_publish (NULL: publishing fails). */
    const char *ingest;
} ac_client_config_t;

typedef struct {
    uint64_t id;      /* the request's id */
    const char *body; /* msgpack reply map; valid until the next recv */
    size_t len;       /* bytes of body */
} ac_reply_t;

typedef struct {
    uint64_t sent;       /* requests sent (first attempts) */
    uint64_t retried;    /* further attempts */
    uint64_t received;   /* replies handed to the caller */
    uint64_t duplicates; /* late or unknown replies dropped */
    uint64_t timed_out;  /* requests given up on */
    uint64_t resent;     /* re-sent at once because the broker connection dropped */
    uint64_t refused;    /* answered `unavailable`: the broker refused this client's key */
    uint64_t failovers;  /* moves to the next broker of the list */
    uint64_t passive;    /* refusals of a passive broker (the request went on) */
} ac_client_stats_t;

/* Connects to the broker's frontend (e.g. "tcp://127.0.0.1:5555"), or to the first of a
   comma-separated list (a primary / backup pair: the client fails over to the next when
   its broker drops, times out or says it is passive, and re-sends what is pending there;
   each request is still answered exactly once); cfg may be NULL. NULL on a bad endpoint. */
AC_API ac_client_t *ac_client_new(const char *endpoint, const ac_client_config_t *cfg);
AC_API void ac_client_destroy(ac_client_t **self_p);

/* A fresh request id (1, 2, 3...). */
AC_API uint64_t ac_client_next_id(ac_client_t *self);

/* Starts a request body {op, id, ...}: packs the map header with n_fields + 2 entries, then
   "op" and "id"; the caller packs n_fields more key/value pairs into pk. */
AC_API void ac_client_begin(ac_client_t *self, msgpack_packer **pk, const char *op, uint64_t id,
                            uint32_t n_fields);
/* Sends the body begun with ac_client_begin. 0, or -1 when it could not be queued. */
AC_API int ac_client_send(ac_client_t *self, uint64_t id);

/* Sends a complete body (a msgpack map whose "id" is `id`). */
AC_API int ac_client_send_raw(ac_client_t *self, uint64_t id, const void *body, size_t len);

/* Waits up to timeout_ms (-1: until something happens) for the next reply. Returns 1 with
   *reply filled, 0 when nothing came in time or nothing is pending. */
AC_API int ac_client_recv(ac_client_t *self, ac_reply_t *reply, int timeout_ms);

/* Pushes an actor change to the broker's ingest.pull: [topic][body], body a resolve item
   {actor, outputs?} (msgpack); no reply comes, the snapshot is published on
   snap/<actor_id>. Waits up to the config's timeout_ms when the broker pushes back.
   0, or -1 (no ingest endpoint configured, or still pushed back after the timeout). */
AC_API int ac_client_publish(ac_client_t *self, const char *topic, const void *body, size_t len);

/* Requests sent and not yet answered. */
AC_API size_t ac_client_pending(const ac_client_t *self);
AC_API void ac_client_stats(const ac_client_t *self, ac_client_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
