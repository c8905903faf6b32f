/*  yamldoc.h - reading a YAML document with positions, for configuration loaders.

    Wraps libyaml's document API: load a whole file (or buffer) into a node graph, then
    walk it with small typed accessors that produce ac_error_t messages naming the file,
    line, column and field path. Shared by the registry and, later, subsystem tables.
*/
#ifndef AC_YAMLDOC_H
#define AC_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "actorcore/error.h"

#define AC_CONFIG_MAX_BYTES (16u << 20)

typedef struct {
    yaml_document_t doc; /* the parsed document */
    const char *name;    /* file name for messages */
    bool loaded;         /* doc must be deleted */
} ac_yamldoc_t;

/* Parses text; on a syntax error fills err with the position. */
int ac_yamldoc_parse(ac_yamldoc_t *d, const char *name, const char *text, size_t len,
                     ac_error_t *err);
void ac_yamldoc_fini(ac_yamldoc_t *d);
yaml_node_t *ac_yamldoc_root(ac_yamldoc_t *d);
yaml_node_t *ac_yamldoc_node(ac_yamldoc_t *d, int index);

/* Reads a whole file (at most AC_CONFIG_MAX_BYTES) into a malloc'd, NUL-terminated
   buffer. */
char *ac_read_file(const char *path, size_t max, size_t *len, ac_error_t *err);

/* Fails with schema_violation at node, message "<file>:<line>:<col>: <msg>". */
int ac_yaml_fail(ac_yamldoc_t *d, const yaml_node_t *node, const char *path, ac_error_t *err,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Typed scalar readers: fail (schema_violation) when the node is not of that type. */
int ac_yaml_string(ac_yamldoc_t *d, yaml_node_t *n, const char *path, const char **s, size_t *len,
                   ac_error_t *err);
int ac_yaml_double(ac_yamldoc_t *d, yaml_node_t *n, const char *path, double *v, ac_error_t *err);
int ac_yaml_int(ac_yamldoc_t *d, yaml_node_t *n, const char *path, long long *v, ac_error_t *err);
int ac_yaml_bool(ac_yamldoc_t *d, yaml_node_t *n, const char *path, bool *v, ac_error_t *err);
int ac_yaml_expect(ac_yamldoc_t *d, yaml_node_t *n, yaml_node_type_t type, const char *path,
                   ac_error_t *err);

/* True when a scalar node's value equals s. */
bool ac_yaml_is(const yaml_node_t *n, const char *s);

#endif
