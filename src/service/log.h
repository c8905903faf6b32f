/*  log.h - the service processes' log: one logfmt line per event on stderr.

        ts=2026-12-03T10:41:12.345Z level=info component=broker pid=4242 event=worker_joined
        service=actorcore credit=8 workers=2

    (one line). The fields after `event` are given as a printf format of `key=value`
    pairs: every %s (and %.*s) value is quoted when logfmt needs it (empty, or holding a
    space, '=', '"', '\' or a control character), so callers never quote; numbers are
    written as printf writes them. A line is written with one write(2), whole, so lines of
    processes sharing a journal never interleave. Errors carry `code` (the SPEC's error
    name, or a start-up code) and `path` (the setting or the field at fault).

    Levels: debug < info < warn < error. Nothing is logged per request at info; per-request
    lines exist only at debug, with their req_id. The level is the `log_level` setting
    (`--log-level`); `verbose: true` lowers it to debug.
*/
#ifndef AC_SERVICE_LOG_H
#define AC_SERVICE_LOG_H

#include <stdbool.h>

typedef enum { AC_LOG_DEBUG, AC_LOG_INFO, AC_LOG_WARN, AC_LOG_ERROR } ac_log_level_t;

/* The component named on every line (broker, worker) and the lowest level written. */
void ac_log_setup(const char *component, ac_log_level_t level);

/* ac_log_setup from the settings: the `log_level` name (debug, info, warn, error), lowered
   to debug by `verbose`. -1 (and a start_failed line naming --log-level) when the name is
   none of the levels. */
int ac_log_start(const char *component, const char *level_name, bool verbose);

/* The level of a name (debug, info, warn, error): 0, or -1 when it is none of them. */
int ac_log_level_parse(const char *name, ac_log_level_t *level);

/* True when a line of this level would be written (to skip building costly fields). */
bool ac_log_on(ac_log_level_t level);

/* Writes one line: the event, then fields (a printf format of key=value pairs, or "")
   with their values quoted where logfmt needs it. */
void ac_log(ac_log_level_t level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* A setting that cannot be used, at start-up (the process then exits 2): an error line
   `event=start_failed code=bad_setting path=--SETTING msg=...` (msg from the printf
   format). setting is the flag's name without its dashes, as the settings table spells
   it with '_' and '.' turned into '-'. */
void ac_log_bad_setting(const char *setting, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes text into out (room for size bytes, NUL included) as one logfmt value: as is
   when it needs no quotes, else quoted with '"' and '\' escaped and control characters
   as \n, \t or \xHH. The length written, or size when it did not fit (cut short). */
int ac_log_quote(char *out, int size, const char *text, int len);

#endif
