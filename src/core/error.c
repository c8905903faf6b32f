/*  error.c - error codes, their names and their JSON form. */
#include "actorcore/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const s_names[] = {
    "ok",
    "invalid_json",
    "invalid_msgpack",
    "schema_violation",
    "unknown_dimension",
    "unknown_layer",
    "non_finite_value",
    "kind_mode_mismatch",
    "too_large",
    "unknown_op",
    "subsystem_failed",
    "timeout",
    "unavailable",
    "internal",
    "not_found",
    "internal", /* AC_ENOMEM: on the wire, out of memory is an internal error */
};
#define NAME_COUNT (sizeof s_names / sizeof s_names[0])

const char *ac_code_name(int code)
{
    if (code > 0 || (size_t)(-code) >= NAME_COUNT)
        return "internal";
    return s_names[-code];
}

int ac_code_from_name(const char *name)
{
    for (size_t i = 1; i < NAME_COUNT; i++)
        if (strcmp(name, s_names[i]) == 0)
            return -(int)i;
    return AC_EINTERNAL;
}

int ac_error_vset(ac_error_t *err, int code, const char *path, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->path, sizeof err->path, "%s", path ? path : "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

int ac_error_set(ac_error_t *err, int code, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ac_error_vset(err, code, path, fmt, ap);
    va_end(ap);
    return code;
}

void ac_error_clear(ac_error_t *err)
{
    if (!err)
        return;
    err->code = AC_OK;
    err->message[0] = '\0';
    err->path[0] = '\0';
}

/* Appends s as a JSON string body (escaped) to buf at *len, never past size - 1. */
static void json_escape_into(char *buf, size_t size, size_t *len, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        const char *piece = tmp;
        if (*p == '"')
            piece = "\\\"";
        else if (*p == '\\')
            piece = "\\\\";
        else if (*p == '\n')
            piece = "\\n";
        else if (*p < 0x20 || *p == 0x7f)
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
        else {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
        }
        size_t n = strlen(piece);
        if (*len + n < size)
            memcpy(buf + *len, piece, n);
        *len += n;
    }
}

size_t ac_error_to_json(const ac_error_t *err, char *buf, size_t size)
{
    size_t len = 0;
    const char *parts[] = {"{\"code\":\"", ac_code_name(err->code), "\",\"message\":\"",
                           NULL,           "\",\"path\":\"",        NULL,
                           "\"}"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (i == 3 || i == 5) {
            /* Messages may quote bytes from outside: escape them, and replace invalid
               UTF-8 so the error itself is always valid JSON. */
            const char *src = i == 3 ? err->message : err->path;
            char clean[AC_ERROR_MESSAGE_MAX];
            size_t k = 0;
            for (const unsigned char *p = (const unsigned char *)src; *p && k + 1 < sizeof clean;
                 p++)
                clean[k++] = *p < 0x80 ? (char)*p : '?';
            clean[k] = '\0';
            json_escape_into(buf, size, &len, clean);
            continue;
        }
        size_t n = strlen(parts[i]);
        if (len + n < size)
            memcpy(buf + len, parts[i], n);
        len += n;
    }
    if (size)
        buf[len < size ? len : size - 1] = '\0';
    return len;
}
