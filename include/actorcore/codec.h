/*  actorcore/codec.h - JSON and msgpack in and out, over one schema walk.
    Layer: codec (see src/codec/README.md; scripts/check-layers.sh).

    Both wire forms are first parsed into a generic tree (msgpack-c's msgpack_object, in a
    caller-owned msgpack_zone): msgpack directly, JSON through jansson. One schema walk
    then checks that tree against SPEC 1 and fills a request, so the two codecs cannot
    disagree on what is valid. Unknown fields are rejected (a misspelt `priorty` must not
    silently become priority 0); actor `data` is the one free-form map.

    Numbers: JSON integers beyond 64 bits are read as doubles; `1e999` and other
    non-finite numbers are rejected as non_finite_value at their path.
*/
#ifndef ACTORCORE_CODEC_H
#define ACTORCORE_CODEC_H

#include "actorcore/export.h"

#include <msgpack.h>
#include <stddef.h>

#include "actorcore/error.h"
#include "actorcore/registry.h"
#include "actorcore/request.h"
#include "actorcore/snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses JSON text (an object or array at top level) into *out, allocated in zone.
   Errors: invalid_json (with line and column), non_finite_value never (infinities
   become float objects for the schema walk to reject at their path). */
AC_API int ac_json_parse(const char *text, size_t len, msgpack_zone *zone, msgpack_object *out,
                         ac_error_t *err);

/* Parses exactly one msgpack object spanning all len bytes. Container sizes are checked
   against the bytes present before anything is allocated; nesting is limited to 32.
   Strings point into buf, which must outlive *out. */
AC_API int ac_msgpack_parse(const char *buf, size_t len, msgpack_zone *zone, msgpack_object *out,
                            ac_error_t *err);

/* Schema walk: an array of SubsystemOutput into req; path names the array in errors
   (e.g. "outputs" or "items[3].outputs"). Marks everything as inline. */
AC_API int ac_decode_outputs(ac_request_t *req, const msgpack_object *outputs, const char *path,
                             ac_error_t *err);

/* Schema walk: an Actor map into req (deep-copying `data`). */
AC_API int ac_decode_actor(ac_request_t *req, const msgpack_object *actor, const char *path,
                           ac_error_t *err);

/* Both steps for JSON text: parse, then walk. */
AC_API int ac_decode_outputs_json(ac_request_t *req, const char *text, size_t len, ac_error_t *err);
AC_API int ac_decode_actor_json(ac_request_t *req, const char *text, size_t len, ac_error_t *err);

/* Appends the snapshot as JSON (SPEC 9: Primary, Derived, CapsUsed, Version, and Context
   when any) to out, numbers in shortest round-trip form. Returns 0 or AC_EINTERNAL. */
AC_API int ac_snapshot_to_json(const ac_snapshot_t *snap, const ac_registry_t *reg,
                               msgpack_sbuffer *out);

/* Packs the snapshot as a msgpack map with the same keys, plus Generation and, when
   actor_id is not NULL, ActorId. */
AC_API int ac_snapshot_pack(msgpack_packer *pk, const ac_snapshot_t *snap, const ac_registry_t *reg,
                            const char *actor_id, size_t actor_id_len);

/* The same bytes' meaning, appended straight to sb: the fast path the service uses. */
AC_API int ac_snapshot_pack_buffer(msgpack_sbuffer *sb, const ac_snapshot_t *snap,
                                   const ac_registry_t *reg, const char *actor_id,
                                   size_t actor_id_len);

/* Appends s as a JSON string literal (quoted, escaped) to out. */
AC_API int ac_json_write_string(msgpack_sbuffer *out, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
