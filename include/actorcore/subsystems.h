/*  actorcore/subsystems.h - worker-side subsystems declared in configuration.
    Layer: subsystems (see src/subsystems/README.md; scripts/check-layers.sh).

    A folder of YAML files (e.g. config/subsystems/, every .yaml), one subsystem each:

    kind: table    rows of contributions and caps, selected by an actor field
                   (`key: race`, `key: data.realm`) or by each element of a list in the
                   actor's data (`each: data.items`; an element is a row name, or a map
                   {id, stacks} whose values count `stacks` times). An entry may scale by a
                   numeric actor field (`per: data.level`). `realm_from_key: true` gives
                   REALM caps the row name as their realm.
    kind: formula  stage-2 derived contributions, linear combinations of the capped
                   stage-1 Primary values: `hp_max: {terms: {vitality: 10, strength: 2}}`.
    kind: plugin   a shared library exporting `actorcore_subsystem_plugin` (see
                   ac_plugin_t below), with its own `config`, `optional` and `budget_us`.

    Everything is checked and compiled when loaded (dimension names to registry ids, layer
    names to positions); errors name the file, line and field. Subsystem ids are unique.
    The set's generation hashes every file (and plugin library) it read: installing it in
    a resolver mixes it into the generation of snapshots and cache keys, so editing a
    table invalidates every cached snapshot that depended on it.
*/
#ifndef ACTORCORE_SUBSYSTEMS_H
#define ACTORCORE_SUBSYSTEMS_H

#include "actorcore/export.h"

#include <stddef.h>
#include <stdint.h>

#include "actorcore/error.h"
#include "actorcore/registry.h"
#include "actorcore/resolve.h"
#include "actorcore/subsystem.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a plugin library exports (AC_PLUGIN_SYMBOL returns a pointer to it). */
typedef struct {
    uint32_t abi;     /* must be AC_SUBSYSTEM_ABI */
    const char *name; /* for messages */
    /* Builds the plugin's state from its `config` (JSON text); NULL with err on failure. */
    void *(*create)(const char *config_json, ac_error_t *err);
    int (*contribute)(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err);
    void (*destroy)(void *state);
} ac_plugin_t;

#define AC_PLUGIN_SYMBOL "actorcore_subsystem_plugin"
typedef const ac_plugin_t *(*ac_plugin_entry_t)(void);

typedef struct ac_subsystems ac_subsystems_t;

/* Loads every *.yaml / *.yml of dir (in name order) against reg. */
AC_API ac_subsystems_t *ac_subsystems_load(const ac_registry_t *reg, const char *dir,
                                           ac_error_t *err);
AC_API void ac_subsystems_destroy(ac_subsystems_t **self_p);

AC_API size_t ac_subsystems_count(const ac_subsystems_t *self);
AC_API const ac_subsystem_t *ac_subsystems_get(const ac_subsystems_t *self, size_t i);
AC_API uint64_t ac_subsystems_generation(const ac_subsystems_t *self);

/* Registers every subsystem in r (the set keeps owning their state: destroy the set after
   the resolvers) and mixes the set's generation into r's. */
AC_API int ac_subsystems_install(const ac_subsystems_t *self, ac_resolver_t *r, ac_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
