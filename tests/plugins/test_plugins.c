/*  test_plugins.c - misbehaving plugins for test_tables, one library per behaviour,
    chosen at compile time by PLUGIN_MODE: fail, slow, wrong_abi, no_symbol. */
#include <time.h>

#include "actorcore/subsystems.h"

#define FAIL 1
#define SLOW 2
#define WRONG_ABI 3
#define NO_SYMBOL 4

static int contribute(void *state, const ac_actor_t *actor, ac_output_t *out, ac_error_t *err)
{
    (void)state;
    (void)actor;
#if PLUGIN_MODE == FAIL
    (void)out;
    return ac_error_set(err, AC_EINTERNAL, "", "the plugin's database is down");
#else
    struct timespec ts = {0, 20 * 1000 * 1000}; /* 20 ms */
    nanosleep(&ts, NULL);
    return ac_output_add(out, AC_PRIMARY, "luck", AC_FLAT, 1, 0, err);
#endif
}

#if PLUGIN_MODE == WRONG_ABI
static const ac_plugin_t s_plugin = {AC_SUBSYSTEM_ABI + 100, "wrong", NULL, contribute, NULL};
#else
static const ac_plugin_t s_plugin = {AC_SUBSYSTEM_ABI, "test", NULL, contribute, NULL};
#endif

#if PLUGIN_MODE == NO_SYMBOL
const ac_plugin_t *some_other_name(void);
const ac_plugin_t *some_other_name(void)
#else
const ac_plugin_t *actorcore_subsystem_plugin(void);
const ac_plugin_t *actorcore_subsystem_plugin(void)
#endif
{
    return &s_plugin;
}
