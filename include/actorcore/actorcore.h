/*  actorcore/actorcore.h - the whole public API of libactorcore.
    Layer: subsystems (see src/subsystems/README.md; scripts/check-layers.sh).

    actorcore merges the contributions of game subsystems into a deterministic snapshot of
    an actor's stats under layered caps (Actor Core v3). The data path, one header each:
    registry.h (configuration) -> request.h (validated, interned input) -> codec.h (JSON and
    msgpack) -> resolve.h (caps + aggregation) -> snapshot.h (the result).
*/
#ifndef ACTORCORE_H
#define ACTORCORE_H

#define AC_VERSION_STRING "0.1.0"

#include "actorcore/codec.h"
#include "actorcore/error.h"
#include "actorcore/registry.h"
#include "actorcore/request.h"
#include "actorcore/resolve.h"
#include "actorcore/snapshot.h"
#include "actorcore/subsystem.h"
#include "actorcore/subsystems.h"

#endif
