/*  fuzz_common.h - what the libFuzzer targets share (scripts/fuzz.sh builds and runs them):
    the shipped registries and subsystems, loaded once per process. */
#ifndef AC_FUZZ_COMMON_H
#define AC_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "actorcore/actorcore.h"
#include "actorcore/subsystems.h"
#include "actorcore/wire.h"

static ac_registry_t *s_reg;
static ac_subsystems_t *s_subs;
static ac_resolver_t *s_resolver;
static ac_request_t *s_req;

/* The shipped registries and subsystems, a resolver and a request on them (once). */
static inline void fuzz_setup(void)
{
    if (s_reg)
        return;
    ac_error_t err;
    s_reg = ac_registry_load(AC_SOURCE_DIR "/config/combiner.yaml",
                             AC_SOURCE_DIR "/config/cap_layers.yaml", &err);
    s_subs = s_reg ? ac_subsystems_load(s_reg, AC_SOURCE_DIR "/config/subsystems", &err) : NULL;
    s_resolver = s_reg ? ac_resolver_new(s_reg) : NULL;
    s_req = s_reg ? ac_request_new(s_reg) : NULL;
    if (!s_subs || !s_resolver || !s_req || ac_subsystems_install(s_subs, s_resolver, &err)) {
        fprintf(stderr, "fuzz: set-up failed: %s\n", err.message);
        abort();
    }
}

/* Walks a decoded body as a resolve item ({actor?, outputs?}), resolves it and encodes the
   snapshot both ways: every stage a request from outside reaches. */
static inline void fuzz_item(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return;
    ac_request_reset(s_req);
    ac_error_t err;
    const msgpack_object *actor = ac_wire_get(o, "actor"), *outputs = ac_wire_get(o, "outputs");
    if (actor && ac_decode_actor(s_req, actor, "actor", &err))
        return;
    if (outputs && ac_decode_outputs(s_req, outputs, "outputs", &err))
        return;
    const ac_snapshot_t *snap;
    if (ac_resolve(s_resolver, s_req, &snap, &err))
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ac_snapshot_to_json(snap, s_reg, &sb);
    msgpack_sbuffer_clear(&sb);
    ac_snapshot_pack_buffer(&sb, snap, s_reg, "a", 1);
    msgpack_sbuffer_destroy(&sb);
}

#endif
