/*  settings.h - table-driven settings for the service executables.

    A program describes its settings once, as a table of (dotted name, type, bounds,
    destination). The same table loads a section of a YAML config file (nested maps
    flatten to dotted names: `l1: {entries: 10}` is `l1.entries`) and applies command-line
    flags (`--l1-entries 10`: dots become dashes). Unknown names, wrong types and
    out-of-range numbers are errors naming the file, line and setting. Endpoints are
    checked for their shape (scheme, host, port) when they are set, before any socket is
    made, so a typo is an error naming the setting rather than a failure inside libzmq.
*/
#ifndef AC_SETTINGS_H
#define AC_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "actorcore/error.h"

typedef enum {
    AC_SET_STR,
    AC_SET_INT,
    AC_SET_BOOL,
    AC_SET_DOUBLE,
    AC_SET_ENDPOINT, /* a ZeroMQ endpoint, kept as a string (char **) */
    AC_SET_PATH,     /* a file or folder (char **): relative in a config file = relative to
                        that file's folder; on the command line, to the current folder;
                        "none" and "" are kept as they are */
    AC_SET_LISTEN    /* an HTTP listen address HOST:PORT (char **), HOST an address, a name,
                        [v6] or * (every IPv4 interface); "" is accepted: off */
} ac_setting_type_t;

/* AC_SET_ENDPOINT's flavour, in `min`: a bound endpoint may use `*` for the port. */
#define AC_ENDPOINT_CONNECT 0
#define AC_ENDPOINT_BIND 1
/* AC_SET_ENDPOINT in `max` (bits): an empty value is accepted (the socket is not made); a
   comma-separated list of up to AC_ENDPOINTS_MAX endpoints is accepted (a pair of brokers). */
#define AC_ENDPOINT_OPTIONAL 1
#define AC_ENDPOINT_LIST 2
#define AC_ENDPOINTS_MAX 4

typedef struct {
    const char *name;       /* dotted name, e.g. "l1.entries" */
    ac_setting_type_t type; /* how to read it */
    void *dest;             /* char ** (malloc'd), long long *, bool * or double * */
    long long min, max;     /* bounds for AC_SET_INT and AC_SET_DOUBLE (inclusive); for
                               AC_SET_ENDPOINT the flavour and AC_ENDPOINT_OPTIONAL */
    const char *help;       /* one line for --help */
} ac_setting_t;

/* Checks that `endpoint` is tcp://HOST:PORT (port 1-65535, or `*` when bind), ipc://PATH
   or inproc://NAME. Returns 0 or AC_ESCHEMA with a message starting with `label`. */
int ac_endpoint_check(const char *label, const char *endpoint, bool bind, ac_error_t *err);
/* The same for a comma-separated list of 1 to AC_ENDPOINTS_MAX endpoints. */
int ac_endpoint_list_check(const char *label, const char *list, bool bind, ac_error_t *err);
/* Splits a checked list into copies of its endpoints in out[]; returns how many (freed
   with free). */
int ac_endpoint_list_split(const char *list, char **out, int max);

/* Checks that `listen` is HOST:PORT (port 1-65535) for AC_SET_LISTEN. Returns 0 or
   AC_ESCHEMA with a message starting with `label`. */
int ac_listen_check(const char *label, const char *listen, ac_error_t *err);

/* Loads `section` (e.g. "worker") of the YAML file into the table's destinations. */
int ac_settings_load_file(const char *path, const char *section, const ac_setting_t *table,
                          size_t n, ac_error_t *err);
/* Applies one flag (name without leading dashes, dashes for dots) with its value. Returns
   0, AC_ENOT_FOUND when no setting has that name, or an error for a bad value. */
int ac_settings_apply_flag(const char *flag, const char *value, const ac_setting_t *table, size_t n,
                           ac_error_t *err);
/* Parses a program's command line: --help / --version (printed, returns 0), then
   `--config FILE` (its `section`, loaded first whatever its position), then every
   `--setting VALUE` flag. Returns -1 when the program should go on, else the exit status
   (0 after help or version, 2 on a bad flag or config, with a message on stderr). */
int ac_settings_parse_args(int argc, char **argv, const char *prog, const char *section,
                           const char *usage, const ac_setting_t *table, size_t n);

/* Prints "--flag VALUE   help (default: ...)" lines for every setting. */
void ac_settings_help(FILE *out, const ac_setting_t *table, size_t n);
/* Frees the strings the table points at. */
void ac_settings_free(const ac_setting_t *table, size_t n);

#endif
