/*  actorcore/wire.h - the service's wire protocol (SPEC 8).
    Layer: codec (see src/codec/README.md; scripts/check-layers.sh).

    Transport: ZeroMQ Majordomo Protocol MDP/0.1 (RFC 7) between clients, broker and
    workers, service name "actorcore". Extension (compatible): a worker's READY may carry
    one more frame, its credit as ASCII decimal: how many requests the broker may send it
    before a reply. Plain MDP/0.1 workers send none and get credit 1.

    The broker gives each request it dispatches one envelope frame: an 8-byte tag followed
    by the client's routing id. MDP workers return the envelope verbatim, so plain workers
    interoperate; the tag lets the broker match replies to requests and drop replies from
    workers it has given up on (so a client never receives one request's answer twice).

    Bodies are one msgpack frame, a map: requests `{op, id, ...}`, replies `{id, ok, ...}`
    or `{id, ok: false, error: {code, message, path}}`.
*/
#ifndef ACTORCORE_WIRE_H
#define ACTORCORE_WIRE_H

#include "actorcore/export.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "actorcore/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AC_MDPC "MDPC01"
#define AC_MDPW "MDPW01"
#define AC_MDPW_READY 0x01
#define AC_MDPW_REQUEST 0x02
#define AC_MDPW_REPLY 0x03
#define AC_MDPW_HEARTBEAT 0x04
#define AC_MDPW_DISCONNECT 0x05
#define AC_SERVICE "actorcore"

/* Default endpoints (SPEC 8). */
#define AC_DEFAULT_FRONTEND "tcp://*:5555"
#define AC_DEFAULT_BACKEND "tcp://*:5556"
#define AC_DEFAULT_EVENTS_OUT "tcp://*:5557"
#define AC_DEFAULT_EVENTS_IN "tcp://*:5558"

/* The value of key in a msgpack map, or NULL. */
AC_API const msgpack_object *ac_wire_get(const msgpack_object *map, const char *key);

/* True when o is a usable request id: an integer or a string of at most 256 bytes. */
AC_API bool ac_wire_id_ok(const msgpack_object *o);

/* Reads the unsigned integer under `key` at the top level of a msgpack map without
   decoding the rest (values are skipped, nothing is allocated). 1 found, 0 absent or not
   an unsigned integer, -1 malformed. */
AC_API int ac_wire_peek_uint(const char *buf, size_t len, const char *key, uint64_t *out);

/* Packs id (nil when NULL or unusable). */
AC_API int ac_wire_pack_id(msgpack_packer *pk, const msgpack_object *id);

/* Packs a whole error reply: {id, ok: false, error: {code, message, path}}. */
AC_API int ac_wire_pack_error(msgpack_packer *pk, const msgpack_object *id, const ac_error_t *err);

/* Packs a string. */
AC_API int ac_wire_pack_str(msgpack_packer *pk, const char *s);

/* Appends o as JSON to out (floats in shortest round-trip form, binary as base-16 text). */
AC_API int ac_msgpack_to_json(const msgpack_object *o, msgpack_sbuffer *out);

#ifdef __cplusplus
}
#endif
#endif
