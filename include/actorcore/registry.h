/*  actorcore/registry.h - the configuration a resolve runs under.
    Layer: core (see src/core/README.md; scripts/check-layers.sh).

    A registry pairs the CombinerRegistry (one merge rule per dimension, SPEC 2) with the
    CapLayerRegistry (layer order and across-layer policy). Both are loaded from YAML
    (JSON is accepted too: it is YAML) and compiled into flat arrays indexed by a small
    integer dimension id. Dimension ids follow the byte order of the names, so iterating
    ids yields dimensions sorted by name. A registry is immutable once loaded and may be
    shared by any number of threads.

    Its `generation` is a hash of the canonical content (not of the file bytes: comments,
    key order and number spelling do not change it). It is part of every cache key.
*/
#ifndef ACTORCORE_REGISTRY_H
#define ACTORCORE_REGISTRY_H

#include "actorcore/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actorcore/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_registry ac_registry_t;

typedef enum { AC_OP_SUM, AC_OP_MAX, AC_OP_MIN, AC_OP_AVERAGE, AC_OP_MULTIPLY } ac_operator_t;

typedef enum { AC_POLICY_INTERSECT, AC_POLICY_PRIORITIZED_OVERRIDE } ac_policy_t;

/* Upper bounds the loader enforces (a registry is trusted less than code). */
#define AC_MAX_LAYERS 64
#define AC_MAX_REGISTRY_DIMS 32767
#define AC_DIMENSION_NAME_MAX 64

typedef struct {
    bool use_pipeline; /* true: FLAT/MULT/POST_ADD/OVERRIDE pipeline; false: `op` */
    uint8_t op;        /* an ac_operator_t, used when !use_pipeline */
    double clamp_min;  /* clamp_default.min, finite */
    double clamp_max;  /* clamp_default.max, finite, >= clamp_min */
} ac_rule_t;

/* Loads both files. On failure returns NULL and err names file, line and field. */
AC_API ac_registry_t *ac_registry_load(const char *combiner_path, const char *layers_path,
                                       ac_error_t *err);

/* Same, from memory; the names are used in error messages only. */
AC_API ac_registry_t *ac_registry_load_buffers(const char *combiner_name, const char *combiner_text,
                                               size_t combiner_len, const char *layers_name,
                                               const char *layers_text, size_t layers_len,
                                               ac_error_t *err);

AC_API void ac_registry_destroy(ac_registry_t **self_p);

AC_API uint64_t ac_registry_generation(const ac_registry_t *self);

AC_API size_t ac_registry_dimension_count(const ac_registry_t *self);
/* Id of a dimension, or -1 when the registry does not list it. */
AC_API int ac_registry_dimension_id(const ac_registry_t *self, const char *name, size_t len);
AC_API const char *ac_registry_dimension_name(const ac_registry_t *self, uint32_t id);
AC_API const ac_rule_t *ac_registry_rule(const ac_registry_t *self, uint32_t id);
/* The `default` rule for unlisted dimensions, or NULL when the file has none. */
AC_API const ac_rule_t *ac_registry_default_rule(const ac_registry_t *self);

AC_API size_t ac_registry_layer_count(const ac_registry_t *self);
/* Position of a layer in `order`, or -1 when unknown. */
AC_API int ac_registry_layer_id(const ac_registry_t *self, const char *name, size_t len);
AC_API const char *ac_registry_layer_name(const ac_registry_t *self, uint32_t id);
AC_API ac_policy_t ac_registry_policy(const ac_registry_t *self);

AC_API const char *ac_operator_name(int op);

/* True when name matches ^[a-z][a-z0-9_]*$ (length is checked separately). */
AC_API bool ac_dimension_name_valid(const char *name, size_t len);

#ifdef __cplusplus
}
#endif
#endif
