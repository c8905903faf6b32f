/*  karma.c - an example C subsystem plugin (the plugin ABI of subsystems.h).

    Contributes `karma` (a SUM meta dimension) from the actor: per_year * age, plus one
    FLAT `luck` point per `luck_every` years. Configured from its YAML `config` block:
      config: { per_year: 2.5, luck_every: 10 }
    Build: any shared library exporting actorcore_subsystem_plugin(); this one is built by
    CMake as plugins/libac_karma.so.
*/
#include <jansson.h>
#include <stdlib.h>

#include "actorcore/subsystems.h"

typedef struct {
    double per_year;   /* karma per year of age */
    double luck_every; /* years per luck point; 0 = none */
    int karma, luck;   /* registry ids, resolved on first use */
} karma_t;

static void *create(const char *config_json, ac_error_t *err)
{
    json_error_t je;
    json_t *cfg = json_loads(config_json, JSON_DECODE_ANY, &je);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        ac_error_set(err, AC_ESCHEMA, "config", "karma: config must be a map");
        return NULL;
    }
    karma_t *k = calloc(1, sizeof *k);
    k->per_year = json_number_value(json_object_get(cfg, "per_year"));
    k->luck_every = json_number_value(json_object_get(cfg, "luck_every"));
    json_decref(cfg);
    if (k->per_year < 0 || k->luck_every < 0) {
        free(k);
        ac_error_set(err, AC_ESCHEMA, "config", "karma: per_year and luck_every must be >= 0");
        return NULL;
    }
    return k;
}

static int contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    const karma_t *k = state;
    if (!actor->has_age)
        return 0;
    if (ac_output_add(out, AC_PRIMARY, "karma", AC_FLAT, k->per_year * actor->age, 0, err))
        return -1;
    if (k->luck_every > 0)
        return ac_output_add(out, AC_PRIMARY, "luck", AC_FLAT,
                             (double)(long)(actor->age / k->luck_every), 0, err);
    return 0;
}

static void destroy(void *state)
{
    free(state);
}

static const ac_plugin_t s_plugin = {AC_SUBSYSTEM_ABI, "karma", create, contribute, destroy};

const ac_plugin_t *actorcore_subsystem_plugin(void)
{
    return &s_plugin;
}
