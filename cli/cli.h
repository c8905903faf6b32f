/*  cli.h - what the `actorcore` subcommands share. */
#ifndef AC_CLI_H
#define AC_CLI_H

#include <stddef.h>

#include "actorcore/error.h"

/* Prints err as one line of JSON on stderr; returns the exit status for it. */
int cli_report(const ac_error_t *err);
/* A usage error: JSON error plus a hint on stderr; returns 2. */
int cli_usage_error(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));
/* Prefixes err's message with "--flag: ", the flag whose value is at fault. */
void cli_name_flag(ac_error_t *err, const char *flag);
/* Reads FILE ("-" or NULL: standard input), failing with too_large past max bytes. */
char *cli_read_input(const char *path, size_t max, size_t *len, ac_error_t *err);

int cli_call(int argc, char **argv);
int cli_subscribe(int argc, char **argv);
/* actorcore publish: pushes one actor change to the broker's ingest.pull. */
int cli_publish(int argc, char **argv);
int cli_keygen(int argc, char **argv);

#endif
