/*  actorcore/error.h - errors as values.
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    Every function that can reject input returns an int: 0 on success or a negative
    ac_code_t, and fills an ac_error_t the caller owns (no allocation, so an error can be
    reported even when memory is exhausted). The code names are the snake_case strings of
    SPEC section 7; `path` points at the offending field, e.g. `outputs[2].caps[0].scope`.
*/
#ifndef ACTORCORE_ERROR_H
#define ACTORCORE_ERROR_H

#include "actorcore/export.h"

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    AC_OK = 0,
    AC_EINVALID_JSON = -1,      /* input is not JSON */
    AC_EINVALID_MSGPACK = -2,   /* input is not msgpack */
    AC_ESCHEMA = -3,            /* well-formed, but a field has the wrong shape or value */
    AC_EUNKNOWN_DIMENSION = -4, /* dimension not in the registry and no default rule */
    AC_EUNKNOWN_LAYER = -5,     /* cap scope not in the CapLayerRegistry */
    AC_ENON_FINITE = -6,        /* NaN or infinity given, or produced */
    AC_EKIND_MODE = -7,         /* HARD_MAX with kind min, or HARD_MIN with kind max */
    AC_ETOO_LARGE = -8,         /* a configured limit was exceeded */
    AC_EUNKNOWN_OP = -9,        /* request names an op the service does not have */
    AC_ESUBSYSTEM_FAILED = -10, /* a worker-side subsystem failed */
    AC_ETIMEOUT = -11,          /* no answer in time */
    AC_EUNAVAILABLE = -12,      /* no worker, queue full, store down... */
    AC_EINTERNAL = -13,         /* our bug or out of memory */
    AC_ENOT_FOUND = -14,        /* `get` of an actor nothing is stored for */
    AC_ENOMEM = -15,            /* an allocation failed; nothing leaked, nothing half-written */
} ac_code_t;

#define AC_ERROR_MESSAGE_MAX 320
#define AC_ERROR_PATH_MAX 256

typedef struct {
    int code;                           /* an ac_code_t, AC_OK when no error */
    char message[AC_ERROR_MESSAGE_MAX]; /* human readable, names file/line where known */
    char path[AC_ERROR_PATH_MAX];       /* field path, "" when the whole input is at fault */
} ac_error_t;

/* The snake_case name of a code ("schema_violation"...); "internal" for unknown codes and
   for AC_ENOMEM (SPEC 7 has no code of its own for it: the wire says `internal`). */
AC_API const char *ac_code_name(int code);

/* Code from its snake_case name; AC_EINTERNAL when unknown. */
AC_API int ac_code_from_name(const char *name);

/* Fills err (when not NULL) and returns code, so callers can write
   `return ac_error_set (err, AC_ESCHEMA, path, "...")`. */
AC_API int ac_error_set(ac_error_t *err, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same with a va_list. */
AC_API int ac_error_vset(ac_error_t *err, int code, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Resets err to "no error". */
AC_API void ac_error_clear(ac_error_t *err);

/* Writes err as the JSON object {"code":..,"message":..,"path":..} into buf (always
   NUL-terminated, truncated to size). Returns the length it wanted to write. */
AC_API size_t ac_error_to_json(const ac_error_t *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
